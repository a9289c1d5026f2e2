"""The Hail types of a scored row, chosen by the model's kind, and the key check every entry
point shares.

A model's ``kind`` (its ONNX metadata, :class:`~hail_seqscore.models.spec.ModelSpec`) decides
the row field score_table adds (:data:`RESULTS`); its ``scorer`` decides how that field is
written as VCF INFO (:func:`hail_seqscore.kinds.splice.info_format`: SpliceAI's key for
``spliceai``, ``OpenSpliceAI`` for ``openspliceai``).  A model whose kind or scorer has no
output here yet is refused on the driver, before any Spark work (:func:`result_type`).
"""

from __future__ import annotations

import hail as hl

from ..errors import ConfigError, InputFormatError, ModelFormatError
from ..kinds.splice import INFO_FORMATS, InfoFormat, info_format
from ..models.spec import ModelSpec
from .worker import POS_FIELDS, SCORE_FIELDS

GENE_SCORE = hl.tstruct(allele=hl.tstr, gene=hl.tstr, strand=hl.tstr,
                        **{f: hl.tfloat64 for f in SCORE_FIELDS},
                        **{f: hl.tint32 for f in POS_FIELDS})
SKIPPED = hl.tstruct(allele=hl.tstr, code=hl.tstr)
#: The new row field: one entry per ALT allele × gene, the row's maximum delta score, and —
#: where an ALT was not scored — the error code and message (the first ALT's code; every
#: ALT's in ``skipped``).
RESULT = hl.tstruct(scores=hl.tarray(GENE_SCORE), max_ds=hl.tfloat64, reason_code=hl.tstr,
                    reason=hl.tstr, skipped=hl.tarray(SKIPPED))

#: the row field of each kind of model output (``ModelSpec.kind``)
RESULTS = {"splice": RESULT}


def result_type(spec: ModelSpec, source: str) -> tuple[hl.tstruct, InfoFormat]:
    """The row field and the VCF INFO output of models like ``spec`` (``source`` names the
    model in messages); :class:`ModelFormatError` for a model whose kind or scorer has no Hail
    output yet (Pangolin), so it is refused before anything is scored."""
    result = RESULTS.get(spec.kind)
    try:
        fmt = info_format(spec.scorer) if result is not None else None
    except ModelFormatError:
        fmt = None
    if result is None or fmt is None:
        raise ModelFormatError(
            f"model {source} ({spec.name}: kind {spec.kind!r}, scorer {spec.scorer!r}) has "
            "no Hail output yet; score_table and seqscore hail take splice models scored as "
            f"{' or '.join(INFO_FORMATS)}")
    return result, fmt


def row_table(data) -> "hl.Table":
    """The rows of a Table or MatrixTable (for a MatrixTable: ``mt.rows()``)."""
    if isinstance(data, hl.MatrixTable):
        return data.rows()
    if isinstance(data, hl.Table):
        return data
    raise ConfigError(f"expected a hail Table or MatrixTable, got {type(data).__name__}")


def require_variant_key(ht: "hl.Table", what: str = "table") -> hl.tlocus:
    """The table must be keyed by exactly ``locus: locus<RG>`` and ``alleles: array<str>``
    (as ``hl.import_vcf`` makes it).  Returns the locus type (which names the reference)."""
    key = list(ht.key)
    types = {k: ht.key[k].dtype for k in key}
    if (key != ["locus", "alleles"] or not isinstance(types["locus"], hl.tlocus)
            or types["alleles"] != hl.tarray(hl.tstr)):
        found = ", ".join(f"{k}: {t}" for k, t in types.items()) or "no key"
        raise InputFormatError(
            f"the {what} must be keyed by [locus: locus<...>, alleles: array<str>] (as "
            f"hl.import_vcf makes it); it is keyed by [{found}]. Re-key it with "
            "key_by / key_rows_by(locus=..., alleles=...)")
    return types["locus"]


def empty_scores(locus_type: hl.tlocus) -> "hl.Table":
    """A scores table with no rows (keyed like the input)."""
    row = hl.tstruct(locus=locus_type, alleles=hl.tarray(hl.tstr), **RESULT)
    return hl.Table.parallelize([], row, key=["locus", "alleles"])
