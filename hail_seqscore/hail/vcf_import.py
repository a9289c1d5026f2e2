"""A VCF into Hail for ``seqscore hail`` without losing a record, or one clear error.

``hl.import_vcf`` silently drops records whose REF is not A/C/G/T/N (IUPAC codes such as ``R``
or ``M`` occur in GRCh37 and dbSNP), silently drops INFO and FORMAT keys the header does not
declare, and fails deep inside a Spark job (a Java stack trace) on a contig or position its
reference genome does not have.  :func:`survey` reads the VCF's text once (one Spark pass over
its lines) and :func:`check` turns what Hail would drop or choke on into one
:class:`~hail_seqscore.errors.InputFormatError` naming the file, the record and what to do;
undeclared keys are declared (``Number=.``, ``Type=String``, or ``Flag``) in a header copy given
to ``hl.import_vcf``, so the matrix table keeps them.  The file's compression is told by its
bytes, not its name: plain gzip is read (serially), a ``.gz`` name on other bytes is refused.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field

import hail as hl
import hailtop.fs as hfs

from ..errors import InputFormatError, InputUnreadableError
from ..sniff import compression

#: header lines read to find ``#CHROM`` (a VCF header longer than this is refused)
MAX_HEADER_LINES = 1_000_000
#: REF alleles ``hl.import_vcf`` keeps (its ``acceptableRefAlleleBases``: A/C/G/T/N in either
#: case, ``.``, or htsjdk's symbolic and breakend forms); every other record is dropped by it
_KEPT_REF = r"^([ACGTNacgtn]*|\.|<.+|.+>|.*[\[\]].*|\..+|.+\.)$"
_DECLARED = re.compile(r"^##(INFO|FORMAT)=<ID=([^,>]+)")
EXAMPLES = 3


@dataclass
class VcfSource:
    """A VCF file and how Hail must read it (``force_bgz`` / ``force`` for plain gzip)."""

    path: str
    codec: str | None                       # None (plain text), "bgzf" or "gzip"
    header: list[str] = field(default_factory=list)   # header lines, ``#CHROM`` last

    @property
    def hail_kwargs(self) -> dict:
        if self.codec == "bgzf":
            return {"force_bgz": True}
        if self.codec == "gzip":
            return {"force": True}
        return {}

    def lines(self) -> "hl.Table":
        """Every line of the file, in order (``text``), as ``hl.import_lines`` reads them."""
        return hl.import_lines(self.path, **self.hail_kwargs)


@dataclass
class Survey:
    """What one pass over the data lines found."""

    records: int
    contigs: dict[str, tuple[int, int, int]]      # contig → (records, min pos, max pos)
    short: list[str]
    n_short: int
    bad_pos: list[str]
    n_bad_pos: int
    dropped_ref: list[str]
    n_dropped_ref: int
    info_keys: dict[str, bool]                    # key → ever written with a value
    format_keys: set[str]


def open_source(path: str) -> VcfSource:
    """Tell the compression by the bytes and read the header; one-line errors otherwise."""
    try:
        if not hfs.exists(path):
            raise InputUnreadableError(f"-I {path}: no such file")
        if hfs.is_dir(path):
            raise InputUnreadableError(f"-I {path} is a directory, not a VCF (a Hail table "
                                       "must end in .ht or .mt)")
        with hfs.open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise InputUnreadableError(f"-I {path}: cannot read it ({exc})") from None
    codec = compression(head)
    if codec not in (None, "bgzf", "gzip"):
        raise InputFormatError(f"-I {path} is {codec}-compressed; Hail reads plain text, gzip "
                               "or bgzip: recompress it with bgzip")
    named_gz = path.endswith((".gz", ".bgz"))
    if codec is None and named_gz:
        raise InputFormatError(f"-I {path} is named like a compressed file but is not "
                               "compressed: rename it to .vcf (or compress it with bgzip)")
    if codec is not None and not named_gz:
        raise InputFormatError(f"-I {path} is {codec}-compressed but not named .gz/.bgz, so "
                               "Hail would read it as text: rename it to .vcf.gz")
    if codec == "gzip" and path.endswith(".bgz"):
        raise InputFormatError(f"-I {path} is plain gzip, not bgzip, under a .bgz name: "
                               "recompress it with bgzip (or rename it to .vcf.gz)")
    return VcfSource(path, codec, _read_header(path, codec))


def _read_header(path: str, codec: str | None) -> list[str]:
    out: list[str] = []
    try:
        with hfs.open(path, "rb") as raw:
            stream = gzip.GzipFile(fileobj=raw) if codec else raw
            text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
            for line in text:
                line = line.rstrip("\r\n")
                if not line.startswith("#"):
                    break
                out.append(line)
                if line.startswith("#CHROM") or len(out) > MAX_HEADER_LINES:
                    break
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputFormatError(f"-I {path}: cannot read its header ({exc}); is the file "
                               "truncated?") from None
    if not out or not out[-1].startswith("#CHROM"):
        raise InputFormatError(f"-I {path} is not a VCF: no '#CHROM' header line before the "
                               "first record")
    return out


def declared(header: list[str]) -> dict[str, set[str]]:
    """The INFO and FORMAT IDs the header declares."""
    out: dict[str, set[str]] = {"INFO": set(), "FORMAT": set()}
    for line in header:
        m = _DECLARED.match(line)
        if m:
            out[m.group(1)].add(m.group(2))
    return out


def data_fields(lines: "hl.Table"):
    """(is a record line, its tab-separated fields: 0-7 and 8 = FORMAT + samples)."""
    is_data = ~lines.text.startswith("#") & (hl.len(lines.text) > 0)
    return is_data, lines.text.split("\t", 9)


def survey(source: VcfSource) -> Survey:
    """One pass over the records: counts, contigs and positions, and what Hail would drop."""
    lines = source.lines()
    lines = lines.filter(data_fields(lines)[0])
    lines = lines.select(f=data_fields(lines)[1], text=lines.text)
    f = lines.f

    def col(i):
        return hl.or_missing(hl.len(f) > i, f[i])

    pos = hl.parse_int32(hl.or_else(col(1), ""))
    short = hl.len(f) < 8
    ref = hl.or_else(col(3), "")
    where = hl.or_else(col(0), "") + ":" + hl.or_else(col(1), "")
    info = hl.or_else(col(7), ".")
    info_items = hl.if_else((info == ".") | (info == ""), hl.empty_array(hl.tstr),
                            info.split(";"))
    fmt = hl.or_else(col(8), "").split("\t", 2)[0]
    fmt_keys = hl.if_else((fmt == "") | (fmt == "."), hl.empty_array(hl.tstr), fmt.split(":"))
    agg = lines.aggregate(hl.struct(
        n=hl.agg.count(),
        contigs=hl.agg.filter(~short & hl.is_defined(pos), hl.agg.group_by(
            f[0], hl.struct(n=hl.agg.count(), lo=hl.agg.min(pos), hi=hl.agg.max(pos)))),
        short=hl.agg.filter(short, hl.struct(n=hl.agg.count(),
                                             ex=hl.agg.take(lines.text[:120], EXAMPLES))),
        bad_pos=hl.agg.filter(~short & hl.is_missing(pos), hl.struct(
            n=hl.agg.count(), ex=hl.agg.take(where, EXAMPLES))),
        bad_ref=hl.agg.filter(~short & ~ref.matches(_KEPT_REF), hl.struct(
            n=hl.agg.count(), ex=hl.agg.take(where + " REF " + ref[:20], EXAMPLES))),
        info=hl.agg.filter(~short, hl.agg.explode(
            lambda e: hl.agg.collect_as_set(hl.struct(key=e.split("=", 2)[0],
                                                      value=e.contains("="))), info_items)),
        fmt=hl.agg.filter(~short, hl.agg.explode(lambda k: hl.agg.collect_as_set(k),
                                                 fmt_keys)),
    ))
    keys: dict[str, bool] = {}
    for item in agg.info:
        keys[item.key] = keys.get(item.key, False) or item.value
    return Survey(records=agg.n,
                  contigs={c: (s.n, s.lo, s.hi) for c, s in agg.contigs.items()},
                  short=list(agg.short.ex), n_short=agg.short.n,
                  bad_pos=list(agg.bad_pos.ex), n_bad_pos=agg.bad_pos.n,
                  dropped_ref=list(agg.bad_ref.ex), n_dropped_ref=agg.bad_ref.n,
                  info_keys=keys, format_keys=set(agg.fmt))


def check(source: VcfSource, found: Survey, rg: "hl.ReferenceGenome",
          recode: dict[str, str] | None, *, from_fasta: bool = False) -> None:
    """Refuse (one :class:`InputFormatError`) what ``hl.import_vcf`` would drop silently or
    fail on with a stack trace.  ``from_fasta``: ``rg`` was built from -R's index."""
    path = source.path
    if found.n_short:
        raise InputFormatError(
            f"-I {path}: {found.n_short} record line(s) have fewer than 8 tab-separated "
            f"columns (first: {found.short[0]!r}); is it a VCF?")
    if found.n_bad_pos:
        raise InputFormatError(f"-I {path}: {found.n_bad_pos} record(s) have a POS that is "
                               f"not an integer (first: {found.bad_pos[0]})")
    if found.n_dropped_ref:
        raise InputFormatError(
            f"-I {path}: {found.n_dropped_ref} record(s) have a REF that Hail cannot import "
            f"(not A/C/G/T/N, e.g. an IUPAC code; first: {found.dropped_ref[0]}), and "
            "hl.import_vcf would drop them silently: fix those REF alleles (e.g. `bcftools "
            "norm --check-ref s -f REFERENCE`) or score the file with `seqscore score`")
    recode = recode or {}
    lengths = rg.lengths
    unknown = sorted(c for c in found.contigs if recode.get(c, c) not in lengths)
    if unknown:
        n = sum(found.contigs[c][0] for c in unknown)
        shown = ", ".join(unknown[:5]) + (f", … ({len(unknown)} in all)" if len(unknown) > 5
                                          else "")
        todo = ("use a FASTA that has them, or leave those records out (`bcftools view -t "
                f"^{','.join(unknown[:5])}`)" if from_fasta else
                "pass --reference-genome fasta (a genome with -R's contigs) if -R has them, "
                "or the build the VCF was called on")
        raise InputFormatError(
            f"-I {path}: {n} record(s) lie on contig(s) that Hail's reference genome "
            f"{rg.name} does not have ({shown}), so Hail cannot hold them: {todo}")
    for contig, (_, lo, hi) in sorted(found.contigs.items()):
        length = lengths[recode.get(contig, contig)]
        if lo < 1 or hi > length:
            bad = lo if lo < 1 else hi
            raise InputFormatError(
                f"-I {path}: a record at {contig}:{bad} lies outside contig "
                f"{recode.get(contig, contig)} of reference genome {rg.name} (1-{length:,}); "
                "is the VCF from another build?")


def header_with_declarations(source: VcfSource, found: Survey) -> str | None:
    """A copy of the header (in Hail's tmp_dir) that also declares the INFO and FORMAT keys
    the records use but the header does not, or None when nothing is undeclared."""
    have = declared(source.header)
    info = {k: v for k, v in found.info_keys.items() if k and k not in have["INFO"]}
    fmt = sorted(k for k in found.format_keys if k and k not in have["FORMAT"])
    if not info and not fmt:
        return None
    why = "not declared in the input header; declared by seqscore hail"
    extra = [f'##INFO=<ID={k},Number=.,Type=String,Description="{why}">' if v else
             f'##INFO=<ID={k},Number=0,Type=Flag,Description="{why}">'
             for k, v in sorted(info.items())]
    extra += [f'##FORMAT=<ID={k},Number=.,Type=String,Description="{why}">' for k in fmt]
    path = hl.utils.new_temp_file("seqscore_header", "vcf")
    with hfs.open(path, "w") as fh:
        fh.write("\n".join(source.header[:-1] + extra + source.header[-1:]) + "\n")
    return path


def import_checked(source: VcfSource, found: Survey, rg, recode: dict[str, str] | None):
    """``hl.import_vcf`` of a surveyed and checked VCF: every record, every INFO/FORMAT key."""
    header = header_with_declarations(source, found)
    return hl.import_vcf(source.path, reference_genome=rg, contig_recoding=recode,
                         array_elements_required=False, header_file=header,
                         **source.hail_kwargs)
