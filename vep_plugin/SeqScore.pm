=head1 LICENSE

Part of hail-seqscore.  Licensed under the Apache License, Version 2.0.

=head1 NAME

SeqScore - SpliceAI, OpenSpliceAI, Pangolin and regulatory track-model scores computed on the fly
by a seqscore daemon

=head1 SYNOPSIS

 mv SeqScore.pm ~/.vep/Plugins
 seqscore serve --model spliceai -R GRCh38.fa.gz -A grch38 --port 8642 &
 ./vep -i variants.vcf --safe --plugin SeqScore,url=http://127.0.0.1:8642
 ./vep -i variants.vcf --safe --plugin SeqScore,url=http://127.0.0.1:8642,cutoff=0.5,split_output=1

 # two models side by side, one daemon serving both
 seqscore serve --model spliceai --model pangolin -R GRCh38.fa.gz -A genes.gtf.gz --port 8642 &
 ./vep -i variants.vcf --safe --plugin SeqScore,model=spliceai --plugin SeqScore,model=pangolin

 # a regulatory track model (Puffin): per-track effects, two tracks picked
 seqscore serve --model spliceai --model puffin -R GRCh38.fa.gz -A grch38 --port 8642 &
 ./vep -i variants.vcf --safe --plugin SeqScore,model=spliceai \
   --plugin SeqScore,model=puffin,tracks=FANTOM_CAGE+/FANTOM_CAGE-

=head1 DESCRIPTION

 A VEP plugin that asks a running C<seqscore serve> daemon (hail-seqscore) for
 the scores of every allele VEP sees: SNVs, MNVs and indels of any length the
 model scores, with no precomputed score files.  The fields are named after
 the tool whose output the model reproduces (the C<scorer> the daemon lists in
 GET /v1/models): SpliceAI and CI-SpliceAI models write the fields of VEP's own
 SpliceAI plugin (SpliceAI_pred, ...), so filters written for it keep working;
 OpenSpliceAI models write OpenSpliceAI_pred, ... in the same format; Pangolin
 models write Pangolin (the value the Pangolin CLI writes) and Pangolin_gain,
 Pangolin_loss, ...  Regulatory track models (kind "tracks": Puffin, Enformer,
 Basenji2, AI-TAC, a custom model) write SeqScore_<model> (the value
 `seqscore score` writes) and one field per selected track, on every line of
 the allele.  A model scored otherwise is refused in new().

 Batching: the plugin sends one HTTP request per VEP input buffer (all alleles
 in it, split into requests of at most C<batch> alleles) over one kept-alive
 connection with TCP_NODELAY.  Where the VEP internals it relies on (an
 InputBuffer object among the arguments of the calling frames) are missing it
 falls back to one request per variant.  A bounded cache means a variant seen
 on several transcripts is asked for once.  Works with --fork: each forked
 process opens its own connection, and one summary line covers them all.

 Always run VEP with --safe: without it, VEP drops a plugin whose new() fails
 (e.g. daemon not running) with only a warning, and writes output without the
 scores.

=head1 PARAMETERS

 url          : daemon base URL (default http://127.0.0.1:8642); proxies are
                ignored for loopback addresses
 model        : model name the daemon serves (default: the daemon's default, the
                first it lists); new() dies if the daemon does not serve it
 prefix       : field name stem replacing the tool's name: prefix=SeqScore gives
                SeqScore_pred, SeqScore_pred_DS_AG, ..., SeqScore_cutoff,
                SeqScore_error (JSON key SeqScore); for a Pangolin model
                SeqScore, SeqScore_gain, ...; for a track model SeqScore,
                SeqScore_<track>, ...; for running beside VEP's SpliceAI
                plugin, or two models of one tool side by side
 tracks       : track models only: the tracks written besides the top one,
                names separated by '/' (VEP splits plugin parameters on ','),
                each the track's name or its field name (below); 'all' or
                'none'.  Default as seqscore score: all for models with at most
                20 tracks, else none
 distance     : SpliceAI -D, Pangolin -d: 0-4999 (default: the daemon's, 50)
 mask         : SpliceAI -M, Pangolin -m: 0 or 1 (default: the daemon's, which
                is each tool's own: 0 for SpliceAI and OpenSpliceAI, 1 for
                Pangolin)
 cutoff       : 0-1; adds TOOL_cutoff = PASS if the largest score of the line's
                gene (as printed, 2 decimals) >= cutoff, FAIL otherwise: the
                largest DS for SpliceAI-format tools, the larger of |gain| and
                |loss| for Pangolin.  (distance, mask and cutoff do not apply to
                track models, which refuse them.)
 split_output : 1 = one field per score (TOOL_pred_DS_AG, ..., Pangolin_gain,
                ...) in tab output, as VEP's SpliceAI plugin (which also takes
                yes, true, on; 0, no, false, off keep the joined field, where
                SpliceAI.pm would split for any value); always on for VCF
                output, no effect on JSON output; track models always write
                all their fields
 batch        : most alleles in one HTTP request (default 500; 1 = one
                request per variant)
 timeout      : seconds to wait for one HTTP answer (default 1800: a request of
                `batch` alleles must be scored within it)
 retry_for    : seconds to wait for a daemon that stops answering mid-run
                (restarted, still loading its model) before the alleles of
                the request get TOOL_error=DAEMON_UNAVAILABLE (default 60;
                0 = no wait)
 token_file   : file whose first line is the daemon's bearer token

=head1 OUTPUT FIELDS

 TOOL is SpliceAI (SpliceAI, CI-SpliceAI models), OpenSpliceAI (OpenSpliceAI
 models), Pangolin (Pangolin models) or SeqScore_<model> (track models: the
 model's name with characters other than letters, digits and _ made _, as the
 INFO key of seqscore score), or the prefix= given.

 SpliceAI and OpenSpliceAI:
 TOOL_pred            SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL
                      (tab/default output without split_output)
 TOOL_pred_SYMBOL, TOOL_pred_DS_AG ... TOOL_pred_DP_DL
                      (split_output=1, and VCF output)
 TOOL                 JSON output: {SYMBOL, DS_AG, ..., DP_DL[, TOOL_cutoff]}

 DS are printed with 2 decimals and DP in bp, as SpliceAI writes them; "." for
 alleles SpliceAI leaves unscored (MNVs, complex indels).

 Pangolin:
 Pangolin             the allele's value exactly as the Pangolin CLI writes it
                      (its INFO value): gene|pos:gain|pos:loss|Warnings:... for
                      every gene scored, joined by ',' (tab/default output
                      without split_output)
 Pangolin_gene, Pangolin_gain, Pangolin_gain_pos, Pangolin_loss,
 Pangolin_loss_pos, Pangolin_warnings
                      the block of the line's gene, one value each
                      (split_output=1, and VCF output); Pangolin_warnings only
                      when there is one (NoAnnotatedSitesToMaskForThisGene)
 Pangolin             JSON output: {gene, gain, gain_pos, loss, loss_pos,
                      warnings, all_genes (the CLI's value)[, Pangolin_cutoff]}

 gain (largest increase in splice-site usage over the tissues, within the
 distance) and loss (largest decrease, <= 0 when masked) are printed as the
 CLI prints round(x, 2): 0.07, 0.1, 1.0, 0.0, -0.0; positions in bp from the
 variant.

 Track models (kind tracks), one record per allele, the same on every line of
 the allele (transcript, regulatory and intergenic lines, as VEP's CADD plugin):
 TOOL                 the allele's value as seqscore score writes it in its
                      SeqScore_<model> INFO field, without the leading ALLELE|:
                      top:TRACK:VALUE|TRACK:VALUE|... (top = the track of
                      largest |effect| with its signed effect, then the selected
                      tracks in the order given); VEP's VCF writer shows | as &
 TOOL_<track>         the effect on one selected track
 TOOL_top_track       the track of largest |effect|
 TOOL_max_abs_effect  that largest |effect|
 TOOL                 JSON output: {top_track, top_effect, max_abs_effect,
                      effects => {track name => effect, ...} (selected tracks)}

 Effects (the daemon's reduction of ALT vs REF over the bins near the variant:
 diff, log2fc or max_abs_diff) are printed as seqscore score prints them,
 with 4 significant digits (Python's format(x, '.4g'): 0.1235, -2.5e-05,
 1.235e+04); JSON holds those rounded values as numbers.  Track names in
 values are written as in the INFO field (',;=|:' and whitespace
 percent-encoded).  <track> in a field name is the track's name with '+' made
 'plus', '-' made 'minus', each other run of characters outside A-Z a-z 0-9 _
 a separator, and the parts joined by '_' (FANTOM_CAGE+ -> FANTOM_CAGE_plus,
 "CAGE:liver, adult" -> CAGE_liver_adult); a name that is then taken (by an
 earlier track, or top_track, max_abs_effect, error, cutoff) gets _<index>
 (its 0-based index in the model's track table).

 All tools:
 TOOL_cutoff          PASS/FAIL (with cutoff=X)
 TOOL_error           CODE:message when the variant could not be scored
                      (REF_MISMATCH, NEAR_CONTIG_END, DAEMON_UNAVAILABLE,
                      MODEL_CHANGED, ...); named SeqScore_error when TOOL is
                      SpliceAI (as before)

 Each field's header line names the plugin version, the model's name, version,
 sha256 and source, the daemon, its gene table, distance and mask.  Two
 SeqScore lines of one run must write different fields (two models of different
 tools, or prefix= on one); new() dies when they would not.

 Genes: the daemon scores an allele against every gene of its table that
 contains it.  A transcript line gets the fields of the scored gene whose name
 equals the transcript's gene symbol or its gene stable ID (Ensembl IDs also
 without their version: ENSG00000154719.14 = ENSG00000154719), and none
 otherwise.  SpliceAI gene tables name genes by symbol, as in VEP's SpliceAI
 plugin; Pangolin names them by the GTF's gene_id.

=head1 FAILURES

 Daemon unreachable when VEP starts, wrong token, unknown model: new() dies
 naming the URL and the cause (with --safe VEP stops); a daemon still loading
 its model is waited for.  Daemon lost mid-run (crashed, restarted): the
 request is sent once more at once, then GET /v1/ready is polled every 0.5 s
 for up to retry_for seconds (default 60) and the request sent again when the
 daemon is ready; a busy daemon's 503 answers are retried after their
 Retry-After.  When the wait runs out, the alleles of that request get
 TOOL_error=DAEMON_UNAVAILABLE:... naming the request (its first and last
 allele) and the last answer, and one warning is printed; later requests try
 once each without waiting, so a daemon started again later is picked up.  A
 daemon restarted with another model: TOOL_error=MODEL_CHANGED.  A request
 the daemon finds too large (413) is split in halves.

 Alleles that cannot be scored get TOOL_error=UNSUPPORTED_VARIANT:... (the
 code the daemon and `seqscore score` use) saying why: '*' (a deletion given
 on another line; VEP itself writes no line for it), symbolic alleles such as
 <DEL> and <DUP> (VEP's structural variants: every line of them), breakends,
 '.'.  They are not sent to the daemon.

 Summary: at the end VEP's parent process prints one line per SeqScore line
 (unless --quiet): alleles scored, HTTP requests and connections made during
 the run (not the start-up check), over every --fork worker (workers append
 their counts to a per-run file in TMPDIR that the parent reads and deletes).
 The same file tells later workers that an earlier one waited retry_for in
 vain, so a daemon gone for good is waited for once, not once per worker.

=head1 CONTACT

 The hail-seqscore project, on its issue tracker: give the plugin version and
 the model line of the header (or the summary line), the VEP command and the
 daemon's log.  For VEP itself: Ensembl
 <http://www.ensembl.org/info/about/contact/index.html>.

=head1 EXAMPLES

 ./vep --offline --gtf genes.gtf.gz --fasta chr21.fa.gz -i in.vcf --vcf -o out.vcf \
   --safe --plugin SeqScore,url=http://127.0.0.1:8642,distance=50,cutoff=0.5

 See docs/vep.md of hail-seqscore for the full guide.

=cut

package SeqScore;

use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP;
use List::Util qw(max);
use POSIX ();
use Scalar::Util qw(blessed);
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes ();
use Fcntl ();
use File::Temp ();

use Bio::EnsEMBL::Variation::Utils::BaseVepPlugin;
use base qw(Bio::EnsEMBL::Variation::Utils::BaseVepPlugin);

our $VERSION = '0.3.0';

my @DS_KEYS = qw(DS_AG DS_AL DS_DG DS_DL);
my @DP_KEYS = qw(DP_AG DP_AL DP_DG DP_DL);
my @PARAMS = qw(url model prefix tracks distance mask cutoff split_output batch timeout retry_for token_file);
my %DEFAULTS = (url => 'http://127.0.0.1:8642', batch => 500, timeout => 1800, split_output => 0, retry_for => 60);
my $READY_POLL = 0.5;                # seconds between GET /v1/ready while a lost daemon is waited for
my $MAX_BUSY_RETRIES = 20;           # 503 answers (queue full) retried this often
my $MAX_RETRY_AFTER = 30;            # cap on a daemon's Retry-After, seconds
my $CACHE_MIN = 10_000;              # the result cache holds max(this, 4 x batch) alleles
my $JSON = JSON::PP->new->utf8->canonical;

# The fields of each scorer the plugin can write (a model's `scorer` in GET /v1/models): named
# after the tool whose output the model reproduces, as that tool's VEP plugin or VCF names them.
# CI-SpliceAI writes SpliceAI's format and is scored as `spliceai`.  The record is the shape of
# the daemon's per-gene result: SpliceAI's four delta scores, or Pangolin's gain and loss.
# Track models (kind and scorer `tracks`) write SeqScore_<model>_*: one record per allele, per track.
my %TOOLS = (spliceai => 'SpliceAI', openspliceai => 'OpenSpliceAI', pangolin => 'Pangolin');
my %RECORD = (SpliceAI => 'deltas', OpenSpliceAI => 'deltas', Pangolin => 'gain_loss', Tracks => 'track_effects');
my $TRACKS_TOOL = 'Tracks';
my @GAIN_LOSS_KEYS = qw(gene gain gain_pos loss loss_pos warnings);   # Pangolin's split fields
my $DEFAULT_ERROR_FIELD = 'SeqScore_error';

# ---- parameters --------------------------------------------------------------------------------

=head2 check_params

  Arg 1      : hashref of plugin parameters (key => value strings)
  Description: Validates and normalises the parameters; dies with a message
               that names the parameter, the value and what is expected.
  Returntype : hashref of options

=cut

sub check_params {
  my ($p) = @_;
  my %known = map { $_ => 1 } @PARAMS;
  for my $k (sort keys %$p) {
    die "ERROR: SeqScore: unknown parameter '$k' (known: " . join(', ', @PARAMS) . ")\n"
      unless $known{$k};
  }
  my %o = (%DEFAULTS, %$p);

  $o{url} =~ s{/+$}{};
  die "ERROR: SeqScore: url must look like http://HOST:PORT, got '$o{url}'\n"
    unless $o{url} =~ m{^(https?)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?(/[^\s?#]*)?$};
  my ($scheme, $host) = ($1, $2);
  if ($scheme eq 'https' && !HTTP::Tiny->can_ssl) {
    die "ERROR: SeqScore: url '$o{url}' needs HTTPS but IO::Socket::SSL/Net::SSLeay are not installed\n";
  }
  $o{host} = $host;

  if (defined $o{model}) {
    die "ERROR: SeqScore: model must be a model name (letters, digits, . _ -), got '$o{model}'\n"
      unless $o{model} =~ /^[A-Za-z0-9._-]+$/;
  }
  if (defined $o{prefix}) {
    die "ERROR: SeqScore: prefix must be a field name (a letter, then letters, digits or _, not ending "
      . "in _; the fields become PREFIX_pred, ... or PREFIX, PREFIX_gain, ..., and PREFIX_error), got '$o{prefix}'\n"
      unless $o{prefix} =~ /^[A-Za-z][A-Za-z0-9_]{0,63}$/ && $o{prefix} !~ /_$/;
  }
  if (defined $o{tracks}) {
    die "ERROR: SeqScore: tracks must be 'all', 'none' or track names separated by '/' "
      . "(tracks=NAME/NAME/...; VEP splits plugin parameters on ','), got '$o{tracks}'\n"
      unless $o{tracks} =~ /\S/ && $o{tracks} !~ m{^/|//|/$};
  }
  if (defined $o{distance}) {
    die "ERROR: SeqScore: distance must be an integer from 0 to 4999, got '$o{distance}'\n"
      unless $o{distance} =~ /^\d+$/ && $o{distance} <= 4999;
    $o{distance} += 0;
  }
  if (defined $o{mask}) {
    die "ERROR: SeqScore: mask must be 0 or 1, got '$o{mask}'\n" unless $o{mask} =~ /^[01]$/;
    $o{mask} += 0;
  }
  # SpliceAI.pm turns split_output on for any value it is given; the values its users write
  # (1, yes, true, on) do so here too, and 0 (no, false, off) keeps the joined field
  die "ERROR: SeqScore: split_output must be 1 (or yes, true, on) or 0 (no, false, off), got '$o{split_output}'\n"
    unless $o{split_output} =~ /^(?:[01]|yes|no|true|false|on|off)$/i;
  $o{split_output} = $o{split_output} =~ /^(?:1|yes|true|on)$/i ? 1 : 0;
  if (defined $o{cutoff}) {
    die "ERROR: SeqScore: cutoff must be a number from 0 to 1, got '$o{cutoff}'\n"
      unless $o{cutoff} =~ /^(?:\d+\.?\d*|\.\d+)$/ && $o{cutoff} <= 1;
    $o{cutoff} += 0;
  }
  die "ERROR: SeqScore: batch must be an integer from 1 to 100000, got '$o{batch}'\n"
    unless $o{batch} =~ /^\d+$/ && $o{batch} >= 1 && $o{batch} <= 100_000;
  die "ERROR: SeqScore: timeout must be a positive number of seconds, got '$o{timeout}'\n"
    unless $o{timeout} =~ /^(?:\d+\.?\d*|\.\d+)$/ && $o{timeout} > 0;
  die "ERROR: SeqScore: retry_for must be a number of seconds from 0 (no wait) to 86400, got '$o{retry_for}'\n"
    unless $o{retry_for} =~ /^(?:\d+\.?\d*|\.\d+)$/ && $o{retry_for} <= 86400;
  $o{$_} += 0 for qw(batch timeout retry_for);

  if (defined $o{token_file}) {
    open(my $fh, '<', $o{token_file})
      or die "ERROR: SeqScore: cannot read token_file '$o{token_file}': $!\n";
    my $token = <$fh>;
    close $fh;
    $token = '' unless defined $token;
    $token =~ s/^\s+|\s+$//g;
    die "ERROR: SeqScore: token_file '$o{token_file}' is empty\n" unless length $token;
    $o{token} = $token;
  }
  return \%o;
}

# ---- the plugin --------------------------------------------------------------------------------

sub new {
  my $class = shift;
  my $self = $class->SUPER::new(@_);

  my @bare = grep { !/=/ } @{ $self->params };
  die "ERROR: SeqScore: parameters are key=value pairs, got '" . join(',', @bare) . "'\n" if @bare;
  $self->{opt} = check_params($self->params_to_hash);

  my $config = $self->{config} || {};
  my $format = $config->{output_format} || '';
  $self->{mode} = ($format eq 'json' || $config->{rest}) ? 'json'
                : ($format eq 'vcf' || $self->{opt}{split_output}) ? 'split'
                : 'joined';
  $self->{quiet} = $config->{quiet};
  $self->{safe} = $config->{safe};

  $self->{client} = SeqScore::Client->new(%{ $self->{opt} });
  $self->{cache} = SeqScore::Cache->new(max($CACHE_MIN, 4 * $self->{opt}{batch}));
  $self->{stats} = { requests => 0, alleles => 0, prefetches => 0, fallbacks => 0, unavailable => 0 };
  $self->{pid} = $self->{owner} = $$;    # forked VEP workers report their counts to the owner
  $self->{stats_file} = run_stats_file();
  $self->{provenance} = $self->_check_daemon;

  my $m = $self->{provenance};
  $self->{tool} = tool_for_model($m, $self->{client}{base});
  $self->{names} = field_names($self->{tool}, $self->{opt}{prefix}, $m->{name});
  if ($self->{tool} eq $TRACKS_TOOL) {
    $self->{tracks} = SeqScore::Tracks::setup($m, $self->{opt}, $self->{client}{base});
  }
  elsif (defined $self->{opt}{tracks}) {
    die sprintf("ERROR: SeqScore: tracks=%s: model '%s' is not a track model (its fields are %s_*); "
                . "tracks= is for models of kind tracks (Puffin, Enformer, ...)\n",
                $self->{opt}{tracks}, $m->{name}, $self->{names}{stem});
  }
  $self->{tag} = $self->{names}{error} eq $DEFAULT_ERROR_FIELD ? 'SeqScore' : "SeqScore ($self->{names}{stem})";
  $self->{opt}{model} = $m->{name};    # every request names the model this run started with
  claim_fields($config, $self->{names}, join(',', @{ $self->params }), $m->{name});
  return $self;
}

# Splice scores belong to a gene: transcript lines only.  A track model's effects belong to the
# allele: every line of it (transcripts, regulatory features, intergenic), as VEP's CADD plugin.
sub feature_types {
  my $self = shift;
  return ref $self && $self->{tracks} ? ['Feature', 'Intergenic'] : ['Transcript'];
}

# Structural variants (<DEL>, <DUP>, breakends) too: their lines get TOOL_error=UNSUPPORTED_VARIANT.
sub variant_feature_types { return ['VariationFeature', 'StructuralVariationFeature'] }

# Dies unless the daemon answers /v1/ready and serves the requested model; returns that model's
# entry of GET /v1/models ({name, version, sha256, kind, scorer, ...}).
sub _check_daemon {
  my $self = shift;
  my $c = $self->{client};
  my $hint = "Start it first (seqscore serve --port PORT ...) and pass its address as "
           . "url=http://127.0.0.1:PORT" . ($self->{safe} ? '.' : "; run VEP with --safe so a failing plugin stops the run.");
  my $t = $self->{opt}{timeout};
  $c->{http}->timeout($t < 30 ? $t : 30);      # start-up answers are quick; do not hang VEP
  my $r = $c->request('GET', '/v1/ready');
  my $waited = 0;
  while ($r->{status} == 503 && ref $r->{data} eq 'HASH' && ($r->{data}{status} || '') eq 'loading'
         && $waited < ($t < 600 ? $t : 600)) {     # the daemon is still loading its model
    Time::HiRes::sleep(1);
    $waited++;
    $r = $c->request('GET', '/v1/ready');
  }
  if ($r->{status} == 401 || $r->{status} == 403) {
    die sprintf("ERROR: SeqScore: the seqscore daemon at %s refused the %s (GET /v1/ready: %s). "
                . "Pass token_file=FILE holding the token the daemon was started with.\n",
                $c->{base}, defined $self->{opt}{token} ? 'token from token_file' : 'request without a token',
                describe_failure($r));
  }
  unless ($r->{status} == 200) {
    die sprintf("ERROR: SeqScore: the seqscore daemon at %s is not ready (GET /v1/ready: %s). %s\n",
                $c->{base}, describe_failure($r), $hint);
  }
  $r = $c->request('GET', '/v1/models');
  die sprintf("ERROR: SeqScore: GET %s/v1/models failed: %s\n", $c->{base}, describe_failure($r))
    unless $r->{status} == 200 && $r->{data};
  my ($model, $prov) = pick_model($r->{data}, $self->{opt}{model}, $c->{base});
  $self->{daemon_provenance} = $prov;
  $c->forget_connection;   # so forked VEP processes never share the start-up socket
  $c->{connections} = 0;   # the summary counts the connections of the run, not this probe
  $c->{http}->timeout($t);
  return $model;
}

sub get_header_info {
  my $self = shift;
  return SeqScore::Tracks::header($self->{names}, $self->{tracks}, $self->{provenance}{name},
                                  $self->{mode}, $self->_provenance_text) if $self->{tracks};
  return header_descriptions($self->{names}, $self->{tool}, $self->{mode}, $self->{opt}{cutoff},
                             $self->_provenance_text);
}

# What every header line ends with: plugin, model, daemon, gene table and the settings in force.
sub _provenance_text {
  my $self = shift;
  my $m = $self->{provenance} || {};
  my $prov = sprintf('SeqScore plugin %s, model %s %s (sha256 %s%s), daemon %s',
                     $VERSION, $m->{name} // '?', $m->{version} // '?', $m->{sha256} || '?',
                     ($m->{source} ? "; from $m->{source}" : ''), $self->{client}{base});
  my %o = %{ $self->{opt} };
  my $dp = $self->{daemon_provenance} || {};
  if ($self->{tracks}) {     # no genes: the settings of the reduction
    $prov .= ", reduction $dp->{reduction}" if defined $dp->{reduction} && length $dp->{reduction};
    $prov .= ", radius $dp->{radius} bp" if defined $dp->{radius} && length $dp->{radius};
    $prov .= ', reverse-complement averaged' if $dp->{rc_average};
    $prov .= ", shifts $dp->{shifts}" if defined $dp->{shifts} && length $dp->{shifts} && $dp->{shifts} ne '0';
    return $prov;
  }
  if (defined $dp->{annotation}) {
    (my $ann = $dp->{annotation}) =~ s{.*/}{};
    $prov .= sprintf(', annotation %s (sha256 %s)', $ann, substr($dp->{annotation_sha256} || '?', 0, 16));
  }
  $prov .= ", GTF filter $dp->{annotation_filter}" if defined $dp->{annotation_filter} && !ref $dp->{annotation_filter};
  my $distance = defined $o{distance} ? $o{distance} : $dp->{distance};
  my $mask = defined $o{mask} ? $o{mask} : $dp->{mask};
  $prov .= ", distance $distance" if defined $distance;
  $prov .= ', mask ' . ($mask ? 1 : 0) if defined $mask;
  return $prov;
}

sub run {
  my ($self, $tva) = @_;
  my $vf = $tva->base_variation_feature;
  my $err_field = $self->{names}{error};
  if (ref($vf) =~ /StructuralVariation/) {    # <DEL>, <DUP>, breakends: no sequence to score
    return error_fields($self->{mode}, structural_variant_error($vf, $tva), $err_field);
  }
  my $allele = $tva->can('variation_feature_seq') ? $tva->variation_feature_seq : undef;
  return {} unless defined $allele;

  my ($var, $err) = vcf_variant($vf, $allele);
  return error_fields($self->{mode}, $err, $err_field) if $err;
  my $key = variant_key($var);

  my $res = $self->{cache}->get($key) || $self->{transient}{$key};
  unless ($res) {
    $self->_prefetch($vf, $var);
    $res = $self->{cache}->get($key) || $self->{transient}{$key};
  }
  return {} unless $res;
  return error_fields($self->{mode}, $res->{error}, $err_field) if $res->{error};
  if ($self->{tracks}) {     # one record per allele, written on each of its lines
    $res->{fields} ||= SeqScore::Tracks::fields($res->{scores}, $self->{mode}, $self->{names}, $self->{tracks});
    return { %{ $res->{fields} } };
  }

  my @genes = transcript_genes($tva->can('transcript') ? $tva->transcript : undef);
  return {} unless @genes;
  my $scores = $res->{scores} || [];
  for my $gs (@$scores) {
    return format_fields($gs, $self->{mode}, $self->{opt}{cutoff}, $self->{names}, $scores)
      if gene_matches($gs->{gene}, @genes);
  }
  return {};
}

# Score every allele of the current input buffer (or just this variant) not yet in the cache.
sub _prefetch {
  my ($self, $vf, $var) = @_;
  $self->_note_process;
  my $buffer = current_input_buffer();
  my @vfs = $buffer ? @{ $buffer->buffer || [] } : ();
  if (@vfs) { $self->{stats}{prefetches}++ } else { $self->{stats}{fallbacks}++ }

  my (%seen, @todo);
  my $add = sub {
    my $v = shift;
    my $k = variant_key($v);
    return if $seen{$k}++ || $self->{cache}->get($k);
    push @todo, $v;
  };
  $add->($var);
  for my $alt (alt_alleles($vf)) {     # the variant's other alleles come along
    my ($v) = vcf_variant($vf, $alt);
    $add->($v) if $v;
  }
  for my $other (@vfs) {
    next if ref($other) =~ /StructuralVariation/ || $other->{non_variant};
    next if !$self->{tracks} && $other->can('get_all_TranscriptVariations')    # splice: genes only
         && !@{ $other->get_all_TranscriptVariations || [] };
    for my $alt (alt_alleles($other)) {
      my ($v) = vcf_variant($other, $alt);
      $add->($v) if $v;
    }
  }

  $self->{cache}->ensure(2 * @todo);   # a buffer larger than the cache must not evict itself
  $self->{transient} = {};
  while (my @chunk = splice(@todo, 0, $self->{opt}{batch})) {
    my $outcomes = $self->_score_chunk(\@chunk);
    for my $i (0 .. $#chunk) {
      my $k = variant_key($chunk[$i]);
      if ($outcomes->[$i]{transient}) { $self->{transient}{$k} = $outcomes->[$i] }
      else                            { $self->{cache}->put($k, $outcomes->[$i]) }
    }
  }
  $self->_report_worker_stats;
}

# One outcome per variant: the daemon's result, or {error, transient => 1} when the whole
# request failed.  A request the daemon finds too large (413) is halved, and so is `batch`.
sub _score_chunk {
  my ($self, $chunk) = @_;
  my ($results, $error) = $self->_score($chunk);
  return $results if $results;
  if ($error->{code} eq 'PAYLOAD_TOO_LARGE' && @$chunk > 1) {
    my $half = int(@$chunk / 2);
    if ($half < $self->{opt}{batch}) {
      warn "$self->{tag}: the daemon refused " . scalar(@$chunk) . " alleles in one request (413); "
         . "sending at most $half per request from now on\n" unless $self->{quiet};
      $self->{opt}{batch} = $half;
    }
    return [ @{ $self->_score_chunk([ @$chunk[0 .. $half - 1] ]) },
             @{ $self->_score_chunk([ @$chunk[$half .. $#$chunk] ]) } ];
  }
  $self->{stats}{unavailable} += @$chunk;
  return [ map { { error => $error, transient => 1 } } @$chunk ];
}

# One POST /v1/score with retries; returns (\@results in input order) or (undef, $error).
# A lost daemon (no answer, 502/504, 503 without Retry-After) gets one immediate retry on a
# fresh connection, then is waited for: GET /v1/ready every 0.5 s for up to retry_for seconds
# (a restarted daemon loads its model first), and the request is sent again once it is ready.
# After a wait that ran out, later requests try once each without waiting.
sub _score {
  my ($self, $variants) = @_;
  my $c = $self->{client};
  my $body = request_body($variants, $self->{opt});
  my $what = describe_request($variants);
  my ($attempts, $busy_tries, $last, $ready, $t0, $deadline) = (0, 0, undef, undef, undef, undef);
  while (1) {
    $self->{stats}{requests}++;
    $attempts++;
    my $r = $c->request('POST', '/v1/score', $body);
    if ($r->{status} == 200) {
      my ($results, $err) = parse_response($r->{data}, $variants);
      my $sha = ref $r->{data} eq 'HASH' && ref $r->{data}{provenance} eq 'HASH' ? $r->{data}{provenance}{model_sha256} : undef;
      my $want = $self->{provenance}{sha256};
      if ($results && defined $sha && defined $want && $sha ne $want) {
        my $msg = "the daemon at $c->{base} now serves model sha256 $sha, not the $want this run started with "
                . "(its header names that one); restart VEP";
        warn "$self->{tag}: $msg\n" unless $self->{model_changed}++;
        return (undef, { code => 'MODEL_CHANGED', message => $msg });
      }
      if ($results) {
        $self->{stats}{alleles} += @$variants;
        if ($self->{lost} || defined $t0) {
          warn sprintf("%s: the seqscore daemon at %s answers again%s\n", $self->{tag}, $c->{base},
                       defined $t0 ? sprintf(' after %.1f s', Time::HiRes::time() - $t0) : '') unless $self->{quiet};
          $self->_share_state('answers') if $self->{lost};
          $self->{lost} = 0;
        }
      }
      return ($results, $err);
    }
    $last = $r;
    if ($r->{status} == 503 && $busy_tries < $MAX_BUSY_RETRIES && ($r->{headers}{'retry-after'} || '') ne '') {
      $busy_tries++;
      my $wait = $r->{headers}{'retry-after'};
      $wait = 1 unless $wait =~ /^\d+(?:\.\d+)?$/;
      Time::HiRes::sleep($wait > $MAX_RETRY_AFTER ? $MAX_RETRY_AFTER : $wait);
      next;
    }
    if (is_lost($r)) {
      last if $self->{lost};                  # known lost: one try per request, no wait
      $c->forget_connection;
      next if $attempts == 1;                 # a stale kept-alive connection: once more, at once
      last if $self->{opt}{retry_for} <= 0;
      unless (defined $t0) {
        $t0 = Time::HiRes::time();
        $deadline = $t0 + $self->{opt}{retry_for};
        warn "$self->{tag}: no answer from the seqscore daemon at $c->{base} to $what (" . describe_failure($r)
           . "); waiting up to $self->{opt}{retry_for} s (retry_for) for it to answer GET /v1/ready\n" unless $self->{quiet};
      }
      last if Time::HiRes::time() >= $deadline;
      ($ready) = $self->_wait_ready($deadline);
      last if is_lost($ready);
      next;
    }
    # a definite answer the daemon will repeat (400, 401, 413, 500, ...): no retry
    if ($r->{status} == 400 && ref $r->{data} eq 'HASH' && ref $r->{data}{error} eq 'HASH'
        && ($r->{data}{error}{field} || '') eq 'model') {
      my $msg = "the daemon at $c->{base} no longer serves model '$self->{opt}{model}' this run started with "
              . "(its header names that one): " . describe_failure($r) . "; restart VEP";
      warn "$self->{tag}: $msg\n" unless $self->{model_changed}++;
      return (undef, { code => 'MODEL_CHANGED', message => $msg });
    }
    return (undef, error_from_response($r, $what));
  }
  my $msg = sprintf('no answer from the seqscore daemon at %s to %s after %d attempt%s%s: %s',
                    $c->{base}, $what, $attempts, ($attempts == 1 ? '' : 's'),
                    (defined $t0 ? sprintf(' and %.1f s waiting for it (retry_for=%s)', Time::HiRes::time() - $t0,
                                           $self->{opt}{retry_for}) : ''),
                    describe_failure($last));
  $msg .= '; GET /v1/ready: ' . describe_failure($ready)
    if $ready && is_lost($ready) && describe_failure($ready) ne describe_failure($last);
  unless ($self->{lost}) {
    warn "$self->{tag}: $msg; the alleles of this request carry $self->{names}{error}=DAEMON_UNAVAILABLE. "
       . "Later requests try once each without waiting: restart the daemon, or stop VEP.\n";
    $self->{lost} = 1;
    $self->_share_state('lost');
  }
  return (undef, { code => 'DAEMON_UNAVAILABLE', message => $msg });
}

# GET /v1/ready every $READY_POLL s until the daemon answers (200, or a definite refusal such as
# 401 that the request will then get too) or $deadline passes; returns its last answer.
sub _wait_ready {
  my ($self, $deadline) = @_;
  my $c = $self->{client};
  my $t = $self->{opt}{timeout};
  $c->{http}->timeout($t < 5 ? $t : 5);      # a ready check is quick
  my $r;
  while (1) {
    $self->{stats}{ready_polls}++;
    $r = $c->request('GET', '/v1/ready');
    last unless is_lost($r);       # 503 while it loads its model counts as not yet there
    my $left = $deadline - Time::HiRes::time();
    last if $left <= 0;
    Time::HiRes::sleep($left < $READY_POLL ? $left : $READY_POLL);
  }
  $c->{http}->timeout($t);
  return ($r);
}

# A forked VEP worker (a pid other than the last seen) opens its own connection and counts
# from here: the counts it inherited belong to its parent.
# It also starts from the last state of the daemon another worker found: once a worker's wait
# ran out, later workers try once each without waiting too (and say nothing more), until one of
# them finds the daemon back.
sub _note_process {
  my $self = shift;
  return if $self->{pid} == $$;
  $self->{pid} = $$;
  $self->{client}->forget_connection;
  $self->{reported} = { %{ $self->{stats} }, connections => $self->{client}{connections} };
  my $state = '';
  if ($self->{stats_file} && open(my $fh, '<', $self->{stats_file})) {
    while (my $line = <$fh>) { $state = $1 if $line =~ /\sdaemon=(\w+)$/ }   # never $_: VEP's callers alias it
    close $fh;
  }
  $self->{lost} = 1 if $state eq 'lost';
}

# A forked worker tells the next ones (through the stats file) that the daemon is lost or back.
sub _share_state {
  my ($self, $state) = @_;
  return if $$ == $self->{owner} || !$self->{stats_file};
  _append_line($self->{stats_file}, "$$ daemon=$state");
}

sub _append_line {
  my ($file, $line) = @_;
  open(my $fh, '>>', $file) or return;
  flock($fh, Fcntl::LOCK_EX());
  print $fh "$line\n";
  close $fh;
}

# VEP calls finish() in its parent process only: a forked worker appends what it counted since
# its last report to the run's stats file, for the parent's summary line.
sub _report_worker_stats {
  my $self = shift;
  return if $$ == $self->{owner} || !$self->{stats_file};
  my %now = (%{ $self->{stats} }, connections => $self->{client}{connections});
  my $base = $self->{reported} || {};
  my @delta = map { "$_=" . (($now{$_} || 0) - ($base->{$_} || 0)) } sort keys %now;
  return unless grep { !/=0$/ } @delta;
  _append_line($self->{stats_file}, join(' ', $$, @delta));
  $self->{reported} = \%now;
}

sub finish {
  my $self = shift;
  return if $$ != ($self->{owner} // $$);    # a forked worker (VEP does not call this in them)
  my %s = (%{ $self->{stats} }, connections => $self->{client}{connections});
  my %workers;
  if (my $file = delete $self->{stats_file}) {
    if (open(my $fh, '<', $file)) {
      while (my $line = <$fh>) {
        my ($pid, @kv) = split ' ', $line;
        next if "@kv" =~ /^daemon=/;
        $workers{$pid} = 1;
        for my $kv (@kv) { my ($k, $v) = split /=/, $kv; $s{$k} += $v if defined $v && $v =~ /^-?\d+$/ }
      }
      close $fh;
    }
    unlink $file;
  }
  return if $self->{quiet} || !$s{requests};
  my $n = keys %workers;
  warn sprintf("SeqScore: %d alleles scored in %d HTTP requests over %d connections%s "
             . "(%d buffer prefetches, %d per-variant requests)%s; model %s, fields %s_*, %s\n",
               $s{alleles}, $s{requests}, $s{connections},
               ($n ? sprintf(' by %d forked process%s', $n, $n == 1 ? '' : 'es') : ''),
               $s{prefetches}, $s{fallbacks},
               ($s{unavailable} ? "; $s{unavailable} alleles unscored by failed requests ($self->{names}{error})" : ''),
               $self->{provenance}{name} // '?', $self->{names}{stem}, $self->{names}{error});
}

sub DESTROY {
  my $self = shift;
  unlink $self->{stats_file} if $self->{stats_file} && $self->{owner} && $$ == $self->{owner};
}

# ---- pure helpers (tested in t/00-pure.t) ----------------------------------------------------

=head2 current_input_buffer

  Description: The VEP InputBuffer being written out, found among the arguments
               of the calling frames (OutputFactory::get_all_*_by_InputBuffer,
               Runner::_buffer_to_output); undef where there is none.

=cut

sub current_input_buffer {
  for my $level (1 .. 64) {
    my @frame;
    {
      package DB;    # caller() fills @DB::args only when called from package DB
      @frame = caller($level);
    }
    last unless @frame;
    next unless $frame[4];    # frame has no arguments of its own
    for my $arg (@DB::args) {
      return $arg if blessed($arg) && ref($arg) =~ /(?:^|::)InputBuffer$/ && $arg->can('buffer');
    }
  }
  return undef;
}

# The ALT alleles of a VariationFeature as Ensembl writes them ('-' for none).
sub alt_alleles {
  my ($vf) = @_;
  my $as = blessed($vf) && $vf->can('allele_string') ? $vf->allele_string : $vf->{allele_string};
  my @a = split m{/}, (defined $as ? $as : '');
  shift @a;
  return @a;
}

=head2 vcf_variant

  Arg 1      : a VariationFeature (Ensembl coordinates: '-' alleles, start > end for insertions)
  Arg 2      : one ALT allele of it, as in its allele string
  Description: The allele in VCF form {chrom, pos, ref, alt}: indels get back the base
               before them, taken from the VCF line VEP read or from the reference slice.
  Returntype : (hashref) or (undef, {code, message})

=cut

sub vcf_variant {
  my ($vf, $alt) = @_;
  my $chrom = defined $vf->{chr} ? $vf->{chr}
            : (blessed($vf) && $vf->can('seq_region_name')) ? $vf->seq_region_name : undef;
  my ($start, $end) = ($vf->{start}, $vf->{end});
  my @alleles = split m{/}, (blessed($vf) && $vf->can('allele_string') ? $vf->allele_string
                                                                        : ($vf->{allele_string} || ''));
  my $ref = $alleles[0];
  my $where = defined $chrom && defined $start ? "$chrom:$start" : 'variant';
  return (undef, { code => 'INVALID_VARIANT', message => "$where has no chromosome, start or alleles" })
    unless defined $chrom && defined $start && defined $ref && defined $alt;
  ($ref, $alt) = (uc $ref, uc $alt);
  if (my $why = unscorable_allele($alt)) {
    return (undef, { code => 'UNSUPPORTED_VARIANT', message => "$where: ALT $alt $why" });
  }
  if (($vf->{strand} || 1) < 0) {
    for ($ref, $alt) { next if $_ eq '-'; $_ = reverse $_; tr/ACGTN/TGCAN/ }
  }
  # VEP drops the base an indel record's alleles share (start = VCF POS + 1, '-' for none);
  # put it back so the daemon sees the alleles as the VCF had them
  my $line = $vf->{_line};
  my $trimmed = (ref $line eq 'ARRAY' && defined $line->[1] && $line->[1] =~ /^\d+$/ && $line->[1] == $start - 1)
             || grep { $_ eq '-' } @alleles, $alt;
  return { chrom => "$chrom", pos => $start + 0, ref => $ref, alt => $alt } unless $trimmed;

  my $anchor = anchor_base($vf, $start - 1);
  return (undef, { code => 'UNSUPPORTED_VARIANT',
                   message => "$where: the base before the indel is unknown (give VEP --fasta or VCF input)" })
    unless defined $anchor;
  return { chrom => "$chrom", pos => $start - 1,
           ref => $anchor . ($ref eq '-' ? '' : $ref), alt => $anchor . ($alt eq '-' ? '' : $alt) };
}

# The reference base at 1-based $pos: from the VCF line VEP read, else from the VF's slice.
sub anchor_base {
  my ($vf, $pos) = @_;
  my $line = $vf->{_line};
  if (ref $line eq 'ARRAY' && defined $line->[1] && $line->[1] =~ /^\d+$/ && $line->[1] == $pos
      && defined $line->[3] && $line->[3] =~ /^[ACGTNacgtn]/) {
    return uc substr($line->[3], 0, 1);
  }
  my $slice = blessed($vf) && $vf->can('slice') ? eval { $vf->slice } : undef;
  if ($slice && $pos >= 1) {
    my $base = eval { $slice->subseq($pos - $slice->start + 1, $pos - $slice->start + 1, 1) };
    return uc $base if defined $base && $base =~ /^[ACGTNacgtn]$/;
  }
  return undef;
}

sub variant_key { my $v = shift; return join(':', @{$v}{qw(chrom pos ref alt)}) }

=head2 request_body

  Description: The JSON body of POST /v1/score for a list of VCF-form variants.

=cut

sub request_body {
  my ($variants, $opt) = @_;
  my %body = (variants => [ map { { chrom => $_->{chrom}, pos => $_->{pos} + 0,
                                    ref => $_->{ref}, alt => $_->{alt} } } @$variants ]);
  $body{distance} = $opt->{distance} + 0 if defined $opt->{distance};
  $body{mask} = $opt->{mask} + 0 if defined $opt->{mask};
  $body{model} = $opt->{model} if defined $opt->{model};
  return $JSON->encode(\%body);
}

=head2 parse_response

  Arg 1      : the decoded JSON of a 200 answer to POST /v1/score
  Arg 2      : the variants that were sent
  Description: One result per variant sent, joined back by the variant the daemon
               echoes; each {scores => [...]} or {error => {code, message}}.
  Returntype : (\@results) or (undef, {code, message}) when the answer is malformed

=cut

sub parse_response {
  my ($data, $variants) = @_;
  my $bad = sub { return (undef, { code => 'BAD_RESPONSE', message => "the daemon's answer $_[0]" }) };
  return $bad->('is not a JSON object with results') unless ref $data eq 'HASH' && ref $data->{results} eq 'ARRAY';
  my $results = $data->{results};
  return $bad->(sprintf('has %d results for %d variants', scalar @$results, scalar @$variants))
    unless @$results == @$variants;
  my %by_key;
  for my $r (@$results) {
    return $bad->('holds a result that is not an object') unless ref $r eq 'HASH';
    $by_key{ variant_key($r->{variant}) } = $r if ref $r->{variant} eq 'HASH';
  }
  my @out;
  for my $i (0 .. $#$variants) {
    my $v = $variants->[$i];
    my $r = $by_key{ variant_key($v) };
    unless ($r) {   # the daemon may spell the contig differently (chr21 / 21): match the rest
      my $e = $results->[$i]{variant};
      $r = $results->[$i] if ref $e eq 'HASH' && ($e->{pos} || 0) == $v->{pos}
                             && ($e->{ref} || '') eq $v->{ref} && ($e->{alt} || '') eq $v->{alt};
    }
    return $bad->("has no result for $v->{chrom}:$v->{pos}:$v->{ref}>$v->{alt}") unless $r;
    if (ref $r->{error} eq 'HASH') {
      push @out, { error => { code => $r->{error}{code} || 'ERROR', message => $r->{error}{message} || '' } };
    }
    elsif (ref $r->{scores} eq 'ARRAY') {
      push @out, { scores => $r->{scores} };
    }
    else {
      return $bad->("holds neither scores nor error for $v->{chrom}:$v->{pos}");
    }
  }
  return (\@out);
}

sub fmt_ds { my $x = shift; return defined $x ? sprintf('%.2f', $x) : '.' }
sub fmt_dp { my $x = shift; return defined $x ? sprintf('%d', $x) : '.' }

=head2 format_fields

  Arg 1      : one gene's scores as the daemon sends them: {gene, ds_ag, ..., dp_dl} (SpliceAI's
               record) or {gene, gain, gain_pos, loss, loss_pos, warnings} (Pangolin's)
  Arg 2      : 'joined' (SpliceAI_pred, Pangolin), 'split' (SpliceAI_pred_DS_AG ..., Pangolin_gain
               ...) or 'json'
  Arg 3      : optional cutoff
  Arg 4      : optional field names (field_names); default SpliceAI's
  Arg 5      : Pangolin: every gene's scores of the allele (its joined field holds them all);
               default [Arg 1]
  Returntype : hashref of VEP output fields

=cut

sub format_fields {
  my ($gs, $mode, $cutoff, $names, $all) = @_;
  $names ||= field_names('SpliceAI');
  return gain_loss_fields($gs, $mode, $cutoff, $names, $all || [$gs]) if $names->{record} eq 'gain_loss';
  my @ds = map { fmt_ds($gs->{ lc $_ }) } @DS_KEYS;
  my @dp = map { fmt_dp($gs->{ lc $_ }) } @DP_KEYS;
  my %f;
  if ($mode eq 'joined') {
    %f = ($names->{pred} => join('|', $gs->{gene}, @ds, @dp));
  }
  else {
    my $prefix = $mode eq 'json' ? '' : $names->{split};
    $f{ $prefix . 'SYMBOL' } = $gs->{gene};
    @f{ map { $prefix . $_ } @DS_KEYS, @DP_KEYS } = (@ds, @dp);
  }
  if (defined $cutoff) {
    my @num = grep { $_ ne '.' } @ds;
    $f{ $names->{cutoff} } = (max(@num) >= $cutoff ? 'PASS' : 'FAIL') if @num;
  }
  return $mode eq 'json' ? { $names->{json} => \%f } : \%f;
}

=head2 fmt_gain_loss

  Arg 1      : a Pangolin gain or loss as the daemon sends it (unrounded)
  Description: The value as the Pangolin CLI prints it: Python's repr of numpy's round(x, 2) on
               the CLI's float32 (float64 for deletions; the daemon's rule: a value a float32
               holds exactly is rounded as float32): 0.07, 0.1, 1.0, 0.0, -0.0.  numpy rounds
               x * 100 in the value's precision to the nearest integer, ties to even, so
               0.42500001192092896 (float32 0.425) gives 0.42 where sprintf('%.2f') gives 0.43;
               negative values that round to zero keep their sign.
  Returntype : string ('.' for undef)

=cut

sub fmt_gain_loss {
  my $x = shift;
  return '.' unless defined $x;
  my $negative = unpack('C', pack('d>', $x)) >= 0x80;   # the sign bit, so -0.0 too
  my $mag = abs($x);                                     # rounding is symmetric: work on |x|
  my $y = unpack("f", pack("f", $mag)) == $mag ? unpack("f", pack("f", $mag * 100)) : $mag * 100;
  my $k = POSIX::floor($y);
  my $frac = $y - $k;
  $k += 1 if $frac > 0.5 || ($frac == 0.5 && $k % 2);
  (my $text = sprintf('%.2f', $k / 100)) =~ s/0$//;       # repr: 0.07, 0.1, 1.0
  return ($negative ? '-' : '') . $text;
}

# One gene's block as the Pangolin CLI writes it: gene|pos:gain|pos:loss|Warnings:...
sub gain_loss_block {
  my $gs = shift;
  return join('|', $gs->{gene} // '', fmt_dp($gs->{gain_pos}) . ':' . fmt_gain_loss($gs->{gain}),
              fmt_dp($gs->{loss_pos}) . ':' . fmt_gain_loss($gs->{loss}), 'Warnings:' . ($gs->{warnings} // ''));
}

# Pangolin's fields (format_fields): the joined field is the allele's value as the CLI writes it
# (every gene's block); split and JSON fields hold the line's gene, the cutoff flag its larger of
# |gain| and |loss| as printed.
sub gain_loss_fields {
  my ($gs, $mode, $cutoff, $names, $all) = @_;
  my %v = (gene => $gs->{gene}, gain => fmt_gain_loss($gs->{gain}), gain_pos => fmt_dp($gs->{gain_pos}),
           loss => fmt_gain_loss($gs->{loss}), loss_pos => fmt_dp($gs->{loss_pos}), warnings => $gs->{warnings} // '');
  my %f;
  if ($mode eq 'joined') {
    %f = ($names->{pred} => join(',', map { gain_loss_block($_) } @$all));
  }
  elsif ($mode eq 'json') {
    %f = (%v, all_genes => join(',', map { gain_loss_block($_) } @$all));
  }
  else {    # tab and VCF output: no empty warnings field
    $f{ $names->{split} . $_ } = $v{$_} for grep { $_ ne 'warnings' || length $v{$_} } @GAIN_LOSS_KEYS;
  }
  if (defined $cutoff) {
    my @num = grep { $_ ne '.' } @v{qw(gain loss)};
    $f{ $names->{cutoff} } = (max(map { abs } @num) >= $cutoff ? 'PASS' : 'FAIL') if @num;
  }
  return $mode eq 'json' ? { $names->{json} => \%f } : \%f;
}

=head2 header_descriptions

  Arg 1      : field names (field_names)
  Arg 2      : the tool (SpliceAI, OpenSpliceAI, Pangolin)
  Arg 3      : the output mode ('joined', 'split', 'json')
  Arg 4      : the cutoff, or undef
  Arg 5      : the provenance every description ends with
  Returntype : hashref {field => description} of every field one plugin line writes

=cut

sub header_descriptions {
  my ($n, $tool, $mode, $cutoff, $prov) = @_;
  my %h;
  if ($n->{record} eq 'gain_loss') {
    my $pos = 'bp from the variant, negative = upstream on the forward strand';
    my %what = (gain => 'largest increase in splice-site usage over the tissues within the distance',
                loss => 'largest decrease in splice-site usage over the tissues within the distance (<= 0; 0 where masked)');
    if ($mode eq 'joined') {
      $h{ $n->{pred} } = "$tool splice scores of the allele as the $tool CLI writes them (its INFO value), "
        . "computed on the fly ($prov). Format: gene|pos:gain|pos:loss|Warnings:... for every gene scored, "
        . "joined by ','; gain = $what{gain}, loss = $what{loss}, as $tool prints round(x, 2); pos in $pos";
    }
    elsif ($mode eq 'json') {
      $h{ $n->{json} } = "$tool gain and loss for the line's gene, computed on the fly ($prov). Keys: gene, gain, "
        . "gain_pos, loss, loss_pos, warnings, all_genes (the allele's value as the $tool CLI writes it)";
    }
    else {
      my $s = $n->{split};
      $h{"${s}gene"} = "gene (the daemon's name: a GTF's gene_id) the $tool scores of this line refer to, "
        . "the transcript's gene ($prov)";
      $h{"${s}$_"} = "$tool $_: $what{$_}, as $tool prints round(x, 2) ($prov)" for qw(gain loss);
      $h{"${s}${_}_pos"} = "$tool position of the $_, in $pos ($prov)" for qw(gain loss);
      $h{"${s}warnings"} = "$tool warning for this gene (NoAnnotatedSitesToMaskForThisGene); absent when none ($prov)";
    }
    $h{ $n->{cutoff} } = "PASS if the larger of $tool |gain| and |loss| for the line's gene (as printed, 2 decimals) "
      . "is >= $cutoff, FAIL otherwise ($prov)" if defined $cutoff;
  }
  else {
    if ($mode eq 'joined') {
      $h{ $n->{pred} } = "$tool delta scores (DS) and positions (DP) for acceptor gain (AG), "
        . "acceptor loss (AL), donor gain (DG) and donor loss (DL), as $tool writes them, computed on the fly "
        . "($prov). Format: SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL";
    }
    elsif ($mode eq 'json') {
      $h{ $n->{json} } = "$tool delta scores and positions, computed on the fly ($prov). "
        . "Keys: SYMBOL, DS_AG, DS_AL, DS_DG, DS_DL, DP_AG, DP_AL, DP_DG, DP_DL";
    }
    else {
      my %what = (AG => 'acceptor gain', AL => 'acceptor loss', DG => 'donor gain', DL => 'donor loss');
      $h{ $n->{split} . 'SYMBOL' } = "gene symbol the $tool scores refer to ($prov)";
      for my $t (sort keys %what) {
        $h{ $n->{split} . "DS_$t" } = "$tool delta score (0-1) for $what{$t} ($prov)";
        $h{ $n->{split} . "DP_$t" } = "$tool delta position (bp from the variant) of the $what{$t} ($prov)";
      }
    }
    $h{ $n->{cutoff} } = "PASS if the largest $tool delta score is >= $cutoff, FAIL otherwise ($prov)"
      if defined $cutoff;
  }
  $h{ $n->{error} } = "Why the $tool scores of this allele are missing: CODE:message ($prov)";
  return \%h;
}

=head2 transcript_genes / gene_matches

  Description: The names a transcript's gene goes by (symbol, else HGNC name; gene stable ID),
               and whether a gene the daemon scored is that gene: its name equals one of them,
               Ensembl IDs also without their version (ENSG00000154719.14 = ENSG00000154719).
               SpliceAI gene tables name genes by symbol, Pangolin by the GTF's gene_id.

=cut

sub transcript_genes {
  my $tr = shift;
  return () unless ref $tr;
  return grep { defined && length } ($tr->{_gene_symbol} || $tr->{_gene_hgnc}), $tr->{_gene_stable_id};
}

sub unversioned { my $id = shift; $id =~ s/^(ENS[A-Z]*G\d+)\.\d+$/$1/; return $id }

sub gene_matches {
  my ($gene, @names) = @_;
  return 0 unless defined $gene && length $gene;
  my $bare = unversioned($gene);
  return scalar grep { $_ eq $gene || unversioned($_) eq $bare } @names;
}

# The per-allele error field; tab and VCF output get a value without separators VEP uses.
sub error_fields {
  my ($mode, $err, $field) = @_;
  my $text = ($err->{code} || 'ERROR') . ':' . ($err->{message} || '');
  if ($mode ne 'json') {
    $text =~ s/[\s;=,|&]+/_/g;
    $text = substr($text, 0, 300);
  }
  return { ($field || $DEFAULT_ERROR_FIELD) => $text };
}

=head2 pick_model

  Arg 1      : the decoded answer of GET /v1/models: {models => [{name, version, sha256, kind,
               scorer, ...}, ...], provenance => {...}} (or a bare list)
  Arg 2      : the model= parameter, or undef for the daemon's default (the model the answer
               names as "default", else the first entry)
  Arg 3      : the daemon's URL, for messages
  Description: The entry of the requested model, picked by name (else by one of its "aliases"),
               and the daemon's provenance of it (annotation, distance, mask); dies naming the
               served models when it is absent.
  Returntype : ($model_entry, $provenance)

=cut

sub pick_model {
  my ($data, $want, $base) = @_;
  my $models = ref $data eq 'ARRAY' ? $data : ref $data eq 'HASH' && ref $data->{models} eq 'ARRAY' ? $data->{models} : [];
  my @models = grep { ref $_ eq 'HASH' && defined $_->{name} } @$models;
  die "ERROR: SeqScore: $base/v1/models lists no model\n" unless @models;
  my $default = ref $data eq 'HASH' && defined $data->{default} && !ref $data->{default} ? $data->{default} : undef;
  my ($model) = defined $want ? (grep({ $_->{name} eq $want } @models),
                                 grep({ ref $_->{aliases} eq 'ARRAY' && grep { $_ eq $want } @{ $_->{aliases} } } @models))
              : ((defined $default ? grep { $_->{name} eq $default } @models : ()), $models[0]);
  unless ($model) {
    die sprintf("ERROR: SeqScore: the daemon at %s does not serve model '%s' (it serves: %s). "
                . "Pass one of those as model=NAME, or start a daemon with --model %s.\n",
                $base, $want, join(', ', map { $_->{name} } @models), $want);
  }
  # the daemon's provenance of this model: its own entry's, else the answer's when it is about
  # this model (a one-model daemon), else the answer's entry for it (keyed by model name)
  my $top = ref $data eq 'HASH' && ref $data->{provenance} eq 'HASH' ? $data->{provenance} : {};
  my $prov = ref $model->{provenance} eq 'HASH' ? $model->{provenance}
           : ref $top->{ $model->{name} } eq 'HASH' ? $top->{ $model->{name} }
           : (!defined $top->{model} || $top->{model} eq $model->{name}
              || (defined $top->{model_sha256} && $top->{model_sha256} eq ($model->{sha256} // ''))) ? $top
           : {};
  return ($model, $prov);
}

=head2 tool_for_model

  Arg 1      : a model's entry of GET /v1/models
  Description: The tool whose fields the model's scores are written as (SpliceAI, OpenSpliceAI,
               Pangolin; Tracks for regulatory track models, whose fields are named after the
               model), from its kind and scorer (absent: splice / spliceai, as daemons before
               them); dies for a model whose output this plugin cannot write.

=cut

sub tool_for_model {
  my ($m, $base) = @_;
  my $kind = defined $m->{kind} ? $m->{kind} : 'splice';
  my $scorer = defined $m->{scorer} ? $m->{scorer} : 'spliceai';
  return $TOOLS{$scorer} if $kind eq 'splice' && $TOOLS{$scorer};
  return $TRACKS_TOOL if $kind eq 'tracks' && $scorer eq 'tracks';
  die sprintf("ERROR: SeqScore: model '%s' at %s is a %s model scored as %s; this SeqScore.pm (%s) writes "
              . "fields only for splice models scored as %s, and track models (kind tracks: SeqScore_<model>_*). "
              . "Pick another model with model=NAME, or use a SeqScore.pm that knows %s.\n",
              $m->{name}, $base // 'the daemon', $kind, $scorer, $VERSION,
              join(', ', map { "$_ ($TOOLS{$_}_*)" } sort keys %TOOLS), $scorer);
}

=head2 field_names

  Arg 1      : the tool (SpliceAI, OpenSpliceAI, Pangolin, Tracks)
  Arg 2      : optional prefix= (replaces the tool's name in every field)
  Arg 3      : the model's name (Tracks: the stem is SeqScore_<model>, as the CLI's INFO key)
  Description: The names of the fields one plugin line writes, where STEM is the prefix or else
               the tool's name: STEM_pred (joined), STEM_pred_DS_AG ... (split) for SpliceAI's
               record; STEM (joined: the CLI's value), STEM_gain ... (split) for Pangolin's and
               STEM (the CLI's value), STEM_<track> ... for a track model's; STEM_cutoff, the
               JSON key STEM and STEM_error for all.  SpliceAI's fields keep the error field
               SeqScore_error (its name before the plugin wrote other tools').
  Returntype : hashref {stem, record, pred (the joined field), split (split fields' prefix),
               cutoff, json, error}

=cut

sub field_names {
  my ($tool, $prefix, $model) = @_;
  my $stem = defined $prefix ? $prefix
           : $tool eq $TRACKS_TOOL ? SeqScore::Tracks::model_stem($model)
           : $tool;
  my $record = $RECORD{$tool} || 'deltas';
  my %joined = $record ne 'deltas' ? (pred => $stem, split => "${stem}_")
                                      : (pred => "${stem}_pred", split => "${stem}_pred_");
  return { stem => $stem, record => $record, %joined, cutoff => "${stem}_cutoff",
           json => $stem, error => $stem eq 'SpliceAI' ? $DEFAULT_ERROR_FIELD : "${stem}_error" };
}

# Two plugin lines of one VEP run (they share VEP's config hash) must not write fields of one
# name: VEP would keep one header line and the values of whichever ran last.  A line given again
# with the same parameters is the same line (VEP made it twice), not a clash.
sub claim_fields {
  my ($config, $names, $params, $model) = @_;
  return unless ref $config eq 'HASH';
  my $claims = $config->{_seqscore_fields} ||= {};
  for my $field ($names->{stem}, $names->{error}) {
    my $other = $claims->{$field};
    if ($other && $other->{params} ne $params) {
      die sprintf("ERROR: SeqScore: two SeqScore plugin lines would both write %s (model %s with '%s', "
                  . "and model %s with '%s'). Give one of them prefix=NAME (its fields become NAME_..., "
                  . "NAME_error).\n", $field =~ /_error$/ ? $field : "${field}_*",
                  $other->{model}, $other->{params}, $model, $params);
    }
  }
  $claims->{$_} = { params => $params, model => $model } for $names->{stem}, $names->{error};
}

# No answer from the daemon, or the answer of something in front of it (a proxy) while it is gone.
sub is_lost { my $r = shift; return scalar grep { $r->{status} == $_ } 599, 502, 503, 504 }

# The file forked workers append their counts to (finish()); undef where none can be made.
sub run_stats_file {
  my ($fh, $path) = eval { File::Temp::tempfile('seqscore-vep-stats-XXXXXXXX', TMPDIR => 1, UNLINK => 0) };
  return undef unless $fh;
  close $fh;
  return $path;
}

# The request a message is about: POST /v1/score of 2 alleles (21:100:A>C to 21:180:G>GT).
sub describe_request {
  my $vs = shift;
  my $show = sub { my $v = shift; my ($r, $a) = map { length > 12 ? substr($_, 0, 10) . '..' : $_ } @{$v}{qw(ref alt)};
                   return "$v->{chrom}:$v->{pos}:$r>$a" };
  my $n = @$vs;
  return sprintf('POST /v1/score of %d allele%s (%s)', $n, $n == 1 ? '' : 's',
                 $n == 1 ? $show->($vs->[0]) : $show->($vs->[0]) . ' to ' . $show->($vs->[-1]));
}

=head2 unscorable_allele / structural_variant_error

  Description: Why an ALT allele has no sequence a model could score ('*': a deletion given on
               another line; <DEL> and other symbolic alleles; breakends; '.'), or undef; and
               the error of a structural variant's line.  Both are UNSUPPORTED_VARIANT, the code
               the daemon and `seqscore score` give such alleles.

=cut

sub unscorable_allele {
  my $alt = shift;
  return "is a deletion's placeholder ('*': the deleted bases are given on another line); not scored" if $alt eq '*';
  return 'is a symbolic allele (a structural variant); only sequence alleles (A, C, G, T, N) are scored' if $alt =~ /^<.*>$/;
  return 'is a breakend; only sequence alleles (A, C, G, T, N) are scored' if $alt =~ /[\[\]]|^\.\S|\S\.$/;
  return 'is missing; not scored' if $alt eq '.' || $alt eq '';
  return 'is symbolic; only sequence alleles (A, C, G, T, N) are scored' if $alt =~ /[*<>.]/;
  return undef;
}

sub structural_variant_error {
  my ($svf, $svoa) = @_;
  my $alt = $svoa && $svoa->can('symbolic_allele') ? $svoa->symbolic_allele : undef;
  $alt = blessed($svf) && $svf->can('allele_string') ? $svf->allele_string : $svf->{allele_string} unless defined $alt;
  my $class = blessed($svf) && $svf->can('class_SO_term') ? $svf->class_SO_term : $svf->{class_SO_term};
  my $chrom = $svf->{chr} // (blessed($svf) && $svf->can('seq_region_name') ? $svf->seq_region_name : '?');
  return { code => 'UNSUPPORTED_VARIANT',
           message => sprintf('%s:%s-%s: ALT %s is a structural variant%s; only sequence alleles (A, C, G, T, N) are scored',
                              $chrom, $svf->{start} // '?', $svf->{end} // '?', $alt // '?', $class ? " ($class)" : '') };
}

sub describe_failure {
  my $r = shift;
  return 'no request made' unless $r;
  my $reason = $r->{status} == 599 ? ($r->{content} || 'connection failed') : "HTTP $r->{status} $r->{reason}";
  $reason =~ s/\s+$//;
  if (ref $r->{data} eq 'HASH' && ref $r->{data}{error} eq 'HASH') {
    $reason .= ": $r->{data}{error}{code}: $r->{data}{error}{message}";
  }
  elsif (ref $r->{data} eq 'HASH' && defined $r->{data}{detail}) {
    $reason .= ': ' . (ref $r->{data}{detail} ? $JSON->encode($r->{data}{detail}) : $r->{data}{detail});
  }
  return $reason;
}

sub error_from_response {
  my ($r, $what) = @_;
  my $body_code = ref $r->{data} eq 'HASH' && ref $r->{data}{error} eq 'HASH' ? $r->{data}{error}{code} : undef;
  my $code = $r->{status} == 401 || $r->{status} == 403 ? 'UNAUTHORIZED'
           : $body_code ? $body_code
           : $r->{status} == 413 ? 'PAYLOAD_TOO_LARGE' : "HTTP_$r->{status}";
  return { code => $code, message => ($what || 'POST /v1/score') . ': ' . describe_failure($r) };
}

# ---- regulatory track models ---------------------------------------------------------------------

package SeqScore::Tracks;

# The fields of a track model (kind and scorer `tracks`: Puffin, Enformer, Basenji2, AI-TAC, a
# custom model).  The daemon sends one record per allele, {effects (one value per track, in the
# order of the track table GET /v1/models lists), reduction, max_abs_effect, top_track}; the
# plugin writes it as `seqscore score` writes its SeqScore_<model> INFO value
# (hail_seqscore/kinds/tracks.py): the same default selection, track names and digits.

use strict;
use warnings;

our $MAX_DEFAULT_TRACKS = 20;     # all tracks by default up to this many (kinds/tracks.py)
my @RESERVED = qw(top_track max_abs_effect error cutoff);   # STEM_<these> are not track fields
my $INF = 9**9**9;

# SeqScore_<model>: the CLI's INFO key (every character outside A-Z a-z 0-9 _ made _).
sub model_stem { (my $s = 'SeqScore_' . ($_[0] // '')) =~ s/[^A-Za-z0-9_]/_/g; return $s }

# A track name as INFO carries it (kinds/tracks.py safe): ',;=|:', whitespace (Python's: also
# \x1c-\x1f) and a '%' that does not start %XX written as %XX per UTF-8 byte.
sub info_safe {
  my $name = shift // '';
  $name =~ s{(%(?![0-9A-Fa-f]{2})|[,;=|:\p{White_Space}\x1c-\x1f])}{
    my $c = $1; utf8::encode($c); join('', map { sprintf('%%%02X', $_) } unpack('C*', $c))
  }ge;
  return $name;
}

# An effect as the CLI prints it, Python's format(x, '.4g'): C's %.4g (0.1235, 1.2e-05,
# 1.235e+04, -0), with Python's inf, -inf and nan; '.' for none.
sub fmt_effect {
  my $x = shift;
  return '.' unless defined $x;
  return 'nan' if $x != $x;
  return $x > 0 ? 'inf' : '-inf' if $x == $INF || $x == -$INF;
  return sprintf('%.4g', $x);
}

sub _number { my $t = fmt_effect($_[0]); return $t =~ /^-?[\d.]+(?:e[-+]\d+)?$/ ? 0 + $t : undef }

=head2 SeqScore::Tracks::field_parts

  Arg 1..N   : the model's track names, in its order
  Description: The part of each track's field name after STEM_: the name with '+' as plus,
               '-' as minus and every other run of characters outside A-Z a-z 0-9 _ as a
               separator, the parts joined by '_' (FANTOM_CAGE+ -> FANTOM_CAGE_plus,
               "CAGE:liver, adult" -> CAGE_liver_adult; 'track' if nothing is left); a part
               already taken (by an earlier track or top_track, max_abs_effect, error,
               cutoff) gets _<index>, the track's 0-based index in the table.
  Returntype : list of strings

=cut

sub field_parts {
  my %taken = map { $_ => 1 } @RESERVED;
  my @out;
  for my $i (0 .. $#_) {
    my $f = join('_', map { $_ eq '+' ? 'plus' : $_ eq '-' ? 'minus' : $_ } ($_[$i] // '') =~ /([A-Za-z0-9_]+|[+-])/g);
    $f = 'track' unless length $f;
    $f .= "_$i" while $taken{$f};
    $taken{$f} = 1;
    push @out, $f;
  }
  return @out;
}

=head2 SeqScore::Tracks::select_tracks

  Arg 1      : the track names; Arg 2: their field parts (field_parts)
  Arg 3      : the tracks= parameter: undef (all for models with at most 20 tracks, else
               none, as seqscore score), 'all', 'none', or names separated by '/', each a
               track's name or its field part, written in the order given (once each)
  Arg 4      : the model's name, for messages
  Description: The indices of the tracks written besides the top one; dies naming unknown ones.
  Returntype : list of indices

=cut

sub select_tracks {
  my ($names, $fields, $wanted, $model) = @_;
  my $n = @$names;
  return $n <= $MAX_DEFAULT_TRACKS ? (0 .. $n - 1) : () unless defined $wanted;
  return (0 .. $n - 1) if $wanted eq 'all';
  return () if $wanted eq 'none';
  my %index;
  for my $list ($fields, $names) {             # a track's own name wins over another's field part
    $index{ $list->[$_] } = $_ for reverse 0 .. $n - 1;
  }
  my (@picked, @unknown, %seen);
  for my $w (grep { length } map { (my $x = $_) =~ s/^\s+|\s+$//g; $x } split m{/}, $wanted) {
    my $i = $index{$w};
    if (defined $i) { push @picked, $i unless $seen{$i}++ }
    else            { push @unknown, $w }
  }
  if (@unknown) {
    my @shown = map { $names->[$_] eq $fields->[$_] ? $names->[$_] : "$names->[$_] ($fields->[$_])" } 0 .. ($n > 8 ? 7 : $n - 1);
    die sprintf("ERROR: SeqScore: tracks=%s: model '%s' has no track %s (its %d tracks, name (field name): %s%s; "
                . "`seqscore models --tracks %s` lists them). Separate names with '/'.\n",
                $wanted, $model, join(', ', map { "'$_'" } @unknown), $n, join(', ', @shown),
                ($n > 8 ? ', ...' : ''), $model);
  }
  return @picked;
}

=head2 SeqScore::Tracks::setup

  Arg 1      : the model's entry of GET /v1/models (with its track table, `tracks`)
  Arg 2      : the plugin's options; Arg 3: the daemon's URL, for messages
  Description: The track table, field parts and selected tracks of a track model; dies when
               the entry has no track table, or for parameters that do not apply (distance,
               mask, cutoff: a track model's effects belong to the allele, not to a gene).
  Returntype : hashref {model, names, table, fields, selected}

=cut

sub setup {
  my ($m, $opt, $base) = @_;
  for my $p (qw(distance mask cutoff)) {
    die sprintf("ERROR: SeqScore: %s=%s does not apply to model '%s', a track model (its effects belong to "
                . "the allele, not to a gene); leave it out\n", $p, $opt->{$p}, $m->{name}) if defined $opt->{$p};
  }
  my $table = ref $m->{tracks} eq 'ARRAY' ? $m->{tracks} : [];
  my @names = map { ref $_ eq 'HASH' && defined $_->{name} && !ref $_->{name} ? "$_->{name}" : undef } @$table;
  die sprintf("ERROR: SeqScore: model '%s' at %s is a track model, but GET /v1/models lists no track table for "
              . "it (a daemon older than this plugin?); update hail-seqscore or pick another model\n",
              $m->{name}, $base // 'the daemon') if !@names || grep { !defined } @names;
  my @fields = field_parts(@names);
  my @selected = select_tracks(\@names, \@fields, $opt->{tracks}, $m->{name});
  return { model => $m->{name}, names => \@names, table => $table, fields => \@fields, selected => \@selected };
}

=head2 SeqScore::Tracks::fields

  Arg 1      : the allele's `scores` from the daemon: [{effects, reduction, max_abs_effect,
               top_track}]
  Arg 2      : the output mode ('joined', 'split': the same fields; 'json')
  Arg 3      : field names (SeqScore::field_names); Arg 4: the setup (setup)
  Description: The allele's fields: STEM (the CLI's INFO value without ALLELE|:
               top:TRACK:VALUE|TRACK:VALUE|...), STEM_<track> per selected track,
               STEM_top_track, STEM_max_abs_effect; or for JSON, STEM => {top_track,
               top_effect, max_abs_effect, effects => {name => value}}.  A record that does
               not fit the track table gives STEM_error=BAD_RESPONSE.
  Returntype : hashref of VEP output fields

=cut

sub fields {
  my ($scores, $mode, $n, $t) = @_;
  my $rec = ref $scores eq 'ARRAY' ? $scores->[0] : undef;
  my $eff = ref $rec eq 'HASH' ? $rec->{effects} : undef;
  my @names = @{ $t->{names} };
  unless (ref $eff eq 'ARRAY' && @$eff == @names) {
    return SeqScore::error_fields($mode, { code => 'BAD_RESPONSE', message => sprintf(
      "the daemon's record holds %s effects for the %d tracks of model %s", ref $eff eq 'ARRAY' ? scalar @$eff : 'no',
      scalar @names, $t->{model}) }, $n->{error});
  }
  my $top = $rec->{top_track} // '';
  my ($ti) = grep { $names[$_] eq $top } 0 .. $#names;
  my $top_value = defined $ti ? $eff->[$ti] : $rec->{max_abs_effect};
  my @sel = @{ $t->{selected} };
  if ($mode eq 'json') {
    return { $n->{json} => { top_track => $top, top_effect => _number($top_value),
                             max_abs_effect => _number($rec->{max_abs_effect}),
                             effects => { map { ($names[$_] => _number($eff->[$_])) } @sel } } };
  }
  my %f = ($n->{pred} => join('|', 'top:' . info_safe($top) . ':' . fmt_effect($top_value),
                              map { info_safe($names[$_]) . ':' . fmt_effect($eff->[$_]) } @sel),
           "$n->{split}top_track" => info_safe($top),
           "$n->{split}max_abs_effect" => fmt_effect($rec->{max_abs_effect}));
  $f{ $n->{split} . $t->{fields}[$_] } = fmt_effect($eff->[$_]) for @sel;
  return \%f;
}

# One header line per field (get_header_info): each names the model and, for a track's field,
# the track with its description, assay, cell type and strand.
sub header {
  my ($n, $t, $model, $mode, $prov) = @_;
  my $written = join(',', map { info_safe($t->{names}[$_]) } @{ $t->{selected} }) || 'none';
  my $per = 'per allele: the same on every line of it';
  my $digits = 'printed with 4 significant digits as seqscore score prints them';
  my %h;
  if ($mode eq 'json') {
    $h{ $n->{json} } = "$model variant effects per track (ALT vs REF over the bins near the variant), computed on the "
      . "fly ($prov). Keys: top_track (the track of largest |effect|), top_effect (its signed effect), max_abs_effect, "
      . "effects (track name => effect, for the tracks: $written); values rounded to 4 significant digits; $per";
  }
  else {
    my $s = $n->{split};
    $h{ $n->{pred} } = "$model variant effects per track (ALT vs REF over the bins near the variant) as seqscore score "
      . "writes them in its " . model_stem($model) . " INFO value, without the allele, computed on the fly ($prov). "
      . "Format: top:TRACK:VALUE|TRACK:VALUE|... (top = the track of largest |effect|, with its signed effect; then "
      . "the tracks: $written); $digits; $per";
    $h{"${s}top_track"} = "$model: the track of largest |effect| ($per; $prov)";
    $h{"${s}max_abs_effect"} = "$model: the largest |effect| over its " . scalar(@{ $t->{names} }) . " tracks, $digits ($per; $prov)";
    for my $i (@{ $t->{selected} }) {
      my $tr = ref $t->{table}[$i] eq 'HASH' ? $t->{table}[$i] : {};
      my @about = ((defined $tr->{description} && length $tr->{description} ? $tr->{description} : ()),
                   map { defined $tr->{ $_->[0] } && length $tr->{ $_->[0] } ? "$_->[1] $tr->{ $_->[0] }" : () }
                       [assay => 'assay'], [cell_type => 'cell type'], [strand => 'strand']);
      $h{ $s . $t->{fields}[$i] } = "$model effect on track $t->{names}[$i]" . (@about ? ' (' . join('; ', @about) . ')' : '')
        . ", $digits ($per; $prov)";
    }
  }
  $h{ $n->{error} } = "Why the $model effects of this allele are missing: CODE:message ($prov)";
  return \%h;
}

# ---- the HTTP client -----------------------------------------------------------------------------

package SeqScore::HTTP;

# HTTP::Tiny with TCP_NODELAY on every connection it opens: without it, a request written in
# two pieces (headers, body) waits for the peer's delayed ACK, tens of milliseconds each.
use parent -norequire, 'HTTP::Tiny';
use Socket qw(IPPROTO_TCP TCP_NODELAY);

sub _open_handle {
  my $self = shift;
  my $handle = $self->SUPER::_open_handle(@_);
  setsockopt($handle->{fh}, IPPROTO_TCP, TCP_NODELAY, 1) if $handle && $handle->{fh};
  ${ $self->{_seqscore_connections} }++ if $self->{_seqscore_connections};
  return $handle;
}

package SeqScore::Client;

use JSON::PP;

sub new {
  my ($class, %o) = @_;
  my $loopback = $o{host} =~ /^(?:127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/i;
  my $self = bless { base => $o{url}, token => $o{token}, connections => 0 }, $class;
  die "ERROR: SeqScore: this HTTP::Tiny ($HTTP::Tiny::VERSION) cannot be tuned (no _open_handle)\n"
    unless HTTP::Tiny->can('_open_handle');
  $self->{http} = SeqScore::HTTP->new(
    timeout => $o{timeout}, keep_alive => 1, agent => "SeqScore-VEP-plugin/$SeqScore::VERSION",
    ($loopback ? (proxy => undef, http_proxy => undef, https_proxy => undef) : ()),
  );
  $self->{http}{_seqscore_connections} = \$self->{connections};
  $self->{json} = JSON::PP->new->utf8;
  return $self;
}

# Returns {status, reason, headers, content, data (decoded JSON or undef)}; status 599 = no answer.
sub request {
  my ($self, $method, $path, $body) = @_;
  my %headers = (Accept => 'application/json');
  $headers{Authorization} = "Bearer $self->{token}" if defined $self->{token};
  $headers{'Content-Type'} = 'application/json' if defined $body;
  my $r = eval { $self->{http}->request($method, $self->{base} . $path,
                                        { headers => \%headers, (defined $body ? (content => $body) : ()) }) };
  $r = { status => 599, reason => 'Internal Exception', content => $@, headers => {} } unless $r;
  if (defined $r->{content} && length $r->{content} && $r->{status} != 599
      && ($r->{headers}{'content-type'} || '') =~ m{json}) {
    $r->{data} = eval { $self->{json}->decode($r->{content}) };
  }
  return $r;
}

sub forget_connection { delete $_[0]{http}{handle} }

# ---- a bounded cache: oldest entries go first --------------------------------------------------

package SeqScore::Cache;

sub new { my ($class, $size) = @_; return bless { size => $size, map => {}, order => [] }, $class }

sub get { return $_[0]{map}{ $_[1] } }

sub put {
  my ($self, $key, $value) = @_;
  push @{ $self->{order} }, $key unless exists $self->{map}{$key};
  $self->{map}{$key} = $value;
  while (@{ $self->{order} } > $self->{size}) {
    delete $self->{map}{ shift @{ $self->{order} } };
  }
}

sub size { return scalar keys %{ $_[0]{map} } }

sub ensure { my ($self, $n) = @_; $self->{size} = $n if $n > $self->{size} }

1;
