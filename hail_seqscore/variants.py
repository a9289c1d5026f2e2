"""Variants: parse, classify and validate alleles; 1-based ``pos`` throughout.

SpliceAI's rules are kept: an ALT containing ``.``, ``-``, ``*``, ``<`` or ``>`` is not
scored; where both REF and ALT are longer than one base (MNV, complex indel) SpliceAI writes
``ALT|GENE|.|.|.|.|.|.|.|.`` unless complex scoring is switched on.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, Mapping

from .errors import InvalidVariantError
from .records import Variant, abbreviate

_BASES = re.compile(r"^[ACGTN]+$", re.IGNORECASE)


class VariantKind(str, Enum):
    SNV = "snv"
    INSERTION = "insertion"
    DELETION = "deletion"
    MNV = "mnv"
    COMPLEX = "complex"
    SYMBOLIC = "symbolic"     # <DEL>, breakends, ``*``, ``.``, ``-``

    @property
    def scored_by_spliceai(self) -> bool:
        """SpliceAI 1.3.1 scores SNVs and indels whose REF or ALT is a single base."""
        return self in (VariantKind.SNV, VariantKind.INSERTION, VariantKind.DELETION)


def is_symbolic(alt: str) -> bool:
    return any(c in alt for c in ".-*<>[]") or alt == ""


def classify(ref: str, alt: str) -> VariantKind:
    """The kind of an allele pair, by SpliceAI's length rules."""
    if is_symbolic(alt):
        return VariantKind.SYMBOLIC
    if len(ref) == 1 and len(alt) == 1:
        return VariantKind.SNV
    if len(ref) == 1:
        return VariantKind.INSERTION
    if len(alt) == 1:
        return VariantKind.DELETION
    return VariantKind.MNV if len(ref) == len(alt) else VariantKind.COMPLEX


def validate(v: Variant) -> Variant:
    """Check the fields of a variant; returns it with REF/ALT upper-cased."""
    if not isinstance(v.contig, str) or not v.contig:
        raise InvalidVariantError(f"{v}: chrom must be a non-empty string, got {v.contig!r}")
    if isinstance(v.pos, bool) or not isinstance(v.pos, int) or v.pos < 1:
        raise InvalidVariantError(f"{v}: pos must be an integer >= 1 (1-based), got {v.pos!r}")
    if not isinstance(v.ref, str) or not _BASES.match(v.ref):
        raise InvalidVariantError(f"{v}: ref must be bases A/C/G/T/N, got {abbreviate(v.ref)!r}")
    if not isinstance(v.alt, str) or not v.alt:
        raise InvalidVariantError(f"{v}: alt must be a non-empty string, got {abbreviate(v.alt)!r}")
    if not is_symbolic(v.alt) and not _BASES.match(v.alt):
        raise InvalidVariantError(
            f"{v}: alt must be bases A/C/G/T/N or symbolic, got {abbreviate(v.alt)!r}")
    if v.ref != v.ref.upper() or v.alt != v.alt.upper():
        return Variant(v.contig, v.pos, v.ref.upper(), v.alt.upper())
    return v


def from_mapping(d: Mapping[str, Any], *, where: str = "variant") -> Variant:
    """A variant from ``{"chrom", "pos", "ref", "alt"}`` (the daemon's JSON); errors name the field."""
    if not isinstance(d, Mapping):
        raise InvalidVariantError(f"{where}: expected an object with chrom, pos, ref, alt")
    missing = [k for k in ("chrom", "pos", "ref", "alt") if k not in d]
    if missing:
        raise InvalidVariantError(f"{where}: missing field(s) {', '.join(missing)}")
    chrom, pos, ref, alt = d["chrom"], d["pos"], d["ref"], d["alt"]
    if isinstance(chrom, int) and not isinstance(chrom, bool):
        chrom = str(chrom)
    for field, value in (("chrom", chrom), ("ref", ref), ("alt", alt)):
        if not isinstance(value, str):
            raise InvalidVariantError(f"{where}.{field}: expected a string, got {value!r}")
    if isinstance(pos, bool) or not isinstance(pos, int):
        raise InvalidVariantError(f"{where}.pos: expected an integer, got {pos!r}")
    return validate(Variant(chrom, pos, ref, alt))


def as_variant(obj: Any, where: str = "variant") -> Any:
    """``obj`` as a :class:`Variant` when it is a mapping ``{"chrom", "pos", "ref", "alt"}`` (the
    JSON shape the daemon and the README show); a Variant, or anything else, unchanged (the
    engine then reports it).  A malformed mapping raises :class:`InvalidVariantError`."""
    if isinstance(obj, Mapping):
        return from_mapping(obj, where=where)
    return obj


def parse(text: str) -> Variant:
    """``chrom:pos:ref:alt`` or ``chrom-pos-ref-alt`` (as gnomAD writes them)."""
    parts = re.split(r"[:\-]", text.strip()) if text.count(":") != 3 else text.strip().split(":")
    if len(parts) != 4:
        raise InvalidVariantError(f"{text!r}: expected chrom:pos:ref:alt")
    chrom, pos, ref, alt = parts
    try:
        ipos = int(pos)
    except ValueError:
        raise InvalidVariantError(f"{text!r}: position {pos!r} is not an integer") from None
    return validate(Variant(chrom, ipos, ref, alt))
