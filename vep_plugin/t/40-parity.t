# With the real exported models: the plugin's SpliceAI_pred for the shared chr21 dbSNP SNVs and
# indels equals the SpliceAI= strings the original spliceai 1.3.1 CLI wrote (-D 50 -M 0), and its
# OpenSpliceAI_pred equals the OpenSpliceAI= strings of `openspliceai variant` 0.0.7 (-D 50 -M 0,
# reference_outputs/openspliceai).  Both plugin lines belong to one run (shared VEP config) and
# ask one daemon serving both models (two daemons where `serve` takes one model).  Skips a model
# `make models` / `seqscore export` has not exported.  The models take about 1-2 CPU-seconds a
# variant here, so by default every 8th record (SpliceAI) or every 16th (OpenSpliceAI) is checked,
# each model's records in its own buffer; SEQSCORE_PARITY_ALL=1 checks all.
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
my $home = $ENV{SEQSCORE_HOME} || "$FindBin::Bin/../../.cache";
my $chr21 = $SeqScoreTest::Daemon::CHR21;
my %sets = (
  spliceai => { onnx => "$home/models/spliceai.onnx", key => 'SpliceAI', every => 8,
                ref => { map { ($_ => "$chr21/$_.spliceai-1.3.1.D50.M0.vcf") } qw(dbsnp_snvs indels) } },
  openspliceai => { onnx => "$home/models/openspliceai.onnx", key => 'OpenSpliceAI', every => 16,
                    ref => { map { ($_ => "$chr21/reference_outputs/openspliceai/$_.openspliceai-0.0.7.D50.M0.vcf") }
                             qw(dbsnp_snvs indels) } },
);
my @names = grep { -s $sets{$_}{onnx} && -s $sets{$_}{ref}{indels} } sort { $b cmp $a } keys %sets;   # spliceai first
plan skip_all => "no exported SpliceAI or OpenSpliceAI model under $home/models (run `make models`)" unless @names;
use SeqScore;

# one daemon serving every model, else one daemon each
my %daemon;
my $all = SeqScoreTest::Daemon->start(models => [map { $sets{$_}{onnx} } @names], wait => 300);
my $listed = decode_json(HTTP::Tiny->new(proxy => undef, http_proxy => undef)->get($all->url . '/v1/models')->{content});
if (@{ $listed->{models} } == @names) {
  $daemon{$_} = $all for @names;
}
else {
  $all->stop;
  $daemon{$_} = SeqScoreTest::Daemon->start(model => $sets{$_}{onnx}, wait => 300, dir => $all->dir) for @names;
}
diag 'one daemon serving ' . join(' and ', @names) if @names > 1 && $daemon{ $names[0] } == $daemon{ $names[-1] };

my $config = { quiet => 1 };
my %plugin = map { ($_ => SeqScore->new($config, 'url=' . $daemon{$_}->url, "model=$_", 'distance=50', 'mask=0',
                                        'timeout=600')) } @names;
for my $name (@names) {
  my $key = $sets{$name}{key};
  like($plugin{$name}->get_header_info->{"${key}_pred"}, qr/^$key delta scores .*model $name \S+ \(sha256 [0-9a-f]{64}/,
       "$key header names the $name model and its sha256");
}

# expected strings of each model's original tool, and the records it scored
my (%want, %genes_of);
for my $set ('dbsnp_snvs', 'indels') {
  for my $name (@names) {
    my $key = $sets{$name}{key};
    open(my $fh, '<', $sets{$name}{ref}{$set}) or die "$set: $!";
    my $n = 0;
    while (<$fh>) {
      next if /^#/;
      next if $n++ % ($ENV{SEQSCORE_PARITY_ALL} ? 1 : $sets{$name}{every});
      chomp;
      my ($chrom, $pos, undef, $ref, $alt, undef, undef, $info) = split /\t/;
      next unless $info =~ /(?:^|;)$key=([^;]+)/;
      for my $entry (split /,/, $1) {
        my ($allele, $gene, @rest) = split /\|/, $entry;
        $want{$name}{"$chrom:$pos:$ref:$allele"}{$gene} = join('|', $gene, @rest);
        $genes_of{$name}{$set}{"$chrom\t$pos\t$ref\t$alt"}{$gene} = 1;
      }
    }
    close $fh;
  }
}

for my $set ('dbsnp_snvs', 'indels') {
  for my $name (@names) {
    my $g = $genes_of{$name}{$set};
    my @items = map { my ($c, $p, $r, $a) = split /\t/; [vf_from_vcf($c, $p, $r, [split /,/, $a]), [sort keys %{ $g->{$_} }]] }
                sort keys %$g;
    my $lines = run_buffer($plugin{$name}, \@items);
    my $field = "$sets{$name}{key}_pred";
    my ($exact, $edge, $wrong, $n) = (0, 0, 0, 0);
    for my $l (@$lines) {
      my ($v) = SeqScore::vcf_variant($l->{_vf}, $l->{Allele});
      my $w = $want{$name}{ SeqScore::variant_key($v) }{ $l->{SYMBOL} } // next;
      $n++;
      my $got = $l->{$field} // 'none';
      if ($got eq $w) { $exact++; next }
      my @g = split /\|/, $got;
      my @e = split /\|/, $w;
      my $close = @g == @e && !grep { $g[$_] ne $e[$_] && !($g[$_] =~ /^-?\d\.\d\d$/ && abs($g[$_] - $e[$_]) <= 0.0100001) } 1 .. $#e;
      if ($close) { $edge++ } else { $wrong++; diag "$set $l->{Location} $l->{SYMBOL}: $field $got, want $w" if $wrong <= 5 }
    }
    ok($n >= 4, "$set, $name: $n allele-gene scores compared");
    is($wrong, 0, "$set: every $field equals the original tool's ($exact exact, $edge on a rounding edge)");
    ok($edge <= 0.02 * $n, "$set, $name: rounding-edge differences are rare ($edge)");
  }
}

done_testing;
