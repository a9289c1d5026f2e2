"""VCF in, VCF out (pysam): SpliceAI's INFO header and strings, plain or bgzipped, ``-`` for stdio.

Every input record is written out: scored, or unchanged (optionally flagged with the reason it
was not scored).  Records are scored in chunks so memory stays bounded on large files.
"""

from __future__ import annotations

import gzip
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from .errors import InputFormatError
from .records import ScoreResult, Variant
from .scoring import format_ds
from .variants import is_symbolic

SPLICEAI_HEADER = (
    '##INFO=<ID=SpliceAI,Number=.,Type=String,Description="SpliceAIv1.3.1 variant '
    'annotation. These include delta scores (DS) and delta positions (DP) for '
    'acceptor gain (AG), acceptor loss (AL), donor gain (DG), and donor loss (DL). '
    'Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL">'
)
SKIP_FIELD = "SeqScore_skip"
SKIP_HEADER = (
    f'##INFO=<ID={SKIP_FIELD},Number=.,Type=String,Description="hail-seqscore: why an ALT '
    'allele was not scored. Format: ALLELE|REASON_CODE">'
)

ScoreFn = Callable[[Sequence[Variant]], list[ScoreResult]]


@dataclass
class RunSummary:
    records: int = 0
    records_annotated: int = 0
    alleles: int = 0
    alleles_scored: int = 0
    reasons: Counter = field(default_factory=Counter)

    def lines(self) -> list[str]:
        out = [f"{self.records} records read, {self.records_annotated} annotated; "
               f"{self.alleles} ALT alleles, {self.alleles_scored} scored"]
        for code, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  not scored: {code}: {n}")
        return out


def format_info(alt: str, result: ScoreResult) -> list[str]:
    """SpliceAI's INFO entries of one ALT allele: one per gene, ``{:.2f}`` scores."""
    entries = []
    for s in result.scores:
        if not s.scored:
            entries.append(f"{alt}|{s.gene}|.|.|.|.|.|.|.|.")
        else:
            entries.append("|".join([alt, s.gene, format_ds(s.ds_ag), format_ds(s.ds_al),
                                     format_ds(s.ds_dg), format_ds(s.ds_dl), str(s.dp_ag),
                                     str(s.dp_al), str(s.dp_dg), str(s.dp_dl)]))
    return entries


def _open_input(path: str):
    import pysam  # noqa: PLC0415

    pysam.set_verbosity(0)   # our errors name the line; htslib's own would repeat them
    if path != "-" and not os.path.exists(path):
        raise FileNotFoundError(f"input VCF {path} does not exist")
    try:
        return pysam.VariantFile(path)
    except (OSError, ValueError) as exc:
        raise InputFormatError(f"{path}: cannot read as VCF/BCF: {exc}") from None


def count_records(path: str) -> int | None:
    """Number of records in a VCF file (None for stdin or unreadable files)."""
    if path == "-":
        return None
    try:
        vf = _open_input(path)
        n = sum(1 for _ in vf)
        vf.close()
        return n
    except Exception:  # a count is only for the progress bar; the real read reports errors
        return None


def _records(vf, path: str, header_lines: int) -> Iterator:
    n = 0
    it = iter(vf)
    while True:
        try:
            rec = next(it)
        except StopIteration:
            return
        except (OSError, ValueError) as exc:
            lineno = header_lines + n + 1
            text = _line_text(path, lineno)
            shown = f": {text[:120]!r}" if text else ""
            raise InputFormatError(
                f"{path}: line {lineno}: malformed VCF record{shown} ({exc})") from None
        n += 1
        yield rec


def _header_line_count(path: str) -> int | None:
    """Lines of the ``#`` header of a plain or gzipped VCF file (None for stdin/BCF)."""
    if path == "-" or path.endswith(".bcf"):
        return None
    try:
        opener = gzip.open if path.endswith((".gz", ".bgz")) else open
        n = 0
        with opener(path, "rt", errors="replace") as fh:
            for line in fh:
                if not line.startswith("#"):
                    break
                n += 1
        return n
    except OSError:
        return None


def _line_text(path: str, lineno: int) -> str | None:
    """The text of line ``lineno`` of a plain or gzipped file (None for stdin/BCF)."""
    if path == "-":
        return None
    try:
        opener = gzip.open if path.endswith((".gz", ".bgz")) else open
        with opener(path, "rt", errors="replace") as fh:
            for i, line in enumerate(fh, start=1):
                if i == lineno:
                    return line.rstrip("\n")
    except OSError:
        return None
    return None


def annotate_vcf(input_path: str, output_path: str, score: ScoreFn, *,
                 flag_skipped: bool = False, chunk_size: int = 512,
                 on_progress: Callable[[int], None] | None = None) -> RunSummary:
    """Read ``input_path``, score every ALT allele with ``score``, write ``output_path``.

    ``-`` means stdin/stdout; an output ending in ``.gz`` or ``.bgz`` is bgzipped."""
    import pysam  # noqa: PLC0415

    vf = _open_input(input_path)
    header = vf.header
    header_lines = _header_line_count(input_path) or len(str(header).splitlines())
    if "SpliceAI" not in header.info:
        header.add_line(SPLICEAI_HEADER)
    if flag_skipped and SKIP_FIELD not in header.info:
        header.add_line(SKIP_HEADER)
    mode = "wz" if output_path.endswith((".gz", ".bgz")) else "w"
    try:
        out = pysam.VariantFile(output_path, mode=mode, header=header)
    except (OSError, ValueError) as exc:
        raise InputFormatError(f"cannot write {output_path}: {exc}") from None
    summary = RunSummary()
    try:
        chunk: list = []
        for rec in _records(vf, input_path, header_lines):
            chunk.append(rec)
            if len(chunk) >= chunk_size:
                _write_chunk(chunk, out, score, summary, flag_skipped)
                if on_progress:
                    on_progress(len(chunk))
                chunk = []
        if chunk:
            _write_chunk(chunk, out, score, summary, flag_skipped)
            if on_progress:
                on_progress(len(chunk))
    finally:
        out.close()
        vf.close()
    return summary


def _write_chunk(chunk: list, out, score: ScoreFn, summary: RunSummary,
                 flag_skipped: bool) -> None:
    variants: list[Variant] = []
    for rec in chunk:
        for alt in rec.alts or ():
            if not is_symbolic(alt):
                variants.append(Variant(rec.chrom, rec.pos, rec.ref, alt))
    results = {r.variant.key: r for r in score(variants)} if variants else {}
    for rec in chunk:
        summary.records += 1
        entries: list[str] = []
        skipped: list[str] = []
        for alt in rec.alts or ():
            summary.alleles += 1
            if is_symbolic(alt):
                summary.reasons["UNSUPPORTED_VARIANT"] += 1
                skipped.append(f"{alt}|UNSUPPORTED_VARIANT")
                continue
            r = results[(rec.chrom, rec.pos, rec.ref, alt)]
            if r.error is not None:
                summary.reasons[r.error.code] += 1
                skipped.append(f"{alt}|{r.error.code}")
            elif not r.scores:
                summary.reasons["NO_GENE"] += 1
            else:
                summary.alleles_scored += 1
                entries += format_info(alt, r)
        if not rec.alts:
            summary.reasons["NO_ALT"] += 1
        if entries:
            rec.info["SpliceAI"] = entries
            summary.records_annotated += 1
        if flag_skipped and skipped:
            rec.info[SKIP_FIELD] = skipped
        if rec.chrom not in out.header.contigs:
            # a contig the input header never declared (htslib reads it with a warning): declare
            # it in the output header too, or pysam cannot write the record
            out.header.add_line(f"##contig=<ID={rec.chrom}>")
        out.write(rec)
