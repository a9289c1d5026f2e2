package SeqScoreTest::Daemon;

# Starts a real `seqscore serve` on 127.0.0.1 with the tiny toy model (tests/toy_models.py) and
# the shared chr21 data, waits for /v1/ready and stops it when the object goes away.
# `seqscore` and `python` come from PATH (the Makefile puts the venv's bin first).

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $ROOT = abs_path(dirname(__FILE__) . '/../../../..');    # the repository
our $CHR21 = "$ROOT/../shared/data/grch38_chr21";

# Why the daemon tests cannot run here, or undef.
sub unavailable {
  return "shared test data not found at $CHR21 (CI has it at ../shared/data)" unless -d $CHR21;
  my $help = `seqscore serve --help 2>&1`;
  return "`seqscore serve` is not available (put the project's venv bin on PATH)" if $? != 0;
  return undef;
}

sub free_port {
  my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1)
    or die "no free port: $!";
  my $port = $s->sockport;
  close $s;
  return $port;
}

# toy_model($dir) -> the toy model "toy" (scored as SpliceAI); toy_model($dir, name => N,
# scorer => S) -> a toy model named N whose scores are written as tool S writes them (for
# S = pangolin, tests/toy_models.py's Pangolin-shaped toy: four tissues, two replicates each;
# for S = tracks, its track model: kind tracks, tracks CAGE+, CAGE-, DNASE, any input length).
sub toy_model {
  my ($dir, %o) = @_;
  unless ($o{name} || $o{scorer}) {
    my $path = "$dir/toy.onnx";
    system("python '$ROOT/tests/toy_models.py' '$path' >/dev/null") == 0 && -s $path
      or die "could not build the toy model with tests/toy_models.py\n";
    return $path;
  }
  my ($name, $scorer) = ($o{name} || 'toy', $o{scorer} || 'spliceai');
  die "bad toy model name '$name'" unless "$name$scorer" =~ /^[A-Za-z0-9_]+$/;
  my $path = "$dir/$name.onnx";
  my $build = $scorer eq 'pangolin' ? "build_toy_pangolin('$path', name='$name')"    # Pangolin-shaped outputs
            : $scorer eq 'tracks'   ? "build_toy_tracks('$path', name='$name')"      # a track model: CAGE+, CAGE-, DNASE
            : "build_toy_model('$path', name='$name', scorer='$scorer')";
  my $py = "import sys; sys.path.insert(0, '$ROOT'); from tests.toy_models import build_toy_model, build_toy_pangolin, "
         . "build_toy_tracks; $build";
  system('python', '-c', $py) == 0 && -s $path
    or die "could not build the toy model '$name' (scorer $scorer) with tests/toy_models.py\n";
  return $path;
}

# start(port => P, token_file => F, model => PATH, models => [PATH, ...], extra => [...])
#   -> object with url, port, log (models: one --model each, for a daemon serving several)
sub start {
  my ($class, %o) = @_;
  my $dir = $o{dir} || tempdir(CLEANUP => 1);
  my @models = $o{models} ? @{ $o{models} } : ($o{model} || toy_model($dir));
  my $model = $models[0];
  my $port = $o{port} || free_port();
  my @cmd = ('seqscore', 'serve', (map { ('--model', $_) } @models), '-R', "$CHR21/chr21.fa.gz",
             '-A', $o{annotation} || "$CHR21/genes.grch38.spliceai.txt",
             '--host', '127.0.0.1', '--port', $port,
             ($o{token_file} ? ('--token-file', $o{token_file}) : ()), @{ $o{extra} || [] });
  my $log = "$dir/daemon.$port.log";
  my $pid = fork;
  die "fork: $!" unless defined $pid;
  if (!$pid) {
    open(STDOUT, '>>', $log); open(STDERR, '>&', \*STDOUT);
    exec(@cmd) or POSIX::_exit(127);
  }
  my $self = bless { pid => $pid, port => $port, url => "http://127.0.0.1:$port", log => $log,
                     dir => $dir, model => $model, cmd => \@cmd, owner => $$ }, $class;
  my $http = HTTP::Tiny->new(timeout => 2, proxy => undef, http_proxy => undef);
  my %auth;
  if ($o{token_file}) {
    open(my $fh, '<', $o{token_file}) or die "$o{token_file}: $!";
    chomp(my $token = <$fh>);
    %auth = (headers => { Authorization => "Bearer $token" });
  }
  my $wait = $o{wait} || 120;
  my $deadline = time + $wait;
  while (time < $deadline) {
    return $self if $http->get("$self->{url}/v1/ready", \%auth)->{status} == 200;
    if (waitpid($pid, WNOHANG) == $pid) {
      delete $self->{pid};
      die "seqscore serve exited early (@cmd):\n" . $self->log_text;
    }
    sleep 0.2;
  }
  $self->stop;
  die "seqscore serve not ready after ${wait}s (@cmd):\n" . $self->log_text;
}

# The same daemon (command, port, log) started again after $delay seconds, without waiting for
# it: for a plugin that must find it back by itself.  Returns an object that stops it when it
# goes away.
sub restart_in {
  my ($self, $delay) = @_;
  my $pid = fork;
  die "fork: $!" unless defined $pid;
  if (!$pid) {
    sleep $delay;
    open(STDOUT, '>>', $self->{log}); open(STDERR, '>&', \*STDOUT);
    exec(@{ $self->{cmd} }) or POSIX::_exit(127);
  }
  return bless { %$self, pid => $pid, owner => $$ }, ref $self;
}

sub url { $_[0]{url} }
sub port { $_[0]{port} }
sub dir { $_[0]{dir} }
sub model { $_[0]{model} }

sub log_text {
  my $self = shift;
  open(my $fh, '<', $self->{log}) or return '';
  local $/;
  return scalar <$fh>;
}

sub stop {
  my $self = shift;
  my $pid = delete $self->{pid} or return;
  kill 'TERM', $pid;
  for (1 .. 50) { return if waitpid($pid, WNOHANG) == $pid; sleep 0.1 }
  kill 'KILL', $pid;
  waitpid($pid, 0);
}

# Kill without a clean shutdown, as a crash would.
sub crash {
  my $self = shift;
  my $pid = delete $self->{pid} or return;
  kill 'KILL', $pid;
  waitpid($pid, 0);
}

sub DESTROY { local $?; $_[0]->stop if $_[0]{owner} && $_[0]{owner} == $$ }   # not from forked test children

1;
