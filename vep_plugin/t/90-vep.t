# Real VEP (set VEP_DIR to the folder holding the `vep` script; the Ensembl API modules must be
# on PERL5LIB or in VEP_DIR/modules, VEP_DIR/../ensembl*/modules) in --gtf/--fasta mode on the
# shared chr21 data, with the plugin talking to a real `seqscore serve` (toy models): SpliceAI
# fields, --fork, --vcf, two lines, --safe; a SpliceAI and a Pangolin line side by side (one
# daemon serving both, the GTF as its annotation).  SEQSCORE_VEP_REAL=1 adds the same side-by-side
# run with the real exported spliceai and pangolin models on the 132 dbSNP SNVs (minutes).
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
