"""VCF in, VCF out: the model's INFO field (SpliceAI's by default), every record passed through.

Every input record is written out as the text it was, with only our INFO entries added
(``SpliceAI=…``, and with ``flag_skipped`` ``SeqScore_skip=ALLELE|REASON``); every header line
is kept, with our ``##INFO`` lines added before ``#CHROM``.  Records are read, scored and
written in chunks, so memory stays flat in the number of records.  The output is written
through a temporary file and renamed on success (see :mod:`output`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from .output import AtomicFile, check_not_input
from .records import ScoreResult, Variant
from .kinds.splice import SPLICEAI, InfoFormat
from .variants import is_symbolic
from .vcf_reader import VcfReader, VcfRecord, count_records, split_ending

__all__ = ["SPLICEAI_FIELD", "SPLICEAI_HEADER", "SKIP_FIELD", "SKIP_HEADER", "RunSummary",
           "annotate_vcf", "count_records", "format_info", "set_info"]

SPLICEAI_FIELD = SPLICEAI.key       # the default output (SpliceAI 1.3.1's field)
SPLICEAI_HEADER = SPLICEAI.header
SKIP_FIELD = "SeqScore_skip"
SKIP_HEADER = (
    f'##INFO=<ID={SKIP_FIELD},Number=.,Type=String,Description="hail-seqscore: why an ALT '
    'allele was not scored. Format: ALLELE|REASON_CODE">'
)
#: error codes given after the REF was compared with the reference
_REF_CHECKED = ("REF_MISMATCH", "NEAR_CONTIG_END", "REF_TOO_LONG")
#: a wrong-build warning needs at least this many mismatching alleles, and more than half
WRONG_BUILD_MIN = 10

ScoreFn = Callable[[Sequence[Variant]], list[ScoreResult]]


@dataclass
class RunSummary:
    records: int = 0
    records_annotated: int = 0
    alleles: int = 0
    alleles_scored: int = 0
    reasons: Counter = field(default_factory=Counter)
    missing_contigs: list[str] = field(default_factory=list)   # the first few, for messages

    def lines(self) -> list[str]:
        out = [f"{self.records} records read, {self.records_annotated} annotated; "
               f"{self.alleles} ALT alleles, {self.alleles_scored} scored"]
        for code, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  not scored: {code}: {n}")
        return out

    @property
    def ref_checked(self) -> int:
        """ALT alleles whose REF was compared with the reference."""
        return self.alleles_scored + sum(self.reasons[c] for c in _REF_CHECKED)

    def warnings(self) -> list[str]:
        """What suggests the wrong reference or build (most alleles mismatching, or on
        contigs the reference lacks)."""
        out = []
        bad, checked = self.reasons["REF_MISMATCH"], self.ref_checked
        if bad >= WRONG_BUILD_MIN and 2 * bad > checked:
            out.append(f"warning: {bad} of {checked} ALT alleles checked against the reference "
                       f"({100 * bad / checked:.0f}%) have a REF that does not match it: the "
                       "reference probably is not the build of the VCF (check -R, e.g. GRCh37 "
                       "vs GRCh38, and -A)")
        missing = self.reasons["CONTIG_NOT_FOUND"]
        if missing >= WRONG_BUILD_MIN and 2 * missing > self.alleles:
            names = ", ".join(self.missing_contigs)
            out.append(f"warning: {missing} of {self.alleles} ALT alleles lie on contigs the "
                       f"reference does not have ({names}): the reference probably is not the "
                       "one the VCF was called on (check -R)")
        return out


def format_info(alt: str, result: ScoreResult) -> list[str]:
    """SpliceAI's INFO entries of one ALT allele: one per gene, ``{:.2f}`` scores."""
    return SPLICEAI.entries(alt, result)


def set_info(info: str, key: str, values: Sequence[str] | None) -> str:
    """The INFO column ``info`` with ``key=v1,v2`` set (an existing ``key`` is replaced where
    it stands, as pysam does) or, for ``values=None``, removed.  Every other entry is kept as
    written; ``.`` means an empty INFO."""
    parts = [] if info in (".", "") else info.split(";")
    entry = None if values is None else f"{key}={','.join(values)}"
    out, placed = [], False
    for part in parts:
        if part.split("=", 1)[0] == key:
            if entry is not None and not placed:
                out.append(entry)
                placed = True
            continue
        out.append(part)
    if entry is not None and not placed:
        out.append(entry)
    return ";".join(out) if out else "."


def output_header(lines: list[str], flag_skipped: bool,
                  fmt: InfoFormat = SPLICEAI) -> list[str]:
    """The input's header lines, unchanged, with our ``##INFO`` lines before ``#CHROM``
    (unless the input declares them already)."""
    declared = {line.split(",", 1)[0][len("##INFO=<ID="):] for line in lines
                if line.startswith("##INFO=<ID=")}
    ours = [h for key, h in ((fmt.key, fmt.header), (SKIP_FIELD, SKIP_HEADER))
            if key not in declared and (key != SKIP_FIELD or flag_skipped)]
    *meta, chrom = lines
    ending = split_ending(chrom)[1] or "\n"
    meta = [m if m.endswith("\n") else m + "\n" for m in meta]
    return meta + [h + ending for h in ours] + [chrom]


def annotate_vcf(input_path: str | VcfReader, output_path: str, score: ScoreFn, *,
                 flag_skipped: bool = False, chunk_size: int = 512,
                 on_progress: Callable[[int], None] | None = None,
                 inputs: Mapping[str, str | None] | None = None,
                 fmt: InfoFormat = SPLICEAI) -> RunSummary:
    """Read ``input_path`` (a path, or a :class:`VcfReader` opened by the caller, which this
    closes), score every ALT allele with ``score``, write ``output_path``.

    ``-`` means stdin/stdout; an output ending in ``.gz`` or ``.bgz`` is bgzipped.  The output
    may not be the input or any of ``inputs`` (``{what: path}``, e.g. the reference).  ``fmt``
    is the INFO field written: the model's own tool's (``kinds.splice.info_format``)."""
    reader = input_path if isinstance(input_path, VcfReader) else VcfReader(input_path)
    summary = RunSummary()
    with reader:
        check_not_input(output_path, {"input VCF": reader.path, **(inputs or {})})
        if not reader.header:
            reader.open()
        header = output_header(reader.header, flag_skipped, fmt)
        with AtomicFile(output_path, bgzip=output_path.endswith((".gz", ".bgz")),
                        what="output VCF") as out:
            out.write(_encode(header))
            for chunk in _chunks(reader.records(), chunk_size):
                out.write(_encode(_annotate_chunk(chunk, score, summary, flag_skipped, fmt)))
                if on_progress:
                    on_progress(len(chunk))
    return summary


def _chunks(records: Iterator[VcfRecord], size: int) -> Iterator[list[VcfRecord]]:
    chunk: list[VcfRecord] = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _encode(lines: Iterable[str]) -> bytes:
    return "".join(lines).encode("utf-8", "surrogateescape")


def _annotate_chunk(chunk: list[VcfRecord], score: ScoreFn, summary: RunSummary,
                    flag_skipped: bool, fmt: InfoFormat) -> list[str]:
    variants = [Variant(rec.chrom, rec.pos, rec.ref, alt)
                for rec in chunk for alt in rec.alts if not is_symbolic(alt)]
    results = {r.variant.key: r for r in score(variants)} if variants else {}
    lines = []
    for rec in chunk:
        summary.records += 1
        entries: list[str] = []
        skipped: list[str] = []
        alts = rec.alts
        if not alts:
            summary.reasons["NO_ALT"] += 1
        for alt in alts:
            summary.alleles += 1
            code = None
            if is_symbolic(alt):
                code = "UNSUPPORTED_VARIANT"
            else:
                r = results[(rec.chrom, rec.pos, rec.ref, alt)]
                if r.error is not None:
                    code = r.error.code
                elif not r.scores:
                    summary.reasons["NO_GENE"] += 1
                else:
                    summary.alleles_scored += 1
                    entries += fmt.entries(alt, r, len(alts))
            if code is not None:
                summary.reasons[code] += 1
                skipped.append(f"{alt}|{code}")
                if code == "CONTIG_NOT_FOUND" and rec.chrom not in summary.missing_contigs \
                        and len(summary.missing_contigs) < 3:
                    summary.missing_contigs.append(rec.chrom)
        if entries:
            rec.fields[7] = set_info(rec.fields[7], fmt.key, entries)
            summary.records_annotated += 1
        if flag_skipped:
            rec.fields[7] = set_info(rec.fields[7], SKIP_FIELD, skipped or None)
        lines.append(rec.text())
    return lines
