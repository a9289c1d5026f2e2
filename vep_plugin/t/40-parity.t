# With the real exported SpliceAI model: the plugin's SpliceAI_pred for the shared chr21 dbSNP
# SNVs and indels equals the SpliceAI= strings the original spliceai 1.3.1 CLI wrote (-D 50 -M 0).
# Skips where `make models` has not exported spliceai.onnx.  The model takes about 2 CPU-seconds
# a variant here, so by default every 8th record is checked; SEQSCORE_PARITY_ALL=1 checks all.
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }
use Test::More;
use SeqScoreTest::Daemon;
use SeqScoreTest::VEP qw(vf_from_vcf run_buffer);

if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
my $home = $ENV{SEQSCORE_HOME} || "$FindBin::Bin/../../.cache";
my $onnx = "$home/models/spliceai.onnx";
plan skip_all => "no exported SpliceAI model at $onnx (run `make models`)" unless -s $onnx;
use SeqScore;

my $chr21 = $SeqScoreTest::Daemon::CHR21;
my $d = SeqScoreTest::Daemon->start(model => $onnx, wait => 300);
my $plugin = SeqScore->new({ quiet => 1 }, 'url=' . $d->url, 'distance=50', 'mask=0', 'timeout=600');
like($plugin->get_header_info->{SpliceAI_pred}, qr/model spliceai /, 'header names the SpliceAI model');

for my $name ('dbsnp_snvs', 'indels') {
  my (%want, @items, $i);
  my $every = $ENV{SEQSCORE_PARITY_ALL} ? 1 : 8;
  open(my $fh, '<', "$chr21/$name.spliceai-1.3.1.D50.M0.vcf") or die "$name: $!";
  while (<$fh>) {
    next if /^#/ || $i++ % $every;
    chomp;
    my ($chrom, $pos, undef, $ref, $alt, undef, undef, $info) = split /\t/;
    my $vf = vf_from_vcf($chrom, $pos, $ref, [split /,/, $alt]);
    my %genes;
    if ($info =~ /(?:^|;)SpliceAI=([^;]+)/) {
      for my $entry (split /,/, $1) {
        my ($allele, $gene, @rest) = split /\|/, $entry;
        $want{"$chrom:$pos:$ref:$allele"}{$gene} = join('|', $gene, @rest);
        $genes{$gene} = 1;
      }
    }
    push @items, [$vf, [sort keys %genes]] if %genes;
  }
  close $fh;
  my $lines = run_buffer($plugin, \@items);
  my ($exact, $edge, $wrong, $n) = (0, 0, 0, 0);
  for my $l (@$lines) {
    my ($v) = SeqScore::vcf_variant($l->{_vf}, $l->{Allele});
    my $w = $want{ SeqScore::variant_key($v) }{ $l->{SYMBOL} } // next;
    $n++;
    my $got = $l->{SpliceAI_pred} // 'none';
    if ($got eq $w) { $exact++; next }
    my @g = split /\|/, $got;
    my @e = split /\|/, $w;
    my $close = @g == @e && !grep { $g[$_] ne $e[$_] && !($g[$_] =~ /^\d\.\d\d$/ && abs($g[$_] - $e[$_]) <= 0.0100001) } 1 .. $#e;
    if ($close) { $edge++ } else { $wrong++; diag "$name $l->{Location} $l->{SYMBOL}: got $got, want $w" if $wrong <= 5 }
  }
  ok($n >= 8, "$name: $n allele-gene scores compared");
  is($wrong, 0, "$name: every SpliceAI_pred equals spliceai 1.3.1 ($exact exact, $edge on a rounding edge)");
  ok($edge <= 0.02 * $n, "$name: rounding-edge differences are rare ($edge)");
}

done_testing;
