"""The shapes every front end shares: a variant, a window, per-gene scores, a result.

Coordinates say their system in their name: ``pos`` is 1-based (as in VCF), ``start`` is
0-based and ``end`` exclusive (as in BED and Python slices).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def abbreviate(allele: object, limit: int = 20) -> str:
    """An allele for messages: alleles longer than ``limit`` show their first bases and length
    (so an error about a 100-kb insertion stays one short line)."""
    text = allele if isinstance(allele, str) else repr(allele)
    if len(text) <= limit:
        return text
    return f"{text[:10]}…({len(text):,} bp)"


@dataclass(frozen=True, slots=True)
class Variant:
    """One ALT allele at one site. ``pos`` is 1-based, as in VCF."""

    contig: str
    pos: int
    ref: str
    alt: str

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.contig, self.pos, self.ref, self.alt)

    @property
    def start(self) -> int:
        """0-based start of REF."""
        return self.pos - 1

    @property
    def end(self) -> int:
        """0-based exclusive end of REF."""
        return self.pos - 1 + len(self.ref)

    def __str__(self) -> str:
        return f"{self.contig}:{self.pos}:{abbreviate(self.ref)}>{abbreviate(self.alt)}"

    def to_dict(self) -> dict[str, Any]:
        return {"chrom": self.contig, "pos": self.pos, "ref": self.ref, "alt": self.alt}


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of one contig: ``start`` 0-based, ``end`` exclusive."""

    contig: str
    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class GeneScore:
    """SpliceAI's delta scores and positions of one ALT allele against one gene.

    ``ds_*`` are unrounded floats; ``dp_*`` are offsets in bp from the variant (negative =
    upstream on the forward strand).  All are ``None`` where SpliceAI writes ``.`` (MNVs and
    complex indels in parity mode).
    """

    gene: str
    strand: str
    ds_ag: float | None
    ds_al: float | None
    ds_dg: float | None
    ds_dl: float | None
    dp_ag: int | None
    dp_al: int | None
    dp_dg: int | None
    dp_dl: int | None

    @property
    def scored(self) -> bool:
        return self.ds_ag is not None

    def finite(self) -> bool:
        """No NaN or infinite score (unscored entries count as finite)."""
        return not self.scored or all(
            x == x and abs(x) != float("inf")
            for x in (self.ds_ag, self.ds_al, self.ds_dg, self.ds_dl))  # type: ignore[arg-type]

    @property
    def max_ds(self) -> float | None:
        if not self.scored:
            return None
        return max(self.ds_ag, self.ds_al, self.ds_dg, self.ds_dl)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        return {
            "gene": self.gene, "strand": self.strand,
            "ds_ag": self.ds_ag, "ds_al": self.ds_al, "ds_dg": self.ds_dg, "ds_dl": self.ds_dl,
            "dp_ag": self.dp_ag, "dp_al": self.dp_al, "dp_dg": self.dp_dg, "dp_dl": self.dp_dl,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GeneScore":
        return cls(**{k: d.get(k) for k in cls.__slots__})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class PangolinScore:
    """Pangolin's largest increase (gain) and decrease (loss) of splice-site usage over the
    tissues, for one ALT allele against one gene, after its masking.

    ``gain``/``loss`` are unrounded; ``*_pos`` are offsets in bp from the variant (negative =
    upstream on the forward strand).  ``warnings`` is ``""`` or
    ``NoAnnotatedSitesToMaskForThisGene``.  With the CLI's ``-s CUTOFF``, ``cutoff_sites``
    lists (pos, value) of every gain >= cutoff then every loss <= -cutoff; with
    ``--score_exons``, ``exon_sites`` holds per exon ((pos1, value1), (pos2, value2)), a value
    None where the site is out of range.
    """

    gene: str
    strand: str
    gain: float
    gain_pos: int
    loss: float
    loss_pos: int
    warnings: str = ""
    cutoff_sites: tuple[tuple[int, float], ...] | None = None
    exon_sites: tuple[tuple[tuple[int, float | None], tuple[int, float | None]], ...] | None \
        = None

    @property
    def scored(self) -> bool:
        return True

    @property
    def max_ds(self) -> float:
        """The larger of |gain| and |loss|."""
        return max(abs(self.gain), abs(self.loss))

    def finite(self) -> bool:
        return all(x == x and abs(x) != float("inf") for x in (self.gain, self.loss))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"gene": self.gene, "strand": self.strand, "gain": self.gain,
                             "gain_pos": self.gain_pos, "loss": self.loss,
                             "loss_pos": self.loss_pos, "warnings": self.warnings}
        if self.cutoff_sites is not None:
            d["cutoff_sites"] = [list(x) for x in self.cutoff_sites]
        if self.exon_sites is not None:
            d["exon_sites"] = [[list(a), list(b)] for a, b in self.exon_sites]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PangolinScore":
        cut = d.get("cutoff_sites")
        ex = d.get("exon_sites")
        return cls(d["gene"], d["strand"], d["gain"], d["gain_pos"], d["loss"], d["loss_pos"],
                   d.get("warnings", ""),
                   None if cut is None else tuple((int(p), v) for p, v in cut),
                   None if ex is None else tuple(((int(a[0]), a[1]), (int(b[0]), b[1]))
                                                 for a, b in ex))


@dataclass(frozen=True, slots=True)
class TrackEffects:
    """A track model's effect of one ALT allele: one value per track, in the model's track
    order, reduced over the bins near the variant (``reduction``: diff, log2fc or
    max_abs_diff), with the largest |effect| and its track.  One record per variant (the
    ``scores`` of a :class:`ScoreResult` hold exactly one)."""

    effects: tuple[float, ...]
    reduction: str
    max_abs_effect: float
    top_track: str

    @property
    def scored(self) -> bool:
        return True

    @property
    def gene(self) -> str:     # messages name a record's gene; a track record has none
        return self.top_track

    @property
    def max_ds(self) -> float:
        return self.max_abs_effect

    def finite(self) -> bool:
        return all(x == x and abs(x) != float("inf") for x in self.effects)

    def to_dict(self) -> dict[str, Any]:
        return {"effects": list(self.effects), "reduction": self.reduction,
                "max_abs_effect": self.max_abs_effect, "top_track": self.top_track}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrackEffects":
        return cls(tuple(float(x) for x in d["effects"]), d["reduction"],
                   float(d["max_abs_effect"]), d["top_track"])


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a variant was not scored: a stable code (see :mod:`errors`) and a message."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The outcome for one variant: per-gene scores, or the reason it was not scored.

    ``scores`` holds the model's own per-gene record (:class:`GeneScore` for SpliceAI,
    CI-SpliceAI and OpenSpliceAI, :class:`PangolinScore` for Pangolin, one
    :class:`TrackEffects` for a track model).  An empty ``scores``
    with no ``error`` means the variant lies in no annotated gene (the tools then write nothing
    for it).
    """

    variant: Variant
    scores: tuple[GeneScore | PangolinScore | TrackEffects, ...] = field(default_factory=tuple)
    error: ErrorInfo | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def max_ds(self) -> float | None:
        vals = [s.max_ds for s in self.scores if s.scored]
        return max(vals) if vals else None  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"variant": self.variant.to_dict()}
        if self.error is not None:
            d["error"] = self.error.to_dict()
        else:
            d["scores"] = [s.to_dict() for s in self.scores]
        return d
