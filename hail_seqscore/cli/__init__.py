"""The ``seqscore`` command: thin subcommands over the library.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``, which registers
the parser and sets ``func`` (``args -> exit code``).  Library errors become one clear line
on stderr and the error's documented exit code, never a traceback.

Exit codes: 0 success; 1 unexpected failure; 2 usage error (argparse); 64 bad setting;
65 bad input data; 66 input file missing or unreadable; 69 model or service unavailable;
74 output cannot be written; 77 token missing or wrong; 130 interrupted (Ctrl-C, or SIGTERM
for the commands that write files).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
from typing import Iterator, Sequence

from .. import __version__
from ..errors import SeqScoreError
from ..models.registry import PRECISIONS

PRECISION_HELP = ("fp32 (default, exact), tf32 (TF32 convolutions; needs a CUDA GPU) or fp16 "
                  "(the copies `seqscore export MODEL --fp16` writes); reduced precision "
                  "changes scores slightly, see benchmarks/README.md")


def add_precision(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help=PRECISION_HELP)


MAX_ALLELE_HELP = ("longest REF or ALT allele scored, in bp; longer ones are written unchanged "
                   "with reason ALLELE_TOO_LONG, so one huge indel cannot take gigabytes "
                   "(default: the model's context, 10000 for SpliceAI)")


def add_max_allele_length(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-allele-length", type=int, default=None, metavar="N",
                   help=MAX_ALLELE_HELP)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt, so a killed run cleans up its
    temporary output like Ctrl-C does (only in the main thread; elsewhere a no-op)."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:          # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


SUBCOMMANDS = ("score", "export", "models", "serve", "hail", "precompute", "annotation")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqscore",
        description="Score genetic variants with sequence models (SpliceAI, CI-SpliceAI) "
        "exported to ONNX.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output on stderr (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(__name__):
                continue  # subcommand not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="seqscore: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except SeqScoreError as exc:
        print(f"seqscore {args.command}: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except FileNotFoundError as exc:
        print(f"seqscore {args.command}: error: {exc}", file=sys.stderr)
        return 66
    except KeyboardInterrupt:
        print(f"seqscore {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())


def mask_arg(text: str | None) -> bool | None:
    """``-M``/``-m``: 1/True, 0/False, or None (the model's tool's own default)."""
    return None if text is None else text in ("1", "True")


def add_track_options(p, vcf: bool = True) -> None:
    """The options of track models (kind ``tracks``: Puffin, Enformer, …); ``vcf``: the
    command writes VCF INFO (``--tracks``)."""
    g = p.add_argument_group("track models (Puffin, Enformer, Basenji2, AI-TAC, your own)")
    if vcf:
        g.add_argument("--tracks", metavar="NAMES", default=None,
                       help="tracks written to INFO besides the top one: names separated by "
                            "commas, 'all' or 'none' (default: all for models with up to 20 "
                            "tracks, else none)")
    g.add_argument("--reduction", choices=("diff", "log2fc", "max_abs_diff"), default=None,
                   help="effect per track over the bins near the variant: diff (sum ALT - sum "
                        "REF), log2fc (log2 of (sum ALT + 1) / (sum REF + 1)), max_abs_diff "
                        "(the ALT - REF of largest magnitude) (default: the model's)")
    g.add_argument("--radius", type=int, default=None, metavar="BP",
                   help="bins within BP bases of the variant are reduced (default: -D for "
                        "any-length models such as Puffin, the whole output for fixed-length "
                        "ones)")
    g.add_argument("--rc-average", action="store_true",
                   help="average with the reverse complement's predictions (strand-paired "
                        "tracks swapped)")
    g.add_argument("--shifts", metavar="S,S", default="",
                   help="fixed-length models: also score windows shifted by these bases and "
                        "average (e.g. -1,1)")


def track_settings(args) -> dict:
    """EngineConfig fields from :func:`add_track_options`' arguments."""
    try:
        shifts = tuple(int(x) for x in args.shifts.split(",") if x.strip())
    except ValueError:
        from ..errors import ConfigError  # noqa: PLC0415

        raise ConfigError(f"--shifts {args.shifts!r}: expected integers separated by commas"
                          ) from None
    out = {"reduction": args.reduction, "radius": args.radius,
           "rc_average": bool(args.rc_average), "shifts": shifts}
    return {k: v for k, v in out.items() if v is not None and v is not False and v != ()}


def ensure_exported(model: str | None, default: str = "spliceai") -> None:
    """Export a known model on first use when it is missing and its weights come from a
    pinned package (SpliceAI, CI-SpliceAI), saying so and naming its licence; set
    ``SEQSCORE_OFFLINE=1`` to turn this off (offline clusters).  Models whose weights the user
    brings (``--from``) and paths are left to the usual "not exported" error."""
    import os  # noqa: PLC0415

    from ..errors import ModelNotInstalledError  # noqa: PLC0415
    from ..models.registry import KNOWN_MODELS, model_path  # noqa: PLC0415

    name = model or default
    known = KNOWN_MODELS.get(name)
    if known is None or known.needs_from or os.environ.get("SEQSCORE_OFFLINE"):
        return
    try:
        model_path(name)
        return
    except ModelNotInstalledError:
        pass
    try:
        from export.onnx_export import export_model  # noqa: PLC0415 - the export extra
    except ModuleNotFoundError:
        return                      # model_path's error then says how to export it
    print(f"seqscore: model {name!r} is not exported yet; exporting it now from "
          f"{known.source} (weights licence: {known.licence}; SEQSCORE_OFFLINE=1 turns this "
          "off) ...", file=sys.stderr, flush=True)
    result = export_model(name, progress=lambda m: print(f"seqscore: {m}", file=sys.stderr,
                                                         flush=True))
    print(f"seqscore: {name} exported to {result.path}", file=sys.stderr, flush=True)


def add_mask_and_filter(p, mask_help: str) -> None:
    """``-M``/``-m`` (default: each model's tool's own masking) and ``--gtf-filter`` (which
    transcripts of a GTF give Pangolin its annotated sites)."""
    p.add_argument("-M", "-m", dest="mask", metavar="MASK", default=None,
                   choices=("0", "1", "False", "True"),
                   help=f"{mask_help} (default: the tool's own: 0 for SpliceAI and "
                        "OpenSpliceAI, 1 for Pangolin)")
    p.add_argument("--gtf-filter", dest="annotation_filter", metavar="TAGS", default="",
                   help="Pangolin: which transcripts of a GTF annotation give annotated "
                        "sites, as its create_db.py --filter: tags separated by commas, or "
                        "None for every transcript (default: Ensembl_canonical)")
