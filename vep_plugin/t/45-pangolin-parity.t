# With the real exported Pangolin model: the plugin's Pangolin field equals the value the Pangolin
# CLI itself wrote for the shared chr21 dbSNP SNVs (reference_outputs/pangolin: tkzeng/Pangolin
# 1.0.2, default flags -d 50 -m True, custom_test.gtf.gz loaded with create_db.py --filter None,
# genes named by gene_id).  The daemon is given the same GTF and `--gtf-filter None`; the
# plugin's distance and mask are left to it (Pangolin's defaults).  The reference file holds
# numpy 2's prints (0.07000000029802322 for the float32 0.07); they are compared as numpy 1 and
# the plugin print them (0.07).  Every 4th SNV by default (the model takes 1-2 CPU-seconds a
# variant here); SEQSCORE_PARITY_ALL=1 checks all 40.  Skips where pangolin is not exported.
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }
use Test::More;
use SeqScoreTest::Daemon;
use SeqScoreTest::VEP qw(vf_from_vcf run_buffer);

if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
my $home = $ENV{SEQSCORE_HOME} || "$FindBin::Bin/../../.cache";
my $chr21 = $SeqScoreTest::Daemon::CHR21;
my $onnx = "$home/models/pangolin.onnx";
my $csv = "$chr21/reference_outputs/pangolin/chr21_dbsnp_snvs.subset40.pangolin.csv";
plan skip_all => "no exported Pangolin model at $onnx (seqscore export pangolin --from DIR)" unless -s $onnx;
plan skip_all => "no Pangolin reference output at $csv" unless -s $csv;
use SeqScore;

# CHROM,POS,REF,ALT,ID,Pangolin (the value has commas of its own: split into 6 fields)
my (@items, %want);
open(my $fh, '<', $csv) or die "$csv: $!";
<$fh>;
my $n = 0;
while (<$fh>) {
  chomp;
  next if $n++ % ($ENV{SEQSCORE_PARITY_ALL} ? 1 : 4);
  my ($chrom, $pos, $ref, $alt, $id, $value) = split /,/, $_, 6;
  (my $numpy1 = $value) =~ s/:(-?\d+\.\d+(?:e-?\d+)?)/my $x = sprintf('%.2f', $1); $x =~ s{0$}{}; ":$x"/ge;
  $want{"$chrom:$pos:$ref:$alt"} = $numpy1;
  my @genes = map { (split /\|/)[0] } split /,/, $value;
  push @items, [vf_from_vcf($chrom, $pos, $ref, [$alt]), [(map { { symbol => "symbol_of_$_", id => $_ } } @genes),
                                                         { symbol => 'NOT_A_GENE', id => 'ENSG00000000001' }]];
}
close $fh;
ok(@items >= 10, scalar(@items) . ' of the 40 SNVs the Pangolin CLI scored');

my $d = SeqScoreTest::Daemon->start(model => $onnx, annotation => "$chr21/custom_test.gtf.gz",
                                    extra => ['--gtf-filter', 'None'], wait => 300);
my $p = SeqScore->new({ quiet => 1 }, 'url=' . $d->url, 'timeout=600');
like($p->get_header_info->{Pangolin}, qr/^Pangolin splice scores .*model pangolin \S+ \(sha256 [0-9a-f]{64}.*GTF filter None, distance 50, mask 1\)/,
     'header: the pangolin model, its sha256, the GTF filter and Pangolin\'s defaults (distance 50, mask 1)');

my $lines = run_buffer($p, \@items);
my ($same, $wrong, $stray, %seen) = (0, 0, 0);
for my $l (@$lines) {
  my ($v) = SeqScore::vcf_variant($l->{_vf}, $l->{Allele});
  my $key = SeqScore::variant_key($v);
  my $w = $want{$key};
  if ($l->{Gene} eq 'ENSG00000000001') { $stray++ if defined $l->{Pangolin}; next }
  if (($l->{Pangolin} // '') eq $w) { $same++; $seen{$key} = 1 }
  else { $wrong++; diag "$key $l->{Gene}: Pangolin " . ($l->{Pangolin} // 'none') . ", the CLI wrote $w" if $wrong <= 5 }
}
is($wrong, 0, "Pangolin equals the Pangolin CLI's value on every line of a scored gene ($same lines)");
is(scalar keys %seen, scalar @items, '... for every SNV (' . scalar(keys %seen) . ')');
is($stray, 0, '... and nothing on a gene it did not score');
ok((grep { /:-0\.0\|/ } values %want), '... values printed as -0.0 among them') if $ENV{SEQSCORE_PARITY_ALL};

done_testing;
