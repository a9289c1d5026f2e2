"""``seqscore precompute``: all SNVs of a region in SpliceAI's precomputed-file format."""

from __future__ import annotations

import argparse
import sys
import time

from ..engine import STRATEGIES, Engine, EngineConfig
from ..errors import ConfigError
from ..precompute import check_output, merge_regions, parse_region, precompute, read_bed
from ..progress import Progress
from . import add_max_allele_length, add_precision, sigterm_as_interrupt


def add_parser(sub) -> None:
    p = sub.add_parser(
        "precompute", help="score every possible SNV of a region (SpliceAI precomputed format)",
        description="Score all three SNVs of every base of the given regions and write a "
        "bgzipped, tabix-indexed VCF in the format of SpliceAI's precomputed score files "
        "(one record per ALT; VEP's SpliceAI plugin reads it with snv=FILE). Bases outside "
        "annotated genes are not written. The file and its .tbi are written under temporary names "
        "and renamed when both are complete; an interrupted or failed run leaves neither. "
        "Exit codes as for `seqscore score` (64 also when -O names an input; 74 when the "
        "output cannot be written).")
    p.add_argument("-R", dest="reference", required=True, help="reference FASTA")
    p.add_argument("-A", dest="annotation", default="grch38",
                   help="grch37, grch38, a SpliceAI gene table or a GTF/GFF3 (default grch38)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--region", action="append", help="CHROM:START-END, 1-based inclusive "
                   "(repeatable)")
    g.add_argument("--bed", help="BED file of regions (0-based, half-open)")
    p.add_argument("-O", dest="output", required=True, help="output .vcf.gz (+ .tbi)")
    p.add_argument("-D", dest="distance", type=int, default=50, help="distance (default 50)")
    p.add_argument("-M", dest="mask", type=int, choices=(0, 1), default=0,
                   help="1 = masked scores, as in the *.masked.* files (default 0 = raw)")
    p.add_argument("--model", default="spliceai", help="model name or .onnx path")
    p.add_argument("--strategy", choices=STRATEGIES,
                   default="auto",
                   help="auto (default): incremental where the split graphs exist, else tiled; "
                        "tiled: REF tiles shared by nearby SNVs; incremental: tiled, and each "
                        "ALT recomputed only inside its cone; window: one REF and ALT each. "
                        "Scores are identical")
    p.add_argument("--batch-size", type=int, default=64, help="windows per model call")
    add_precision(p)
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    add_max_allele_length(p)
    p.add_argument("--progress", choices=("auto", "on", "off"), default="auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.output, args.reference, args.annotation, {"BED file": args.bed})
    regions = read_bed(args.bed) if args.bed else [parse_region(r) for r in args.region]
    if not regions:
        raise ConfigError("no regions given")
    engine = Engine(EngineConfig(model=args.model, reference=args.reference,
                                 annotation=args.annotation, distance=args.distance,
                                 mask=bool(args.mask), batch_size=args.batch_size,
                                 threads=args.threads, strategy=args.strategy,
                                 precision=args.precision,
                                 max_allele_length=args.max_allele_length)).warm_up()
    total = 3 * sum(r.end - r.start for r in merge_regions(regions))
    progress = Progress(total, unit="SNVs",
                        enabled={"auto": None, "on": True, "off": False}[args.progress])
    t0 = time.monotonic()
    try:
        with sigterm_as_interrupt():
            stats = precompute(engine, regions, args.output, on_progress=progress.update,
                               inputs={"BED file": args.bed})
    except KeyboardInterrupt:
        progress.close()
        print(f"seqscore precompute: {args.output} not written (partial output removed)",
              file=sys.stderr)
        raise
    finally:
        progress.close()
    dt = time.monotonic() - t0
    print(f"seqscore precompute: {stats['snvs']} SNVs scored in {dt:.1f} s "
          f"({stats['snvs'] / dt if dt else 0:.1f}/s); {stats['written']} written (in genes), "
          f"{stats['errors']} not scored -> {args.output} (+ .tbi)", file=sys.stderr)
    return 0
