"""Scoring rules: how one tool turns a variant into windows and its REF/ALT predictions into
its own per-gene records.  The engine (``engine.py``) batches the windows of every rule alike.

``spliceai``  SpliceAI 1.3.1's rule (SpliceAI, CI-SpliceAI and OpenSpliceAI): N outside the
              gene, one window per gene, four delta scores and positions (``records.GeneScore``).
``pangolin``  the Pangolin CLI's rule: no N padding, one window per strand, the largest gain
              and loss of P(splice) over tissues with its masking (``records.PangolinScore``).
``tracks``    regulatory track models: REF tiles or centred windows, per-track effects reduced
              over the bins near the variant (``records.TrackEffects``).

A model's ONNX metadata names its rule (``ModelSpec.scorer``); :func:`rule_for` finds it.  A
rule plans each variant into a :class:`Batch` (REF tile needs, incremental ALT jobs, whole
windows) and later builds the variant's result from the predictions (:class:`Predictions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import ModelFormatError
from ..records import ScoreResult, Variant
from ..tiles import TileGroup, find_tile

if TYPE_CHECKING:   # the engine hands itself to the rule; no import at run time (no cycle)
    from ..engine import Engine


@dataclass
class Batch:
    """What the variants of one engine call need run."""

    #: key -> (sequence, strand): whole windows (forward-strand sequence)
    windows: dict[tuple, tuple[str, str]] = field(default_factory=dict)
    #: REF output spans wanted per tile group, 0-based [start, end)
    needs: dict[TileGroup, list[tuple[int, int]]] = field(default_factory=dict)
    #: ALTs computed incrementally from their REF tile (None: no split graphs)
    incs: dict[TileGroup, dict[tuple, Any]] | None = None

    def need(self, group: TileGroup, start: int, end: int) -> tuple:
        self.needs.setdefault(group, []).append((start, end))
        return (group, start, end)


@dataclass
class Predictions:
    """The predictions of one call, in forward-strand order: REF tiles and ALT windows."""

    preds: dict[tuple, np.ndarray]
    tiles: dict[TileGroup, list[tuple[int, int]]]

    def ref(self, group: TileGroup, start: int, end: int) -> np.ndarray:
        """REF outputs at genome positions [start, end) (0-based) of ``group``."""
        ta, tb = find_tile(self.tiles[group], start, end)
        return self.preds[("tile", group, ta, tb)][start - ta:end - ta]

    def alt(self, key: tuple) -> np.ndarray:
        return self.preds[key]


class Rule(Protocol):
    #: the graph output the rule reads (``y``, or ``y_members`` for every ensemble member)
    output: str
    #: the tool's own default for masking
    default_mask: bool

    def load_annotation(self) -> Any: ...

    def check_reference(self) -> None: ...

    def plan(self, v: Variant, dist: int, batch: Batch) -> Any | ScoreResult: ...

    def finish(self, plan: Any, preds: Predictions, dist: int, mask: bool) -> ScoreResult: ...

    def provenance(self) -> dict[str, object]: ...


def rule_for(engine: "Engine") -> Rule:
    """The rule of the engine's model (its ``scorer``)."""
    from . import pangolin, spliceai, tracks  # noqa: PLC0415 - each imports its own math

    rules = {"spliceai": spliceai.SpliceAIRule, "openspliceai": spliceai.SpliceAIRule,
             "pangolin": pangolin.PangolinRule, "tracks": tracks.TracksRule}
    spec = engine.session.spec
    try:
        return rules[spec.scorer](engine)
    except KeyError:
        raise ModelFormatError(
            f"model {spec.name!r}: the engine has no rule for scorer {spec.scorer!r} (kind "
            f"{spec.kind!r}); rules: {', '.join(rules)}") from None
