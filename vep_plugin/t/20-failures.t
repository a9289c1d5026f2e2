# Failure paths against a real `seqscore serve`: the daemon lost mid-run (retries, then every
# allele of the buffer carries SeqScore_error=DAEMON_UNAVAILABLE and one warning is printed),
# picked up again once it is back; the daemon down at start-up (new() dies).
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }
use Test::More;
use Time::HiRes qw(time);
use SeqScoreTest::Daemon;
use SeqScoreTest::VEP qw(vf_from_vcf run_buffer);

if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
use SeqScore;

my $d = SeqScoreTest::Daemon->start;
my @warnings;
local $SIG{__WARN__} = sub { push @warnings, $_[0] };

my $plugin = SeqScore->new({ quiet => 0 }, 'url=' . $d->url, 'timeout=10');
my $first = [[vf_from_vcf('21', 25592783, 'G', ['T']), ['MRPL39']]];
my $lines = run_buffer($plugin, $first);
like($lines->[0]{SpliceAI_pred} // '', qr/^MRPL39\|/, 'scores while the daemon runs');

$d->crash;
my $t0 = time;
my $before = $plugin->{stats}{requests};
$lines = run_buffer($plugin, [[vf_from_vcf('21', 25592784, 'A', ['C']), ['MRPL39']],
                              [vf_from_vcf('21', 25592790, 'G', ['GT']), ['MRPL39']]]);
my $took = time - $t0;
is($plugin->{stats}{requests} - $before, 4, 'daemon lost: the request was tried 4 times');
ok($took >= 3.4, sprintf('... with back-off between attempts (%.1f s)', $took));
is(scalar(grep { ($_->{SeqScore_error} // '') =~ /^DAEMON_UNAVAILABLE:no_answer_from_the_seqscore_daemon_at_http/ } @$lines),
   scalar(@$lines), 'every allele of the buffer carries SeqScore_error=DAEMON_UNAVAILABLE');
ok(!grep({ defined $_->{SpliceAI_pred} } @$lines), '... and no scores');
my @lost = grep { /did not answer|no answer from the seqscore daemon/ } @warnings;
is(scalar @lost, 1, 'one clear warning') or diag explain \@warnings;
like($lost[0] // '', qr{SeqScore: no answer from the seqscore daemon at http://127\.0\.0\.1:\d+ after 4 attempts .*Restart the daemon}s,
     '... naming the daemon, the attempts and what to do');

$t0 = time;
$before = $plugin->{stats}{requests};
$lines = run_buffer($plugin, [[vf_from_vcf('21', 25592800, 'A', ['G']), ['MRPL39']]]);
is($plugin->{stats}{requests} - $before, 1, 'while the daemon is down, later buffers try once');
ok(time - $t0 < 2, '... without waiting');
like($lines->[0]{SeqScore_error} // '', qr/^DAEMON_UNAVAILABLE:/, '... and still write the error');
is(scalar(grep { /no answer from the seqscore daemon/ } @warnings), 1, '... without repeating the warning');

my $d2 = SeqScoreTest::Daemon->start(port => $d->port, model => $d->model, dir => $d->dir);
$lines = run_buffer($plugin, [[vf_from_vcf('21', 25592784, 'A', ['C']), ['MRPL39']]]);
like($lines->[0]{SpliceAI_pred} // '', qr/^MRPL39\|/, 'daemon back on the same port: scores again, nothing cached from the outage');
ok(!defined $lines->[0]{SeqScore_error}, '... without an error');
ok((grep { /answers again/ } @warnings), '... and says so');
$d2->stop;

# down at start-up: new() dies with a clear message (VEP --safe turns that into a stop)
eval { SeqScore->new({}, 'url=' . $d->url) };
like($@, qr{^ERROR: SeqScore: the seqscore daemon at http://127\.0\.0\.1:\d+ is not ready \(GET /v1/ready: .*\)\. Start it first.*--safe}s,
     'daemon down at start-up: new() dies naming url and --safe');

done_testing;
