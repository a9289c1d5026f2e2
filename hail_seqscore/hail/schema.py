"""The Hail types of a scored row, chosen by the model's kind, and the key check every entry
point shares.

A model's ``kind`` and ``scorer`` (its ONNX metadata, :class:`~hail_seqscore.models.spec.ModelSpec`)
decide the row field score_table adds (:func:`result_struct` of its record in
``kinds.RESULT_RECORDS``: SpliceAI's delta scores, Pangolin's gain/loss) and how it is written
as VCF INFO (:func:`hail_seqscore.kinds.info_format`: ``SpliceAI``, ``OpenSpliceAI`` or
``Pangolin``).  A model whose kind or scorer has no output here is refused on the driver,
before any Spark work (:func:`result_type`).
"""

from __future__ import annotations

import hail as hl

from ..errors import ConfigError, InputFormatError, ModelFormatError
from ..kinds import INFO_FORMATS, RESULT_RECORDS, output_format
from ..kinds.splice import SPLICE_DELTAS
from ..models.spec import ModelSpec
from .worker import record_fields

_TYPES = {"string": hl.tstr, "number": hl.tfloat64, "integer": hl.tint32,
          "array<number>": hl.tarray(hl.tfloat32)}


def gene_type(record: dict) -> hl.tstruct:
    """One entry of ``scores``: the ALT allele and the record's scalar fields."""
    return hl.tstruct(allele=hl.tstr, **{n: _TYPES[t] for n, t in record_fields(record)})


SKIPPED = hl.tstruct(allele=hl.tstr, code=hl.tstr)


def result_struct(record: dict) -> hl.tstruct:
    """The new row field: one entry per ALT allele × gene, the row's largest score
    (``max_ds``: SpliceAI's largest delta score, Pangolin's largest |gain| or |loss|), and —
    where an ALT was not scored — the error code and message (the first ALT's code; every
    ALT's in ``skipped``)."""
    return hl.tstruct(scores=hl.tarray(gene_type(record)), max_ds=hl.tfloat64,
                      reason_code=hl.tstr, reason=hl.tstr, skipped=hl.tarray(SKIPPED))


GENE_SCORE = gene_type(SPLICE_DELTAS)
#: the row field of SpliceAI, CI-SpliceAI and OpenSpliceAI (every model's field has these
#: top-level names; only the ``scores`` entries differ)
RESULT = result_struct(SPLICE_DELTAS)


def result_type(spec: ModelSpec, source: str):
    """The row field, the VCF INFO output and the per-gene record of models like ``spec``
    (``source`` names the model in messages); :class:`ModelFormatError` for a model whose
    kind or scorer has no Hail output, so it is refused before anything is scored."""
    record = RESULT_RECORDS.get((spec.kind, spec.scorer))
    try:
        fmt = output_format({"name": spec.name, "kind": spec.kind, "scorer": spec.scorer,
                             "tracks": [{"name": n} for n in spec.output_channels],
                             "default_reduction": spec.default_reduction}
                            ) if record is not None else None
    except ModelFormatError:
        fmt = None
    if record is None or fmt is None:
        raise ModelFormatError(
            f"model {source} ({spec.name}: kind {spec.kind!r}, scorer {spec.scorer!r}) has "
            "no Hail output yet; score_table and seqscore hail take models scored as "
            f"{' or '.join(INFO_FORMATS)} and track models")
    return result_struct(record), fmt, record


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


def result_rows(ht: "hl.Table") -> "hl.Table":
    """``ht`` with only the result fields (:data:`RESULT`) beside its key, in their order."""
    return ht.select(**{f: ht[f] for f in RESULT})


def empty_scores(locus_type: hl.tlocus, record: dict = SPLICE_DELTAS) -> "hl.Table":
    """A scores table with no rows (keyed like the input)."""
    row = hl.tstruct(locus=locus_type, alleles=hl.tarray(hl.tstr), **result_struct(record))
    return hl.Table.parallelize([], row, key=["locus", "alleles"])
