# Alleles that cannot be scored: '*' (a deletion given on another line), <DEL>, <DUP> and other
# structural variants, breakends.  Each of their lines gets SeqScore_error (PREFIX_error with
# prefix=) = UNSUPPORTED_VARIANT, the code the daemon and `seqscore score` give them, with the
# reason; they are not sent to the daemon; the scorable alleles of the same records keep their
# scores.  Against a real `seqscore serve` (toy model, shared chr21 data).
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use SeqScoreTest::Daemon;
use SeqScoreTest::VEP qw(vf_from_vcf svf_from_vcf run_buffer);

if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
use SeqScore;

my $d = SeqScoreTest::Daemon->start;

# the daemon's own answer for these alleles: the code the plugin must use
my $r = HTTP::Tiny->new(proxy => undef, http_proxy => undef)->post($d->url . '/v1/score', {
  headers => { 'Content-Type' => 'application/json' },
  content => encode_json({ variants => [map { { chrom => '21', pos => 25592783, ref => 'G', alt => $_ } } '*', '<DEL>', 'G[21:100['] }) });
is_deeply([map { $_->{error}{code} } @{ decode_json($r->{content})->{results} }], [('UNSUPPORTED_VARIANT') x 3],
          "the daemon's code for *, <DEL> and a breakend: UNSUPPORTED_VARIANT");

my @items = (
  [vf_from_vcf('21', 25592783, 'G', ['T', '*']), ['MRPL39']],                      # SNV and '*'
  [vf_from_vcf('21', 25592790, 'TA', ['T', '*']), ['MRPL39']],                     # deletion and '*'
  [svf_from_vcf('21', 25592700, 25592900, '<DEL>', 'deletion'), ['MRPL39']],
  [svf_from_vcf('21', 25592700, 25592900, '<DUP:TANDEM>', 'tandem_duplication'), ['MRPL39']],
  [svf_from_vcf('21', 25592800, 25592800, 'G[21:30000000[', 'chromosome_breakpoint'), ['MRPL39']],
);
my $p = SeqScore->new({ quiet => 1 }, 'url=' . $d->url);
my $lines = run_buffer($p, \@items);
is(scalar @$lines, 7, 'every allele of every record comes out: 7 lines for 7 allele-gene pairs');
my %by = map { ($_->{Location} . ' ' . $_->{Allele} => $_) } @$lines;

like($by{'21:25592783 T'}{SpliceAI_pred} // '', qr/^MRPL39\|/, 'the SNV beside a * keeps its scores');
like($by{'21:25592791 -'}{SpliceAI_pred} // '', qr/^MRPL39\|/, 'the deletion beside a * keeps its scores');
like($by{'21:25592783 *'}{SeqScore_error} // '',
     qr/^UNSUPPORTED_VARIANT:21:25592783:_ALT_\*_is_a_deletion's_placeholder_\('\*':_the_deleted_bases_are_given_on_another_line\)_not_scored$/,
     "'*' of an SNV record: UNSUPPORTED_VARIANT saying why");
like($by{'21:25592791 *'}{SeqScore_error} // '', qr/^UNSUPPORTED_VARIANT:21:25592791:_ALT_\*_is_a_deletion's_placeholder/,
     "'*' of an indel record (kept untrimmed by VEP): the same");
like($by{'21:25592701 <DEL>'}{SeqScore_error} // '',
     qr/^UNSUPPORTED_VARIANT:21:25592701-25592900:_ALT_<DEL>_is_a_structural_variant_\(deletion\)_only_sequence_alleles_\(A_C_G_T_N\)_are_scored$/,
     '<DEL>: UNSUPPORTED_VARIANT naming the structural variant and its type');
like($by{'21:25592701 <DUP:TANDEM>'}{SeqScore_error} // '', qr/^UNSUPPORTED_VARIANT:\S+_ALT_<DUP:TANDEM>_is_a_structural_variant_\(tandem_duplication\)/,
     '<DUP:TANDEM>: the same');
like($by{'21:25592801 G[21:30000000['}{SeqScore_error} // '', qr/^UNSUPPORTED_VARIANT:\S+_ALT_G\[21:30000000\[_is_a_structural_variant_\(chromosome_breakpoint\)/,
     'a breakend: the same');
is(scalar(grep { defined $_->{SeqScore_error} } @$lines), 5, '... and no other line has an error');
ok(!grep({ defined $_->{SeqScore_error} && defined $_->{SpliceAI_pred} } @$lines), 'no line has both');
is_deeply([$p->{stats}{requests}, $p->{stats}{alleles}], [1, 2], 'one request, holding only the 2 scorable alleles');

# a buffer of unscorable alleles only: no request at all
my $p0 = SeqScore->new({ quiet => 1 }, 'url=' . $d->url);
my $l0 = run_buffer($p0, [@items[2 .. 4], [vf_from_vcf('21', 25592783, 'G', ['*']), ['MRPL39']]]);
is(scalar(grep { ($_->{SeqScore_error} // '') =~ /^UNSUPPORTED_VARIANT:/ } @$l0), 4, 'only unscorable alleles: each line has its error');
is($p0->{stats}{requests}, 0, '... and no request was made');

# JSON output keeps the message as is; prefix= names the field
my $pj = SeqScore->new({ output_format => 'json', quiet => 1 }, 'url=' . $d->url, 'prefix=Splice2');
my $lj = run_buffer($pj, [$items[0], $items[2]]);
my %j = map { ($_->{Allele} => $_) } @$lj;
is($j{'*'}{Splice2_error}, "UNSUPPORTED_VARIANT:21:25592783: ALT * is a deletion's placeholder ('*': the deleted bases are given on another line); not scored",
   'JSON, prefix=Splice2: Splice2_error with the message unchanged');
like($j{'<DEL>'}{Splice2_error} // '', qr/^UNSUPPORTED_VARIANT:21:25592701-25592900: ALT <DEL> is a structural variant \(deletion\)/, '... for <DEL> too');
ok($j{T}{Splice2} && !defined $j{T}{Splice2_error}, '... the SNV scored');

# the plugin asks VEP for structural variants too (else VEP would never show it their lines)
is_deeply(SeqScore->variant_feature_types, ['VariationFeature', 'StructuralVariationFeature'],
          'variant_feature_types: VariationFeature and StructuralVariationFeature');

done_testing;
