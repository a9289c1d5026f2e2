# A regulatory track model (kind tracks): a real `seqscore serve` holding the toy track model of
# tests/toy_models.py (tracks CAGE+, CAGE-, DNASE) beside the toy SpliceAI model, as VEP would see
# it.  The plugin's SeqScore_<model> field equals the SeqScore_<model> INFO value `seqscore score`
# writes for the same alleles (without the leading ALLELE|), on every line of the allele; the
# per-track fields, STEM_top_track and STEM_max_abs_effect agree with it; tracks= picks tracks as
# --tracks does; prefix=, JSON, errors, header lines; a track line beside a SpliceAI line; effects
# printed as Python's format(x, '.4g') prints them.
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use SeqScoreTest::Daemon;
use SeqScoreTest::VEP qw(vf_from_vcf run_buffer);

if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
use SeqScore;

my $chr21 = $SeqScoreTest::Daemon::CHR21;
my $dir = tempdir(CLEANUP => 1);
my $toy = SeqScoreTest::Daemon::toy_model($dir);                                         # scored as SpliceAI
my $tracks = SeqScoreTest::Daemon::toy_model($dir, name => 'toytracks', scorer => 'tracks');
my $d = SeqScoreTest::Daemon->start(models => [$tracks, $toy], dir => $dir);
my $url = 'url=' . $d->url;
my @TRACKS = ('CAGE+', 'CAGE-', 'DNASE');
my %FIELD = ('CAGE+' => 'CAGE_plus', 'CAGE-' => 'CAGE_minus', DNASE => 'DNASE');

# `seqscore score --model M` on a VCF -> {variant key} = the allele's INFO value without ALLELE|
# (SeqScore_toytracks), or {variant key}{symbol} = SYMBOL|DS...|DP... (SpliceAI)
sub expected {
  my ($model, $key, $vcf, @opt) = @_;
  local $_;
  my $out = "$dir/expected.$key." . join('_', map { s/\W/_/gr } @opt) . '.' . ($vcf =~ s{.*/}{}r);
  -s $out or system('seqscore', 'score', '-I', $vcf, '-O', $out, '-R', "$chr21/chr21.fa.gz", '-A', "$chr21/genes.grch38.spliceai.txt",
         '--model', $model, '-q', @opt) == 0 or die "seqscore score --model $model @opt failed on $vcf";
  my %exp;
  open(my $fh, '<', $out) or die "$out: $!";
  while (<$fh>) {
    next if /^#/;
    chomp;
    my ($chrom, $pos, $id, $ref, $alt, undef, undef, $info) = split /\t/;
    next unless $info =~ /(?:^|;)$key=([^;]+)/;
    for my $entry (split /,/, $1) {
      my ($allele, @rest) = split /\|/, $entry;
      if ($key eq 'SpliceAI') { $exp{"$chrom:$pos:$ref:$allele"}{ $rest[0] } = join('|', @rest) }
      else                    { $exp{"$chrom:$pos:$ref:$allele"} = join('|', @rest) }
    }
  }
  return \%exp;
}

# One buffer item per record: a transcript line of APP, one of a gene of the record's SpliceAI
# scores (if any), and an intergenic-like line (no gene).  `no_tx => 1` makes every second
# variant one without transcripts, as VEP's intergenic variants are.
sub items {
  my ($vcf, $exp_s, %o) = @_;
  local $_;
  my (@items, $n);
  open(my $fh, '<', $vcf) or die;
  while (<$fh>) {
    next if /^#/;
    my ($chrom, $pos, $id, $ref, $alt) = split /\t/;
    my %genes = (APP => 1);
    for my $a (split /,/, $alt) { $genes{$_} = 1 for keys %{ $exp_s->{"$chrom:$pos:$ref:$a"} || {} } }
    my $intergenic = $o{no_tx} && $n++ % 2;
    push @items, [vf_from_vcf($chrom, $pos, $ref, [split /,/, $alt], ($intergenic ? (transcripts => 0) : ())),
                  [(sort keys %genes), { symbol => undef, id => undef }]];
  }
  return \@items;
}

# (`seqscore score` runs once per model, VCF and options: the output is kept.)

# Lines whose fields agree with the expected value: (same, different, missing).  `fields` are the
# per-track field names expected, in the value's order.
sub compare {
  my ($lines, $exp, $stem, $fields) = @_;
  my ($same, $diff, $missing) = (0, 0, 0);
  for my $l (@$lines) {
    my ($v) = SeqScore::vcf_variant($l->{_vf}, $l->{Allele});
    my $want = $exp->{ SeqScore::variant_key($v) };
    next unless defined $want;
    my $got = $l->{$stem};
    unless (defined $got) { $missing++; next }
    my ($top, @parts) = split /\|/, $want;
    my (undef, $top_track, $top_value) = split /:/, $top;
    my $ok = $got eq $want
      && ($l->{"${stem}_top_track"} // '') eq $top_track
      && ($l->{"${stem}_max_abs_effect"} // '') eq ($top_value =~ s/^-//r)
      && @parts == @$fields
      && !grep({ my ($t, $x) = split /:/, $parts[$_]; ($l->{"${stem}_$fields->[$_]"} // '') ne $x } 0 .. $#parts)
      && !grep({ /^\Q${stem}_\E(.+)$/ && !grep { $_ eq $1 } @$fields, qw(top_track max_abs_effect) } keys %$l);
    if ($ok) { $same++ } else { $diff++; diag "$l->{Location} $l->{Allele}: got $got, want $want" if $diff <= 5 }
  }
  return ($same, $diff, $missing);
}

my %exp = map { ($_ => expected($tracks, 'SeqScore_toytracks', "$chr21/$_.vcf")) } qw(indels dbsnp_snvs);
my %exp_s = map { ($_ => expected($toy, 'SpliceAI', "$chr21/$_.vcf")) } qw(indels dbsnp_snvs);
my %items = map { ($_ => items("$chr21/$_.vcf", $exp_s{$_}, no_tx => 1)) } qw(indels dbsnp_snvs);
is(scalar(keys %{ $exp{indels} }), 75, 'seqscore score wrote SeqScore_toytracks for the 75 indel alleles');
is(scalar(keys %{ $exp{dbsnp_snvs} }), 132, '... and the 132 SNVs');

# ---- the default model of this daemon is the track model ------------------------------------------
my $p = SeqScore->new({ quiet => 1 }, $url);
is($p->{tool}, 'Tracks', 'a model of kind tracks is written as a track model');
is_deeply($p->feature_types, ['Feature', 'Intergenic'], '... on every line of an allele (feature_types Feature, Intergenic)');
my $h = $p->get_header_info;
is_deeply([sort keys %$h], [sort map { "SeqScore_toytracks$_" } '', (map { "_$_" } values %FIELD), qw(_top_track _max_abs_effect _error)],
          'header: SeqScore_toytracks, one field per track (CAGE_plus, CAGE_minus, DNASE), _top_track, _max_abs_effect, _error');
like($h->{SeqScore_toytracks}, qr/^toytracks variant effects per track .* as seqscore score writes them in its SeqScore_toytracks INFO value, without the allele.*Format: top:TRACK:VALUE\|TRACK:VALUE\|\.\.\. .*the tracks: CAGE\+,CAGE-,DNASE\)/,
     '... the summary described with its format and tracks');
like($h->{SeqScore_toytracks_CAGE_plus}, qr/^toytracks effect on track CAGE\+ \(assay CAGE; strand \+\)/, '... CAGE_plus names its track, assay and strand');
like($h->{SeqScore_toytracks_DNASE}, qr/^toytracks effect on track DNASE \(assay DNase; cell type K562\)/, '... DNASE its assay and cell type');
my @prov = grep { !/SeqScore plugin \S+, model toytracks 0 \(sha256 [0-9a-f]{64}; from tests\/toy_models\.py==0\), daemon \Q${\ $d->url }\E, reduction diff[);]/ } values %$h;
is(scalar @prov, 0, '... every line with the model, its sha256, the daemon and the reduction') or diag explain \@prov;
ok(!grep({ /annotation|distance|mask/ } values %$h), '... and no gene table, distance or mask (they do not apply)');

for my $set (qw(indels dbsnp_snvs)) {
  my $before = $p->{stats}{requests};
  my $lines = run_buffer($p, $items{$set});
  my ($same, $diff, $missing) = compare($lines, $exp{$set}, 'SeqScore_toytracks', [@FIELD{@TRACKS}]);
  is_deeply([$diff, $missing], [0, 0], "$set: SeqScore_toytracks equals seqscore score's INFO value (without the allele) "
            . "on every line, the per-track fields, _top_track and _max_abs_effect agree with it ($same lines)");
  my $n_lines = 0;
  $n_lines += (@{ $_->[1] }) * (split(m{/}, $_->[0]{allele_string}) - 1) for @{ $items{$set} };
  is($same, $n_lines, "... every line of every allele: transcript lines of any gene and gene-less lines ($n_lines)");
  is($p->{stats}{requests} - $before, 1, '... in one request, variants without transcripts included');
}
my %vals = map { $_->{SeqScore_toytracks_CAGE_plus} => 1 } @{ run_buffer($p, $items{indels}) };
ok((grep { /^-/ } keys %vals) && (grep { /^\d/ } keys %vals), '... negative and positive effects seen');

my $bad = run_buffer($p, [[vf_from_vcf('21', 25592783, 'T', ['C']), ['APP']]]);   # REF is G
like($bad->[0]{SeqScore_toytracks_error} // '', qr/^REF_MISMATCH:\S+$/, 'a per-variant error is written as SeqScore_toytracks_error');
ok(!grep({ /^SeqScore_toytracks(_(?!error).*)?$/ } keys %{ $bad->[0] }), '... and no effect field');

# ---- tracks= ----------------------------------------------------------------------------------------
for my $case (['DNASE/CAGE+', 'DNASE,CAGE+', [qw(DNASE CAGE_plus)]],      # names, in the order given
              ['CAGE_minus', 'CAGE-', ['CAGE_minus']],                     # a field name
              ['none', 'none', []],
              ['all', 'all', [@FIELD{@TRACKS}]]) {
  my ($param, $cli, $fields) = @$case;
  my $pt = SeqScore->new({ quiet => 1 }, $url, "tracks=$param");
  is_deeply([sort keys %{ $pt->get_header_info }], [sort map { "SeqScore_toytracks$_" } '', (map { "_$_" } @$fields), qw(_top_track _max_abs_effect _error)],
            "tracks=$param: header declares " . (@$fields ? join(', ', @$fields) : 'no track field') . ' besides the summary');
  my $e = expected($tracks, 'SeqScore_toytracks', "$chr21/indels.vcf", '--tracks', $cli);
  my ($same, $diff, $missing) = compare(run_buffer($pt, $items{indels}), $e, 'SeqScore_toytracks', $fields);
  is_deeply([$diff, $missing], [0, 0], "... values equal seqscore score --tracks $cli ($same lines)");
}
for my $case (['tracks=CAGE/DNASE', qr/^ERROR: SeqScore: tracks=CAGE\/DNASE: model 'toytracks' has no track 'CAGE' \(its 3 tracks, name \(field name\): CAGE\+ \(CAGE_plus\), CAGE- \(CAGE_minus\), DNASE; `seqscore models --tracks toytracks` lists them\)/, 'an unknown track'],
              ['tracks=CAGE+,DNASE', qr/^ERROR: SeqScore: parameters are key=value pairs, got 'DNASE'/, "names separated by ',' (VEP's own separator)"],
              ['tracks=CAGE+//DNASE', qr/^ERROR: SeqScore: tracks must be 'all', 'none' or track names separated by '\/'/, 'an empty name'],
              ['distance=80', qr/^ERROR: SeqScore: distance=80 does not apply to model 'toytracks', a track model/, 'distance='],
              ['cutoff=0.5', qr/^ERROR: SeqScore: cutoff=0.5 does not apply/, 'cutoff=']) {
  my ($param, $re, $what) = @$case;
  eval { SeqScore->new({ quiet => 1 }, $url, split /,/, $param) };
  like($@, $re, "$what: new() dies saying so");
}
eval { SeqScore->new({ quiet => 1 }, $url, 'model=toy', 'tracks=DNASE') };
like($@, qr/^ERROR: SeqScore: tracks=DNASE: model 'toy' is not a track model \(its fields are SpliceAI_\*\)/, 'tracks= with a SpliceAI model: new() dies');

# ---- prefix= and JSON -------------------------------------------------------------------------------
my $pp = SeqScore->new({ output_format => 'vcf', quiet => 1 }, $url, 'prefix=Reg', 'tracks=DNASE/CAGE+');
is_deeply([sort keys %{ $pp->get_header_info }], [qw(Reg Reg_CAGE_plus Reg_DNASE Reg_error Reg_max_abs_effect Reg_top_track)],
          'prefix=Reg (VCF output): Reg, Reg_DNASE, Reg_CAGE_plus, Reg_top_track, Reg_max_abs_effect, Reg_error');
my ($same, $diff, $missing) = compare(run_buffer($pp, $items{indels}), expected($tracks, 'SeqScore_toytracks', "$chr21/indels.vcf", '--tracks', 'DNASE,CAGE+'),
                                      'Reg', [qw(DNASE CAGE_plus)]);
is_deeply([$diff, $missing], [0, 0], "... with the values of SeqScore_toytracks ($same lines)");

my $pj = SeqScore->new({ output_format => 'json', quiet => 1 }, $url);
is_deeply([sort keys %{ $pj->get_header_info }], [qw(SeqScore_toytracks SeqScore_toytracks_error)], 'JSON output: SeqScore_toytracks and its error field');
my $jl = run_buffer($pj, $items{indels});
my ($jsame, $jbad) = (0, 0);
my $enc = JSON::PP->new->canonical;
for my $l (@$jl) {
  my ($v) = SeqScore::vcf_variant($l->{_vf}, $l->{Allele});
  my ($top, @parts) = split /\|/, $exp{indels}{ SeqScore::variant_key($v) };
  my (undef, $tt, $tv) = split /:/, $top;
  my $j = $l->{SeqScore_toytracks};
  my $text = $enc->encode({ effects => { map { split /:/ } @parts }, max_abs_effect => $tv =~ s/^-//r, top_effect => $tv, top_track => $tt });
  $text =~ s/"(-?[\d.]+(?:e[-+]\d+)?)"/$1/g;     # the CLI's digits, as JSON numbers
  if (ref $j eq 'HASH' && $enc->encode($j) eq $text) { $jsame++ } else { $jbad++; diag $enc->encode($j) . " vs $text" if $jbad <= 3 }
}
is_deeply([$jbad, $jsame], [0, scalar @$jl], "JSON: {top_track, top_effect, max_abs_effect, effects {track name => effect}}, numbers with the CLI's digits ($jsame lines)");

# ---- side by side with a SpliceAI line ---------------------------------------------------------------
{
  my $config = { quiet => 1 };
  my $ls = SeqScore->new($config, $url, 'model=toy');
  my $lt = SeqScore->new($config, $url, 'model=toytracks', 'tracks=CAGE-');
  is_deeply($ls->feature_types, ['Transcript'], 'the SpliceAI line keeps to transcript lines');
  my $both = run_buffer([$ls, $lt], items("$chr21/indels.vcf", $exp_s{indels}));   # all with transcripts, as VEP calls a SpliceAI line
  my ($tsame, $tdiff, $tmissing) = compare($both, expected($tracks, 'SeqScore_toytracks', "$chr21/indels.vcf", '--tracks', 'CAGE-'),
                                           'SeqScore_toytracks', ['CAGE_minus']);
  my ($ssame, $sdiff, $sstray) = (0, 0, 0);
  for my $l (@$both) {
    my ($v) = SeqScore::vcf_variant($l->{_vf}, $l->{Allele});
    my $want = defined $l->{SYMBOL} ? $exp_s{indels}{ SeqScore::variant_key($v) }{ $l->{SYMBOL} } : undef;
    if (defined $want) { ($l->{SpliceAI_pred} // '') eq $want ? $ssame++ : $sdiff++ } elsif (defined $l->{SpliceAI_pred}) { $sstray++ }
  }
  is_deeply([$sdiff, $sstray, $tdiff, $tmissing], [0, 0, 0, 0],
            "SpliceAI (model=toy) and track (model=toytracks) lines side by side: both right ($ssame + $tsame lines)");
  ok($ssame > 20 && $tsame == @$both, '... SpliceAI_pred on its genes\' lines, the track fields on every line');
  is_deeply([$ls->{stats}{requests}, $lt->{stats}{requests}], [1, 1], '... one request each');
  my $e = run_buffer([$ls, $lt], [[vf_from_vcf('21', 25592783, 'T', ['C']), ['MRPL39']]]);
  ok($e->[0]{SeqScore_error} && $e->[0]{SeqScore_toytracks_error}, '... each with its own error field');
  eval { SeqScore->new($config, $url, 'model=toy', 'prefix=SeqScore_toytracks') };
  like($@, qr/two SeqScore plugin lines would both write SeqScore_toytracks_\* \(model toytracks with '\S+', and model toy with '\S+,prefix=SeqScore_toytracks'\)/,
       'a SpliceAI line with prefix=SeqScore_toytracks beside the track line: new() dies');
}

# ---- effects printed as Python prints format(x, '.4g') --------------------------------------------
{
  srand(7);
  my @x = (1.2e-05, -1.2e-05, 0.00012345, 9.9995e-05, 0.00099995, 1234.5, 1235.5, 99995, 99994.9, 123456789, 1e21, 2.5e-7,
           1e-300, 5e-324, -0.0, 0, 0.5, 1, -1, 10, 0.1, 1/3, 2/3, 3.4028234663852886e+38,
           map { (rand() < 0.5 ? -1 : 1) * rand() * 10 ** (int(rand(25)) - 12) } 1 .. 2000);
  my $in = "$dir/g4.txt";
  open(my $fh, '>', $in) or die;
  print $fh map { sprintf("%.17g\n", $_) } @x;
  close $fh;
  my @py = `python -c "import sys; [print(format(float(l), '.4g')) for l in open(sys.argv[1])]" $in`;
  chomp @py;
  my @bad = grep { SeqScore::Tracks::fmt_effect($x[$_]) ne ($py[$_] // '') } 0 .. $#x;
  is(scalar @py, scalar @x, 'python printed every value');
  is(scalar @bad, 0, 'fmt_effect equals Python\'s format(x, \'.4g\') on ' . scalar(@x) . ' values (1.2e-05, -0, 1e+21, ties, random over 24 decades)')
    or diag join("\n", map { sprintf('%.17g: %s vs %s', $x[$_], SeqScore::Tracks::fmt_effect($x[$_]), $py[$_]) } @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
  is(SeqScore::Tracks::fmt_effect(1.2e-05), '1.2e-05', '... 1.2e-05 stays 1.2e-05');
}

done_testing;
