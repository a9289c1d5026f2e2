# Real VEP (set VEP_DIR to the folder holding the `vep` script; the Ensembl API modules must be
# on PERL5LIB or in VEP_DIR/modules, VEP_DIR/../ensembl*/modules) in --gtf/--fasta mode on the
# shared chr21 data, with the plugin talking to a real `seqscore serve` (toy models): SpliceAI
# fields, --fork, --vcf, two lines, --safe; a SpliceAI and a Pangolin line side by side (one
# daemon serving both, the GTF as its annotation); a track model (kind tracks) beside a SpliceAI line,
# its fields on every line of the allele, intergenic ones too (tab, --vcf, --json); --fork 2
# writes one summary line with every worker's counts; <DEL> alleles get SeqScore_error=
# UNSUPPORTED_VARIANT (VEP writes no line for '*'); with VEP_PLUGINS_DIR (a VEP_plugins checkout) the plugin runs beside VEP's
# own SpliceAI.pm (reading seqscore score's output of the same VCF) with prefix=SeqScore.
# SEQSCORE_VEP_REAL=1 adds the same side-by-side run with the real exported spliceai and pangolin
# models on the 132 dbSNP SNVs (minutes), and a run with the real exported puffin on them.
use strict;
use warnings;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }
use Test::More;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX qw(WNOHANG);
use SeqScoreTest::Daemon;

plan skip_all => 'set VEP_DIR to an ensembl-vep checkout to run VEP itself' unless $ENV{VEP_DIR};
if (my $why = SeqScoreTest::Daemon->unavailable) { plan skip_all => $why }
my $vep_dir = abs_path($ENV{VEP_DIR});
plan skip_all => "no vep script in VEP_DIR=$vep_dir" unless -f "$vep_dir/vep";

my @lib = grep { -d } ($vep_dir, "$vep_dir/modules", glob("$vep_dir/../ensembl*/modules"));
local $ENV{PERL5LIB} = join(':', @lib, $ENV{PERL5LIB} ? $ENV{PERL5LIB} : ());
my $chr21 = $SeqScoreTest::Daemon::CHR21;
our $plugins = abs_path("$FindBin::Bin/..");
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
like($log, qr/SeqScore: (\d+) alleles scored in 1 HTTP requests over 1 connections \(/, 'one HTTP request for the whole input buffer, over one connection');
my ($n_alleles) = $log =~ /SeqScore: (\d+) alleles scored/;
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

{
  local $ENV{TMPDIR} = "$tmp/forktmp";     # where the workers' counts go
  mkdir $ENV{TMPDIR};
  ($rc, $log) = vep("$tmp/fork.txt", '-i', $vcf, '--safe', '--fork', '2', '--buffer_size', '20', '--plugin', "SeqScore,$url");
  is($rc, 0, 'vep --fork 2 exits 0') or diag $log;
  is_deeply(preds("$tmp/fork.txt", 'SpliceAI_pred'), $got, '--fork writes the same SpliceAI_pred values');
  my @summary = $log =~ /(SeqScore: \d+ alleles scored.*)/g;
  is(scalar @summary, 1, '--fork 2: one summary line for the whole run') or diag $log;
  like($summary[0] // '', qr/^SeqScore: $n_alleles alleles scored in \d+ HTTP requests over \d+ connections by \d+ forked processes \(/,
       "... with every worker's alleles ($n_alleles, as the run without --fork)");
  diag $summary[0] // 'no summary';
  opendir(my $dh, $ENV{TMPDIR}); my @left = grep { !/^\./ } readdir $dh; closedir $dh;
  is_deeply(\@left, [], '... and no stats file left behind');
}

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

# ---- the daemon crashed and started again while VEP runs: waited for, every score written --------
{
  my $snvs = "$chr21/dbsnp_snvs.vcf";
  my @common = ('-i', $snvs, '--buffer_size', '10', '--safe');
  ($rc, $log) = vep("$tmp/snvs.txt", @common, '--plugin', "SeqScore,$url");
  is($rc, 0, 'vep on the dbSNP SNVs, 10 variants a buffer, exits 0') or diag $log;
  my $want_snvs = preds("$tmp/snvs.txt", 'SpliceAI_pred');
  my $dr = SeqScoreTest::Daemon->start(model => $d->model, dir => $d->dir);
  my $out = "$tmp/restart.txt";
  my $pid = fork // die;
  if (!$pid) {
    open(STDOUT, '>', "$out.log"); open(STDERR, '>&', \*STDOUT);
    exec('perl', "$vep_dir/vep", '--gtf', "$chr21/custom_test.gtf.gz", '--fasta', "$chr21/chr21.fa.gz", '--symbol',
         '--no_stats', '--force_overwrite', '--dir_plugins', $plugins, '-o', $out, @common,
         '--plugin', 'SeqScore,url=' . $dr->url . ',retry_for=120') or POSIX::_exit(127);
  }
  # once VEP has written part of its output (a few buffers), crash the daemon; start it again a second later
  sleep 1 until -s $out && -s $out > 3000 || waitpid($pid, WNOHANG) == $pid;
  my $done_early = !kill(0, $pid);
  $dr->crash;
  my $back = $dr->restart_in(1);
  waitpid($pid, 0) unless $done_early;
  my $vrc = $done_early ? 0 : $? >> 8;
  my $vlog = do { open(my $fh, '<', "$out.log"); local $/; <$fh> // '' };
  $back->stop;
  SKIP: {
    skip 'VEP finished before the daemon could be stopped', 5 if $done_early || $vlog !~ /waiting up to/;
    is($vrc, 0, 'daemon crashed and started again during the run: vep exits 0') or diag $vlog;
    like($vlog, qr/SeqScore: no answer from the seqscore daemon at \S+ to POST \/v1\/score of \d+ alleles? \(21:\d+:\w+>\w+.*\); waiting up to 120 s/,
         '... one warning naming the request and the wait');
    like($vlog, qr/SeqScore: the seqscore daemon at \S+ answers again after [\d.]+ s/, '... and one when it answers again');
    is_deeply(preds($out, 'SpliceAI_pred'), $want_snvs, '... every SpliceAI_pred value equals the run without a restart');
    is(scalar(keys %{ preds($out, 'SeqScore_error') }), 0, '... and no line has SeqScore_error');
  }
}

# ---- alleles that cannot be scored: '*' and a <DEL> (a structural variant to VEP) -------------------
{
  my $uv = "$tmp/unscorable.vcf";
  open(my $o, '>', $uv) or die;
  print $o "##fileformat=VCFv4.2\n##contig=<ID=21,length=46709983>\n",
           "##INFO=<ID=SVTYPE,Number=1,Type=String,Description=\"SV type\">\n##INFO=<ID=END,Number=1,Type=Integer,Description=\"End\">\n",
           join("\t", '#CHROM', qw(POS ID REF ALT QUAL FILTER INFO)), "\n",
           join("\t", 21, 25592783, 'snv_star', 'G', 'T,*', '.', '.', '.'), "\n",
           join("\t", 21, 25592790, 'del_star', 'TA', 'T,*', '.', '.', '.'), "\n",
           join("\t", 21, 25592782, 'sv_del', 'G', '<DEL>', '.', '.', 'SVTYPE=DEL;END=25592900'), "\n";
  close $o;
  ($rc, $log) = vep("$tmp/unscorable.txt", '-i', $uv, '--safe', '--plugin', "SeqScore,$url");
  is($rc, 0, "vep on '*' and <DEL> alleles exits 0") or diag $log;
  my (%by, $n);
  open(my $fh, '<', "$tmp/unscorable.txt") or die;
  while (<$fh>) {
    next if /^#/;
    chomp;
    my @f = split /\t/;
    my %extra = map { split /=/, $_, 2 } split /;/, $f[-1];
    next unless ($extra{SYMBOL} // '') eq 'MRPL39';
    $n++;
    push @{ $by{"$f[0] $f[2]"} }, \%extra;
  }
  close $fh;
  my $all = sub { my ($key, $re) = @_; my $l = $by{$key} || []; return @$l && !grep { !$re->($_) } @$l };
  ok($all->('snv_star T', sub { ($_[0]{SpliceAI_pred} // '') =~ /^MRPL39\|/ }), "the SNV beside a '*': scores on its MRPL39 lines");
  ok($all->('del_star -', sub { ($_[0]{SpliceAI_pred} // '') =~ /^MRPL39\|/ }), "the deletion beside a '*': scores");
  # VEP itself writes no line for a '*' allele (VariationFeatureOverlap skips it), so it never
  # reaches the plugin here; 25-unscorable.t covers the plugin's answer should it be asked
  is_deeply([grep { / \*$/ } sort keys %by], [], "VEP writes no line for the '*' alleles (nothing to annotate)");
  my ($sv) = grep { /^sv_del / } keys %by;
  ok($sv && $all->($sv, sub { ($_[0]{SeqScore_error} // '') =~ /^UNSUPPORTED_VARIANT:21:25592783-25592900:_ALT_\S+_is_a_structural_variant_\(deletion\)/ }),
     '<DEL>: SeqScore_error=UNSUPPORTED_VARIANT naming the structural variant') or diag explain \%by;
  diag "unscorable: $n MRPL39 lines: " . join(', ', sort keys %by);
}

# ---- beside VEP's own SpliceAI.pm (prefix=SeqScore), which reads seqscore score's output ----------
SKIP: {
  my $pm = $ENV{VEP_PLUGINS_DIR} ? "$ENV{VEP_PLUGINS_DIR}/SpliceAI.pm" : '';
  skip 'set VEP_PLUGINS_DIR to a VEP_plugins checkout (with SpliceAI.pm) to run beside it', 6 unless -f $pm;
  skip 'bgzip and tabix are needed for SpliceAI.pm\'s file', 6 if system('bgzip --version >/dev/null 2>&1 && tabix --version >/dev/null 2>&1');
  mkdir "$tmp/both";
  symlink($pm, "$tmp/both/SpliceAI.pm") && symlink("$plugins/SeqScore.pm", "$tmp/both/SeqScore.pm") or die "symlink: $!";
  system("bgzip -c '$tmp/exp.vcf' > '$tmp/exp.vcf.gz' && tabix -f -p vcf '$tmp/exp.vcf.gz'") == 0 or die 'bgzip/tabix failed';
  local $plugins = "$tmp/both";
  for my $split ('', ',split_output=1') {
    my $out = "$tmp/beside$split.txt";
    ($rc, $log) = vep($out, '-i', $vcf, '--safe', '--plugin', "SpliceAI,snv=$tmp/exp.vcf.gz,indel=$tmp/exp.vcf.gz$split",
                      '--plugin', "SeqScore,$url,prefix=SeqScore$split");
    is($rc, 0, "vep with SpliceAI.pm and SeqScore,prefix=SeqScore$split exits 0") or diag $log;
    my ($theirs, $ours) = $split ? ('SpliceAI_pred_DS_AG', 'SeqScore_pred_DS_AG') : ('SpliceAI_pred', 'SeqScore_pred');
    my ($both, $same) = (0, 0);
    open(my $fh, '<', $out) or die;
    my @hdr;
    while (<$fh>) {
      if (/^## (\S+) :/) { push @hdr, $1; next }
      next if /^#/;
      chomp;
      my %extra = map { split /=/, $_, 2 } split /;/, (split /\t/)[-1];
      next unless defined $extra{$theirs} && defined $extra{$ours};
      next if !$split && $extra{$theirs} !~ /^[^|,]+(?:\|[^|,]*){8}$/;   # SpliceAI.pm joins a multi-gene record's genes
      $both++;
      $same++ if $extra{$theirs} eq $extra{$ours} || ($extra{$theirs} =~ /^-?[\d.]+$/ && $extra{$ours} == $extra{$theirs});
    }
    close $fh;
    my %n;
    $n{$_}++ for @hdr;
    is_deeply([grep { $n{$_} > 1 } sort keys %n], [], '... no field declared twice in the header');
    ok($both > 10 && $same == $both, "... $ours equals SpliceAI.pm's $theirs on every line both write ($same of $both)");
  }
}

my $dead = 'url=http://127.0.0.1:' . SeqScoreTest::Daemon::free_port();
($rc, $log) = vep("$tmp/dead.txt", '-i', $vcf, '--safe', '--plugin', "SeqScore,$dead");
isnt($rc, 0, 'daemon not running: vep --safe fails');
like($log, qr/SeqScore: the seqscore daemon at http:\/\/127\.0\.0\.1:\d+ is not ready/, '... with the plugin\'s message');

# ---- a SpliceAI line and a Pangolin line side by side ----------------------------------------------
# `seqscore score` on the same VCF: {"ID\tPOS"}{allele's value} = {gene => 1} (indels.vcf has two
# records named del1_APP); SpliceAI values are per gene symbol, Pangolin's (the allele's every
# block, as the CLI writes it) per gene_id.
sub score_values {
  my ($model, $key, $vcf, $out) = @_;
  my @cmd = ('seqscore', 'score', '-I', $vcf, '-O', $out, '-R', "$chr21/chr21.fa.gz", '-A', "$chr21/custom_test.gtf.gz",
             '--gtf-filter', 'None', '--model', $model, '-q');
  -s $out or system(@cmd) == 0 or die "@cmd failed";
  my %v;
  open(my $fh, '<', $out) or die "$out: $!";
  while (<$fh>) {
    next if /^#/;
    my ($pos, $id, $alt, $info) = (split /\t/)[1, 2, 4, 7];
    $id = "$id\t$pos";
    next unless $info =~ /(?:^|;)$key=([^;\s]+)/;
    my (%by_allele, @alts);
    @alts = split /,/, $alt;
    for my $entry (split /,/, $1) {
      my @f = split /\|/, $entry;
      if ($key eq 'Pangolin') {    # ALT| before each block only in records with several ALTs
        my $allele = @alts > 1 ? shift @f : $alts[0];
        push @{ $by_allele{$allele} }, join('|', @f);
      }
      else { $v{$id}{ join('|', @f[1 .. $#f]) }{ $f[1] } = 1 }
    }
    for my $blocks (values %by_allele) {
      $v{$id}{ join(',', @$blocks) }{ (split /\|/)[0] } = 1 for @$blocks;
    }
  }
  return \%v;
}

# VEP's lines with the field: (lines whose value is the one of their record, gene as in the
# value; other lines with the field; expected record values no line carries; lines of a scored
# gene without the field).
sub check_field {
  my ($file, $field, $want, $gene_col) = @_;
  my ($same, $wrong, $bare, %seen) = (0, 0, 0);
  open(my $fh, '<', $file) or return (0, 1, 1, 1);
  while (<$fh>) {
    next if /^#/;
    chomp;
    my @f = split /\t/;
    my %extra = map { split /=/, $_, 2 } split /;/, $f[-1];
    my $gene = $gene_col eq 'SYMBOL' ? $extra{SYMBOL} : $f[3];
    my ($start) = $f[1] =~ /:(\d+)/;     # VEP's start: the VCF POS, or POS + 1 for a trimmed indel
    my ($key) = grep { $want->{$_} } "$f[0]\t$start", "$f[0]\t" . ($start - 1);
    $f[0] = $key // "$f[0]\t$start";
    my $scored = grep { $_->{ $gene // '' } } values %{ $want->{ $f[0] } || {} };
    unless (defined $extra{$field}) {
      next unless $scored && keys %{ $want->{ $f[0] } } == 1;
      $bare++;
      diag "no $field on the line of a scored gene: $_" if $bare <= 3;
      next;
    }
    if ($want->{ $f[0] }{ $extra{$field} }{ $gene // '' }) { $same++; $seen{"$f[0]\t$extra{$field}"} = 1 }
    else { $wrong++; diag "$f[0] $gene: $field=$extra{$field}" if $wrong <= 3 }
  }
  my @missing = grep { my $id = $_; grep { !$seen{"$id\t$_"} } keys %{ $want->{$id} } } sort keys %$want;
  diag "$field: no line carries the value of @missing" if @missing;
  my $missing = @missing;
  return ($same, $wrong, $missing, $bare);
}

sub side_by_side {
  my ($what, $spliceai, $pangolin, $vcf, $wait) = @_;
  my $dp = SeqScoreTest::Daemon->start(models => [$spliceai, $pangolin], annotation => "$chr21/custom_test.gtf.gz",
                                       extra => ['--gtf-filter', 'None'], dir => $tmp, wait => $wait);
  (my $s_name = $spliceai) =~ s{.*/|\.onnx$}{}g;
  (my $p_name = $pangolin) =~ s{.*/|\.onnx$}{}g;
  my $want_p = score_values($pangolin, 'Pangolin', $vcf, "$tmp/$what.exp_pangolin.vcf");
  my $want_s = score_values($spliceai, 'SpliceAI', $vcf, "$tmp/$what.exp_spliceai.vcf");
  my $u = 'url=' . $dp->url;
  my ($rc, $log) = vep("$tmp/$what.sbs.txt", '-i', $vcf, '--safe', '--plugin', "SeqScore,$u,model=$s_name",
                       '--plugin', "SeqScore,$u,model=$p_name,cutoff=0.2");
  is($rc, 0, "$what: vep with --plugin SeqScore,model=$s_name and --plugin SeqScore,model=$p_name exits 0") or diag $log;
  my @p = check_field("$tmp/$what.sbs.txt", 'Pangolin', $want_p, 'Gene');
  my @s = check_field("$tmp/$what.sbs.txt", 'SpliceAI_pred', $want_s, 'SYMBOL');
  my $n_p = 0;
  $n_p += keys %{ $want_p->{$_} } for keys %$want_p;
  is_deeply([@p[1 .. 3]], [0, 0, 0], "$what: Pangolin in VEP's output equals seqscore score --model ${p_name}'s value "
            . "on every line of a scored gene ($p[0] lines, $n_p record values)");
  is_deeply([@s[1 .. 3]], [0, 0, 0], "$what: SpliceAI_pred beside it equals seqscore score --model ${s_name}'s ($s[0] lines)");
  diag "$what: Pangolin right on $p[0] lines ($p[1] wrong; $p[2] of $n_p record values on no line); "
     . "SpliceAI_pred right on $s[0] lines ($s[1] wrong)";
  open(my $fh, '<', "$tmp/$what.sbs.txt"); my @hdr = grep { /^## (Pangolin|Pangolin_cutoff|Pangolin_error|SpliceAI_pred|SeqScore_error) :/ } <$fh>; close $fh;
  is(scalar @hdr, 5, "$what: header declares Pangolin, Pangolin_cutoff, Pangolin_error, SpliceAI_pred, SeqScore_error");
  like(join('', @hdr), qr/## Pangolin : Pangolin splice scores .*model \Q$p_name\E /, "$what: ... Pangolin's names its model");
  is(scalar(() = $log =~ /SeqScore(?: \(\w+\))?: \d+ alleles scored in 1 HTTP requests .*model (?:\Q$s_name\E|\Q$p_name\E)/g), 2,
     "$what: one request per line, one summary each") or diag $log;
  return ($dp, $want_p);
}

my $toy_p = SeqScoreTest::Daemon::toy_model($tmp, name => 'toypango', scorer => 'pangolin');
my ($dp) = side_by_side('toy', $d->model, $toy_p, $vcf);
($rc, $log) = vep("$tmp/pango.vcf", '-i', $vcf, '--vcf', '--safe', '--plugin', 'SeqScore,url=' . $dp->url . ',model=toypango');
is($rc, 0, 'vep --vcf with a Pangolin line exits 0') or diag $log;
open($fh, '<', "$tmp/pango.vcf"); my @vcf = <$fh>; close $fh;
my ($csqh) = grep { /^##INFO=<ID=CSQ/ } @vcf;
my @cols = $csqh =~ /Format: ([^"]+)"/ ? split(/\|/, $1) : ();
ok((grep { /^Pangolin_(gene|gain|gain_pos|loss|loss_pos|warnings|error)$/ } @cols) == 7, 'VCF output: Pangolin_gene, _gain, _gain_pos, _loss, _loss_pos, _warnings, _error in CSQ')
  or diag $csqh;
my %col = map { ($cols[$_] => $_) } 0 .. $#cols;
my ($n_csq, $bad_csq) = (0, 0);
my $want_toy = score_values($toy_p, 'Pangolin', $vcf, "$tmp/toy.exp_pangolin.vcf");
for my $line (grep { !/^#/ } @vcf) {
  my ($pos, $id, $info) = (split /\t/, $line)[1, 2, 7];
  $id = "$id\t$pos";
  my ($csq) = $info =~ /CSQ=([^;\s]+)/ or next;
  for my $c (split /,/, $csq) {
    my @v = split /\|/, $c, -1;
    next unless length $v[ $col{Pangolin_gene} ];
    $n_csq++;
    my $block = join('|', $v[ $col{Pangolin_gene} ], "$v[$col{Pangolin_gain_pos}]:$v[$col{Pangolin_gain}]",
                     "$v[$col{Pangolin_loss_pos}]:$v[$col{Pangolin_loss}]", "Warnings:$v[$col{Pangolin_warnings}]");
    $bad_csq++ unless grep { my $val = $_; grep { $_ eq $block } split /,/, $val } keys %{ $want_toy->{$id} || {} };
  }
}
ok($n_csq > 20 && !$bad_csq, "... each CSQ entry's Pangolin_* fields are one block of seqscore score's value ($n_csq entries, $bad_csq not)");
$dp->stop;

# ---- a track model beside a SpliceAI line: its fields on every line of the allele ------------------
# `seqscore score --model M [--tracks T]`: {"ID\tPOS"}{allele} = the allele's SeqScore_<model> value
# without ALLELE| (as the plugin writes it)
sub track_values {
  my ($model, $key, $vcf, $out, @opt) = @_;
  -s $out or system('seqscore', 'score', '-I', $vcf, '-O', $out, '-R', "$chr21/chr21.fa.gz", '--model', $model, '-q', @opt) == 0
    or die "seqscore score --model $model failed on $vcf";
  my %v;
  open(my $fh, '<', $out) or die "$out: $!";
  while (<$fh>) {
    next if /^#/;
    my ($pos, $id, $info) = (split /\t/)[1, 2, 7];
    next unless $info =~ /(?:^|;)$key=([^;\s]+)/;
    for (split /,/, $1) { my ($allele, $rest) = split /\|/, $_, 2; $v{"$id\t$pos"}{$allele} = $rest }
  }
  return \%v;
}

# VEP's tab lines against those values: (lines whose summary and track fields equal the record's,
# wrong ones, lines without the field, record-alleles no line carries, lines per feature type).
sub check_tracks {
  my ($file, $stem, $want, $fields) = @_;
  my ($same, $wrong, $bare, %seen, %types) = (0, 0, 0);
  open(my $fh, '<', $file) or return (0, 1, 1, 1, {});
  while (<$fh>) {
    next if /^#/;
    chomp;
    my @f = split /\t/;
    my %extra = map { split /=/, $_, 2 } split /;/, $f[-1];
    my ($start) = $f[1] =~ /:(\d+)/;
    my ($key) = grep { $want->{$_} } "$f[0]\t$start", "$f[0]\t" . ($start - 1);
    my @alleles = $key ? keys %{ $want->{$key} } : ();   # VEP's allele of an indel is trimmed (T for G>GT)
    my $allele = @alleles == 1 ? $alleles[0] : $f[2];
    my $w = $key ? $want->{$key}{$allele} : undef;
    $types{ $f[5] eq '-' ? 'intergenic' : $f[5] }++;
    unless (defined $extra{$stem}) { $bare++; diag "no $stem: $_" if $bare <= 3; next }
    my (undef, @parts) = split /\|/, $w // '';
    my $ok = defined $w && $extra{$stem} eq $w
          && !grep { ($extra{"${stem}_$fields->[$_]"} // '') ne (split /:/, $parts[$_])[1] } 0 .. $#$fields;
    if ($ok) { $same++; $seen{"$key\t$allele"} = 1 } else { $wrong++; diag "$f[0] $f[2]: $stem=$extra{$stem}, want " . ($w // 'none') if $wrong <= 3 }
  }
  my $missing = grep { my $k = $_; grep { !$seen{"$k\t$_"} } keys %{ $want->{$k} } } keys %$want;
  return ($same, $wrong, $bare, $missing, \%types);
}

{
  my $toy_t = SeqScoreTest::Daemon::toy_model($tmp, name => 'toytracks', scorer => 'tracks');
  my $dt = SeqScoreTest::Daemon->start(models => [$d->model, $toy_t], dir => $tmp);
  my $u = 'url=' . $dt->url;
  # indels.vcf and three intergenic records (no gene of the GTF within 10 kb), REF from the FASTA
  my $ig = "$tmp/with_intergenic.vcf";
  my @ref = `python -c "import pyfaidx; f = pyfaidx.Fasta('$chr21/chr21.fa.gz'); print(f['21'][25080999:25081001]); print(f['21'][25083499])"`;
  chomp @ref;
  die "could not read the reference with pyfaidx" unless ($ref[0] // '') =~ /^[ACGT]{2}$/ && ($ref[1] // '') =~ /^[ACGT]$/;
  my $alt = { A => 'G', C => 'T', G => 'A', T => 'C' };
  system("cp '$vcf' '$ig'") == 0 or die;
  open(my $fh, '>>', $ig) or die;
  print $fh join("\t", '21', 25081000, 'ig_snv', substr($ref[0], 0, 1), $alt->{ substr($ref[0], 0, 1) }, '.', '.', '.'), "\n",
            join("\t", '21', 25081000, 'ig_del', $ref[0], substr($ref[0], 0, 1), '.', '.', '.'), "\n",
            join("\t", '21', 25083500, 'ig_snv2', $ref[1], $alt->{ $ref[1] }, '.', '.', '.'), "\n";
  close $fh;
  my $want_t = track_values($toy_t, 'SeqScore_toytracks', $ig, "$tmp/exp_tracks.vcf", '--tracks', 'DNASE,CAGE+');
  my @fields = qw(DNASE CAGE_plus);
  my ($rc, $log) = vep("$tmp/tracks.txt", '-i', $ig, '--safe', '--plugin', "SeqScore,$u", '--plugin', "SeqScore,$u,model=toytracks,tracks=DNASE/CAGE+");
  is($rc, 0, 'vep with a SpliceAI line and --plugin SeqScore,model=toytracks,tracks=DNASE/CAGE+ exits 0') or diag $log;
  my ($same, $wrong, $bare, $missing, $types) = check_tracks("$tmp/tracks.txt", 'SeqScore_toytracks', $want_t, \@fields);
  is_deeply([$wrong, $bare, $missing], [0, 0, 0], "SeqScore_toytracks and its DNASE, CAGE_plus fields equal seqscore score --tracks DNASE,CAGE+ "
            . "on every line ($same lines: " . join(', ', map { "$types->{$_} $_" } sort keys %$types) . ')');
  ok($types->{intergenic} && $types->{Transcript}, '... transcript and intergenic lines alike');
  is_deeply(preds("$tmp/tracks.txt", 'SpliceAI_pred'), $got, '... and SpliceAI_pred beside it is unchanged');
  open($fh, '<', "$tmp/tracks.txt"); my @hdr = grep { /^## SeqScore_toytracks/ } <$fh>; close $fh;
  is(scalar @hdr, 6, '... header: SeqScore_toytracks, _DNASE, _CAGE_plus, _top_track, _max_abs_effect, _error');
  is(scalar(() = $log =~ /SeqScore(?: \(\w+\))?: \d+ alleles scored in 1 HTTP requests/g), 2, '... one request per line') or diag $log;

  ($rc, $log) = vep("$tmp/tracks.vcf", '-i', $ig, '--vcf', '--safe', '--plugin', "SeqScore,$u,model=toytracks,tracks=DNASE/CAGE+");
  is($rc, 0, 'vep --vcf with the track line exits 0') or diag $log;
  open($fh, '<', "$tmp/tracks.vcf"); my @vcf = <$fh>; close $fh;
  my ($csqh) = grep { /^##INFO=<ID=CSQ/ } @vcf;
  my @cols = $csqh =~ /Format: ([^"]+)"/ ? split(/\|/, $1) : ();
  my %col = map { ($cols[$_] => $_) } 0 .. $#cols;
  ok(!grep({ !defined $col{"SeqScore_toytracks$_"} } '', map { "_$_" } @fields, qw(top_track max_abs_effect error)),
     'VCF output: SeqScore_toytracks, _DNASE, _CAGE_plus, _top_track, _max_abs_effect, _error in CSQ') or diag $csqh;
  my ($n_csq, $bad_csq) = (0, 0);
  for my $line (grep { !/^#/ } @vcf) {
    my ($pos, $id, $info) = (split /\t/, $line)[1, 2, 7];
    my ($csq) = $info =~ /CSQ=([^;\s]+)/ or next;
    for my $c (split /,/, $csq) {
      my @v = split /\|/, $c, -1;
      my $w = $want_t->{"$id\t$pos"}{ $v[0] } // $want_t->{"$id\t$pos"}{ (keys %{ $want_t->{"$id\t$pos"} })[0] };
      $n_csq++;
      my (undef, @parts) = split /\|/, $w // '';
      (my $amp = $w // '') =~ s/\|/&/g;                  # VEP's VCF writer turns | into &
      $bad_csq++ unless $v[ $col{SeqScore_toytracks} ] eq $amp
                     && join('|', map { $v[ $col{"SeqScore_toytracks_$_"} ] } @fields) eq join('|', map { (split /:/)[1] } @parts);
    }
  }
  ok($n_csq > 100 && !$bad_csq, "... every CSQ entry carries the allele's values ($n_csq entries, $bad_csq not)");

  ($rc, $log) = vep("$tmp/tracks.json", '-i', $ig, '--json', '--safe', '--plugin', "SeqScore,$u,model=toytracks");
  is($rc, 0, 'vep --json with the track line exits 0') or diag $log;
  my $want_all = track_values($toy_t, 'SeqScore_toytracks', $ig, "$tmp/exp_tracks_all.vcf");
  my ($n_json, $bad_json) = (0, 0);
  open($fh, '<', "$tmp/tracks.json") or die;
  while (my $l = <$fh>) {
    my $r = JSON::PP->new->decode($l);
    my ($pos, $id) = (split /\t/, $r->{input})[1, 2];
    for my $c (@{ $r->{transcript_consequences} || [] }, @{ $r->{intergenic_consequences} || [] }) {
      $n_json++;
      my $w = $want_all->{"$id\t$pos"}{ $c->{variant_allele} } // $want_all->{"$id\t$pos"}{ (keys %{ $want_all->{"$id\t$pos"} })[0] } // '';
      my ($top, @parts) = split /\|/, $w;
      my $j = $c->{seqscore_toytracks};
      $bad_json++ unless ref $j eq 'HASH' && "top:$j->{top_track}:$j->{top_effect}" eq $top
                      && join('|', map { my ($t, $x) = split /:/; $j->{effects}{$t} == $x ? 1 : 0 } @parts) eq join('|', (1) x @parts);
    }
  }
  ok($n_json > 100 && !$bad_json, "JSON output: seqscore_toytracks {top_track, top_effect, max_abs_effect, effects} on every consequence ($n_json, $bad_json not)");
  $dt->stop;
}

SKIP: {
  skip 'SEQSCORE_VEP_REAL=1 runs VEP with the real exported puffin model', 3 unless $ENV{SEQSCORE_VEP_REAL};
  my $home = $ENV{SEQSCORE_HOME} || abs_path("$FindBin::Bin/../../.cache");
  my $m = "$home/models/puffin.onnx";
  skip "puffin is not exported under $home/models (seqscore export puffin --from ../shared/weights/puffin/puffin.pth --accept-licence)", 3 unless -s $m;
  my $dpf = SeqScoreTest::Daemon->start(models => [$m], dir => $tmp, wait => 600);
  my $want = track_values($m, 'SeqScore_puffin', "$chr21/dbsnp_snvs.vcf", "$tmp/exp_puffin.vcf");
  my ($rc, $log) = vep("$tmp/puffin.txt", '-i', "$chr21/dbsnp_snvs.vcf", '--safe', '--plugin', 'SeqScore,url=' . $dpf->url . ',model=puffin');
  is($rc, 0, 'real: vep --plugin SeqScore,model=puffin exits 0') or diag $log;
  my @f = map { s/\+$/_plus/r =~ s/-$/_minus/r } qw(FANTOM_CAGE+ ENCODE_CAGE+ ENCODE_RAMPAGE+ GRO_CAP+ PRO_CAP+ PRO_CAP- GRO_CAP- ENCODE_RAMPAGE- ENCODE_CAGE- FANTOM_CAGE-);
  my ($same, $wrong, $bare, $missing, $types) = check_tracks("$tmp/puffin.txt", 'SeqScore_puffin', $want, \@f);
  is_deeply([$wrong, $bare, $missing], [0, 0, 0], "real: SeqScore_puffin and its 10 track fields equal seqscore score --model puffin on every line ($same lines)");
  my $n = 0;
  $n += keys %{ $want->{$_} } for keys %$want;
  is($n, 132, '... for all 132 SNVs');
  diag "real puffin: $same lines (" . join(', ', map { "$types->{$_} $_" } sort keys %$types) . "), $wrong wrong, $missing of $n alleles on no line";
  $dpf->stop;
}

SKIP: {
  skip 'SEQSCORE_VEP_REAL=1 runs VEP with the real spliceai and pangolin models (minutes)', 8 unless $ENV{SEQSCORE_VEP_REAL};
  my $home = $ENV{SEQSCORE_HOME} || abs_path("$FindBin::Bin/../../.cache");
  my @m = map { "$home/models/$_.onnx" } qw(spliceai pangolin);
  skip "spliceai and pangolin are not both exported under $home/models", 8 if grep { !-s } @m;
  my ($real) = side_by_side('real', @m, "$chr21/dbsnp_snvs.vcf", 600);
  $real->stop;
  # the Pangolin CLI's own values for 40 of these SNVs (reference_outputs/pangolin, README there),
  # printed as numpy 1 prints them (the file holds numpy 2's 0.07000000029802322 for 0.07)
  my %cli;
  open(my $fh, '<', "$chr21/reference_outputs/pangolin/chr21_dbsnp_snvs.subset40.pangolin.csv") or die $!;
  <$fh>;
  while (<$fh>) {
    chomp;
    my ($id, $value) = (split /,/, $_, 6)[4, 5];
    $value =~ s/:(-?\d+\.\d+(?:e-?\d+)?)/my $x = sprintf('%.2f', $1); $x =~ s{0$}{}; ":$x"/ge;
    $cli{$id} = $value;
  }
  my ($same, $other, %ids) = (0, 0);
  open($fh, '<', "$tmp/real.sbs.txt") or die $!;
  while (<$fh>) {
    next if /^#/;
    my $id = (split /\t/)[0];
    my ($got) = /(?:\t|;)Pangolin=([^;\s]+)/ or next;
    next unless $cli{$id};
    $got eq $cli{$id} ? $same++ : $other++;
    $ids{$id} = 1 if $got eq $cli{$id};
  }
  close $fh;
  is($other, 0, "real: Pangolin in VEP's output equals the Pangolin CLI's own value ($same lines)");
  is(scalar keys %ids, scalar keys %cli, '... for all ' . scalar(keys %cli) . ' SNVs the CLI scored');
}

done_testing;
