# A model scored as Pangolin: a real `seqscore serve` holding the Pangolin-shaped toy model
# (tests/toy_models.py) and the shared chr21 GTF (Pangolin names genes by gene_id), as VEP
# would see it.  The plugin's Pangolin field equals the Pangolin= INFO value `seqscore score`
# writes for the same alleles; its split and JSON fields hold the block of the transcript's gene
# (matched on the gene stable ID); cutoff, errors, distance/mask, header lines; and a Pangolin line
# side by side with a SpliceAI line (one daemon serving both models), each with its own fields.
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }
use Test::More;
use File::Temp qw(tempdir);
use IO::Uncompress::Gunzip qw($GunzipError);
use SeqScoreTest::Daemon;
use SeqScoreTest::VEP qw(vf_from_vcf run_buffer);

if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
use SeqScore;

my $chr21 = $SeqScoreTest::Daemon::CHR21;
my $gtf = "$chr21/custom_test.gtf.gz";
my $dir = tempdir(CLEANUP => 1);
my $toy = SeqScoreTest::Daemon::toy_model($dir);                                       # scored as SpliceAI
my $pango = SeqScoreTest::Daemon::toy_model($dir, name => 'toypango', scorer => 'pangolin');
my $d = SeqScoreTest::Daemon->start(models => [$pango, $toy], dir => $dir, annotation => $gtf,
                                    extra => ['--gtf-filter', 'None']);   # the GTF has no Ensembl_canonical tags

# gene_id -> gene_name of the GTF, as VEP's transcripts carry them (_gene_stable_id, _gene_symbol)
my (%name_of, %id_of);
my $z = IO::Uncompress::Gunzip->new($gtf, MultiStream => 1) or die "$gtf: $GunzipError";
while (<$z>) {
  next unless /\tgene\t/ && /gene_id "([^"]+)"/;
  my $id = $1;
  $name_of{$id} = /gene_name "([^"]+)"/ ? $1 : $id;
  $id_of{ $name_of{$id} } = $id;
}
ok(keys %name_of > 20, scalar(keys %name_of) . ' genes in the GTF');

# `seqscore score` on a VCF: Pangolin -> {variant key} = {value (the allele's INFO value, every
# gene's block), genes {gene_id => block}}; SpliceAI -> {variant key}{symbol} = SYMBOL|DS...|DP...
sub expected {
  my ($model, $key, $vcf, @opt) = @_;
  local $_;    # called from map: $_ is an alias there
  my $out = "$dir/expected.$key." . scalar(@opt) . '.vcf';
  system('seqscore', 'score', '-I', $vcf, '-O', $out, '-R', "$chr21/chr21.fa.gz", '-A', $gtf,
         '--gtf-filter', 'None', '--model', $model, '-q', @opt) == 0 or die "seqscore score failed on $vcf";
  my %exp;
  open(my $fh, '<', $out) or die;
  while (<$fh>) {
    next if /^#/;
    chomp;
    my ($chrom, $pos, $id, $ref, $alt, undef, undef, $info) = split /\t/;
    next unless $info =~ /(?:^|;)$key=([^;]+)/;
    my @alts = split /,/, $alt;
    for my $entry (split /,/, $1) {
      if ($key eq 'Pangolin') {          # ALT| before each block only when the record has several ALTs
        my ($allele, $block) = @alts > 1 ? split(/\|/, $entry, 2) : ($alt, $entry);
        my $e = $exp{"$chrom:$pos:$ref:$allele"} ||= { value => undef, genes => {} };
        $e->{value} = defined $e->{value} ? "$e->{value},$block" : $block;
        $e->{genes}{ (split /\|/, $block)[0] } = $block;
      }
      else {
        my ($allele, $gene, @rest) = split /\|/, $entry;
        $exp{"$chrom:$pos:$ref:$allele"}{$gene} = join('|', $gene, @rest);
      }
    }
  }
  return \%exp;
}

# One buffer item per record of the VCF: its transcripts are those of every gene either model
# scored for it, plus one of a gene neither scored.
sub items {
  my ($vcf, @exp) = @_;
  local $_;
  my @items;
  open(my $fh, '<', $vcf) or die;
  while (<$fh>) {
    next if /^#/;
    my ($chrom, $pos, $id, $ref, $alt) = split /\t/;
    my %ids;
    for my $a (split /,/, $alt) {
      my $k = "$chrom:$pos:$ref:$a";
      for my $e (@exp) {
        next unless $e->{$k};
        $ids{$_} = 1 for $e->{$k}{genes} ? keys %{ $e->{$k}{genes} } : map { $id_of{$_} // "no_id_$_" } keys %{ $e->{$k} };
      }
    }
    my @genes = ((map { { symbol => $name_of{$_} // $_, id => $_ } } sort keys %ids), { symbol => 'NOT_A_GENE', id => 'ENSG00000000001' });
    push @items, [vf_from_vcf($chrom, $pos, $ref, [split /,/, $alt]), \@genes];
  }
  return \@items;
}

# Lines with the expected Pangolin value (or split block) for their gene, other values, and values
# on lines of a gene the daemon did not score.
sub compare {
  my ($lines, $exp, $stem, $mode) = @_;
  my ($same, $diff, $stray) = (0, 0, 0);
  for my $l (@$lines) {
    my ($v) = SeqScore::vcf_variant($l->{_vf}, $l->{Allele});
    my $e = $exp->{ SeqScore::variant_key($v) };
    my $got = $mode eq 'split' && defined $l->{"${stem}_gene"}
            ? join('|', $l->{"${stem}_gene"}, "$l->{\"${stem}_gain_pos\"}:$l->{\"${stem}_gain\"}",
                   "$l->{\"${stem}_loss_pos\"}:$l->{\"${stem}_loss\"}", 'Warnings:' . ($l->{"${stem}_warnings"} // ''))
            : $l->{$stem};
    if ($e && $e->{genes}{ $l->{Gene} }) {
      my $want = $mode eq 'split' ? $e->{genes}{ $l->{Gene} } : $e->{value};
      if (($got // '') eq $want) { $same++ } else { $diff++; diag "$l->{Location} $l->{Gene}: got " . ($got // 'none') . ", want $want" if $diff <= 5 }
    }
    elsif (defined $got) { $stray++ }
  }
  return ($same, $diff, $stray);
}

my %exp = map { ($_ => expected($pango, 'Pangolin', "$chr21/$_.vcf")) } qw(indels dbsnp_snvs);
my %items = map { ($_ => items("$chr21/$_.vcf", $exp{$_})) } qw(indels dbsnp_snvs);
my %n_genes = map { my $e = $exp{$_}; ($_ => scalar map { keys %{ $e->{$_}{genes} } } keys %$e) } keys %exp;
ok($n_genes{indels} > 50 && $n_genes{dbsnp_snvs} > 100,
   "seqscore score wrote Pangolin blocks for $n_genes{indels} indel and $n_genes{dbsnp_snvs} SNV allele-genes");
ok((grep { $_->{value} =~ /:-0\.0\|/ } values %{ $exp{indels} }, values %{ $exp{dbsnp_snvs} }),
   '... some with a loss printed as -0.0');

# ---- the default model of this daemon is the Pangolin one: Pangolin, Pangolin_error ---------------
my $p = SeqScore->new({ quiet => 1 }, 'url=' . $d->url);
is($p->{tool}, 'Pangolin', 'a model scored as pangolin is written as Pangolin');
my $h = $p->get_header_info;
is_deeply([sort keys %$h], ['Pangolin', 'Pangolin_error'], 'header declares Pangolin and Pangolin_error');
like($h->{Pangolin}, qr/^Pangolin splice scores of the allele as the Pangolin CLI writes them .*Format: gene\|pos:gain\|pos:loss\|Warnings:\.\.\. for every gene scored, joined by ','/,
     '... Pangolin described as the CLI\'s value, with its format');
my @prov = grep { !/model toypango 0 \(sha256 [0-9a-f]{64}; from tests\/toy_models\.py==0\), daemon \Q${\ $d->url }\E, annotation custom_test\.gtf\.gz \(sha256 [0-9a-f]{16}\), GTF filter None, distance 50, mask 1\)/ } values %$h;
is(scalar @prov, 0, '... each with the model, daemon, GTF and its filter, distance and Pangolin\'s default mask 1') or diag explain \@prov;

for my $set (qw(indels dbsnp_snvs)) {
  my $before = $p->{stats}{requests};
  my $lines = run_buffer($p, $items{$set});
  my ($same, $diff, $stray) = compare($lines, $exp{$set}, 'Pangolin', 'joined');
  is($diff, 0, "$set: Pangolin equals seqscore score's Pangolin= value on every line of a scored gene ($same lines)");
  is($same, $n_genes{$set}, '... every scored allele-gene reached its transcript line (matched on the gene stable ID)');
  is($stray, 0, '... and lines of other genes get nothing');
  ok(!grep({ grep { /^(SpliceAI|SeqScore_error|Pangolin_)/ } keys %$_ } @$lines), '... no other field');
  is($p->{stats}{requests} - $before, 1, '... in one request');
}

my $bad = run_buffer($p, [[vf_from_vcf('21', 25592783, 'T', ['C']), [{ symbol => 'MRPL39', id => 'ENSG00000154719' }]]]);   # REF is G
like($bad->[0]{Pangolin_error} // '', qr/^REF_MISMATCH:\S+$/, 'a per-variant error is written as Pangolin_error');

my ($k1) = grep { keys %{ $exp{indels}{$_}{genes} } == 1 } sort keys %{ $exp{indels} };
my ($chrom, $pos, $ref, $alt) = split /:/, $k1;
my ($gid) = keys %{ $exp{indels}{$k1}{genes} };
my $vl = run_buffer($p, [[vf_from_vcf($chrom, $pos, $ref, [$alt]), [{ symbol => 'X', id => "$gid.42" }, { symbol => $name_of{$gid} }]]]);
is_deeply([map { $_->{Pangolin} } @$vl], [$exp{indels}{$k1}{value}, undef],
          'a versioned stable ID matches (a GENCODE GTF\'s ENSG...N.42 and a VEP cache\'s ENSG...N); a transcript known by its symbol only does not')
  or diag explain [map { $_->{Pangolin} } @$vl];

# ---- split fields (VCF output) with a cutoff --------------------------------------------------------
my $ps = SeqScore->new({ output_format => 'vcf', quiet => 1 }, 'url=' . $d->url, 'cutoff=0.5');
is_deeply([sort keys %{ $ps->get_header_info }],
          [sort map { "Pangolin_$_" } qw(gene gain gain_pos loss loss_pos warnings cutoff error)],
          'VCF output: Pangolin_gene, _gain, _gain_pos, _loss, _loss_pos, _warnings, _cutoff, _error');
my $sl = run_buffer($ps, $items{indels});
my ($same, $diff, $stray) = compare($sl, $exp{indels}, 'Pangolin', 'split');
is_deeply([$diff, $stray, $same], [0, 0, $n_genes{indels}], "split fields: the block of the line's gene, as seqscore score wrote it ($same lines)");
my ($pass, $fail, $wrong) = (0, 0, 0);
for my $l (grep { defined $_->{Pangolin_gene} } @$sl) {
  my $want = (abs($l->{Pangolin_gain}) >= 0.5 || abs($l->{Pangolin_loss}) >= 0.5) ? 'PASS' : 'FAIL';
  ($l->{Pangolin_cutoff} // '') eq $want ? ($want eq 'PASS' ? $pass++ : $fail++) : $wrong++;
}
is($wrong, 0, "Pangolin_cutoff: PASS when |gain| or |loss| >= 0.5 ($pass PASS, $fail FAIL)");
ok($pass && $fail, '... both outcomes seen');

# ---- JSON --------------------------------------------------------------------------------------------
my $pj = SeqScore->new({ output_format => 'json', quiet => 1 }, 'url=' . $d->url);
is_deeply([sort keys %{ $pj->get_header_info }], ['Pangolin', 'Pangolin_error'], 'JSON output: Pangolin and Pangolin_error');
my @jl = grep { $_->{Pangolin} } @{ run_buffer($pj, $items{indels}) };
my $jbad = grep {
  my ($v) = SeqScore::vcf_variant($_->{_vf}, $_->{Allele});
  my $e = $exp{indels}{ SeqScore::variant_key($v) };
  my $j = $_->{Pangolin};
  $j->{all_genes} ne $e->{value} || $j->{gene} ne $_->{Gene}
    || join('|', $j->{gene}, "$j->{gain_pos}:$j->{gain}", "$j->{loss_pos}:$j->{loss}", "Warnings:$j->{warnings}") ne $e->{genes}{ $_->{Gene} }
} @jl;
ok(@jl == $n_genes{indels} && !$jbad, "JSON: {gene, gain, gain_pos, loss, loss_pos, warnings, all_genes} of the line's gene (" . scalar(@jl) . ' lines)');

# ---- distance and mask are passed on ------------------------------------------------------------
my $exp_m0 = expected($pango, 'Pangolin', "$chr21/indels.vcf", '-D', '80', '-M', '0');
my $pm = SeqScore->new({ quiet => 1 }, 'url=' . $d->url, 'distance=80', 'mask=0');
like($pm->get_header_info->{Pangolin}, qr/distance 80, mask 0\)/, 'distance=80, mask=0: named in the header');
($same, $diff, $stray) = compare(run_buffer($pm, $items{indels}), $exp_m0, 'Pangolin', 'joined');
is_deeply([$diff, $stray], [0, 0], "... and the values equal seqscore score -D 80 -M 0's ($same lines)");
ok($same > 0 && grep({ $exp_m0->{$_}{value} ne ($exp{indels}{$_}{value} // '') } keys %$exp_m0), '... which differ from the defaults\'');

# ---- side by side with a SpliceAI model: one daemon, two plugin lines ----------------------------
{
  my $exp_s = expected($toy, 'SpliceAI', "$chr21/indels.vcf");
  my $items = items("$chr21/indels.vcf", $exp{indels}, $exp_s);
  my $config = { quiet => 1 };
  my $ls = SeqScore->new($config, 'url=' . $d->url, 'model=toy');
  my $lp = SeqScore->new($config, 'url=' . $d->url, 'model=toypango');
  my $both = run_buffer([$ls, $lp], $items);
  my @o = compare($both, $exp{indels}, 'Pangolin', 'joined');
  my ($ssame, $sdiff, $sstray) = (0, 0, 0);
  for my $l (@$both) {
    my ($v) = SeqScore::vcf_variant($l->{_vf}, $l->{Allele});
    my $want = $exp_s->{ SeqScore::variant_key($v) }{ $l->{SYMBOL} };
    if (defined $want) { ($l->{SpliceAI_pred} // '') eq $want ? $ssame++ : $sdiff++ } elsif (defined $l->{SpliceAI_pred}) { $sstray++ }
  }
  is_deeply([$sdiff, $sstray, @o[1, 2]], [0, 0, 0, 0], "SpliceAI (model=toy) and Pangolin (model=toypango) lines side by side: both right ($ssame + $o[0] lines)");
  ok($ssame > 20 && $o[0] == $n_genes{indels}, '... both present on their genes\' lines (SpliceAI by symbol, Pangolin by gene_id)');
  is_deeply([$ls->{stats}{requests}, $lp->{stats}{requests}], [1, 1], '... one request each');
  is_deeply([$ls->{client}{connections}, $lp->{client}{connections}], [1, 1], '... own connections');
  isnt($ls->{cache}, $lp->{cache}, '... own caches');
  my $e = run_buffer([$ls, $lp], [[vf_from_vcf('21', 25592783, 'T', ['C']), [{ symbol => 'MRPL39', id => 'ENSG00000154719' }]]]);
  ok($e->[0]{SeqScore_error} && $e->[0]{Pangolin_error}, '... each with its own error field');
  like($ls->get_header_info->{SpliceAI_pred}, qr/model toy 0 .*mask 0\)/, '... each header names its model and its own default mask');
  like($lp->get_header_info->{Pangolin}, qr/model toypango 0 .*mask 1\)/, '... ');

  my $lq = SeqScore->new($config, 'url=' . $d->url, 'model=toypango', 'prefix=PangolinB');
  my $l3 = run_buffer([$lp, $lq], $items);
  my @with = grep { defined $_->{Pangolin} } @$l3;
  is(scalar(grep { ($_->{PangolinB} // '') eq $_->{Pangolin} } @with), scalar @with,
     'the Pangolin model twice, the second with prefix=PangolinB: PangolinB beside Pangolin (' . scalar(@with) . ' lines)');
  eval { SeqScore->new($config, 'url=' . $d->url, 'model=toy', 'prefix=Pangolin') };
  like($@, qr/two SeqScore plugin lines would both write Pangolin_\* \(model toypango with '\S+', and model toy with '\S+,prefix=Pangolin'\)\. Give one of them prefix=NAME/,
       'a SpliceAI line with prefix=Pangolin beside the Pangolin line: new() dies');
}

done_testing;
