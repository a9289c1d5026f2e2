"""``seqscore hail``: score a VCF or Hail table with Hail/Spark and write a Hail table."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..engine import MAX_DISTANCE
from ..errors import (ConfigError, InputFormatError, InputUnreadableError, OutputError,
                      OutputIsInputError, RuntimeUnavailableError, SeqScoreError)
from ..models.device import DEVICES
from ..models.session import check_device
from . import (add_mask_and_filter, add_precision, add_track_options, mask_arg,
               track_settings)

log = logging.getLogger(__name__)

HELP = """\
Score every distinct variant of a VCF (imported with hl.import_vcf) or of a Hail Table /
MatrixTable keyed by locus/alleles (-I path.ht / path.mt) inside Spark, and write the input
with a new row field (default `seqscore`) to a Hail table or matrix table (-O). Needs the
hail extra: pip install 'hail-seqscore[hail]'.

Every record comes out: one that cannot be scored (REF mismatch, unknown contig, symbolic
ALT, over-long allele, ...) keeps its reason in the field's reason_code/reason. A VCF that
Hail cannot hold whole (a REF with IUPAC codes, a contig its reference genome lacks) is refused
with one line before anything is scored. --export-vcf writes the input VCF's own lines (ID,
QUAL, FILTER, INFO, samples, contig names) with the model's INFO field added (SpliceAI for
spliceai and cispliceai, OpenSpliceAI for openspliceai, Pangolin for pangolin). A model with
no Hail output is refused before Spark starts (exit 65).

`seqscore hail precompute` scores every SNV of regions or genes' exons across executors into a
Hail table and precomputed-format VCF shards (see its -h).

exit codes: 0 done; 1 unexpected failure; 2 bad command line; 64 bad setting (also an output
that is the input); 65 malformed input, or a model with no Hail output; 66 input file missing
or unreadable; 69 Hail not installed, model not exported, or --device cuda without a working
CUDA provider (checked before Spark on a local master, else by each executor); 74 output
cannot be written (exists: use --overwrite); 130 interrupted.
"""

GRCH38_RECODING = {**{str(i): f"chr{i}" for i in range(1, 23)}, "X": "chrX", "Y": "chrY",
                   "MT": "chrM"}


def add_parser(sub) -> None:
    p = sub.add_parser("hail", help="score a VCF or Hail table with Hail/Spark",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-I", dest="input", metavar="INPUT",
                   help="input VCF (.vcf, .vcf.gz, .vcf.bgz) or Hail table (.ht) / matrix "
                        "table (.mt)")
    p.add_argument("-O", dest="output", metavar="OUTPUT",
                   help="output Hail table (.ht) or matrix table (.mt; the default for VCF "
                        "input is a matrix table whatever the name)")
    p.add_argument("--export-vcf", metavar="VCF", nargs="?", const="auto", default=None,
                   help="also write a VCF with the model's INFO field (SpliceAI, OpenSpliceAI; "
                        "default name: OUTPUT with .vcf.bgz); for VCF input, the input's lines "
                        "unchanged but for INFO")
    p.add_argument("--export-recoded-contigs", action="store_true",
                   help="write the exported VCF's contigs as the table names them (e.g. 21 "
                        "recoded to chr21 for GRCh38) instead of as the input had them")
    p.add_argument("-R", dest="reference", metavar="REFERENCE",
                   help="reference FASTA with .fai (.gzi if bgzipped): a path or a "
                        "gs:// / s3a:// / hdfs:// URI")
    p.add_argument("-A", dest="annotation", metavar="ANNOTATION", default="grch38",
                   help="grch37, grch38, a SpliceAI-format table or a GTF/GFF3 (default: "
                        "grch38)")
    p.add_argument("-D", dest="distance", metavar="DISTANCE", type=int, default=50,
                   help=f"0-{MAX_DISTANCE} (default: 50)")
    add_mask_and_filter(p, "1 = masked scores, 0 = raw")
    p.add_argument("--model", default="spliceai", help="model name or .onnx path/URI")
    add_track_options(p, vcf=False)
    p.add_argument("--reference-genome", default="GRCh38",
                   help="Hail reference genome of a VCF input: GRCh37, GRCh38 (contigs 1..22, "
                        "X, Y, MT are recoded to chr*), or 'fasta' (one built from -R's .fai); "
                        "default GRCh38")
    p.add_argument("--name", default="seqscore", help="new row field (default: seqscore)")
    p.add_argument("--cache", metavar="PATH", help="score cache (a Hail table) to reuse and "
                   "extend")
    p.add_argument("--batch-size", type=int, default=64, help="windows per model call")
    p.add_argument("--max-allele-length", type=int, default=None, metavar="BP",
                   help="longest REF or ALT scored; longer ones get ALLELE_TOO_LONG (default: "
                        "the model's context, 10,000 for SpliceAI)")
    add_precision(p)
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="where the executors run the model: auto (default: CUDA where their "
                        "onnxruntime has it and it loads, else the CPU), cpu, or cuda (an "
                        "executor without a working CUDA provider fails the job, exit 69)")
    p.add_argument("--master", default=None,
                   help="Spark master (default: local[*], or the cluster's when run there)")
    p.add_argument("--tmp-dir", default=None, help="Hail tmp_dir (default: Hail's)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=run, parser=p)
    add_precompute_parser(p.add_subparsers(dest="hail_command", metavar="{precompute}"))


PRECOMPUTE_HELP = """\
Score every SNV (three ALTs per base) of the given regions, or of the exons +- --flank bases of
the given genes, across Spark executors, each base once: regions are merged, cut into chunks of
--chunk-bp bases and dealt to partitions by bases. Writes a Hail table keyed by locus/alleles (-O;
it is a score cache: `seqscore hail --cache` and score_table(cache=ScoreCache(...)) reuse it)
and, with --vcf-dir, one bgzipped, tabix-indexed VCF shard per partition in SpliceAI's
precomputed format (one record per ALT and gene, as `seqscore precompute` writes them; the
shards' records in name order are its file's records).

exit codes as for `seqscore hail`.
"""


def add_precompute_parser(hsub) -> None:
    p = hsub.add_parser("precompute", help="every SNV of regions or genes' exons, on Spark",
                        description=PRECOMPUTE_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--region", action="append", help="CHROM:START-END, 1-based inclusive "
                   "(repeatable)")
    g.add_argument("--bed", help="BED file of regions (0-based, half-open)")
    g.add_argument("--genes", help="gene names of -A, comma-separated, or a file with one "
                   "per line: their exons +- --flank bases")
    p.add_argument("--flank", type=int, default=50, help="bases around each exon (default 50)")
    p.add_argument("-O", dest="output", metavar="OUTPUT", required=True,
                   help="output Hail table (.ht)")
    p.add_argument("--vcf-dir", metavar="DIR", help="also write VCF shards (part-NNNNN.vcf.gz "
                   "+ .tbi) here: a local or shared path, or a gs:// / s3:// URI")
    p.add_argument("-R", dest="reference", metavar="REFERENCE", required=True,
                   help="reference FASTA with .fai (.gzi if bgzipped), path or URI")
    p.add_argument("-A", dest="annotation", default="grch38",
                   help="grch37, grch38, a SpliceAI gene table or a GTF/GFF3 (default grch38)")
    p.add_argument("-D", dest="distance", type=int, default=50, help="distance (default 50)")
    p.add_argument("-M", dest="mask", type=int, choices=(0, 1), default=None,
                   help="1 = masked scores, 0 = raw (default: the model's tool's default)")
    p.add_argument("--model", default="spliceai", help="model name or .onnx path/URI")
    p.add_argument("--reference-genome", default="GRCh38", choices=("GRCh37", "GRCh38"),
                   help="Hail reference genome of the table's loci (default GRCh38)")
    p.add_argument("--chunk-bp", type=int, default=2000,
                   help="bases per unit of work (default 2000: 6,000 SNVs)")
    p.add_argument("--partitions", type=int, default=None,
                   help="Spark partitions = VCF shards (default: 8 per core)")
    p.add_argument("--batch-size", type=int, default=64, help="windows per model call")
    add_precision(p)
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="where the executors run the model: auto (default), cpu, or cuda (an "
                        "executor without a working CUDA provider fails the job, exit 69)")
    p.add_argument("--master", default=None, help="Spark master (default: local[*], or the "
                   "cluster's when run there)")
    p.add_argument("--tmp-dir", default=None, help="Hail tmp_dir (default: Hail's)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=run_precompute)


def run_precompute(args: argparse.Namespace) -> int:
    try:
        import hail as hl  # noqa: PLC0415
    except ImportError:
        print("seqscore hail precompute: error: Hail is not installed; pip install "
              "'hail-seqscore[hail]'", file=sys.stderr)
        return 69
    from ..hail.precompute import PrecomputeTableStats, as_regions  # noqa: PLC0415
    from ..hail.precompute import precompute_table  # noqa: PLC0415

    regions = as_regions(args.bed) if args.bed else \
        as_regions(args.region) if args.region else None
    genes = None
    if args.genes:
        genes = ([ln.strip() for ln in open(args.genes) if ln.strip()]
                 if os.path.isfile(args.genes) else
                 [n.strip() for n in args.genes.split(",") if n.strip()])
    if _exists(args.output) and not args.overwrite:
        raise OutputError(f"-O {args.output} exists; pass --overwrite to replace it, or "
                          "choose another name")
    if not args.master or args.master.startswith("local"):   # the executors are this machine
        check_device(args.device)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    kwargs = {"quiet": True, "idempotent": True}
    if args.master:
        kwargs["master"] = args.master
    if args.tmp_dir:
        kwargs["tmp_dir"] = args.tmp_dir
    hl.init(**kwargs)
    stats = PrecomputeTableStats()
    existed = _exists(args.output)
    try:
        ht = precompute_table(regions, genes=genes, flank=args.flank, reference=args.reference,
                              annotation=args.annotation, model=args.model,
                              distance=args.distance,
                              mask=None if args.mask is None else bool(args.mask),
                              output=args.output, vcf_dir=args.vcf_dir,
                              reference_genome=args.reference_genome,
                              chunk_bp=args.chunk_bp, n_partitions=args.partitions,
                              batch_size=args.batch_size, precision=args.precision,
                              device=args.device, overwrite=args.overwrite, stats=stats)
        rows = ht.count()
    except BaseException as exc:
        if not existed:
            _remove_incomplete(args.output)
        if isinstance(exc, (SeqScoreError, KeyboardInterrupt)) or \
                not isinstance(exc, Exception):
            raise
        log.debug("Hail failed", exc_info=True)
        args.input = args.bed or args.genes or "--region"
        raise _hail_error(exc, args) from None
    shards = f" and {len(stats.shards)} VCF shards in {args.vcf_dir}" if stats.shards else ""
    print(f"seqscore hail precompute: {stats.variants:,} SNVs in {stats.chunks:,} chunks over "
          f"{stats.partitions:,} partitions, {stats.scored:,} scored; wrote {args.output} "
          f"({rows:,} rows){shards}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    missing = [flag for flag, v in (("-I", args.input), ("-O", args.output),
                                    ("-R", args.reference)) if v is None]
    if missing:
        args.parser.error(f"the following arguments are required: {', '.join(missing)}")
    try:
        import hail as hl  # noqa: PLC0415
    except ImportError:
        print("seqscore hail: error: Hail is not installed; pip install "
              "'hail-seqscore[hail]'", file=sys.stderr)
        return 69
    from ..hail import table as hail_table  # noqa: PLC0415

    from ..hail.files import is_uri  # noqa: PLC0415

    export = _export_path(args)
    _check_outputs(args, export)
    if not is_uri(args.model):      # a URI is read (and checked) by score_table, after hl.init
        spec = hail_table.check_model(args.model)   # not exported, or no Hail output: before Spark
        if export and spec.kind == "tracks":
            raise ConfigError(f"--export-vcf: VCF export of a track model's scores ({spec.name}) "
                              "is not available from Hail; the table holds them (effects, "
                              "max_abs_effect, top_track), and `seqscore score` writes them as "
                              "VCF")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    kwargs = {"quiet": True, "idempotent": True}  # reuses a running session (tests, notebooks)
    if args.master:
        kwargs["master"] = args.master
    if args.tmp_dir:
        kwargs["tmp_dir"] = args.tmp_dir
    hl.init(**kwargs)
    existed = _exists(args.output)
    try:
        return _run(hl, hail_table, args, export)
    except BaseException as exc:
        if not existed:                 # never remove what this run did not create
            _remove_incomplete(args.output)
        if isinstance(exc, (SeqScoreError, KeyboardInterrupt)) or \
                not isinstance(exc, Exception):
            raise
        log.debug("Hail failed", exc_info=True)      # the traceback with -vv
        raise _hail_error(exc, args) from None


def _remove_incomplete(output: str, *, whole_too: bool = False) -> None:
    """After a failure, remove the table this run began to write (Hail writes _SUCCESS last),
    so nothing half-written is left under the output's name; a whole one (the VCF export
    failed after it) stays, unless ``whole_too``."""
    import hailtop.fs as hfs  # noqa: PLC0415

    path = output.rstrip("/")
    try:
        if hfs.exists(path) and hfs.is_dir(path) and (
                whole_too or not hfs.exists(path + "/_SUCCESS")):
            hfs.rmtree(path)
    except OSError as exc:
        log.warning("could not remove the incomplete output %s: %s", path, exc)


def _run(hl, hail_table, args, export: str | None) -> int:
    if hl.spark_context().master.startswith("local"):    # the executors are this machine
        check_device(args.device)
    data, source, n_in, recode = _read_input(hl, hail_table, args)
    cache = hail_table.ScoreCache(args.cache) if args.cache else None
    out = hail_table.score_table(data, model=args.model, reference=args.reference,
                               annotation=args.annotation, distance=args.distance,
                               mask=mask_arg(args.mask), name=args.name, cache=cache,
                               batch_size=args.batch_size, precision=args.precision,
                               device=args.device, max_allele_length=args.max_allele_length,
                               annotation_filter=args.annotation_filter,
                               **track_settings(args))
    out = out.checkpoint(args.output, overwrite=args.overwrite)
    rows = out.rows() if isinstance(out, hl.MatrixTable) else out
    counts = rows.aggregate(hl.struct(
        n=hl.agg.count(),
        scored=hl.agg.count_where(hl.is_defined(rows[args.name].max_ds)),
        reasons=hl.agg.filter(hl.is_defined(rows[args.name].reason_code),
                              hl.agg.counter(rows[args.name].reason_code))))
    if n_in is not None and counts.n != n_in:
        _remove_incomplete(args.output, whole_too=True)
        raise InputFormatError(
            f"-I {args.input} has {n_in} records but Hail imported {counts.n}, so "
            f"{args.output} would be incomplete and was removed (please report which records "
            "Hail dropped)")
    if export:
        from ..hail.vcf_export import annotate_vcf_text, export_vcf  # noqa: PLC0415

        if source is not None:
            annotate_vcf_text(source, out, args.name, export, contig_recoding=recode,
                              reference_genome=rows.locus.dtype.reference_genome,
                              recode_contigs=args.export_recoded_contigs)
        else:
            export_vcf(out, args.name, export)
        print(f"seqscore hail: wrote {export}", file=sys.stderr)
    seen = f"{n_in} records read, " if n_in is not None else ""
    print(f"seqscore hail: wrote {args.output}: {seen}{counts.n} rows, {counts.scored} with "
          "scores", file=sys.stderr)
    for code, n in sorted(counts.reasons.items()):
        print(f"  not scored: {code}: {n}", file=sys.stderr)
    return 0


def _export_path(args) -> str | None:
    if not args.export_vcf:
        return None
    if args.export_vcf != "auto":
        return args.export_vcf
    head, base = os.path.split(args.output.rstrip("/"))
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    return os.path.join(head, stem + ".vcf.bgz") if head else stem + ".vcf.bgz"


def _same(a: str, b: str) -> bool:
    """Whether two paths (or URIs) name the same file or folder."""
    from ..hail.files import is_uri  # noqa: PLC0415

    a, b = a.rstrip("/"), b.rstrip("/")
    if is_uri(a) or is_uri(b):
        return a == b
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def _exists(path: str) -> bool:
    import hailtop.fs as hfs  # noqa: PLC0415

    return hfs.exists(path.rstrip("/"))


def _check_outputs(args, export: str | None) -> None:
    """Before anything runs: no output is the input (or another output); an existing output
    is replaced only with --overwrite."""
    outputs = [("-O", args.output)] + ([("--export-vcf", export)] if export else [])
    for flag, path in outputs:
        if _same(path, args.input):
            raise OutputIsInputError(
                f"{flag} {path} is the input -I {args.input}; writing it would destroy the "
                "input: choose another output name")
        if args.cache and _same(path, args.cache):
            raise ConfigError(f"{flag} {path} is the score cache --cache {args.cache}: "
                              "choose another output name")
        if _exists(path) and not args.overwrite:
            raise OutputError(f"{flag} {path} exists; pass --overwrite to replace it, or "
                              "choose another name")
    if export and _same(export, args.output):
        raise ConfigError(f"--export-vcf {export} is -O {args.output}: choose another name")
    if args.cache and _same(args.cache, args.input):
        raise ConfigError(f"--cache {args.cache} is the input -I {args.input}")


def _read_input(hl, hail_table, args):
    """(data, VcfSource or None, records in the VCF or None, contig recoding or None)."""
    path = args.input.rstrip("/")
    if path.endswith((".ht", ".mt")) and not _exists(path + "/_SUCCESS"):
        what = "does not exist" if not _exists(path) else "is not a complete Hail table"
        raise InputUnreadableError(f"-I {args.input} {what}")
    if path.endswith(".ht"):
        return hl.read_table(path), None, None, None
    if path.endswith(".mt"):
        return hl.read_matrix_table(path), None, None, None
    if not path.endswith((".vcf", ".vcf.gz", ".vcf.bgz")):
        raise ConfigError(f"-I {args.input}: expected a .vcf/.vcf.gz/.vcf.bgz file or a Hail "
                          ".ht/.mt directory (convert BCF with `bcftools view -Oz`)")
    from ..hail import vcf_import  # noqa: PLC0415

    rgname = args.reference_genome
    recode = None
    if rgname.lower() == "fasta":
        from ..hail.reference import reference_genome_from_fasta  # noqa: PLC0415

        rg = reference_genome_from_fasta(args.reference)
    elif rgname in ("GRCh37", "GRCh38"):
        rg = hl.get_reference(rgname)
        recode = GRCH38_RECODING if rgname == "GRCh38" else None
    else:
        raise ConfigError(f"--reference-genome must be GRCh37, GRCh38 or fasta, got {rgname!r}")
    source = vcf_import.open_source(path)
    found = vcf_import.survey(source)
    vcf_import.check(source, found, rg, recode, from_fasta=rgname.lower() == "fasta")
    if recode:
        recode = {c: recode[c] for c in found.contigs if c in recode}   # the ones used
    mt = vcf_import.import_checked(source, found, rg, recode or None)
    return mt, source, found.records, recode


#: words of Hail/Spark errors that come from the input's content
_INPUT_WORDS = ("error while parsing", "invalid locus", "vcfparseerror", "numberformatexception",
                "not in the reference genome", "eofexception", "not in gzip format",
                "zipexception", "invalid character", "ploidy")


def _hail_error(exc: BaseException, args) -> SeqScoreError:
    """A Hail/Spark/Java error as one line: its deepest message, without the stack trace."""
    text = str(exc).strip()
    marker = f"{RuntimeUnavailableError.__name__}: "
    if marker in text:      # an executor's runtime or device (e.g. --device cuda on its CPU)
        return RuntimeUnavailableError(text.split(marker)[-1].splitlines()[0].strip())
    lines = [ln.strip(" :") for ln in text.splitlines() if ln.strip(" :")]
    first = lines[0] if lines else type(exc).__name__
    if first.startswith("An error occurred while calling"):      # a bare Py4JJavaError
        first = next((ln for ln in lines if "Exception: " in ln), first)
    first = first.split("Exception: ")[-1] if "Exception: " in first else first
    if len(first) > 400:
        first = first[:400] + "…"
    if any(w in text.lower() for w in _INPUT_WORDS):
        return InputFormatError(f"-I {args.input}: Hail cannot read it: {first}")
    return SeqScoreError(f"Hail failed: {first} (the Hail log has the details)")
