"""The Hail types of a scored row, and the key check every entry point shares."""

from __future__ import annotations

import hail as hl

from ..errors import ConfigError, InputFormatError
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
