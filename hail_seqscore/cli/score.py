"""``seqscore score``: VCF in, VCF with the model's own tool's INFO field out (a drop-in for
``spliceai``, ``openspliceai variant`` and ``pangolin``)."""

from __future__ import annotations

import argparse
import sys
import time

from ..engine import MAX_DISTANCE, STRATEGIES, Engine, EngineConfig
from ..kinds import output_format
from ..models.device import DEVICE_HELP, DEVICES
from ..errors import (ConfigError, OutputError, OutputIsInputError, SeqScoreError,
                      UnauthorizedError)
from ..progress import Progress
from ..output import check_not_input
from ..vcf import annotate_vcf, count_records
from ..vcf_reader import VcfReader
from . import (add_mask_and_filter, add_max_allele_length, add_precision, add_track_options,
               ensure_exported, mask_arg,
               sigterm_as_interrupt, track_settings)

HELP = """\
Score every ALT allele of a VCF against the genes it lies in and write the VCF back with the
INFO field of the model's own tool: SpliceAI= (ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|
DP_AL|DP_DG|DP_DL) as the spliceai 1.3.1 CLI writes it (also for CI-SpliceAI), OpenSpliceAI=
(the same fields) as `openspliceai variant`, Pangolin= (gene|pos:gain|pos:loss|Warnings:) as
the Pangolin CLI.  Every record is written as it was, with only that INFO entry added
(and SeqScore_skip with --flag-skipped); records that cannot be scored are counted by reason
in a summary on stderr.  An output file is written under a temporary name beside it
(NAME.XXXXXX.part) and renamed when complete: a failed or interrupted run leaves no file that
looks complete.  The output may not be the input (nor the reference or gene table).

exit codes: 0 done (some records may be unscored: see the summary); 2 bad command line;
64 bad setting (also: the output is an input); 65 malformed input (the message names the
line); 66 input file missing or unreadable; 69 model not exported / service unavailable /
ONNX Runtime missing or broken / --device cuda without a working CUDA provider;
74 output cannot be written (disk full, permission); 77 --server token missing or wrong;
130 interrupted (Ctrl-C or SIGTERM; the partial output is removed).
"""


def add_parser(sub) -> None:
    p = sub.add_parser("score", help="annotate a VCF with delta scores (spliceai drop-in)",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-I", dest="input", metavar="INPUT", default="-",
                   help="input VCF (.vcf, .vcf.gz, .bcf); '-' or omitted = stdin")
    p.add_argument("-O", dest="output", metavar="OUTPUT", default="-",
                   help="output VCF; '-' or omitted = stdout (VCF only, nothing else); "
                        "a name ending in .gz is written bgzipped")
    p.add_argument("-R", dest="reference", metavar="REFERENCE",
                   help="reference FASTA, plain or bgzipped (with .fai, and .gzi for bgzip); "
                        "required unless --server is given")
    p.add_argument("-A", dest="annotation", metavar="ANNOTATION", default="grch38",
                   help="gene annotation: grch37 or grch38 (SpliceAI's GENCODE V24 canonical "
                        "tables, taken from the spliceai 1.3.1 wheel), a SpliceAI-format table, "
                        "or a GTF/GFF3 file (default: grch38); Pangolin reads a GTF as its "
                        "create_db.py does (see --gtf-filter)")
    p.add_argument("-D", dest="distance", metavar="DISTANCE", type=int, default=50,
                   help=f"maximum distance between the variant and gained/lost splice site, "
                        f"0-{MAX_DISTANCE} (default: 50)")
    add_mask_and_filter(p, "1 (or True) = mask gains at annotated splice sites and losses "
                           "at unannotated ones; 0 (False) = raw")
    p.add_argument("-s", "--score-cutoff", dest="score_cutoff", metavar="CUTOFF", type=float,
                   default=None,
                   help="Pangolin: list every site whose |change| >= CUTOFF instead of the "
                        "largest gain and loss (its -s)")
    p.add_argument("--score-exons", action="store_true",
                   help="Pangolin: list the changes at both sites of each annotated exon in "
                        "range (its --score_exons True)")
    add_track_options(p)
    p.add_argument("--model", default=None,
                   help="model name (exported with `seqscore export`) or path to an .onnx file "
                        "(default: spliceai; with --server, the daemon's default model)")
    p.add_argument("--server", metavar="URL",
                   help="score through a running `seqscore serve` daemon at URL instead of "
                        "in this process")
    p.add_argument("--token-file", metavar="FILE",
                   help="with --server: file holding the daemon's bearer token (default: the "
                        "SEQSCORE_TOKEN environment variable)")
    p.add_argument("--batch-size", type=int, default=64,
                   help="windows per model call (default: 64)")
    add_precision(p)
    p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    p.add_argument("--threads", type=int, default=None,
                   help="onnxruntime intra-op threads (default: all cores)")
    p.add_argument("--chunk-size", type=int, default=512,
                   help="VCF records read and scored together (default: 512)")
    p.add_argument("--strategy", choices=STRATEGIES,
                   default="auto",
                   help="how windows are shared (all exact): tiled = nearby variants share "
                        "REF passes; incremental = tiled + SNV and indel ALT passes reuse the "
                        "REF activations outside the variant's cone; window = one REF and one ALT "
                        "window per variant; auto (default) = incremental where the split "
                        "graphs exist, else tiled")
    add_max_allele_length(p)
    p.add_argument("--pad-edges", action="store_true",
                   help="score variants near contig ends by padding the window with N "
                        "(SpliceAI skips them; off by default for parity)")
    p.add_argument("--score-complex", action="store_true",
                   help="score MNVs and complex indels (SpliceAI writes '.'; off by default)")
    p.add_argument("--flag-skipped", action="store_true",
                   help="add INFO SeqScore_skip=ALLELE|REASON to records not scored")
    p.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="progress line on stderr (auto: when stderr is a terminal)")
    p.add_argument("-q", "--quiet", action="store_true", help="no run summary on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.chunk_size < 1:
        raise ConfigError(f"--chunk-size must be >= 1, got {args.chunk_size}")
    if args.token_file and not args.server:
        raise ConfigError("--token-file is for --server URL")
    t0 = time.monotonic()
    inputs = {"input VCF": args.input, "reference": args.reference,
              "gene table": args.annotation, "token file": args.token_file}
    if args.reference:
        inputs.update({"reference index": args.reference + ".fai",
                       "reference .gzi index": args.reference + ".gzi"})
    check_not_input(args.output, inputs)      # before anything slow, and before any write
    enabled = {"auto": sys.stderr.isatty(), "on": True, "off": False}[args.progress]
    total = count_records(args.input) if enabled else None   # a pre-pass only for the bar
    reader = VcfReader(args.input)
    try:
        reader.open()       # a missing file or one that is not a VCF fails before the model loads
        score, fmt = _server_scorer(args) if args.server else _engine_scorer(args)
    except BaseException:
        reader.close()
        raise
    progress = Progress(total, enabled=enabled)
    try:
        with sigterm_as_interrupt():
            summary = annotate_vcf(reader, args.output, score,
                                   flag_skipped=args.flag_skipped, chunk_size=args.chunk_size,
                                   on_progress=progress.update, inputs=inputs,
                                   fmt=fmt)
    except UnauthorizedError as exc:
        raise UnauthorizedError(_token_hint(exc.message)) from None
    except SeqScoreError as exc:
        raise _not_written(exc, args.output, progress.done) from None
    except KeyboardInterrupt:
        if args.output != "-":
            progress.close()
            print(f"seqscore score: {args.output} not written (partial output removed)",
                  file=sys.stderr)
        raise
    finally:
        progress.close()
    for line in summary.warnings():
        print(f"seqscore score: {line}", file=sys.stderr)
    if not args.quiet:
        dt = time.monotonic() - t0
        for line in summary.lines():
            print(f"seqscore score: {line}", file=sys.stderr)
        where = "stdout" if args.output == "-" else args.output
        if getattr(args, "runs_on", None):
            print(f"seqscore score: {args.runs_on}", file=sys.stderr)
        print(f"seqscore score: {summary.records} records in {dt:.1f} s "
              f"({summary.alleles / dt if dt else 0:.2f} alleles/s) -> {where}", file=sys.stderr)
    return 0


def _engine_scorer(args: argparse.Namespace):
    if not args.reference:
        raise ConfigError("-R REFERENCE is required (or --server URL)")
    ensure_exported(args.model)
    engine = Engine(EngineConfig(
        model=args.model or "spliceai", reference=args.reference, annotation=args.annotation,
        distance=args.distance, mask=mask_arg(args.mask), batch_size=args.batch_size,
        threads=args.threads, pad_edges=args.pad_edges, score_complex=args.score_complex,
        strategy=args.strategy, precision=args.precision, device=args.device,
        max_allele_length=args.max_allele_length, annotation_filter=args.annotation_filter,
        score_cutoff=args.score_cutoff, score_exons=args.score_exons, **track_settings(args),
    ))
    engine.warm_up()
    session = engine.session
    args.runs_on = f"{session.spec.name} {session.describe()}"   # in the summary
    if session.fell_back:         # device auto lost the GPU: say so now, not only at the end
        print(f"seqscore score: {args.runs_on}", file=sys.stderr)
    model = {**session.provenance(), **engine.rule.provenance()}
    return engine.score, output_format(model, args.tracks)


def _server_scorer(args: argparse.Namespace):
    from ..client import Client  # noqa: PLC0415

    if args.max_allele_length is not None:
        raise ConfigError("--max-allele-length applies in process; with --server the daemon's "
                          "own setting applies")
    if args.device != "auto":
        raise ConfigError("--device applies in process; with --server the daemon's own "
                          "--device applies")
    if track_settings(args):
        raise ConfigError("--reduction, --radius, --rc-average and --shifts apply in process; "
                          "with --server the daemon's own settings apply")
    client = Client(args.server, token_file=args.token_file)
    try:
        served = client.models()     # reachable, token accepted: before any output is made
    except UnauthorizedError as exc:
        raise UnauthorizedError(_token_hint(exc.message)) from None
    if args.model is None:          # the daemon's default model
        chosen = [m for m in served if m.get("default")] or served[:1]
    else:
        chosen = [m for m in served if args.model == m.get("name")
                  or args.model in (m.get("aliases") or ())]
        if not chosen:
            names = ", ".join(str(m.get("name")) for m in served)
            raise ConfigError(f"--model {args.model}: the daemon at {args.server} serves "
                              f"{names or 'no model'}; name one of them or leave --model out")
    entry = dict((chosen or [{}])[0])
    prov = entry.get("provenance") or {}
    if "reduction" in prov:            # a track model: the daemon's reduction applies
        entry["reduction"] = prov["reduction"]
    fmt = output_format(entry, args.tracks)

    def score(variants):   # one result per variant, as in process (see Client.score)
        return client.score(variants, distance=args.distance, mask=mask_arg(args.mask),
                            model=args.model)

    return score, fmt


def _token_hint(message: str) -> str:
    return (f"{message}; pass the daemon's token with --token-file FILE or the SEQSCORE_TOKEN "
            "environment variable")


def _not_written(exc: SeqScoreError, output: str, done: int) -> SeqScoreError:
    """``exc`` with a note of what became of the output (nothing for a file; for stdout,
    the records before the error were streamed)."""
    if isinstance(exc, (OutputError, OutputIsInputError)):
        return exc      # their messages say it
    if output == "-":
        note = f"stdout holds only the {done} records before the error"
    else:
        note = f"{output} not written"
    exc.message = f"{exc.message} ({note})"
    exc.args = (exc.message,)
    return exc
