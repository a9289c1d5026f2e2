# Failure paths against a real `seqscore serve`: a daemon restarted mid-run is waited for (GET
# /v1/ready polled for up to retry_for seconds) and the run goes on with scores; a daemon gone
# for longer than retry_for: every allele of the request carries
# SeqScore_error=DAEMON_UNAVAILABLE naming the request, one warning; later requests try once
# without waiting; retry_for=0 does not wait; picked up again once it is back; the daemon down
# at start-up (new() dies, advising --safe only when VEP runs without it).
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
my @warnings;
local $SIG{__WARN__} = sub { push @warnings, $_[0] };
my $snv = sub { [vf_from_vcf('21', $_[0], $_[1], [$_[2]]), ['MRPL39']] };
my @pair = ($snv->(25592784, 'A', 'C'), [vf_from_vcf('21', 25592790, 'T', ['TG']), ['MRPL39']]);

# ---- restarted mid-run: waited for, the request sent again, scores -----------------------------
my $plugin = SeqScore->new({ quiet => 0 }, 'url=' . $d->url, 'timeout=10', 'retry_for=60');
my $lines = run_buffer($plugin, [$snv->(25592783, 'G', 'T')]);
like($lines->[0]{SpliceAI_pred} // '', qr/^MRPL39\|/, 'scores while the daemon runs');

$d->crash;
my $back = $d->restart_in(0.5);        # the same command on the same port, half a second later
my $before = $plugin->{stats}{requests};
$lines = run_buffer($plugin, \@pair);
is(scalar(grep { ($_->{SpliceAI_pred} // '') =~ /^MRPL39\|/ } @$lines), 2,
   'daemon restarted during the request: both alleles scored all the same') or diag explain $lines, \@warnings;
ok(!grep({ defined $_->{SeqScore_error} } @$lines), '... no SeqScore_error');
ok($plugin->{stats}{ready_polls} >= 1, "... after polling GET /v1/ready ($plugin->{stats}{ready_polls} times)");
is($plugin->{stats}{requests} - $before, 3, '... the request sent 3 times: lost, at once again, once ready');
is(scalar(grep { /no answer from the seqscore daemon at \S+ to POST \/v1\/score of 2 alleles \(21:25592784:A>C to 21:25592790:T>TG\) .*waiting up to 60 s \(retry_for\) for it to answer GET \/v1\/ready/ } @warnings), 1,
   '... one warning naming the request and the wait') or diag explain \@warnings;
ok((grep { /answers again after [\d.]+ s/ } @warnings), '... and one that it answers again');
ok(!grep({ /DAEMON_UNAVAILABLE/ } @warnings), '... no DAEMON_UNAVAILABLE');
$back->crash;

# ---- gone for longer than retry_for: DAEMON_UNAVAILABLE naming the request ---------------------
@warnings = ();
$plugin->{opt}{retry_for} = 1;          # the same plugin, a shorter wait (the daemon is down now)
$before = $plugin->{stats}{requests};
my $polls = $plugin->{stats}{ready_polls};
$lines = run_buffer($plugin, [$snv->(25592786, 'G', 'A'), [vf_from_vcf('21', 25592791, 'A', ['AT']), ['MRPL39']]]);
is(scalar(grep { ($_->{SeqScore_error} // '') =~ m{^DAEMON_UNAVAILABLE:no_answer_from_the_seqscore_daemon_at_http://127\.0\.0\.1:\d+_to_POST_/v1/score_of_2_alleles_\(21:25592786:G>A_to_21:25592791:A>AT\)_after_\d+_attempts_and_[\d.]+_s_waiting_for_it_\(retry_for_1\):_Could_not_connect_to_'127\.0\.0\.1:\d+':_Connection_refused$} } @$lines),
   2, 'gone for longer than retry_for: every allele carries DAEMON_UNAVAILABLE naming the request, the attempts and the wait')
  or diag explain $lines;
ok(!grep({ defined $_->{SpliceAI_pred} } @$lines), '... and no scores');
ok($plugin->{stats}{ready_polls} > $polls, '... after polling GET /v1/ready');
my @lost = grep { /the alleles of this request carry SeqScore_error=DAEMON_UNAVAILABLE/ } @warnings;
is(scalar @lost, 1, 'one warning') or diag explain \@warnings;
like($lost[0] // '', qr{^SeqScore: no answer from the seqscore daemon at http://127\.0\.0\.1:\d+ to POST /v1/score of 2 alleles .*Could not connect.*restart the daemon, or stop VEP}s,
     '... naming the daemon, the request, the last answer and what to do');

$before = $plugin->{stats}{requests};
$polls = $plugin->{stats}{ready_polls};
$lines = run_buffer($plugin, [$snv->(25592800, 'A', 'G')]);
is($plugin->{stats}{requests} - $before, 1, 'while the daemon is known down, later requests try once');
is($plugin->{stats}{ready_polls}, $polls, '... without waiting');
like($lines->[0]{SeqScore_error} // '', qr/^DAEMON_UNAVAILABLE:.*_to_POST_\/v1\/score_of_1_allele_\(21:25592800:A>G\)/, '... and still write the error, naming their own request');
is(scalar(grep { /DAEMON_UNAVAILABLE/ } @warnings), 1, '... without repeating the warning');

# retry_for=0: no wait at all (one immediate retry on a fresh connection)
{
  my $d0 = SeqScoreTest::Daemon->start(model => $d->model, dir => $d->dir);
  my $p0 = SeqScore->new({ quiet => 1 }, 'url=' . $d0->url, 'retry_for=0');
  $d0->crash;
  my $l = run_buffer($p0, [$snv->(25592783, 'G', 'T')]);
  like($l->[0]{SeqScore_error} // '', qr/^DAEMON_UNAVAILABLE:no_answer_.*_after_2_attempts:_/, 'retry_for=0: DAEMON_UNAVAILABLE after 2 attempts');
  is($p0->{stats}{ready_polls} // 0, 0, '... without polling GET /v1/ready');
}

my $d2 = SeqScoreTest::Daemon->start(port => $d->port, model => $d->model, dir => $d->dir);
$lines = run_buffer($plugin, [$snv->(25592786, 'G', 'A')]);     # one of the alleles the outage left unscored
like($lines->[0]{SpliceAI_pred} // '', qr/^MRPL39\|/, 'daemon back on the same port: scores again, nothing cached from the outage');
ok(!defined $lines->[0]{SeqScore_error}, '... without an error');
ok((grep { /answers again/ } @warnings), '... and says so');

# the summary counts the alleles left without scores
@warnings = ();
$plugin->finish;
like(join('', @warnings), qr/^SeqScore: \d+ alleles scored in \d+ HTTP requests .*; 3 alleles unscored by failed requests \(SeqScore_error\)/,
     'summary: the 3 alleles of the failed requests');

# the daemon comes back with another model: its answers are not mixed into this run
{
  my $other = $d->dir . '/toy_seed1.onnx';
  system('python', '-c', "import sys; sys.path.insert(0, '$FindBin::Bin/../..'); "
         . "from tests.toy_models import build_toy_model; build_toy_model('$other', seed=1)") == 0 or die;
  $d2->stop;
  my $d3 = SeqScoreTest::Daemon->start(port => $d->port, model => $d->model, dir => $d->dir);
  my $pp = SeqScore->new({ quiet => 1 }, 'url=' . $d3->url);
  $d3->crash;
  my $d4 = SeqScoreTest::Daemon->start(port => $d->port, model => $other, dir => $d->dir);
  @warnings = ();
  my $l = run_buffer($pp, [[vf_from_vcf('21', 25592783, 'G', ['T']), ['MRPL39']]]);
  like($l->[0]{SeqScore_error} // '', qr/^MODEL_CHANGED:the_daemon_at_\S+_now_serves_model_sha256_[0-9a-f]+/,
       'daemon restarted with another model: MODEL_CHANGED, no scores from it');
  ok(!defined $l->[0]{SpliceAI_pred}, '... none');
  is(scalar(grep { /now serves model sha256/ } @warnings), 1, '... and one warning');
  $d4->stop;

  # ... or with a model of another name: the request names the model, the daemon refuses it
  my $renamed = SeqScoreTest::Daemon::toy_model($d->dir, name => 'toy_renamed');
  my $d5 = SeqScoreTest::Daemon->start(port => $d->port, model => $renamed, dir => $d->dir);
  my $pr = SeqScore->new({ quiet => 1 }, 'url=' . $d5->url, 'model=toy_renamed');
  $d5->crash;
  my $d6 = SeqScoreTest::Daemon->start(port => $d->port, model => $d->model, dir => $d->dir);
  @warnings = ();
  $l = run_buffer($pr, [[vf_from_vcf('21', 25592783, 'G', ['T']), ['MRPL39']]]);
  like($l->[0]{SeqScore_error} // '', qr/^MODEL_CHANGED:the_daemon_at_\S+_no_longer_serves_model_'toy_renamed'/,
       'daemon restarted without the model the run started with: MODEL_CHANGED');
  is(scalar(grep { /no longer serves model 'toy_renamed'.*restart VEP/ } @warnings), 1, '... and one warning naming it');
  $d6->stop;
}

# token: refused without it, accepted with it
{
  my $tok = $d->dir . '/token';
  open(my $fh, '>', $tok) or die; print $fh "t0ken-for-tests\n"; close $fh; chmod 0600, $tok;
  my $dt = SeqScoreTest::Daemon->start(model => $d->model, dir => $d->dir, token_file => $tok);
  eval { SeqScore->new({}, 'url=' . $dt->url) };
  like($@, qr/daemon at \S+ refused the request without a token \(GET \/v1\/ready: HTTP 401.*Pass token_file=FILE/s,
       'daemon with --token-file, plugin without: new() dies saying so');
  open($fh, '>', "$tok.bad") or die; print $fh "wrong\n"; close $fh;
  eval { SeqScore->new({}, 'url=' . $dt->url, "token_file=$tok.bad") };
  like($@, qr/refused the token from token_file/, 'wrong token: new() dies saying so');
  my $pt = SeqScore->new({ quiet => 1 }, 'url=' . $dt->url, "token_file=$tok");
  my $l = run_buffer($pt, [[vf_from_vcf('21', 25592783, 'G', ['T']), ['MRPL39']]]);
  like($l->[0]{SpliceAI_pred} // '', qr/^MRPL39\|/, 'right token: scores');
  $dt->stop;
}

# a daemon that takes at most 8 variants a request: the plugin halves its requests until they fit
{
  my $ds = SeqScoreTest::Daemon->start(model => $d->model, dir => $d->dir, extra => ['--max-variants', '8']);
  my @items;
  open(my $fh, '<', "$SeqScoreTest::Daemon::CHR21/dbsnp_snvs.vcf") or die;
  while (<$fh>) {
    next if /^#/;
    my ($chrom, $pos, undef, $ref, $alt) = split /\t/;
    push @items, [vf_from_vcf($chrom, $pos, $ref, [split /,/, $alt]), [qw(MRPL39 JAM2 ATP5J GABPA APP)]];
    last if @items == 40;
  }
  @warnings = ();
  my $ps = SeqScore->new({}, 'url=' . $ds->url);
  my $l = run_buffer($ps, \@items);
  my $ref = run_buffer(SeqScore->new({ quiet => 1 }, 'url=' . $ds->url, 'batch=8'), \@items);
  is_deeply([map { $_->{SpliceAI_pred} } @$l], [map { $_->{SpliceAI_pred} } @$ref], '413 answers: all alleles scored all the same');
  ok(!grep({ defined $_->{SeqScore_error} } @$l), '... without errors');
  ok($ps->{opt}{batch} <= 8, "... batch lowered to $ps->{opt}{batch}");
  ok((grep { /refused \d+ alleles in one request \(413\)/ } @warnings), '... with a warning');
  $ds->stop;
}

# down at start-up: new() dies with a clear message (VEP --safe turns that into a stop); it
# advises --safe only to a VEP run without it
eval { SeqScore->new({}, 'url=' . $d->url) };
like($@, qr{^ERROR: SeqScore: the seqscore daemon at http://127\.0\.0\.1:\d+ is not ready \(GET /v1/ready: .*\)\. Start it first.*run VEP with --safe}s,
     'daemon down at start-up: new() dies naming url and advising --safe');
eval { SeqScore->new({ safe => 1 }, 'url=' . $d->url) };
like($@, qr{^ERROR: SeqScore: the seqscore daemon at \S+ is not ready \(GET /v1/ready: .*\)\. Start it first .*url=http://127\.0\.0\.1:PORT\.\n$}s,
     'with --safe: the same message ...');
unlike($@, qr/--safe/, '... without advising --safe');

done_testing;
