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

# down at start-up: new() dies with a clear message (VEP --safe turns that into a stop)
eval { SeqScore->new({}, 'url=' . $d->url) };
like($@, qr{^ERROR: SeqScore: the seqscore daemon at http://127\.0\.0\.1:\d+ is not ready \(GET /v1/ready: .*\)\. Start it first.*--safe}s,
     'daemon down at start-up: new() dies naming url and --safe');

done_testing;
