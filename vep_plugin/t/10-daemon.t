# SeqScore.pm against a real `seqscore serve` (toy model, shared chr21 data): the fields it writes
# equal what `seqscore score` writes for the same VCF, one HTTP request per buffer over one
# kept-alive TCP_NODELAY connection, the per-variant fallback, the cache, per-variant errors.
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }
use Test::More;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes ();
use SeqScoreTest::Daemon;
use SeqScoreTest::VEP qw(vf_from_vcf run_buffer);

if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
use SeqScore;

my $d = SeqScoreTest::Daemon->start;
my $chr21 = $SeqScoreTest::Daemon::CHR21;

# Expected fields: `seqscore score` (the engine in-process, no daemon) on the same VCF.
sub expected_for {
  my ($vcf) = @_;
  my $out = $d->dir . '/expected.' . time . rand() . '.vcf';
  system('seqscore', 'score', '-I', $vcf, '-O', $out, '-R', "$chr21/chr21.fa.gz",
         '-A', "$chr21/genes.grch38.spliceai.txt", '--model', $d->model, '-D', '50', '-q') == 0
    or die "seqscore score failed on $vcf";
  my (%exp, @records);
  open(my $fh, '<', $out) or die;
  while (<$fh>) {
    next if /^#/;
    chomp;
    my ($chrom, $pos, $id, $ref, $alt, undef, undef, $info) = split /\t/;
    push @records, [$chrom, $pos, $ref, [split /,/, $alt]];
    next unless $info =~ /(?:^|;)SpliceAI=([^;]+)/;
    for my $entry (split /,/, $1) {
      my ($allele, $gene, @rest) = split /\|/, $entry;
      $exp{"$chrom:$pos:$ref:$allele"}{$gene} = join('|', $gene, @rest);
    }
  }
  return (\%exp, \@records);
}

sub buffer_items {
  my ($records, $exp) = @_;
  my @items;
  for my $r (@$records) {
    my %genes = map { %{ $exp->{"$r->[0]:$r->[1]:$r->[2]:$_"} || {} } } @{ $r->[3] };
    push @items, [vf_from_vcf(@$r), [sort(keys %genes), 'NOT_A_GENE']];
  }
  return \@items;
}

my $plugin = SeqScore->new({ output_format => 'tab', quiet => 1 }, 'url=' . $d->url);
my $hdr = $plugin->get_header_info;
like($hdr->{SpliceAI_pred}, qr/Format: SYMBOL\|DS_AG\|DS_AL\|DS_DG\|DS_DL\|DP_AG\|DP_AL\|DP_DG\|DP_DL/, 'header: SpliceAI format');
like($hdr->{SpliceAI_pred}, qr/SeqScore plugin $SeqScore::VERSION, model \S+ \S+ \(sha256 [0-9a-f]{64}; from \S+\)/,
     'header names the plugin version and the model provenance from /v1/models');
ok($hdr->{SeqScore_error}, 'header declares the error field');

for my $file ('indels.vcf', 'dbsnp_snvs.vcf') {
  my ($exp, $records) = expected_for("$chr21/$file");
  my $items = buffer_items($records, $exp);
  my $n_alleles = 0;
  $n_alleles += @{ $_->[3] } for @$records;
  my %before = %{ $plugin->{stats} };
  my $lines = run_buffer($plugin, $items);

  is($plugin->{stats}{requests} - $before{requests}, 1, "$file: one HTTP request for the whole buffer");
  is($plugin->{stats}{alleles} - $before{alleles}, $n_alleles, "$file: ... holding all $n_alleles alleles");

  my ($same, $diff, $stray, $scored_keys) = (0, 0, 0, 0);
  for my $line (@$lines) {
    my $loc = $line->{Location};
    my ($v) = SeqScore::vcf_variant($line->{_vf}, $line->{Allele});
    my $want = $exp->{ SeqScore::variant_key($v) }{ $line->{SYMBOL} };
    if (defined $want) {
      if (($line->{SpliceAI_pred} || '') eq $want) { $same++ } else { $diff++; diag "$loc $line->{SYMBOL}: got " . ($line->{SpliceAI_pred} // 'none') . ", want $want" if $diff <= 5 }
    }
    elsif (defined $line->{SpliceAI_pred}) { $stray++ }
  }
  my $n_expected = 0;
  $n_expected += keys %{ $exp->{$_} } for keys %$exp;
  ok($n_expected > 20, "$file: seqscore score wrote $n_expected allele-gene scores");
  is($diff, 0, "$file: SpliceAI_pred equals seqscore score's SpliceAI field ($same lines)");
  ok($same >= $n_expected, "$file: every scored allele-gene pair reached a transcript line");
  is($stray, 0, "$file: no scores on transcripts of other genes");

  %before = %{ $plugin->{stats} };
  run_buffer($plugin, $items);
  is($plugin->{stats}{requests} - $before{requests}, 0, "$file: second pass served from the cache");
}
is($plugin->{client}{connections}, 1, 'one connection kept alive for all requests (the start-up one, closed in new(), not counted)');
my $fh = $plugin->{client}{http}{handle} && $plugin->{client}{http}{handle}{fh};
ok($fh && unpack('i', getsockopt($fh, IPPROTO_TCP, TCP_NODELAY)), 'TCP_NODELAY set on the connection');

# keep-alive + TCP_NODELAY on both sides: a one-allele request costs milliseconds, not the
# 40 ms of a delayed ACK
{
  my $pl = SeqScore->new({ quiet => 1 }, 'url=' . $d->url);
  $pl->_score([{ chrom => '21', pos => 25592783, ref => 'G', alt => 'T' }]);    # warm up
  my $t0 = Time::HiRes::time();
  my $n = 25;
  $pl->_score([{ chrom => '21', pos => 25592783 + $_, ref => 'N', alt => 'A' }]) for 1 .. $n;
  my $ms = 1000 * (Time::HiRes::time() - $t0) / $n;
  ok($ms < 30, sprintf('sequential one-allele requests: %.1f ms each (a delayed-ACK stall is ~40 ms)', $ms));
  is($pl->{client}{connections}, 1, '... all over one connection');
}

# batch=N splits a buffer; the per-variant fallback sends one request per variant
my ($exp, $records) = expected_for("$chr21/indels.vcf");
my $items = buffer_items($records, $exp);
my $p10 = SeqScore->new({ quiet => 1 }, 'url=' . $d->url, 'batch=10');
my $n_alleles = 0;
$n_alleles += @{ $_->[3] } for @$records;
run_buffer($p10, $items);
is($p10->{stats}{requests}, int(($n_alleles + 9) / 10), "batch=10: $n_alleles alleles in ceil(n/10) requests");

my $pv = SeqScore->new({ quiet => 1 }, 'url=' . $d->url);
my $lines = run_buffer($pv, $items, no_buffer_hook => 1);
is($pv->{stats}{prefetches}, 0, 'no buffer among the callers: no prefetch');
is($pv->{stats}{requests}, scalar(@$records), 'per-variant fallback: one request per variant (its alleles together)');
my $ref_lines = run_buffer(SeqScore->new({ quiet => 1 }, 'url=' . $d->url), $items);
is_deeply([map { $_->{SpliceAI_pred} } @$lines], [map { $_->{SpliceAI_pred} } @$ref_lines],
          'per-variant and batched runs write the same fields');

# split output, JSON output, cutoff
my $ps = SeqScore->new({ output_format => 'vcf', quiet => 1 }, 'url=' . $d->url, 'cutoff=0.5');
my ($first) = grep { $_->{SpliceAI_pred_SYMBOL} } @{ run_buffer($ps, $items) };
ok($first && defined $first->{SpliceAI_pred_DS_AG} && defined $first->{SpliceAI_pred_DP_DL}, 'VCF output: split fields');
like($first->{SpliceAI_cutoff}, qr/^(PASS|FAIL)$/, 'cutoff flag');
my $pj = SeqScore->new({ output_format => 'json', quiet => 1 }, 'url=' . $d->url);
($first) = grep { $_->{SpliceAI} } @{ run_buffer($pj, $items) };
ok($first && $first->{SpliceAI}{SYMBOL} && defined $first->{SpliceAI}{DS_DL}, 'JSON output nested under SpliceAI');

# per-variant errors are written, not dropped
my $bad = vf_from_vcf('21', 25592783, 'T', ['C']);          # REF is G there
my $edge = vf_from_vcf('21', 46709980, 'N', ['A']);          # near the contig end
$lines = run_buffer($plugin, [[$bad, ['MRPL39']], [$edge, ['X']]]);
like($lines->[0]{SeqScore_error}, qr/^REF_MISMATCH:\S+/, 'REF mismatch written as SeqScore_error');
ok(!defined $lines->[0]{SpliceAI_pred}, '... without scores');
like($lines->[1]{SeqScore_error} // 'no error: not in a gene', qr/^[A-Z_]+:|not in a gene/, 'variant outside the genes: error code or nothing');

# proxy settings are ignored for a loopback daemon (a proxy there would see every request)
{
  my $dead = 'http://127.0.0.1:' . SeqScoreTest::Daemon::free_port();
  local @ENV{qw(http_proxy HTTP_PROXY all_proxy)} = ($dead, $dead, $dead);
  my $pp = eval { SeqScore->new({ quiet => 1 }, 'url=' . $d->url) };
  ok($pp, 'http_proxy/all_proxy pointing nowhere: loopback daemon still reached') or diag $@;
  my $l = $pp ? run_buffer($pp, [[vf_from_vcf('21', 25592783, 'G', ['T']), ['MRPL39']]]) : [];
  like($l->[0]{SpliceAI_pred} // '', qr/^MRPL39\|/, '... and scores come back');
}

# model parameter checked against /v1/models
eval { SeqScore->new({}, 'url=' . $d->url, 'model=no_such_model') };
like($@, qr/does not serve model 'no_such_model' \(it serves: /, 'unknown model: new() dies listing the served ones');

done_testing;
