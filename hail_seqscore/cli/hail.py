"""``seqscore hail``: score a VCF or Hail table with Hail/Spark and write a Hail table."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..engine import MAX_DISTANCE
from ..errors import ConfigError
from . import add_precision

log = logging.getLogger(__name__)

HELP = """\
Score every distinct variant of a VCF (imported with hl.import_vcf) or of a Hail Table /
MatrixTable keyed by locus/alleles (-I path.ht / path.mt) inside Spark, and write the input
with a new row field (default `seqscore`) to a Hail table or matrix table (-O). Needs the
hail extra: pip install 'hail-seqscore[hail]'.

exit codes: 0 done; 2 bad command line; 64 bad setting; 65 malformed input; 66 input file
missing; 69 Hail not installed or model not exported; 130 interrupted.
"""

GRCH38_RECODING = {**{str(i): f"chr{i}" for i in range(1, 23)}, "X": "chrX", "Y": "chrY",
                   "MT": "chrM"}


def add_parser(sub) -> None:
    p = sub.add_parser("hail", help="score a VCF or Hail table with Hail/Spark",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-I", dest="input", metavar="INPUT", required=True,
                   help="input VCF (.vcf, .vcf.gz, .vcf.bgz) or Hail table (.ht) / matrix "
                        "table (.mt)")
    p.add_argument("-O", dest="output", metavar="OUTPUT", required=True,
                   help="output Hail table (.ht) or matrix table (.mt; the default for VCF "
                        "input is a matrix table whatever the name)")
    p.add_argument("--export-vcf", metavar="VCF", nargs="?", const="auto", default=None,
                   help="also write a VCF with SpliceAI's INFO field (default name: OUTPUT "
                        "with .vcf.bgz)")
    p.add_argument("-R", dest="reference", metavar="REFERENCE", required=True,
                   help="reference FASTA with .fai (.gzi if bgzipped): a path or a "
                        "gs:// / s3a:// / hdfs:// URI")
    p.add_argument("-A", dest="annotation", metavar="ANNOTATION", default="grch38",
                   help="grch37, grch38, a SpliceAI-format table or a GTF/GFF3 (default: "
                        "grch38)")
    p.add_argument("-D", dest="distance", metavar="DISTANCE", type=int, default=50,
                   help=f"0-{MAX_DISTANCE} (default: 50)")
    p.add_argument("-M", dest="mask", metavar="MASK", type=int, choices=(0, 1), default=0,
                   help="1 = masked scores (default: 0)")
    p.add_argument("--model", default="spliceai", help="model name or .onnx path/URI")
    p.add_argument("--reference-genome", default="GRCh38",
                   help="Hail reference genome of a VCF input: GRCh37, GRCh38 (contigs 1..22, "
                        "X, Y, MT are recoded to chr*), or 'fasta' (one built from -R's .fai); "
                        "default GRCh38")
    p.add_argument("--name", default="seqscore", help="new row field (default: seqscore)")
    p.add_argument("--cache", metavar="PATH", help="score cache (a Hail table) to reuse and "
                   "extend")
    p.add_argument("--batch-size", type=int, default=64, help="windows per model call")
    add_precision(p)
    p.add_argument("--master", default=None,
                   help="Spark master (default: local[*], or the cluster's when run there)")
    p.add_argument("--tmp-dir", default=None, help="Hail tmp_dir (default: Hail's)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import hail as hl  # noqa: PLC0415
    except ImportError:
        print("seqscore hail: error: Hail is not installed; pip install "
              "'hail-seqscore[hail]'", file=sys.stderr)
        return 69
    from .. import hail_ops  # noqa: PLC0415

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    kwargs = {"quiet": True, "idempotent": True}  # reuses a running session (tests, notebooks)
    if args.master:
        kwargs["master"] = args.master
    if args.tmp_dir:
        kwargs["tmp_dir"] = args.tmp_dir
    hl.init(**kwargs)
    data = _read_input(hl, hail_ops, args)
    cache = hail_ops.ScoreCache(args.cache) if args.cache else None
    out = hail_ops.score_table(data, model=args.model, reference=args.reference,
                               annotation=args.annotation, distance=args.distance,
                               mask=bool(args.mask), name=args.name, cache=cache,
                               batch_size=args.batch_size, precision=args.precision)
    out = out.checkpoint(args.output, overwrite=args.overwrite)
    if args.export_vcf:
        from ..hail.vcf_export import export_vcf  # noqa: PLC0415

        path = args.export_vcf
        if path == "auto":
            path = args.output.rstrip("/").rsplit(".", 1)[0] + ".vcf.bgz"
        export_vcf(out, args.name, path)
        print(f"seqscore hail: wrote {path}", file=sys.stderr)
    rows = out.rows() if isinstance(out, hl.MatrixTable) else out
    counts = rows.aggregate(hl.struct(
        n=hl.agg.count(),
        scored=hl.agg.count_where(hl.is_defined(rows[args.name].max_ds)),
        reasons=hl.agg.filter(hl.is_defined(rows[args.name].reason_code),
                              hl.agg.counter(rows[args.name].reason_code))))
    print(f"seqscore hail: wrote {args.output}: {counts.n} rows, {counts.scored} with scores",
          file=sys.stderr)
    for code, n in sorted(counts.reasons.items()):
        print(f"  not scored: {code}: {n}", file=sys.stderr)
    return 0


def _read_input(hl, hail_ops, args):
    path = args.input.rstrip("/")
    if path.endswith(".ht"):
        return hl.read_table(path)
    if path.endswith(".mt"):
        return hl.read_matrix_table(path)
    if not path.endswith((".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")) or path.endswith(".bcf"):
        raise ConfigError(f"-I {args.input}: expected a .vcf/.vcf.gz/.vcf.bgz file or a Hail "
                          ".ht/.mt directory")
    rgname = args.reference_genome
    recode = None
    if rgname.lower() == "fasta":
        rg = hail_ops.reference_genome_from_fasta(args.reference)
    elif rgname in ("GRCh37", "GRCh38"):
        rg = rgname
        recode = GRCH38_RECODING if rgname == "GRCh38" else None
    else:
        raise ConfigError(f"--reference-genome must be GRCh37, GRCh38 or fasta, got {rgname!r}")
    return hl.import_vcf(path, reference_genome=rg, contig_recoding=recode,
                         force_bgz=path.endswith(".gz"), array_elements_required=False)
