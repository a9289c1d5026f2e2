"""The model's VCF INFO field from a scored Hail table, written as a VCF.

The INFO key and its header line are the model's scorer's own
(:func:`hail_seqscore.kinds.splice.info_format`, found from the scorer score_table recorded in
the ``<name>_provenance`` global): ``SpliceAI`` for SpliceAI and CI-SpliceAI, ``OpenSpliceAI``
for OpenSpliceAI.  Each entry is ``ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL``
with the scores as ``{:.2f}``, as ``seqscore score``, spliceai 1.3.1 and ``openspliceai
variant`` write it.  Hail formats with
Java's HALF_UP rounding, Python with half-even on the exact binary value: they differ only
for exact ties, of which a delta score can hit 0.125 and 0.625; those are spelled out.

Two routes:

* :func:`annotate_vcf_text` — the input was a VCF: its lines are written as they were read
  (header, ID, QUAL, FILTER, every INFO entry, FORMAT and sample columns, contig names, line
  endings), only the model's key and ``SeqScore_skip=`` set in INFO as ``seqscore score
  --flag-skipped`` sets them, and our two ``##INFO`` lines added before ``#CHROM``.  The scores
  are joined to the lines by key (contig as the table names it, POS, REF and ALTs); the lines
  keep their order (their index in the file), so the output has exactly the input's records.
* :func:`export_vcf` — the input was a Hail table: ``hl.export_vcf`` of its ``rsid``, ``qual``,
  ``filters``, ``info`` and (for a matrix table) entries, with Hail's number formatting.
"""

from __future__ import annotations

import os

import hail as hl
import hailtop.fs as hfs

from ..errors import ConfigError
from ..kinds import info_format
from ..kinds.splice import InfoFormat
from ..models.spec import OPTIONAL
from ..vcf import SKIP_FIELD, SKIP_HEADER
from .files import is_uri
from .vcf_import import VcfSource, data_fields, declared
from .worker import POS_FIELDS, SCORE_FIELDS

_SKIP_DESCRIPTION = SKIP_HEADER.split('Description="', 1)[1].rstrip('">')


def info_output(data, name: str) -> InfoFormat:
    """The VCF INFO output of the scores in ``data[name]``: that of the scorer score_table
    recorded in the ``<name>_provenance`` global (SpliceAI's for tables scored before the
    scorer was recorded)."""
    glob = f"{name}_provenance"
    prov = data[glob] if glob in data.globals else None
    scorer = hl.eval(prov.scorer) if prov is not None and "scorer" in prov else None
    if scorer == "tracks":
        raise ConfigError("VCF export of a track model's scores is not available from Hail; "
                          "the table holds them (effects, max_abs_effect, top_track), and "
                          "`seqscore score` writes them as VCF")
    return info_format(scorer or OPTIONAL["scorer"])


def format_ds(x):
    return (hl.case().when(x == 0.125, "0.12").when(x == 0.625, "0.62")
            .default(hl.format("%.2f", x)))


def splice_entries(result) -> "hl.ArrayExpression":
    """``result`` is the row field score_table added → array of INFO entries (the splice
    kind's format, under whichever key the scorer writes)."""
    def entry(s):
        scored = hl.delimit(hl.array([s.allele, s.gene]
                                     + [format_ds(s[f]) for f in SCORE_FIELDS]
                                     + [hl.str(s[f]) for f in POS_FIELDS]), "|")
        unscored = s.allele + "|" + s.gene + "|.|.|.|.|.|.|.|."
        return hl.if_else(hl.is_defined(s.ds_ag), scored, unscored)

    return hl.or_else(result.scores.map(entry), hl.empty_array(hl.tstr))


def pangolin_value(x) -> "hl.StringExpression":
    """A Pangolin value as its CLI prints it: rounded to 2 decimals, ``0.07``, ``-0.0`` for a
    negative that rounds to zero (Hail rounds half up where numpy rounds half to even: a
    value exactly halfway between two hundredths may differ by 0.01)."""
    k = hl.int64(hl.floor(hl.abs(x) * 100 + 0.5))          # |x| in hundredths
    frac = k % 100
    digits = hl.if_else(frac % 10 == 0, hl.str(frac // 10),
                        hl.if_else(frac < 10, "0" + hl.str(frac), hl.str(frac)))
    return hl.if_else(x < 0, "-", "") + hl.str(k // 100) + "." + digits


def pangolin_entries(result, alleles) -> "hl.ArrayExpression":
    """Pangolin's blocks ``gene|pos:gain|pos:loss|Warnings:…`` of ``result``; with several
    ALTs (``alleles`` longer than 2) each block starts with its allele, as ``seqscore score``
    writes them."""
    def block(s):
        text = hl.delimit(hl.array([s.gene, hl.str(s.gain_pos) + ":" + pangolin_value(s.gain),
                                    hl.str(s.loss_pos) + ":" + pangolin_value(s.loss),
                                    "Warnings:" + s.warnings]), "|")
        return hl.if_else(hl.len(alleles) > 2, s.allele + "|" + text, text)

    return hl.or_else(result.scores.map(block), hl.empty_array(hl.tstr))


def info_entries(result, alleles) -> "hl.ArrayExpression":
    """The INFO entries of ``result`` in the format of its record (told by its fields)."""
    if "effects" in result.dtype["scores"].element_type:
        raise ConfigError("VCF export of a track model's scores is not available from Hail; "
                          "the table holds them (effects, max_abs_effect, top_track), and "
                          "`seqscore score` writes them as VCF")
    if "gain" in result.dtype["scores"].element_type:
        return pangolin_entries(result, alleles)
    return splice_entries(result)


def skip_entries(result) -> "hl.ArrayExpression":
    """``ALLELE|CODE`` for each ALT that was not scored (empty when all were, or no gene)."""
    return hl.or_else(result.skipped.map(lambda s: s.allele + "|" + s.code),
                      hl.empty_array(hl.tstr))


def _nonempty(values):
    return hl.or_missing(hl.len(values) > 0, values)


# ---- the text route: the input VCF's own lines -----------------------------------------------
def set_info(info, key: str, values):
    """Hail version of :func:`hail_seqscore.vcf.set_info`: ``key=v1,v2`` set in the INFO text
    (an existing ``key`` replaced where it stands, later copies dropped), or removed where
    ``values`` is missing; every other entry kept as written; ``.`` for an empty INFO.
    (Each intermediate is bound once: Hail does not share repeated sub-expressions.)"""
    def with_parts(parts, entry):
        keys = parts.map(lambda p: p.split("=", 2)[0])
        return hl.rbind(keys, hl.or_else(keys.index(key), -1),
                        lambda keys, first: _put(parts, keys, first, key, entry))

    parts = hl.if_else((info == ".") | (info == ""), hl.empty_array(hl.tstr), info.split(";"))
    entry = hl.or_missing(hl.is_defined(values), key + "=" + hl.delimit(values, ","))
    return hl.rbind(parts, entry, with_parts)


def _put(parts, keys, first, key: str, entry):
    kept = hl.range(hl.len(parts)).filter(
        lambda j: (keys[j] != key) | ((j == first) & hl.is_defined(entry)))
    out = kept.map(lambda j: hl.if_else(keys[j] == key, entry, parts[j]))
    out = hl.if_else((first < 0) & hl.is_defined(entry), out.append(entry), out)
    return hl.if_else(hl.len(out) == 0, ".", hl.delimit(out, ";"))


def _header_line(text, ours: list[str], contigs: dict[str, str] | None):
    """A header line as written: our ##INFO lines before ``#CHROM``; contig IDs recoded."""
    text = hl.if_else(text.startswith("#CHROM"), "".join(h + "\n" for h in ours) + text, text) \
        if ours else text
    if contigs:
        prefix = "##contig=<ID="
        m = text.first_match_in(r"^##contig=<ID=([^,>]+)")
        mapping = hl.literal(contigs, dtype=hl.tdict(hl.tstr, hl.tstr))
        new = hl.or_missing(hl.is_defined(m) & mapping.contains(m[0]),
                            prefix + mapping.get(m[0]) + text[len(prefix) + hl.len(m[0]):])
        text = hl.coalesce(new, text)
    return text


def annotate_vcf_text(source: VcfSource, scored, name: str, path: str, *,
                      contig_recoding: dict[str, str] | None, reference_genome,
                      recode_contigs: bool = False, fmt: InfoFormat | None = None) -> None:
    """Write ``source``'s lines to ``path`` with the scores of ``scored`` (a Table or
    MatrixTable scored by score_table under ``name``, keyed by locus/alleles) in INFO under
    ``fmt``'s key (default: the scorer's, :func:`info_output`).
    ``contig_recoding`` is the recoding the table was imported with; ``recode_contigs``
    writes the table's contig names (CHROM and ``##contig``) instead of the input's."""
    fmt = fmt or info_output(scored, name)
    rows = scored.rows() if isinstance(scored, hl.MatrixTable) else scored
    lookup = rows.select(r=rows[name]).select_globals().distinct()
    recode = dict(contig_recoding or {})
    mapping = hl.literal(recode, dtype=hl.tdict(hl.tstr, hl.tstr))

    lines = source.lines().add_index("i")
    lines = lines._key_by_assert_sorted("i")             # add_index: already in key order
    is_data, _ = data_fields(lines)
    recs = lines.filter(is_data)
    cr = recs.text.endswith("\r")
    body = hl.if_else(cr, recs.text[:-1], recs.text)
    f = body.split("\t", 9)
    contig = hl.or_else(mapping.get(f[0]), f[0])
    alts = hl.if_else(f[4] == ".", hl.empty_array(hl.tstr), f[4].split(","))
    recs = recs.select(f=f, cr=cr, locus=hl.locus(contig, hl.int32(f[1]),
                                                  reference_genome=reference_genome),
                       alleles=hl.array([f[3]]).extend(alts))
    recs = recs.annotate(r=lookup.index(recs.locus, recs.alleles).r)
    recs = recs.annotate(scores=_nonempty(info_entries(recs.r, recs.alleles)),
                         skip=_nonempty(skip_entries(recs.r)))
    recs = recs.annotate(info=set_info(recs.f[7], fmt.key, recs.scores))
    recs = recs.annotate(info=set_info(recs.info, SKIP_FIELD, recs.skip))
    first = recs.f[:7]
    if recode_contigs:
        first = hl.array([recs.locus.contig]).extend(first[1:])
    text = (hl.delimit(first, "\t") + "\t" + recs.info
            + hl.if_else(hl.len(recs.f) > 8, "\t" + recs.f[8], "")
            + hl.if_else(recs.cr, "\r", ""))
    recs = recs.select(new=hl.if_else(hl.is_defined(recs.r), text, hl.missing(hl.tstr)))

    have = declared(source.header)["INFO"]
    ours = [h for key, h in ((fmt.key, fmt.header), (SKIP_FIELD, SKIP_HEADER))
            if key not in have]
    contigs = {k: v for k, v in recode.items()} if recode_contigs else None
    new = recs[lines.i].new
    out = lines.select(text=hl.if_else(is_data, hl.coalesce(new, lines.text),
                                       _header_line(lines.text, ours, contigs)))
    _write_text(out.key_by().select("text"), path)


def _write_text(table: "hl.Table", path: str) -> None:
    """``Table.export`` of one text column, bgzipped for ``.gz``/``.bgz`` names, written under
    a temporary name beside ``path`` and moved there only when complete."""
    ext = ".bgz" if path.endswith((".gz", ".bgz")) else ""
    if is_uri(path):
        tmp = f"{path}.seqscore-tmp{ext}"
    else:
        d, base = os.path.split(os.path.abspath(path))
        tmp = os.path.join(d, f".{base}.seqscore-tmp-{os.getpid()}{ext}")
    try:
        table.export(tmp, header=False)
        if is_uri(path):
            hfs.copy(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if hfs.exists(tmp):
            hfs.remove(tmp)
        if not is_uri(path):     # Hadoop's local file system leaves a checksum beside it
            crc = os.path.join(os.path.dirname(tmp), f".{os.path.basename(tmp)}.crc")
            if os.path.exists(crc):
                os.remove(crc)


# ---- the Hail route: a Table or MatrixTable input -------------------------------------------
def export_vcf(data, name: str, path: str, fmt: InfoFormat | None = None) -> None:
    """Write ``data`` (scored by score_table under ``name``) with ``hl.export_vcf``: its
    ``rsid``, ``qual``, ``filters``, ``info`` and entries, INFO under ``fmt``'s key (default:
    the scorer's, :func:`info_output`) and, for ALTs that were not scored,
    ``SeqScore_skip=ALLELE|CODE`` (as ``seqscore score --flag-skipped``).
    """
    fmt = fmt or info_output(data, name)
    result = data[name]
    row = data.row
    has_info = "info" in row and isinstance(data.info.dtype, hl.tstruct)
    scores = _nonempty(info_entries(result, data.alleles))
    if has_info and data.info.dtype.get(fmt.key) == hl.tarray(hl.tstr):
        scores = hl.coalesce(scores, data.info[fmt.key])     # kept, as score does
    add = {fmt.key: scores, SKIP_FIELD: _nonempty(skip_entries(result))}
    info = data.info.annotate(**add) if has_info else hl.struct(**add)
    types = {"rsid": hl.tstr, "qual": hl.tfloat64, "filters": hl.tset(hl.tstr)}
    keep = {f: data[f] for f, t in types.items() if f in row and data[f].dtype == t}
    meta = {"info": {k: {"Number": ".", "Type": "String", "Description": d}
                     for k, d in ((fmt.key, fmt.description), (SKIP_FIELD, _SKIP_DESCRIPTION))}}
    if isinstance(data, hl.MatrixTable):
        out = data.select_rows(**keep, info=info).select_globals()
    else:
        out = data.select(**keep, info=info).select_globals()
    hl.export_vcf(out, path, metadata=meta)
