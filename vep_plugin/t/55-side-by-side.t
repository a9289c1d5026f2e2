# Running beside VEP's SpliceAI.pm, or two models side by side: split_output behaves as in
# SpliceAI.pm for the values it is given there (split fields in tab output, always in VCF output,
# no change to JSON); prefix= gives fields no name SpliceAI.pm writes; two SpliceAI-format models
# in one run (one with prefix=) write two sets of fields; every header line of every field keeps
# the provenance of its own model (name, version, sha256).  Real daemons, toy models.
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }
use Test::More;
use SeqScoreTest::Daemon;
use SeqScoreTest::VEP qw(vf_from_vcf run_buffer);

if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
use SeqScore;

my $d = SeqScoreTest::Daemon->start;
my $url = 'url=' . $d->url;
my @items = ([vf_from_vcf('21', 25592783, 'G', ['T', 'C']), ['MRPL39']], [vf_from_vcf('21', 25592790, 'T', ['TG']), ['MRPL39']]);

# The fields VEP's SpliceAI.pm writes (VEP_plugins, release 116): the joined field in tab output,
# one per score with split_output or in VCF output, SpliceAI => {...} in JSON, and the cutoff flag.
my @DSDP = map { "SpliceAI_pred_$_" } qw(SYMBOL DS_AG DS_AL DS_DG DS_DL DP_AG DP_AL DP_DG DP_DL);
my %SPLICEAI_PM = map { $_ => 1 } 'SpliceAI_pred', @DSDP, 'SpliceAI_cutoff', 'SpliceAI';

my $joined = run_buffer(SeqScore->new({ output_format => 'tab', quiet => 1 }, $url), \@items);
is(scalar(grep { ($_->{SpliceAI_pred} // '') =~ /^MRPL39\|/ } @$joined), 3, 'tab output: SpliceAI_pred on the 3 alleles');

# ---- split_output -----------------------------------------------------------------------------
for my $v (qw(1 yes true on YES)) {
  my $p = SeqScore->new({ output_format => 'tab', quiet => 1 }, $url, "split_output=$v");
  is_deeply([sort keys %{ $p->get_header_info }], [sort @DSDP, 'SeqScore_error'],
            "split_output=$v, tab output: header declares SpliceAI.pm's split fields (and SeqScore_error)");
  my $l = run_buffer($p, \@items);
  is_deeply([map { [@{$_}{@DSDP}] } @$l], [map { [split /\|/, $_->{SpliceAI_pred}] } @$joined],
            '... each line holds them, the joined value split at |');
  ok(!grep({ exists $_->{SpliceAI_pred} } @$l), '... and no joined SpliceAI_pred');
}
for my $v (qw(0 no false off)) {
  my $p = SeqScore->new({ output_format => 'tab', quiet => 1 }, $url, "split_output=$v");
  is_deeply([sort keys %{ $p->get_header_info }], ['SeqScore_error', 'SpliceAI_pred'], "split_output=$v: the joined field");
}
eval { SeqScore->new({ quiet => 1 }, $url, 'split_output=maybe') };
like($@, qr/^ERROR: SeqScore: split_output must be 1 \(or yes, true, on\) or 0 \(no, false, off\), got 'maybe'/, 'split_output=maybe: new() dies saying what it takes');

for my $v (qw(0 1)) {
  my $p = SeqScore->new({ output_format => 'vcf', quiet => 1 }, $url, "split_output=$v");
  is_deeply([sort keys %{ $p->get_header_info }], [sort @DSDP, 'SeqScore_error'], "VCF output, split_output=$v: split fields, as SpliceAI.pm");
}
my ($jn, $js) = map { run_buffer(SeqScore->new({ output_format => 'json', quiet => 1 }, $url, "split_output=$_", 'cutoff=0.5'), \@items) } 0, 1;
my $strip = sub { [map { my %h = %$_; delete $h{_vf}; \%h } @{ $_[0] }] };
is_deeply($strip->($js), $strip->($jn), 'JSON output: split_output changes nothing, as SpliceAI.pm');
is_deeply([sort keys %{ $js->[0]{SpliceAI} }], [sort qw(SYMBOL DS_AG DS_AL DS_DG DS_DL DP_AG DP_AL DP_DG DP_DL SpliceAI_cutoff)],
          '... SpliceAI => {SYMBOL, DS_*, DP_*, SpliceAI_cutoff}');

# ---- beside SpliceAI.pm: prefix= ----------------------------------------------------------------
for my $mode (['tab'], ['tab', 'split_output=1'], ['vcf'], ['json']) {
  my ($format, @more) = @$mode;
  my $p = SeqScore->new({ output_format => $format, quiet => 1 }, $url, 'prefix=SeqScore', 'cutoff=0.5', @more);
  my $h = $p->get_header_info;
  my @written = (keys %$h, map { keys %$_ } @{ run_buffer($p, \@items) });
  my @clash = grep { $SPLICEAI_PM{$_} } @written;
  is_deeply(\@clash, [], "prefix=SeqScore, $format @more: no field or header of SpliceAI.pm's names (" . join(',', sort keys %$h) . ')');
}

# ---- two models of one tool side by side, and the provenance of every header line -------------
my $toy2 = SeqScoreTest::Daemon::toy_model($d->dir, name => 'toy_two');
my $d2 = SeqScoreTest::Daemon->start(model => $toy2, dir => $d->dir);
for my $format (qw(tab vcf json)) {
  my $config = { output_format => $format, quiet => 1 };
  my $p1 = SeqScore->new($config, $url, 'cutoff=0.5');
  my $p2 = SeqScore->new($config, 'url=' . $d2->url, 'prefix=Toy2', 'cutoff=0.5');
  my ($h1, $h2) = map { $_->get_header_info } $p1, $p2;
  is_deeply([grep { exists $h2->{$_} } keys %$h1], [], "$format: two models, one with prefix=Toy2: no field name in common");
  my @bad = ((grep { $h1->{$_} !~ /\bmodel toy 0 \(sha256 ([0-9a-f]{64})/ || $1 ne $p1->{provenance}{sha256} } sort keys %$h1),
             (grep { $h2->{$_} !~ /\bmodel toy_two 0 \(sha256 ([0-9a-f]{64})/ || $1 ne $p2->{provenance}{sha256} } sort keys %$h2));
  is_deeply(\@bad, [], '... every header line names its own model, version and sha256 (' . (keys(%$h1) + keys(%$h2)) . ' lines)');
  isnt($p1->{provenance}{sha256}, $p2->{provenance}{sha256}, '... two different models') if $format eq 'tab';
  my $l = run_buffer([$p1, $p2], \@items);
  my $k1 = $format eq 'json' ? 'SpliceAI' : $format eq 'vcf' ? 'SpliceAI_pred_DS_AG' : 'SpliceAI_pred';
  (my $k2 = $k1) =~ s/^SpliceAI/Toy2/;
  is(scalar(grep { defined $_->{$k1} && defined $_->{$k2} } @$l), 3, "... both fields ($k1, $k2) on every line");
}

done_testing;
