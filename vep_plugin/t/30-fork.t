# --fork: VEP builds the plugin once and forks workers that each write a chunk of the buffer.
# Each worker must open its own connection (never the parent's socket) and write the same
# fields as an unforked run.  VEP calls finish() in the parent only: its one summary line
# holds the workers' counts (they append them to a per-run file the parent reads and deletes).
# A daemon gone for good is waited for once, not by every worker.
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib", "$FindBin::Bin/.." }
use Test::More;
use JSON::PP;
use HTTP::Tiny;
use POSIX ();
use SeqScoreTest::Daemon;
use SeqScoreTest::VEP qw(vf_from_vcf run_buffer);

if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
use SeqScore;

my $d = SeqScoreTest::Daemon->start;
my $plugin = SeqScore->new({ quiet => 1 }, 'url=' . $d->url);
ok(!$plugin->{client}{http}{handle}, 'new() leaves no open connection for forked workers to share');

my @items;
open(my $fh, '<', "$SeqScoreTest::Daemon::CHR21/dbsnp_snvs.vcf") or die;
while (<$fh>) {
  next if /^#/;
  my ($chrom, $pos, undef, $ref, $alt) = split /\t/;
  push @items, [vf_from_vcf($chrom, $pos, $ref, [split /,/, $alt]), [qw(MRPL39 JAM2 ATP5J GABPA APP)]];
}
close $fh;
my $strip = sub { [map { my %h = %$_; delete $h{_vf}; \%h } @{ $_[0] }] };

my (@chunks, @pids, @readers);
my $half = int(@items / 2);
@chunks = ([@items[0 .. $half - 1]], [@items[$half .. $#items]]);
for my $chunk (@chunks) {
  pipe(my $r, my $w) or die;
  my $pid = fork // die;
  if (!$pid) {
    close $r;
    my $lines = run_buffer($plugin, $chunk);
    print $w encode_json({ lines => $strip->($lines), stats => $plugin->{stats},
                           connections => $plugin->{client}{connections},
                           port => $plugin->{client}{http}{handle}{fh}->sockport });
    close $w;
    POSIX::_exit(0);
  }
  close $w;
  push @pids, $pid;
  push @readers, $r;
}
my @got = map { local $/; my $r = $_; decode_json(scalar <$r>) } @readers;
waitpid($_, 0) for @pids;

my $serial = SeqScore->new({ quiet => 1 }, 'url=' . $d->url);
my $want = $strip->(run_buffer($serial, \@items));
is_deeply([map { @{ $_->{lines} } } @got], $want, 'forked workers write the same fields as one process');
ok(scalar(grep { defined $_->{SpliceAI_pred} } @$want) > 100, '... and those hold scores');
is_deeply([map { $_->{stats}{requests} } @got], [1, 1], 'one request per worker chunk');
is_deeply([map { $_->{connections} } @got], [1, 1], 'each worker opened its own connection (the start-up probe not counted)');
isnt($got[0]{port}, $got[1]{port}, '... from different local ports');

# the summary of a forked run: one line in the parent with every worker's counts.  The workers
# leave as VEP's do (exit: global destruction runs in them, and must not delete the parent's file)
{
  my @warnings;
  local $SIG{__WARN__} = sub { push @warnings, $_[0] };
  my $pf = SeqScore->new({ quiet => 0 }, 'url=' . $d->url);
  my $file = $pf->{stats_file};
  ok($file && -e $file, 'new() makes the run\'s stats file');
  my @kids;
  for my $chunk (@chunks) {
    my $pid = fork // die;
    if (!$pid) {
      run_buffer($pf, $chunk);
      run_buffer($pf, [[vf_from_vcf('21', 25592783, 'G', ['GAC']), ['MRPL39']]]);   # a second buffer
      exit 0;
    }
    push @kids, $pid;
  }
  waitpid($_, 0) for @kids;
  ok(-e $file, 'the workers left the stats file to the parent');
  my $alleles = 0;
  $alleles += $_->{stats}{alleles} for @got;
  @warnings = ();
  $pf->finish;
  is(scalar(@warnings), 1, 'finish() in the parent: one summary line for the whole run') or diag explain \@warnings;
  like($warnings[0] // '', qr/^SeqScore: @{[$alleles + 2]} alleles scored in 4 HTTP requests over 2 connections by 2 forked processes \(4 buffer prefetches, 0 per-variant requests\); model toy, fields SpliceAI_\*, SeqScore_error$/,
       "... with the workers' alleles ($alleles + 2), requests, connections and processes");
  ok(!-e $file, '... and deletes the stats file');

  # a run in one process writes the same line without "forked"
  @warnings = ();
  my $p1 = SeqScore->new({ quiet => 0 }, 'url=' . $d->url);
  run_buffer($p1, $chunks[0]);
  $p1->finish;
  like(join('', @warnings), qr/^SeqScore: \d+ alleles scored in 1 HTTP requests over 1 connections \(1 buffer prefetches/,
       'one process: its own counts, the start-up probe not among the connections');

  my $pq = SeqScore->new({ quiet => 1 }, 'url=' . $d->url);
  my $qfile = $pq->{stats_file};
  @warnings = ();
  $pq->finish;
  ok(!@warnings && !-e $qfile, '--quiet: no summary; the stats file is deleted all the same');
}

# a daemon gone for good: once a worker's wait (retry_for) ran out, the workers forked after it
# try once each without waiting, and do not repeat the warning
{
  my @warnings;
  local $SIG{__WARN__} = sub { push @warnings, $_[0] };
  my $dg = SeqScoreTest::Daemon->start(model => $d->model, dir => $d->dir);
  my $pg = SeqScore->new({ quiet => 0 }, 'url=' . $dg->url, 'retry_for=1');
  $dg->crash;
  my @seen;
  for my $i (0, 1) {          # one after the other, as VEP forks a worker per chunk
    pipe(my $r, my $w) or die;
    my $pid = fork // die;
    if (!$pid) {
      close $r;
      my @mine;
      local $SIG{__WARN__} = sub { push @mine, $_[0] };
      my $l = run_buffer($pg, [[vf_from_vcf('21', 25592783 + $i, ($i ? 'A' : 'G'), ['C']), ['MRPL39']]]);
      print $w encode_json({ error => $l->[0]{SeqScore_error}, polls => $pg->{stats}{ready_polls} // 0,
                             requests => $pg->{stats}{requests}, warnings => \@mine });
      close $w;
      exit 0;
    }
    close $w;
    push @seen, do { local $/; decode_json(scalar <$r>) };
    waitpid($pid, 0);
  }
  like($seen[0]{error} // '', qr/^DAEMON_UNAVAILABLE:/, 'daemon gone: the first worker waits retry_for, then DAEMON_UNAVAILABLE');
  ok($seen[0]{polls} > 0 && (grep { /DAEMON_UNAVAILABLE/ } @{ $seen[0]{warnings} }), '... after polling GET /v1/ready, with a warning');
  like($seen[1]{error} // '', qr/^DAEMON_UNAVAILABLE:/, 'the next worker: DAEMON_UNAVAILABLE too');
  is_deeply([$seen[1]{polls}, $seen[1]{requests}], [0, 1], '... after one try, without waiting') or diag explain \@seen;
  ok(!grep({ /DAEMON_UNAVAILABLE|waiting up to/ } @{ $seen[1]{warnings} }), '... and without repeating the warning');
  @warnings = ();
  $pg->finish;
  like(join('', @warnings), qr/^SeqScore: 0 alleles scored in 3 HTTP requests over 0 connections by 2 forked processes .*; 2 alleles unscored by failed requests \(SeqScore_error\)/,
       'summary: 3 requests (2 by the first worker, 1 by the next), the 2 unscored alleles');
}

# a busy daemon (queue of 10, filled by several workers at once) answers 503 + Retry-After:
# the workers wait as told and retry, and every allele still gets its scores
{
  my $db = SeqScoreTest::Daemon->start(model => $d->model, dir => $d->dir,
                                       extra => ['--max-queue', '10', '--max-batch', '10', '--max-delay-ms', '200']);
  my $pb = SeqScore->new({ quiet => 1 }, 'url=' . $db->url, 'batch=10');
  my @part = map { [@items[$_ * 20 .. $_ * 20 + 19]] } 0 .. 3;
  my (@kids, @rd);
  for my $chunk (@part) {
    pipe(my $r, my $w) or die;
    my $pid = fork // die;
    if (!$pid) {
      close $r;
      print $w encode_json({ lines => $strip->(run_buffer($pb, $chunk)), requests => $pb->{stats}{requests} });
      close $w;
      POSIX::_exit(0);
    }
    close $w;
    push @kids, $pid;
    push @rd, $r;
  }
  my @res = map { local $/; my $r = $_; decode_json(scalar <$r>) } @rd;
  waitpid($_, 0) for @kids;
  my $metrics = HTTP::Tiny->new(proxy => undef, http_proxy => undef)->get($db->url . '/metrics')->{content} // '';
  my $busy = 0;
  $busy += $1 for $metrics =~ /^seqscore_rejected_total\{[^}]*\}\s+([\d.]+)/mg;
  my $want_busy = $strip->(run_buffer(SeqScore->new({ quiet => 1 }, 'url=' . $d->url), [map { @$_ } @part]));
  is_deeply([map { @{ $_->{lines} } } @res], $want_busy, '4 workers on a queue of 10: same fields as an unhurried run');
  ok(!grep({ defined $_->{SeqScore_error} } map { @{ $_->{lines} } } @res), '... and no errors');
  my $extra = 0;
  $extra += $_->{requests} for @res;
  diag "daemon refused $busy requests as busy; the workers made $extra requests for 8 batches";
  SKIP: {
    skip 'the workers never overlapped, so the daemon was never busy', 1 unless $busy;
    ok($extra > 8, 'busy answers were retried');
  }
  $db->stop;
}

done_testing;
