# The pure parts of SeqScore.pm: parameter checks, VCF-form alleles, request bodies, response
# parsing, output fields, the cache and the input-buffer hook.  No daemon needed.
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }   # real Ensembl modules win
use Test::More;
use JSON::PP;
use IO::Socket::INET;
use File::Temp qw(tempdir);
use SeqScore;
use SeqScoreTest::VEP qw(vf_from_vcf run_buffer);

my $tmp = tempdir(CLEANUP => 1);

# ---- check_params ------------------------------------------------------------------------------
my $o = SeqScore::check_params({});
is($o->{url}, 'http://127.0.0.1:8642', 'default url');
is($o->{batch}, 500, 'default batch');
is($o->{host}, '127.0.0.1', 'host parsed');
ok(!exists $o->{distance} || !defined $o->{distance}, 'distance left to the daemon by default');

$o = SeqScore::check_params({ url => 'http://localhost:9000/', distance => '500', mask => '1',
                              cutoff => '0.5', split_output => '1', batch => '64', timeout => '2.5' });
is($o->{url}, 'http://localhost:9000', 'trailing slash dropped');
is_deeply([@{$o}{qw(distance mask cutoff split_output batch timeout)}], [500, 1, 0.5, 1, 64, 2.5], 'values numified');

my @bad = (
  [{ url => 'ftp://x' }, qr/url must look like/],
  [{ url => 'http://exa mple' }, qr/url must look like/],
  [{ distance => '5000' }, qr/distance must be an integer from 0 to 4999, got '5000'/],
  [{ distance => '-1' }, qr/distance must be/],
  [{ distance => '1.5' }, qr/distance must be/],
  [{ mask => '2' }, qr/mask must be 0 or 1, got '2'/],
  [{ split_output => 'maybe' }, qr/split_output must be 1 \(or yes, true, on\) or 0 \(no, false, off\), got 'maybe'/],
  [{ retry_for => '-1' }, qr/retry_for must be a number of seconds from 0 \(no wait\) to 86400, got '-1'/],
  [{ retry_for => 'soon' }, qr/retry_for must be/],
  [{ retry_for => '100000' }, qr/retry_for must be/],
  [{ cutoff => '1.5' }, qr/cutoff must be a number from 0 to 1, got '1.5'/],
  [{ cutoff => 'high' }, qr/cutoff must be/],
  [{ batch => '0' }, qr/batch must be an integer from 1/],
  [{ timeout => '0' }, qr/timeout must be a positive number/],
  [{ model => 'a/b' }, qr/model must be a model name/],
  [{ colour => 'red' }, qr/unknown parameter 'colour' \(known: url, model/],
  [{ token_file => "$tmp/none" }, qr/cannot read token_file '.*none'/],
);
push @bad, [{ prefix => '1x' }, qr/prefix must be a field name .*got '1x'/], [{ prefix => 'a-b' }, qr/prefix must be/],
           [{ prefix => 'SeqScore_' }, qr/prefix must be .*not ending in _/], [{ prefix => 'a|b' }, qr/prefix must be/];
push @bad, map { [{ tracks => $_ }, qr/tracks must be 'all', 'none' or track names separated by '\/' \(tracks=NAME\/NAME\/\.\.\.; VEP splits plugin parameters on ','\), got '\Q$_\E'/] }
           '', ' ', '/CAGE+', 'CAGE+/', 'CAGE+//DNASE';
for my $case (@bad) {
  eval { SeqScore::check_params($case->[0]) };
  like($@, $case->[1], 'rejects ' . join(',', %{ $case->[0] }));
}
is(SeqScore::check_params({ prefix => 'SeqScore_v2' })->{prefix}, 'SeqScore_v2', 'prefix accepted');
is(SeqScore::check_params({})->{retry_for}, 60, 'retry_for: 60 s by default');
is_deeply([map { SeqScore::check_params({ retry_for => $_ })->{retry_for} } '0', '2.5', '600'], [0, 2.5, 600], '... 0 (no wait), fractions, minutes');
is_deeply([map { SeqScore::check_params({ split_output => $_ })->{split_output} } qw(1 yes True ON 0 no false Off)], [1, 1, 1, 1, 0, 0, 0, 0],
          'split_output: 1, yes, true, on (as SpliceAI.pm) turn it on; 0, no, false, off keep it off');
is(SeqScore::unscorable_allele('*'), "is a deletion's placeholder ('*': the deleted bases are given on another line); not scored", "unscorable: '*'");
like(SeqScore::unscorable_allele('<DEL>'), qr/^is a symbolic allele \(a structural variant\)/, '... <DEL>');
like(SeqScore::unscorable_allele('G]17:198982]'), qr/^is a breakend/, '... a breakend');
like(SeqScore::unscorable_allele('.A'), qr/^is a breakend/, '... a single breakend');
is(SeqScore::unscorable_allele('.'), 'is missing; not scored', "... '.'");
is_deeply([map { SeqScore::unscorable_allele($_) } qw(A ACGTN -)], [undef, undef, undef], '... not bases (or the - of an indel)');
is(SeqScore::describe_request([{ chrom => '21', pos => 5, ref => 'A', alt => 'C' }]), 'POST /v1/score of 1 allele (21:5:A>C)', 'describe_request: one allele');
is(SeqScore::describe_request([{ chrom => '21', pos => 5, ref => 'A', alt => 'C' }, { chrom => '21', pos => 9, ref => 'A', alt => 'ACGTACGTACGTAC' }]),
   'POST /v1/score of 2 alleles (21:5:A>C to 21:9:A>ACGTACGTAC..)', '... several: the first and the last, long alleles cut');
is(SeqScore::check_params({ tracks => 'FANTOM_CAGE+/ENCODE_CAGE-' })->{tracks}, 'FANTOM_CAGE+/ENCODE_CAGE-', 'tracks accepted (checked against the model in new())');
open(my $fh, '>', "$tmp/empty") or die; close $fh;
eval { SeqScore::check_params({ token_file => "$tmp/empty" }) };
like($@, qr/token_file '.*empty' is empty/, 'empty token file');
open($fh, '>', "$tmp/tok") or die; print $fh "  s3cret \n"; close $fh;
is(SeqScore::check_params({ token_file => "$tmp/tok" })->{token}, 's3cret', 'token read and trimmed');

# ---- new(): bare parameters and an unreachable daemon --------------------------------------------
eval { SeqScore->new({}, 'http://127.0.0.1:1') };
like($@, qr/parameters are key=value pairs/, 'bare parameter rejected');
my $free = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die;
my $port = $free->sockport;
close $free;    # nothing listens there now
eval { SeqScore->new({}, "url=http://127.0.0.1:$port", 'timeout=5') };
like($@, qr{seqscore daemon at http://127\.0\.0\.1:$port is not ready .*GET /v1/ready.*run VEP with --safe}s,
     'unreachable daemon: new() dies naming the url and advising --safe');
eval { SeqScore->new({ safe => 1 }, "url=http://127.0.0.1:$port", 'timeout=5') };
like($@, qr{seqscore daemon at http://127\.0\.0\.1:$port is not ready .*GET /v1/ready}s, 'with --safe: the same message');
unlike($@, qr/--safe/, '... not advising --safe, which is set');

# ---- vcf_variant: VEP's trimmed alleles back to VCF form -----------------------------------------
sub back { my ($vf, $i) = @_; my @a = SeqScore::alt_alleles($vf); return SeqScore::vcf_variant($vf, $a[$i]) }
my @cases = (
  ['21', 100, 'G', ['A']], ['21', 100, 'GTA', ['G']], ['21', 100, 'G', ['GTTT']],
  ['21', 100, 'A', ['AT', 'AG']], ['21', 100, 'A', ['AT', 'C']], ['chr21', 100, 'AC', ['GT']],
  ['21', 100, 'ATG', ['A', 'ATGTG']], ['21', 100, 'AT', ['AGG', 'ATT']],
);
for my $c (@cases) {
  my ($chrom, $pos, $ref, $alts) = @$c;
  my $vf = vf_from_vcf(@$c);
  for my $i (0 .. $#$alts) {
    my ($v, $err) = back($vf, $i);
    is_deeply($v, { chrom => $chrom, pos => $pos, ref => $ref, alt => $alts->[$i] },
              "round trip $chrom:$pos $ref>$alts->[$i] via '$vf->{allele_string}'") or diag explain $err;
  }
}
my $slice = SeqScoreTest::Slice->new('ACGTACGTAC');
my ($v, $err) = back(vf_from_vcf('21', 4, 'TA', ['T'], no_line => 1, slice => $slice), 0);
is_deeply($v, { chrom => '21', pos => 4, ref => 'TA', alt => 'T' }, 'anchor base from the slice when no VCF line');
($v, $err) = back(vf_from_vcf('21', 4, 'TA', ['T'], no_line => 1), 0);
is($v, undef, 'indel without anchor base: no variant');
is($err->{code}, 'UNSUPPORTED_VARIANT', '... but an error code');
like($err->{message}, qr/21:5: the base before the indel is unknown/, '... naming the place');
my $minus = { chr => '1', start => 10, end => 11, strand => -1, allele_string => 'AC/GT' };
is_deeply([SeqScore::vcf_variant($minus, 'GT')], [{ chrom => '1', pos => 10, ref => 'GT', alt => 'AC' }],
          'reverse-strand input alleles are complemented');

# ---- request_body ------------------------------------------------------------------------------
my @vars = ({ chrom => '21', pos => 100, ref => 'G', alt => 'A' }, { chrom => '21', pos => 200, ref => 'GT', alt => 'G' });
is_deeply(decode_json(SeqScore::request_body(\@vars, {})),
          { variants => [{ chrom => '21', pos => 100, ref => 'G', alt => 'A' },
                         { chrom => '21', pos => 200, ref => 'GT', alt => 'G' }] }, 'request: variants only by default');
my $body = SeqScore::request_body(\@vars, { distance => 500, mask => 1, model => 'spliceai' });
is_deeply([@{ decode_json($body) }{qw(distance mask model)}], [500, 1, 'spliceai'], 'request: distance, mask, model');
like($body, qr/"pos":100[,}]/, 'pos sent as a JSON number');

# ---- parse_response ----------------------------------------------------------------------------
my $gs = { gene => 'APP', strand => '-', ds_ag => 0.004999, ds_al => 0.5, ds_dg => 0.125, ds_dl => 0.995,
           dp_ag => -3, dp_al => 12, dp_dg => 0, dp_dl => -50 };
my $ok = { results => [
  { variant => { chrom => '21', pos => 200, ref => 'GT', alt => 'G' }, error => { code => 'REF_MISMATCH', message => 'REF GT != GA' } },
  { variant => { chrom => '21', pos => 100, ref => 'G', alt => 'A' }, scores => [$gs] },
] };
my ($res, $perr) = SeqScore::parse_response($ok, \@vars);
is_deeply($res, [{ scores => [$gs] }, { error => { code => 'REF_MISMATCH', message => 'REF GT != GA' } }],
          'results joined back by the echoed variant, not by position');
($res) = SeqScore::parse_response({ results => [
  { variant => { chrom => 'chr21', pos => 100, ref => 'G', alt => 'A' }, scores => [] },
  { variant => { chrom => 'chr21', pos => 200, ref => 'GT', alt => 'G' }, scores => [$gs] } ] }, \@vars);
is_deeply($res, [{ scores => [] }, { scores => [$gs] }], 'contig spelled differently by the daemon still matches');
($res, $perr) = SeqScore::parse_response({ results => [$ok->{results}[0]] }, \@vars);
is($res, undef, 'wrong result count rejected');
like($perr->{message}, qr/has 1 results for 2 variants/, '... with a message');
($res, $perr) = SeqScore::parse_response([], \@vars);
is($perr->{code}, 'BAD_RESPONSE', 'non-object answer rejected');

# ---- format_fields / error_fields --------------------------------------------------------------
is_deeply(SeqScore::format_fields($gs, 'joined'), { SpliceAI_pred => 'APP|0.00|0.50|0.12|0.99|-3|12|0|-50' },
          'joined SpliceAI_pred, 2 decimals as SpliceAI prints');
my $split = SeqScore::format_fields($gs, 'split', 0.5);
is_deeply($split, { SpliceAI_pred_SYMBOL => 'APP', SpliceAI_pred_DS_AG => '0.00', SpliceAI_pred_DS_AL => '0.50',
                    SpliceAI_pred_DS_DG => '0.12', SpliceAI_pred_DS_DL => '0.99', SpliceAI_pred_DP_AG => '-3',
                    SpliceAI_pred_DP_AL => '12', SpliceAI_pred_DP_DG => '0', SpliceAI_pred_DP_DL => '-50',
                    SpliceAI_cutoff => 'PASS' }, 'split fields with cutoff PASS');
is(SeqScore::format_fields($gs, 'split', 0.995)->{SpliceAI_cutoff}, 'FAIL', 'cutoff FAIL on the printed value');
my $json = SeqScore::format_fields($gs, 'json', 0.2);
is_deeply([sort keys %$json], ['SpliceAI'], 'JSON output nested under one key');
is($json->{SpliceAI}{DS_DL}, '0.99', '... holding the scores');
is($json->{SpliceAI}{SpliceAI_cutoff}, 'PASS', '... and the cutoff flag');
my $unscored = { gene => 'APP', strand => '+', map { ($_ => undef) } qw(ds_ag ds_al ds_dg ds_dl dp_ag dp_al dp_dg dp_dl) };
is(SeqScore::format_fields($unscored, 'joined', 0.5)->{SpliceAI_pred}, 'APP|.|.|.|.|.|.|.|.', 'unscored allele prints dots');
ok(!exists SeqScore::format_fields($unscored, 'joined', 0.5)->{SpliceAI_cutoff}, '... and no cutoff flag');
is_deeply(SeqScore::error_fields('joined', { code => 'REF_MISMATCH', message => 'REF G, genome A; at 21|5' }),
          { SeqScore_error => 'REF_MISMATCH:REF_G_genome_A_at_21_5' }, 'error field without VEP separators');
is(SeqScore::error_fields('json', { code => 'X', message => 'a b' })->{SeqScore_error}, 'X:a b', 'JSON error kept verbatim');

# ---- fields named after the model's tool -----------------------------------------------------------
is(SeqScore::tool_for_model({ name => 'spliceai', kind => 'splice', scorer => 'spliceai' }), 'SpliceAI', 'scorer spliceai: SpliceAI');
is(SeqScore::tool_for_model({ name => 'cispliceai', kind => 'splice', scorer => 'spliceai' }), 'SpliceAI', 'CI-SpliceAI (scored as spliceai): SpliceAI');
is(SeqScore::tool_for_model({ name => 'openspliceai', kind => 'splice', scorer => 'openspliceai' }), 'OpenSpliceAI', 'scorer openspliceai: OpenSpliceAI');
is(SeqScore::tool_for_model({ name => 'old' }), 'SpliceAI', 'no kind/scorer (an older daemon): SpliceAI');
is(SeqScore::tool_for_model({ name => 'pangolin', kind => 'splice', scorer => 'pangolin' }), 'Pangolin', 'scorer pangolin: Pangolin');
is(SeqScore::tool_for_model({ name => 'puffin', kind => 'tracks', scorer => 'tracks' }), 'Tracks', 'kind tracks: a track model');
eval { SeqScore::tool_for_model({ name => 'mmsplice', kind => 'splice', scorer => 'mmsplice' }, 'http://h:1') };
like($@, qr/^ERROR: SeqScore: model 'mmsplice' at http:\/\/h:1 is a splice model scored as mmsplice; this SeqScore\.pm \(\S+\) writes fields only for splice models scored as openspliceai \(OpenSpliceAI_\*\), pangolin \(Pangolin_\*\), spliceai \(SpliceAI_\*\), and track models \(kind tracks: SeqScore_<model>_\*\)\. Pick another model/,
     'a scorer the plugin cannot name: dies saying which it can');
eval { SeqScore::tool_for_model({ name => 'sei', kind => 'tracks', scorer => 'sei' }) };
like($@, qr/is a tracks model scored as sei/, 'a track model scored otherwise: dies too');
eval { SeqScore::tool_for_model({ name => 'enh', kind => 'enhancer', scorer => 'spliceai' }) };
like($@, qr/is a enhancer model scored as spliceai/, 'another kind: dies too');

is_deeply(SeqScore::field_names('SpliceAI'), { stem => 'SpliceAI', record => 'deltas', pred => 'SpliceAI_pred', split => 'SpliceAI_pred_',
          cutoff => 'SpliceAI_cutoff', json => 'SpliceAI', error => 'SeqScore_error' }, 'SpliceAI fields, SeqScore_error as before');
is_deeply([@{ SeqScore::field_names('OpenSpliceAI') }{qw(pred split cutoff json error)}],
          [qw(OpenSpliceAI_pred OpenSpliceAI_pred_ OpenSpliceAI_cutoff OpenSpliceAI OpenSpliceAI_error)], 'OpenSpliceAI fields');
is_deeply([@{ SeqScore::field_names('SpliceAI', 'CI') }{qw(pred split cutoff json error)}],
          [qw(CI_pred CI_pred_ CI_cutoff CI CI_error)], 'prefix replaces the tool name in every field');

my $on = SeqScore::field_names('OpenSpliceAI');
is_deeply(SeqScore::format_fields($gs, 'joined', 0.5, $on), { OpenSpliceAI_pred => 'APP|0.00|0.50|0.12|0.99|-3|12|0|-50', OpenSpliceAI_cutoff => 'PASS' },
          'OpenSpliceAI_pred and OpenSpliceAI_cutoff');
is_deeply([sort keys %{ SeqScore::format_fields($gs, 'split', undef, $on) }],
          [sort map { "OpenSpliceAI_pred_$_" } qw(SYMBOL DS_AG DS_AL DS_DG DS_DL DP_AG DP_AL DP_DG DP_DL)], 'split OpenSpliceAI_pred_*');
my $oj = SeqScore::format_fields($gs, 'json', 0.5, $on);
is_deeply([keys %$oj], ['OpenSpliceAI'], 'JSON key OpenSpliceAI');
is($oj->{OpenSpliceAI}{OpenSpliceAI_cutoff}, 'PASS', '... holding OpenSpliceAI_cutoff');
is_deeply(SeqScore::error_fields('joined', { code => 'X', message => 'y' }, 'OpenSpliceAI_error'), { OpenSpliceAI_error => 'X:y' },
          'error field named as given');

# ---- Pangolin's fields -------------------------------------------------------------------------
# fmt_gain_loss prints as the Pangolin CLI prints round(x, 2) of its float32 (float64 for a
# deletion's values): the expected strings are Python's repr(scoring_pangolin.rounded(x)).  The
# first group are values where sprintf('%.2f') would print another number.
my @round = (
  ['0.42500001192092896', '0.42'], ['-0.4050000011920929', '-0.4'], ['0.054999999701976776', '0.06'],
  ['0.8050000071525574', '0.8'], ['-0.925', '-0.92'], ['0.175', '0.18'], ['0.525', '0.52'],
  ['0.07000000029802322', '0.07'], ['0.10000000149011612', '0.1'], ['0.125', '0.12'], ['0.375', '0.38'],
  ['-0.004000000189989805', '-0.0'], ['-1e-09', '-0.0'], ['-0.0', '-0.0'], ['0.0', '0.0'], ['0', '0.0'],
  ['1.0', '1.0'], ['0.999', '1.0'], ['-0.9950000047683716', '-1.0'],
);
for my $c (@round) {
  my $x = decode_json("[$c->[0]]")->[0];     # as the daemon's JSON answer is decoded
  is(SeqScore::fmt_gain_loss($x), $c->[1], "Pangolin value $c->[0] prints as $c->[1]");
}
is(SeqScore::fmt_gain_loss(undef), '.', 'no value: .');
isnt(sprintf('%.2f', 0.42500001192092896), '0.42', '... (sprintf alone would print 0.43 there)');

my $pn = SeqScore::field_names('Pangolin');
is_deeply($pn, { stem => 'Pangolin', record => 'gain_loss', pred => 'Pangolin', split => 'Pangolin_', cutoff => 'Pangolin_cutoff',
                 json => 'Pangolin', error => 'Pangolin_error' }, 'Pangolin fields: Pangolin, Pangolin_*, Pangolin_error');
is_deeply([@{ SeqScore::field_names('Pangolin', 'P2') }{qw(pred split cutoff json error)}], [qw(P2 P2_ P2_cutoff P2 P2_error)],
          '... prefix= replaces the stem');
my $g1 = { gene => 'ENSG00000154719', strand => '-', gain => 0.07000000029802322, gain_pos => 21,
           loss => -0.004000000189989805, loss_pos => -3, warnings => '' };
my $g2 = { gene => 'ENSG00000000002.5', strand => '-', gain => 0.42500001192092896, gain_pos => -50,
           loss => -0.5, loss_pos => 7, warnings => 'NoAnnotatedSitesToMaskForThisGene' };
is_deeply(SeqScore::format_fields($g1, 'joined', undef, $pn, [$g1, $g2]),
          { Pangolin => 'ENSG00000154719|21:0.07|-3:-0.0|Warnings:,'
                      . 'ENSG00000000002.5|-50:0.42|7:-0.5|Warnings:NoAnnotatedSitesToMaskForThisGene' },
          'joined: Pangolin = the CLI\'s value, every gene\'s block joined by ","');
is_deeply(SeqScore::format_fields($g2, 'split', 0.5, $pn, [$g1, $g2]),
          { Pangolin_gene => 'ENSG00000000002.5', Pangolin_gain => '0.42', Pangolin_gain_pos => '-50', Pangolin_loss => '-0.5',
            Pangolin_loss_pos => '7', Pangolin_warnings => 'NoAnnotatedSitesToMaskForThisGene', Pangolin_cutoff => 'PASS' },
          'split: the line\'s gene, one field each; cutoff on |loss| = 0.5');
is_deeply([sort keys %{ SeqScore::format_fields($g1, 'split', undef, $pn) }],
          [sort map { "Pangolin_$_" } qw(gene gain gain_pos loss loss_pos)], '... no Pangolin_warnings field when there is none');
is(SeqScore::format_fields($g1, 'split', 0.07, $pn)->{Pangolin_cutoff}, 'PASS', 'cutoff: |gain| 0.07 as printed >= 0.07');
is(SeqScore::format_fields($g1, 'split', 0.08, $pn)->{Pangolin_cutoff}, 'FAIL', '... < 0.08: FAIL');
is(SeqScore::format_fields({ %$g2, gain => 0.004 }, 'joined', 0.42, $pn)->{Pangolin_cutoff}, 'PASS', '... |loss| counts too');
my $pj = SeqScore::format_fields($g1, 'json', 0.5, $pn, [$g1, $g2]);
is_deeply([keys %$pj], ['Pangolin'], 'JSON: one key Pangolin');
is_deeply($pj->{Pangolin}, { gene => 'ENSG00000154719', gain => '0.07', gain_pos => '21', loss => '-0.0', loss_pos => '-3', warnings => '',
                             all_genes => 'ENSG00000154719|21:0.07|-3:-0.0|Warnings:,ENSG00000000002.5|-50:0.42|7:-0.5|Warnings:NoAnnotatedSitesToMaskForThisGene',
                             Pangolin_cutoff => 'FAIL' }, '... holding the line\'s gene, the CLI\'s value and the cutoff flag');

# header descriptions per tool and mode
my %hd = (joined => [qw(Pangolin Pangolin_cutoff Pangolin_error)], json => [qw(Pangolin Pangolin_cutoff Pangolin_error)],
          split => [qw(Pangolin_cutoff Pangolin_error Pangolin_gain Pangolin_gain_pos Pangolin_gene Pangolin_loss Pangolin_loss_pos Pangolin_warnings)]);
for my $mode (sort keys %hd) {
  my $h = SeqScore::header_descriptions($pn, 'Pangolin', $mode, 0.5, 'PROV');
  is_deeply([sort keys %$h], $hd{$mode}, "Pangolin header fields, $mode output");
  ok(!grep({ !/^Pangolin .*\(PROV\)/ && !/^(PASS|Why|gene) .*Pangolin .*\(PROV\)/ } values %$h), '... each naming Pangolin and the provenance')
    or diag explain $h;
}
like(SeqScore::header_descriptions($pn, 'Pangolin', 'joined', undef, 'P')->{Pangolin}, qr/Format: gene\|pos:gain\|pos:loss\|Warnings:\.\.\. for every gene scored, joined by ','/,
     'the joined field\'s description gives the CLI\'s format');
is_deeply([sort keys %{ SeqScore::header_descriptions(SeqScore::field_names('SpliceAI'), 'SpliceAI', 'joined', undef, 'P') }],
          ['SeqScore_error', 'SpliceAI_pred'], 'SpliceAI header fields unchanged');

# ---- genes: a transcript line gets the scored gene named as its gene symbol or stable ID ----------
is_deeply([SeqScore::transcript_genes({ _gene_symbol => 'MRPL39', _gene_stable_id => 'ENSG00000154719' })],
          ['MRPL39', 'ENSG00000154719'], 'transcript genes: symbol and stable ID');
is_deeply([SeqScore::transcript_genes({ _gene_hgnc => 'APP' })], ['APP'], '... the HGNC name where there is no symbol');
is_deeply([SeqScore::transcript_genes(undef)], [], '... none without a transcript');
ok(SeqScore::gene_matches('MRPL39', 'MRPL39', 'ENSG00000154719'), 'a SpliceAI gene (symbol) matches the symbol');
ok(SeqScore::gene_matches('ENSG00000154719', 'MRPL39', 'ENSG00000154719'), 'a Pangolin gene (gene_id) matches the stable ID');
is_deeply([@{ SeqScore::field_names('Tracks', undef, 'puffin') }{qw(stem record pred split json error)}],
          [qw(SeqScore_puffin track_effects SeqScore_puffin SeqScore_puffin_ SeqScore_puffin SeqScore_puffin_error)],
          'track model fields: SeqScore_<model> (the CLI\'s INFO key), SeqScore_<model>_..., SeqScore_<model>_error');
is(SeqScore::field_names('Tracks', undef, 'my-model.v2')->{stem}, 'SeqScore_my_model_v2', '... the model name made field-safe as the CLI does');
is(SeqScore::field_names('Tracks', 'Reg', 'puffin')->{error}, 'Reg_error', '... prefix= replaces SeqScore_<model>');

# ---- track models: field names, INFO-safe names, selection ----------------------------------------
is_deeply([SeqScore::Tracks::field_parts('FANTOM_CAGE+', 'ENCODE_RAMPAGE-', 'CAGE:liver, adult', 'DNASE', 'a__b', '+', '?!', 'CD14-positive')],
          [qw(FANTOM_CAGE_plus ENCODE_RAMPAGE_minus CAGE_liver_adult DNASE a__b plus track CD14_minus_positive)],
          'field parts: + as plus, - as minus, other characters as separators; underscores kept; nothing left: track');
is_deeply([SeqScore::Tracks::field_parts('A+', 'A_plus', 'A plus', 'error', 'top_track', '')],
          [qw(A_plus A_plus_1 A_plus_2 error_3 top_track_4 track)],
          'a field part already taken (by an earlier track or a field of the record) gets _<index>');
is(SeqScore::Tracks::info_safe('CAGE:liver, adult|x;y=z%2C%q' . "\t\x{a0}"), 'CAGE%3Aliver%2C%20adult%7Cx%3By%3Dz%2C%25q%09%C2%A0',
   'INFO-safe track names as the CLI writes them (,;=|: whitespace and a bare % percent-encoded, %XX kept, UTF-8 bytes)');
is(SeqScore::Tracks::info_safe('FANTOM_CAGE+'), 'FANTOM_CAGE+', '... Puffin\'s names unchanged');
is(SeqScore::Tracks::model_stem('puffin'), 'SeqScore_puffin', 'model_stem');
{
  my @names = ('FANTOM_CAGE+', 'FANTOM_CAGE-', 'DNASE');
  my @fields = SeqScore::Tracks::field_parts(@names);
  my $sel = sub { [SeqScore::Tracks::select_tracks(\@names, \@fields, $_[0], 'm')] };
  is_deeply($sel->(undef), [0, 1, 2], 'tracks: all by default for 3 tracks');
  is_deeply([SeqScore::Tracks::select_tracks([map { "t$_" } 1 .. 21], [map { "t$_" } 1 .. 21], undef, 'm')], [],
            '... none by default for 21 (more than 20, as seqscore score)');
  is_deeply([scalar(() = SeqScore::Tracks::select_tracks([map { "t$_" } 1 .. 20], [map { "t$_" } 1 .. 20], undef, 'm'))], [20], '... all for 20');
  is_deeply($sel->('all'), [0, 1, 2], 'tracks=all');
  is_deeply($sel->('none'), [], 'tracks=none');
  is_deeply($sel->('DNASE/FANTOM_CAGE-'), [2, 1], 'names separated by /, in the order given');
  is_deeply($sel->('FANTOM_CAGE_plus/ DNASE /DNASE'), [0, 2], 'field names too; spaces trimmed; each once');
  eval { $sel->('CAGE/DNASE/X') };
  like($@, qr/^ERROR: SeqScore: tracks=CAGE\/DNASE\/X: model 'm' has no track 'CAGE', 'X' \(its 3 tracks, name \(field name\): FANTOM_CAGE\+ \(FANTOM_CAGE_plus\), FANTOM_CAGE- \(FANTOM_CAGE_minus\), DNASE; `seqscore models --tracks m` lists them\)/,
       'unknown tracks: dies naming them and the model\'s tracks');
}
my $tset = { model => 'm', names => ['A+', 'B'], table => [{ name => 'A+' }, { name => 'B' }], fields => ['A_plus', 'B'], selected => [1] };
my $tn = SeqScore::field_names('Tracks', undef, 'm');
is_deeply(SeqScore::Tracks::fields([{ effects => [-1.23456e-5, 0.5], reduction => 'diff', max_abs_effect => 0.5, top_track => 'B' }], 'joined', $tn, $tset),
          { SeqScore_m => 'top:B:0.5|B:0.5', SeqScore_m_B => '0.5', SeqScore_m_top_track => 'B', SeqScore_m_max_abs_effect => '0.5' },
          'track fields: the summary, the selected track, top track and max |effect|');
is(SeqScore::Tracks::fields([{ effects => [-1.23456e-5, 0.5], top_track => 'A+', max_abs_effect => 1.23456e-5 }], 'split', $tn,
                            { %$tset, selected => [0] })->{SeqScore_m}, 'top:A+:-1.235e-05|A+:-1.235e-05', '... signed top effect, exponents as Python prints them');
like(SeqScore::Tracks::fields([{ effects => [1], top_track => 'B', max_abs_effect => 1 }], 'joined', $tn, $tset)->{SeqScore_m_error},
     qr/^BAD_RESPONSE:the_daemon's_record_holds_1_effects_for_the_2_tracks_of_model_m$/, 'a record that does not fit the track table: BAD_RESPONSE');
is(JSON::PP->new->canonical->encode(SeqScore::Tracks::fields([{ effects => [-1.23456e-5, 0.5], top_track => 'B', max_abs_effect => 0.5 }], 'json', $tn, $tset)),
   '{"SeqScore_m":{"effects":{"B":0.5},"max_abs_effect":0.5,"top_effect":0.5,"top_track":"B"}}', 'JSON: numbers');
eval { SeqScore::Tracks::setup({ name => 'm', tracks => [] }, {}, 'U') };
like($@, qr/model 'm' at U is a track model, but GET \/v1\/models lists no track table/, 'a track model without a track table: dies');
eval { SeqScore::Tracks::setup({ name => 'm', tracks => [{ name => 'A' }] }, { mask => 1 }, 'U') };
like($@, qr/mask=1 does not apply to model 'm', a track model/, 'mask= with a track model: dies');

ok(SeqScore::gene_matches('ENSG00000154719.14', 'MRPL39', 'ENSG00000154719'), '... also with a version (GENCODE GTF vs VEP cache)');
ok(SeqScore::gene_matches('ENSG00000154719', 'MRPL39', 'ENSG00000154719.14'), '... either way');
ok(!SeqScore::gene_matches('ENSG00000154720', 'MRPL39', 'ENSG00000154719'), 'another gene does not match');
ok(!SeqScore::gene_matches('AC012345.2', 'AC012345.1'), 'clone-based symbols keep their suffix');
ok(!SeqScore::gene_matches(undef, 'MRPL39') && !SeqScore::gene_matches('', ''), 'no gene: no match');

# ---- pick_model: the model= entry of GET /v1/models ---------------------------------------------
my %e1 = (name => 'spliceai', version => '1', sha256 => 'a' x 64, kind => 'splice', scorer => 'spliceai');
my %e2 = (name => 'openspliceai', version => '2', sha256 => 'b' x 64, kind => 'splice', scorer => 'openspliceai',
          aliases => ['osai'], provenance => { model => 'openspliceai', annotation => '/x/genes2.txt', distance => 80 });
my $one = { models => [{%e1}], provenance => { model => 'spliceai', annotation => '/x/genes.txt', distance => 50 } };
my ($m, $mp) = SeqScore::pick_model($one, undef, 'U');
is($m->{name}, 'spliceai', 'one-model daemon: its model by default');
is($mp->{annotation}, '/x/genes.txt', '... with the answer\'s provenance');
my $two = { models => [{%e1}, {%e2}], default => 'spliceai', provenance => $one->{provenance} };
($m, $mp) = SeqScore::pick_model($two, 'openspliceai', 'U');
is($m->{name}, 'openspliceai', 'several models: picked by name');
is($mp->{distance}, 80, '... with its own provenance, not the default model\'s');
is((SeqScore::pick_model($two, 'osai', 'U'))[0]{name}, 'openspliceai', '... or by an alias the daemon lists');
is((SeqScore::pick_model({ %$two, default => 'openspliceai' }, undef, 'U'))[0]{name}, 'openspliceai', 'no model=: the daemon\'s default');
is((SeqScore::pick_model({ models => [{%e2}, {%e1}] }, undef, 'U'))[0]{name}, 'openspliceai', '... else the first listed');
is((SeqScore::pick_model([{%e1}], undef, 'U'))[0]{name}, 'spliceai', 'a bare list is read too');
($m, $mp) = SeqScore::pick_model({ models => [{%e1}, { %e2, provenance => undef }], provenance => $one->{provenance} }, 'openspliceai', 'U');
is_deeply($mp, {}, 'the answer\'s provenance is not taken for another model');
eval { SeqScore::pick_model($two, 'pangolin', 'http://h:1') };
like($@, qr/^ERROR: SeqScore: the daemon at http:\/\/h:1 does not serve model 'pangolin' \(it serves: spliceai, openspliceai\)\. Pass one of those as model=NAME, or start a daemon with --model pangolin/,
     'unknown model: dies naming the served ones');
eval { SeqScore::pick_model({ models => [] }, undef, 'U') };
like($@, qr/lists no model/, 'no model listed: dies');

# ---- claim_fields: two plugin lines of one run -------------------------------------------------
my $cfg = {};
SeqScore::claim_fields($cfg, SeqScore::field_names('SpliceAI'), 'url=a', 'spliceai');
ok(eval { SeqScore::claim_fields($cfg, SeqScore::field_names('OpenSpliceAI'), 'url=a,model=openspliceai', 'openspliceai'); 1 },
   'SpliceAI_* and OpenSpliceAI_* lines side by side');
ok(eval { SeqScore::claim_fields($cfg, SeqScore::field_names('SpliceAI'), 'url=a', 'spliceai'); 1 }, 'one line made twice: no clash');
eval { SeqScore::claim_fields($cfg, SeqScore::field_names('SpliceAI'), 'url=a,model=cispliceai', 'cispliceai') };
like($@, qr/two SeqScore plugin lines would both write SpliceAI_\* \(model spliceai with 'url=a', and model cispliceai with 'url=a,model=cispliceai'\)\. Give one of them prefix=NAME/,
     'two SpliceAI-named lines: dies asking for prefix=');
eval { SeqScore::claim_fields($cfg, SeqScore::field_names('SpliceAI', 'SeqScore'), 'url=a,prefix=SeqScore', 'spliceai') };
like($@, qr/would both write SeqScore_error \(model spliceai/, 'a prefix whose error field clashes: dies too');

# ---- the cache ---------------------------------------------------------------------------------
my $cache = SeqScore::Cache->new(3);
$cache->put($_, { n => $_ }) for 1 .. 5;
is($cache->size, 3, 'cache bounded');
ok(!$cache->get(1) && !$cache->get(2) && $cache->get(5), 'oldest entries evicted first');
$cache->ensure(10);
$cache->put($_, { n => $_ }) for 6 .. 12;
is($cache->size, 10, 'cache grows to hold a large buffer');

# ---- the input-buffer hook -----------------------------------------------------------------------
{
  package Probe;
  sub new { return bless { seen => [] }, shift }
  sub run { my ($self) = @_; push @{ $self->{seen} }, SeqScore::current_input_buffer(); return {} }
}
my $probe = Probe->new;
my @items = map { [vf_from_vcf('21', 100 + $_, 'G', ['A']), ['APP']] } 1 .. 3;
run_buffer($probe, \@items);
is(scalar @{ $probe->{seen} }, 3, 'probe called once per transcript-allele');
ok((grep { ref $_ eq 'SeqScoreTest::InputBuffer' } @{ $probe->{seen} }) == 3,
   'current_input_buffer finds the buffer from OutputFactory frames (after shift)');
is(scalar @{ $probe->{seen}[0]->buffer }, 3, '... with all its variants');
$probe = Probe->new;
run_buffer($probe, \@items, no_buffer_hook => 1);
ok(!grep({ defined } @{ $probe->{seen} }), 'no buffer among the frames: undef (per-variant fallback)');

done_testing;
