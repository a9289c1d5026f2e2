"""SpliceAI's VCF INFO field from a scored Hail table, and ``hl.export_vcf``.

Each entry is ``ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL`` with the
scores as ``{:.2f}``, as ``seqscore score`` and spliceai 1.3.1 write it.  Hail formats with
Java's HALF_UP rounding, Python with half-even on the exact binary value: they differ only
for exact ties, of which a delta score can hit 0.125 and 0.625; those are spelled out.
"""

from __future__ import annotations

import hail as hl

from .worker import POS_FIELDS, SCORE_FIELDS


def format_ds(x):
    return (hl.case().when(x == 0.125, "0.12").when(x == 0.625, "0.62")
            .default(hl.format("%.2f", x)))


def spliceai_entries(result) -> "hl.ArrayExpression":
    """``result`` is the row field score_table added → array of SpliceAI INFO entries."""
    def entry(s):
        scored = hl.delimit(hl.array([s.allele, s.gene]
                                     + [format_ds(s[f]) for f in SCORE_FIELDS]
                                     + [hl.str(s[f]) for f in POS_FIELDS]), "|")
        unscored = s.allele + "|" + s.gene + "|.|.|.|.|.|.|.|."
        return hl.if_else(hl.is_defined(s.ds_ag), scored, unscored)

    return hl.or_else(result.scores.map(entry), hl.empty_array(hl.tstr))


def export_vcf(data, name: str, path: str) -> None:
    """Write ``data`` (scored by score_table under ``name``) as a VCF with INFO SpliceAI
    and, where a row was not scored, INFO SeqScore_skip=ALLELE|CODE for its ALTs without
    scores (as ``seqscore score --flag-skipped``)."""
    result = data[name]
    alleles = data.alleles
    unscored = alleles[1:].filter(lambda a: ~result.scores.any(lambda s: s.allele == a))
    add = dict(SpliceAI=spliceai_entries(result),
               SeqScore_skip=hl.or_missing(hl.is_defined(result.reason_code),
                                           unscored.map(lambda a: a + "|" + result.reason_code)))
    meta = {"info": {
        "SpliceAI": {"Number": ".", "Type": "String", "Description":
                     "SpliceAIv1.3.1 variant annotation (seqscore). These include delta "
                     "scores (DS) and delta positions (DP) for acceptor gain (AG), acceptor "
                     "loss (AL), donor gain (DG), and donor loss (DL). Format: ALLELE|SYMBOL|"
                     "DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL"},
        "SeqScore_skip": {"Number": ".", "Type": "String", "Description":
                          "hail-seqscore: why an ALT allele was not scored. Format: "
                          "ALLELE|REASON_CODE"}}}
    if isinstance(data, hl.MatrixTable):
        info = data.info.annotate(**add) if "info" in data.row else hl.struct(**add)
        out = data.select_rows(info=info)
        out = out.select_globals()
    else:
        info = data.info.annotate(**add) if "info" in data.row else hl.struct(**add)
        out = data.select(info=info).select_globals()
    hl.export_vcf(out, path, metadata=meta)
