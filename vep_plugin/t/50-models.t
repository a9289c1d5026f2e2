# Fields named after the model's tool: a daemon serving a model scored as OpenSpliceAI gives
# OpenSpliceAI_* fields equal to `seqscore score`'s OpenSpliceAI INFO field; SpliceAI models keep
# SpliceAI_* and SeqScore_error; prefix= renames; two plugin lines (two models, or one model twice
# with a prefix) in one run write two sets of fields with their own caches and connections; a
# clash of field names, an unknown model and every header line with its provenance are checked
# in new() / get_header_info.  Toy models (tests/toy_models.py), real daemons on 127.0.0.1.
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use SeqScoreTest::Daemon;
use SeqScoreTest::VEP qw(vf_from_vcf run_buffer);

if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
use SeqScore;

my $chr21 = $SeqScoreTest::Daemon::CHR21;
my $ds = SeqScoreTest::Daemon->start;                                   # "toy", scored as SpliceAI
my $osai = SeqScoreTest::Daemon::toy_model($ds->dir, name => 'toy_openspliceai', scorer => 'openspliceai');
my $do = SeqScoreTest::Daemon->start(model => $osai, dir => $ds->dir);  # scored as OpenSpliceAI

# `seqscore score` (in process, no daemon) on the same VCF: {variant key}{gene} = SYMBOL|DS...|DP...
sub expected {
  my ($model, $key, $vcf) = @_;
  my $out = $ds->dir . "/expected.$key.vcf";
  system('seqscore', 'score', '-I', $vcf, '-O', $out, '-R', "$chr21/chr21.fa.gz",
         '-A', "$chr21/genes.grch38.spliceai.txt", '--model', $model, '-D', '50', '-q') == 0
    or die "seqscore score failed on $vcf";
  my (%exp, @items, $header);
  open(my $fh, '<', $out) or die;
  while (<$fh>) {
    $header .= $_ if /^##INFO=<ID=$key,/;
    next if /^#/;
    chomp;
    my ($chrom, $pos, $id, $ref, $alt, undef, undef, $info) = split /\t/;
    my %genes;
    if ($info =~ /(?:^|;)$key=([^;]+)/) {
      for my $entry (split /,/, $1) {
        my ($allele, $gene, @rest) = split /\|/, $entry;
        $exp{"$chrom:$pos:$ref:$allele"}{$gene} = join('|', $gene, @rest);
        $genes{$gene} = 1;
      }
    }
    push @items, [vf_from_vcf($chrom, $pos, $ref, [split /,/, $alt]), [sort(keys %genes), 'NOT_A_GENE']];
  }
  return (\%exp, \@items, $header);
}

# Lines whose $field equals the expected value, differs, or is set where nothing was expected.
sub compare {
  my ($lines, $exp, $field) = @_;
  my ($same, $diff, $stray) = (0, 0, 0);
  for my $line (@$lines) {
    my ($v) = SeqScore::vcf_variant($line->{_vf}, $line->{Allele});
    my $want = $exp->{ SeqScore::variant_key($v) }{ $line->{SYMBOL} };
    if (defined $want) { ($line->{$field} // '') eq $want ? $same++ : $diff++ }
    elsif (defined $line->{$field}) { $stray++ }
  }
  return ($same, $diff, $stray);
}

my ($exp_o, $items, $info_o) = expected($osai, 'OpenSpliceAI', "$chr21/indels.vcf");
my ($exp_s) = expected($ds->model, 'SpliceAI', "$chr21/indels.vcf");
my $n_exp = 0;
$n_exp += keys %{ $exp_o->{$_} } for keys %$exp_o;
ok($n_exp > 20, "seqscore score wrote $n_exp OpenSpliceAI allele-gene entries") or diag $info_o;

# ---- a model scored as OpenSpliceAI: OpenSpliceAI_* fields ------------------------------------
my $po = SeqScore->new({ quiet => 1 }, 'url=' . $do->url);
my $hdr = $po->get_header_info;
is_deeply([sort keys %$hdr], ['OpenSpliceAI_error', 'OpenSpliceAI_pred'], 'OpenSpliceAI model: header declares OpenSpliceAI_pred and OpenSpliceAI_error');
like($hdr->{OpenSpliceAI_pred}, qr/^OpenSpliceAI delta scores .*Format: SYMBOL\|DS_AG\|DS_AL\|DS_DG\|DS_DL\|DP_AG\|DP_AL\|DP_DG\|DP_DL$/,
     '... described as OpenSpliceAI\'s, in its entry format');
my $lines = run_buffer($po, $items);
my ($same, $diff, $stray) = compare($lines, $exp_o, 'OpenSpliceAI_pred');
is($diff, 0, "OpenSpliceAI_pred equals seqscore score's OpenSpliceAI INFO entries ($same lines)");
ok($same >= $n_exp, '... every expected allele-gene pair reached a transcript line');
is($stray, 0, '... and none on other genes\' transcripts');
ok(!grep({ grep { /^SpliceAI|^SeqScore_error$/ } keys %$_ } @$lines), '... no SpliceAI_* or SeqScore_error field');
is($po->{stats}{requests}, 1, '... in one request');

my $bad = run_buffer($po, [[vf_from_vcf('21', 25592783, 'T', ['C']), ['MRPL39']]]);   # REF is G
like($bad->[0]{OpenSpliceAI_error} // '', qr/^REF_MISMATCH:\S+/, 'per-variant error written as OpenSpliceAI_error');

my $pos = SeqScore->new({ output_format => 'vcf', quiet => 1 }, 'url=' . $do->url, 'cutoff=0.5');
my $h = $pos->get_header_info;
is_deeply([sort keys %$h], [sort('OpenSpliceAI_cutoff', 'OpenSpliceAI_error',
                                 map { "OpenSpliceAI_pred_$_" } qw(SYMBOL DS_AG DS_AL DS_DG DS_DL DP_AG DP_AL DP_DG DP_DL))],
          'VCF output: OpenSpliceAI_pred_SYMBOL, _DS_AG ... _DP_DL, OpenSpliceAI_cutoff, OpenSpliceAI_error');
my @prov = grep { !/model toy_openspliceai 0 \(sha256 [0-9a-f]{64}; from tests\/toy_models\.py==0\), daemon \Q${\ $do->url }\E, annotation genes\.grch38\.spliceai\.txt \(sha256 [0-9a-f]{16}\), distance 50, mask 0/ } values %$h;
is(scalar @prov, 0, '... each described with the model name, version, sha256, source, daemon, annotation and settings')
  or diag explain \@prov;
my ($first) = grep { $_->{OpenSpliceAI_pred_SYMBOL} } @{ run_buffer($pos, $items) };
my ($v) = SeqScore::vcf_variant($first->{_vf}, $first->{Allele});
is(join('|', @{$first}{map { "OpenSpliceAI_pred_$_" } qw(SYMBOL DS_AG DS_AL DS_DG DS_DL DP_AG DP_AL DP_DG DP_DL)}),
   $exp_o->{ SeqScore::variant_key($v) }{ $first->{OpenSpliceAI_pred_SYMBOL} }, '... split values equal the joined ones');
like($first->{OpenSpliceAI_cutoff} // '', qr/^(PASS|FAIL)$/, '... and the cutoff flag');

my $pj = SeqScore->new({ output_format => 'json', quiet => 1 }, 'url=' . $do->url, 'cutoff=0.5');
is_deeply([sort keys %{ $pj->get_header_info }], ['OpenSpliceAI', 'OpenSpliceAI_cutoff', 'OpenSpliceAI_error'],
          'JSON output: fields OpenSpliceAI, OpenSpliceAI_cutoff, OpenSpliceAI_error');
($first) = grep { $_->{OpenSpliceAI} } @{ run_buffer($pj, $items) };
ok($first && defined $first->{OpenSpliceAI}{DS_DL} && $first->{OpenSpliceAI}{SYMBOL}, 'JSON output nested under OpenSpliceAI');
like($first->{OpenSpliceAI}{OpenSpliceAI_cutoff} // '', qr/^(PASS|FAIL)$/, '... with OpenSpliceAI_cutoff');

# ---- a SpliceAI model: unchanged names ---------------------------------------------------------
my $ps = SeqScore->new({ quiet => 1 }, 'url=' . $ds->url);
is_deeply([sort keys %{ $ps->get_header_info }], ['SeqScore_error', 'SpliceAI_pred'], 'SpliceAI model: SpliceAI_pred and SeqScore_error as before');

# ---- prefix= -----------------------------------------------------------------------------------
my $pp = SeqScore->new({ output_format => 'vcf', quiet => 1 }, 'url=' . $ds->url, 'prefix=SeqScore', 'cutoff=0.5');
my $hp = $pp->get_header_info;
ok($hp->{SeqScore_pred_DS_AG} && $hp->{SeqScore_cutoff} && $hp->{SeqScore_error} && !grep(/^SpliceAI/, keys %$hp),
   'prefix=SeqScore: SeqScore_pred_DS_AG, SeqScore_cutoff, SeqScore_error, no SpliceAI_* (runs beside VEP\'s SpliceAI.pm)');
like($hp->{SeqScore_pred_DS_AG}, qr/^SpliceAI delta score .*model toy 0 \(sha256 [0-9a-f]{64}/, '... still described as SpliceAI\'s scores, with provenance');

# ---- two plugin lines in one VEP run (they share VEP's config hash) ------------------------------
{
  my $config = { quiet => 1 };
  my $p1 = SeqScore->new($config, 'url=' . $ds->url);
  my $p2 = SeqScore->new($config, 'url=' . $do->url);
  my $both = run_buffer([$p1, $p2], $items);
  my @s = compare($both, $exp_s, 'SpliceAI_pred');
  my @o = compare($both, $exp_o, 'OpenSpliceAI_pred');
  is_deeply([@s[1, 2], @o[1, 2]], [0, 0, 0, 0], "SpliceAI and OpenSpliceAI models side by side: both fields right on every line ($s[0] + $o[0])");
  ok($s[0] > 20 && $o[0] > 20, '... both present');
  is_deeply([$p1->{stats}{requests}, $p2->{stats}{requests}], [1, 1], '... one request each');
  isnt($p1->{cache}, $p2->{cache}, '... own caches');
  is_deeply([$p1->{client}{connections}, $p2->{client}{connections}], [1, 1], '... own connections');

  my $p3 = SeqScore->new($config, 'url=' . $ds->url, 'prefix=Second');
  my $l3 = run_buffer([$p1, $p3], $items);
  my $n_scored = grep { defined $_->{SpliceAI_pred} } @$l3;
  is(scalar(grep { defined $_->{SpliceAI_pred} && ($_->{Second_pred} // '') eq $_->{SpliceAI_pred} } @$l3), $n_scored,
     "one model twice, the second with prefix=Second: Second_pred beside SpliceAI_pred ($n_scored lines)");
  my $e3 = run_buffer([$p1, $p3], [[vf_from_vcf('21', 25592783, 'T', ['C']), ['MRPL39']]]);
  ok($e3->[0]{SeqScore_error} && $e3->[0]{Second_error}, '... each with its own error field');

  eval { SeqScore->new($config, 'url=' . $ds->url, 'model=toy') };
  like($@, qr/^ERROR: SeqScore: two SeqScore plugin lines would both write SpliceAI_\* \(model toy with 'url=\S+', and model toy with 'url=\S+,model=toy'\)\. Give one of them prefix=NAME/,
       'a second line writing SpliceAI_* again: new() dies naming both lines and prefix=');
  eval { SeqScore->new($config, 'url=' . $do->url, 'prefix=SpliceAI') };
  like($@, qr/would both write SpliceAI_\*/, 'a prefix naming another line\'s fields: dies too');
  ok(eval { SeqScore->new($config, 'url=' . $ds->url) }, 'the same line made again (same parameters) is not a clash') or diag $@;
}

# ---- model= checked in new() -------------------------------------------------------------------
eval { SeqScore->new({}, 'url=' . $do->url, 'model=spliceai') };
like($@, qr/^ERROR: SeqScore: the daemon at \S+ does not serve model 'spliceai' \(it serves: toy_openspliceai\)\. Pass one of those as model=NAME/,
     'unknown model: new() dies naming the served ones');
my $pm = SeqScore->new({ quiet => 1 }, 'url=' . $do->url, 'model=toy_openspliceai');
is_deeply([sort keys %{ $pm->get_header_info }], ['OpenSpliceAI_error', 'OpenSpliceAI_pred'], 'model= naming the served model: its fields');
like(SeqScore::request_body([{ chrom => '21', pos => 1, ref => 'A', alt => 'C' }], $ps->{opt}), qr/"model":"toy"/,
     'requests name the model the run started with, also when model= is not given');

# ---- a daemon serving several models: model= picks by name (skipped where serve takes one) ----
SKIP: {
  my $dm = SeqScoreTest::Daemon->start(models => [$ds->model, $osai], dir => $ds->dir);
  my $list = decode_json(HTTP::Tiny->new(proxy => undef, http_proxy => undef)->get($dm->url . '/v1/models')->{content});
  skip 'this seqscore serve loads one model at a time', 6 unless @{ $list->{models} } > 1;
  my $config = { quiet => 1 };
  my $m1 = SeqScore->new($config, 'url=' . $dm->url);
  my $m2 = SeqScore->new($config, 'url=' . $dm->url, 'model=toy_openspliceai');
  is($m1->{provenance}{name}, $list->{models}[0]{name}, 'no model=: the first model listed');
  my $l = run_buffer([$m1, $m2], $items);
  my @s = compare($l, $exp_s, 'SpliceAI_pred');
  my @o = compare($l, $exp_o, 'OpenSpliceAI_pred');
  is_deeply([@s[1, 2], @o[1, 2]], [0, 0, 0, 0], 'two lines, one daemon, two models: both fields right');
  ok($s[0] > 20 && $o[0] > 20, '... both present');
  like($m2->get_header_info->{OpenSpliceAI_pred}, qr/model toy_openspliceai 0 \(sha256 [0-9a-f]{64}/, '... each header names its model');
  like($m1->get_header_info->{SpliceAI_pred}, qr/model toy 0 \(sha256 [0-9a-f]{64}/, '... ');
  eval { SeqScore->new({}, 'url=' . $dm->url, 'model=nope') };
  like($@, qr/does not serve model 'nope' \(it serves: (toy, toy_openspliceai|toy_openspliceai, toy)\)/, 'unknown model: dies listing both');
}

done_testing;
