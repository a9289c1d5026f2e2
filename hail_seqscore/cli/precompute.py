"""``seqscore precompute``: every SNV (and small indel) of a region in SpliceAI's precomputed-file
format."""

from __future__ import annotations

import argparse
import sys
import time

from ..engine import STRATEGIES, Engine, EngineConfig
from ..errors import ConfigError
from ..models.device import DEVICE_HELP, DEVICES
from ..precompute import (MAX_DELETION, check_outputs, count_variants, parse_region, precompute,
                          read_bed)
from ..progress import Progress
from . import add_max_allele_length, add_precision, sigterm_as_interrupt


def add_parser(sub) -> None:
    p = sub.add_parser(
        "precompute", help="score every possible SNV (and small indel) of a region "
        "(SpliceAI precomputed format)",
        description="Score all three SNVs of every base of the given regions and write a "
        "bgzipped, tabix-indexed VCF in the format of SpliceAI's precomputed score files "
        "(spliceai_scores.{raw,masked}.snv.*.vcf.gz): one record per ALT and gene, so VEP's "
        "SpliceAI plugin reads it with snv=FILE. --indels FILE writes a second file as "
        "Illumina's spliceai_scores.*.indel.*.vcf.gz (the plugin's indel=FILE): at every base "
        f"the four 1-base insertions after it and the deletions of the next 1-{MAX_DELETION} "
        "bases. Bases outside annotated genes are not written. Each file and its .tbi are "
        "written under temporary names and renamed when both are complete; an interrupted or "
        "failed run leaves neither. A long run shows progress and an ETA on a terminal "
        "(--progress on elsewhere). Exit codes as for `seqscore score` (64 also when an "
        "output names an input; 74 when an output cannot be written).")
    p.add_argument("-R", dest="reference", required=True, help="reference FASTA")
    p.add_argument("-A", dest="annotation", default="grch38",
                   help="grch37, grch38, a SpliceAI gene table or a GTF/GFF3 (default grch38)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--region", action="append", help="CHROM:START-END, 1-based inclusive "
                   "(repeatable)")
    g.add_argument("--bed", help="BED file of regions (0-based, half-open)")
    p.add_argument("-O", dest="output", help="SNV output .vcf.gz (+ .tbi)")
    p.add_argument("--indels", metavar="FILE", help="indel output .vcf.gz (+ .tbi): 1-base "
                   f"insertions and 1-{MAX_DELETION}-base deletions (at least one of -O and "
                   "--indels is needed)")
    p.add_argument("-D", dest="distance", type=int, default=50, help="distance (default 50)")
    p.add_argument("-M", dest="mask", type=int, choices=(0, 1), default=0,
                   help="1 = masked scores, as in the *.masked.* files (default 0 = raw)")
    p.add_argument("--model", default="spliceai", help="model name or .onnx path")
    p.add_argument("--strategy", choices=STRATEGIES,
                   default="auto",
                   help="auto (default): incremental where the split graphs exist, else tiled; "
                        "tiled: REF tiles shared by nearby variants; incremental: tiled, and "
                        "each ALT recomputed only inside its cone; window: one REF and ALT each. "
                        "Scores are identical")
    p.add_argument("--batch-size", type=int, default=64, help="windows per model call")
    add_precision(p)
    p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    add_max_allele_length(p)
    p.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="progress line with ETA on stderr (auto: when stderr is a terminal)")
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    if not args.output and not args.indels:
        args.parser.error("nothing to write: give -O FILE for the SNVs and/or --indels FILE "
                          "for the insertions and deletions")
    check_outputs(args.output, args.indels, args.reference, args.annotation,
                  {"BED file": args.bed})
    regions = read_bed(args.bed) if args.bed else [parse_region(r) for r in args.region]
    if not regions:
        raise ConfigError("no regions given")
    engine = Engine(EngineConfig(model=args.model, reference=args.reference,
                                 annotation=args.annotation, distance=args.distance,
                                 mask=bool(args.mask), batch_size=args.batch_size,
                                 threads=args.threads, strategy=args.strategy,
                                 precision=args.precision, device=args.device,
                                 max_allele_length=args.max_allele_length)).warm_up()
    session = engine.session
    runs_on = f"seqscore precompute: {session.spec.name} {session.describe()}"
    if session.fell_back:        # device auto lost the GPU: say so now, not only at the end
        print(runs_on, file=sys.stderr)
    snvs, indels = bool(args.output), bool(args.indels)
    progress = Progress(count_variants(engine, regions, snvs, indels), unit="variants",
                        enabled={"auto": None, "on": True, "off": False}[args.progress])
    progress.update(0)              # the total at once; rate and ETA after the first stretch
    t0 = time.monotonic()
    outputs = " and ".join(p for p in (args.output, args.indels) if p)
    try:
        with sigterm_as_interrupt():
            stats = precompute(engine, regions, args.output, indels_path=args.indels,
                               on_progress=progress.update, inputs={"BED file": args.bed})
    except KeyboardInterrupt:
        progress.close()
        print(f"seqscore precompute: {outputs} not written (partial output removed)",
              file=sys.stderr)
        raise
    finally:
        progress.close()
    dt = time.monotonic() - t0
    what = " and ".join(f"{n:,} {name}" for n, name, on in (
        (stats.snvs, "SNVs", snvs), (stats.indels, "indels", indels)) if on)
    errors = sum(stats.errors.values())
    why = (" (" + ", ".join(f"{c} {n:,}" for c, n in stats.errors.most_common()) + ")"
           if errors else "")
    print(runs_on, file=sys.stderr)
    print(f"seqscore precompute: {what} scored in {dt:.1f} s "
          f"({stats.variants / dt if dt else 0:.1f} variants/s); {stats.in_genes:,} in genes "
          f"written as {stats.records:,} records (one per ALT and gene), {errors:,} not "
          f"scored{why} -> {' and '.join(p + ' (+ .tbi)' for p in (args.output, args.indels) if p)}",
          file=sys.stderr)
    return 0
