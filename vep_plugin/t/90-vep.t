# Real VEP (set VEP_DIR to the folder holding the `vep` script; the Ensembl API modules must be
# on PERL5LIB or in VEP_DIR/modules, VEP_DIR/../ensembl*/modules) in --gtf/--fasta mode on the
# shared chr21 data, with the plugin talking to a real `seqscore serve` (toy model).
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }
use Test::More;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use SeqScoreTest::Daemon;

plan skip_all => 'set VEP_DIR to an ensembl-vep checkout to run VEP itself' unless $ENV{VEP_DIR};
if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
my $vep_dir = abs_path($ENV{VEP_DIR});
plan skip_all => "no vep script in VEP_DIR=$vep_dir" unless -f "$vep_dir/vep";

my @lib = grep { -d } ($vep_dir, "$vep_dir/modules", glob("$vep_dir/../ensembl*/modules"));
local $ENV{PERL5LIB} = join(':', @lib, $ENV{PERL5LIB} ? $ENV{PERL5LIB} : ());
my $chr21 = $SeqScoreTest::Daemon::CHR21;
my $plugins = abs_path("$FindBin::Bin/..");
my $tmp = tempdir(CLEANUP => 1);
my $d = SeqScoreTest::Daemon->start;

sub vep {
  my ($out, @args) = @_;
  my @cmd = ('perl', "$vep_dir/vep", '--gtf', "$chr21/custom_test.gtf.gz", '--fasta', "$chr21/chr21.fa.gz",
             '--symbol', '--no_stats', '--force_overwrite', '--dir_plugins', $plugins, '-o', $out, @args);
  my $log = "$out.log";
  system(join(' ', map { "'$_'" } @cmd) . " > '$log' 2>&1");
  my $rc = $? >> 8;
  open(my $fh, '<', $log); local $/; my $text = <$fh> // '';
  return ($rc, $text);
}

# Expected: `seqscore score` on the same VCF, keyed by record ID and gene.
my $vcf = "$chr21/indels.vcf";
system('seqscore', 'score', '-I', $vcf, '-O', "$tmp/exp.vcf", '-R', "$chr21/chr21.fa.gz",
       '-A', "$chr21/genes.grch38.spliceai.txt", '--model', $d->model, '-D', '50', '-q') == 0 or die;
my %want;
open(my $fh, '<', "$tmp/exp.vcf") or die;
while (<$fh>) {
  next if /^#/;
  my ($id, $info) = (split /\t/)[2, 7];
  next unless $info =~ /SpliceAI=([^;\s]+)/;
  for (split /,/, $1) { my ($a, $g, @r) = split /\|/; $want{$id}{$g}{ join('|', $g, @r) } = 1 }
}
close $fh;

my $url = 'url=' . $d->url;
my ($rc, $log) = vep("$tmp/out.txt", '-i', $vcf, '--safe', '--plugin', "SeqScore,$url,cutoff=0.5");
is($rc, 0, 'vep with the plugin exits 0') or diag $log;
like($log, qr/SeqScore: (\d+) alleles scored in 1 HTTP requests/, 'one HTTP request for the whole input buffer');
diag(($log =~ /(SeqScore: .*)/)[0] // 'no SeqScore summary');

sub preds {
  my ($file, $field) = @_;
  my (%got, $lines);
  open(my $fh, '<', $file) or return {};
  while (<$fh>) {
    next if /^#/;
    chomp;
    my @f = split /\t/;
    my %extra = map { split /=/, $_, 2 } split /;/, $f[-1];
    next unless defined $extra{$field};
    $got{ $f[0] }{ $extra{SYMBOL} }{ $extra{$field} } = 1;
  }
  return \%got;
}
my $got = preds("$tmp/out.txt", 'SpliceAI_pred');
my ($same, $diff) = (0, 0);
for my $id (keys %$got) {
  for my $g (keys %{ $got->{$id} }) {
    for my $p (keys %{ $got->{$id}{$g} }) { $want{$id}{$g}{$p} ? $same++ : $diff++ }
  }
}
is($diff, 0, "SpliceAI_pred in VEP's output equals seqscore score's ($same record-gene-allele values)");
my @missing = grep { my ($id, $g, $p) = split /\0/; !$got->{$id}{$g}{$p} }
              map { my $id = $_; map { my $g = $_; map { "$id\0$g\0$_" } keys %{ $want{$id}{$g} } } keys %{ $want{$id} } } keys %want;
is(scalar @missing, 0, '... and every value seqscore score wrote reaches a transcript line') or diag explain \@missing;
open($fh, '<', "$tmp/out.txt"); my @hdr = grep { /^## (SpliceAI_pred|SeqScore_error|SpliceAI_cutoff) :/ } <$fh>; close $fh;
is(scalar @hdr, 3, 'header declares SpliceAI_pred, SpliceAI_cutoff and SeqScore_error');
like($hdr[0] // '', qr/SeqScore plugin \S+, model \S+/, 'header names plugin version and model');

($rc, $log) = vep("$tmp/fork.txt", '-i', $vcf, '--safe', '--fork', '2', '--buffer_size', '20', '--plugin', "SeqScore,$url");
is($rc, 0, 'vep --fork 2 exits 0') or diag $log;
is_deeply(preds("$tmp/fork.txt", 'SpliceAI_pred'), $got, '--fork writes the same SpliceAI_pred values');

($rc, $log) = vep("$tmp/out.vcf", '-i', $vcf, '--vcf', '--safe', '--plugin', "SeqScore,$url");
is($rc, 0, 'vep --vcf exits 0') or diag $log;
open($fh, '<', "$tmp/out.vcf"); my ($csq) = grep { /^##INFO=<ID=CSQ/ } <$fh>; close $fh;
like($csq // '', qr/SpliceAI_pred_DS_AG\|SpliceAI_pred_DS_AL\|SpliceAI_pred_DS_DG\|SpliceAI_pred_DS_DL\|SpliceAI_pred_SYMBOL/,
     'VCF output: split SpliceAI_pred_* fields in CSQ');

# two plugin lines in one run: the second, with prefix=, writes its own fields
($rc, $log) = vep("$tmp/two.txt", '-i', $vcf, '--safe', '--plugin', "SeqScore,$url", '--plugin', "SeqScore,$url,prefix=Second");
is($rc, 0, 'vep with two SeqScore lines exits 0') or diag $log;
is_deeply(preds("$tmp/two.txt", 'Second_pred'), preds("$tmp/two.txt", 'SpliceAI_pred'), '... Second_pred equals SpliceAI_pred');
is_deeply(preds("$tmp/two.txt", 'SpliceAI_pred'), $got, '... and SpliceAI_pred is unchanged');
open($fh, '<', "$tmp/two.txt"); my @two = grep { /^## (Second_pred|Second_error|SpliceAI_pred|SeqScore_error) :/ } <$fh>; close $fh;
is(scalar @two, 4, '... header declares both lines\' fields');
is(scalar(() = $log =~ /SeqScore: \d+ alleles scored/g), 2, '... one summary line each');
($rc, $log) = vep("$tmp/clash.txt", '-i', $vcf, '--safe', '--plugin', "SeqScore,$url", '--plugin', "SeqScore,$url,batch=10");
isnt($rc, 0, 'two lines writing the same fields: vep --safe stops');
like($log, qr/two SeqScore plugin lines would both write SpliceAI_\*/, '... saying why');

my $dead = 'url=http://127.0.0.1:' . SeqScoreTest::Daemon::free_port();
($rc, $log) = vep("$tmp/dead.txt", '-i', $vcf, '--safe', '--plugin', "SeqScore,$dead");
isnt($rc, 0, 'daemon not running: vep --safe fails');
like($log, qr/SeqScore: the seqscore daemon at http:\/\/127\.0\.0\.1:\d+ is not ready/, '... with the plugin\'s message');

done_testing;
