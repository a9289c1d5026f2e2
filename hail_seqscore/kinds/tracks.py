"""The output of regulatory track models (kind ``tracks``): VCF INFO and the JSON record.

One INFO key per model, ``SeqScore_<model>``, one entry per ALT allele::

    ALLELE|top:TRACK:VALUE|TRACK:VALUE|TRACK:VALUE|…

``top`` is the track with the largest |effect| and its (signed) effect (the summary; always
there), followed by the
selected tracks in the model's order: all of them by default for models with at most
:data:`MAX_DEFAULT_TRACKS` tracks (Puffin's 10), none beyond the summary for larger ones
(Enformer's 5,313) unless ``--tracks`` names them.  Values are the effects (see
``scoring_tracks``: ``diff``, ``log2fc`` or ``max_abs_diff``) printed with 4 significant
digits.  Track names are percent-encoded where VCF INFO cannot carry a character.  The header
line names the model, the reduction and the tracks written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import ConfigError
from ..records import ScoreResult
from .splice import _field

MAX_DEFAULT_TRACKS = 20
_UNSAFE = re.compile(r"%(?![0-9A-Fa-f]{2})|[,;=|:\s]")


def safe(name: str) -> str:
    """A track name as INFO can carry it (``,;=|:`` and whitespace percent-encoded)."""
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), name)


def info_key(model: str) -> str:
    return "SeqScore_" + re.sub(r"[^A-Za-z0-9_]", "_", model)


def select_tracks(names: Sequence[str], wanted: str | None) -> tuple[int, ...]:
    """Indices of the tracks written: ``"all"``, ``"none"``, names separated by commas, or None
    (all for models with at most :data:`MAX_DEFAULT_TRACKS` tracks, else none)."""
    if wanted is None:
        return tuple(range(len(names))) if len(names) <= MAX_DEFAULT_TRACKS else ()
    if wanted == "all":
        return tuple(range(len(names)))
    if wanted == "none":
        return ()
    index = {n: i for i, n in enumerate(names)}
    picked = [w for w in (x.strip() for x in wanted.split(",")) if w]
    unknown = [w for w in picked if w not in index]
    if unknown:
        shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
        raise ConfigError(f"--tracks: the model has no track {', '.join(unknown)} (its "
                          f"{len(names)} tracks: {shown}; `seqscore models --tracks MODEL` "
                          "lists them)")
    return tuple(index[w] for w in picked)


@dataclass(frozen=True)
class TracksFormat:
    """The ``SeqScore_<model>`` INFO field of one track model (the interface of
    :class:`kinds.splice.InfoFormat`)."""

    model: str
    names: tuple[str, ...]
    selected: tuple[int, ...] = field(default=())
    reduction: str = ""

    @property
    def key(self) -> str:
        return info_key(self.model)

    @property
    def description(self) -> str:
        written = ",".join(safe(self.names[i]) for i in self.selected) or "none"
        return (f"{self.model} variant effects per track ({self.reduction or 'reduction'} of "
                f"ALT vs REF over the bins near the variant). Format: ALLELE|top:TRACK:VALUE|"
                f"TRACK:VALUE|... (top = the track of largest |effect|). Tracks written: {written}")

    @property
    def header(self) -> str:
        return (f'##INFO=<ID={self.key},Number=.,Type=String,'
                f'Description="{self.description}">')

    def entries(self, alt: str, result: ScoreResult, n_alts: int = 1) -> list[str]:
        out = []
        for rec in result.scores:
            top = rec.effects[self.names.index(rec.top_track)] if rec.top_track in \
                self.names else rec.max_abs_effect
            parts = [alt, f"top:{safe(rec.top_track)}:{top:.4g}"]
            parts += [f"{safe(self.names[i])}:{rec.effects[i]:.4g}" for i in self.selected]
            out.append("|".join(parts))
        return out


def tracks_format(model: str, names: Sequence[str], wanted: str | None = None,
                  reduction: str = "") -> TracksFormat:
    names = tuple(names)
    return TracksFormat(model, names, select_tracks(names, wanted), reduction)


#: a track model's record: ``results[i]["scores"]`` holds one object per variant
TRACK_EFFECTS: dict[str, Any] = {
    "record": "track_effects",
    "list": "scores",
    "per": "variant",
    "fields": [
        _field("effects", "array", "the effect on each track, in the model's track order "
               "(GET /v1/models lists the tracks)", items="number"),
        _field("reduction", "string", "how ALT vs REF was reduced over the bins",
               enum=["diff", "log2fc", "max_abs_diff"]),
        _field("max_abs_effect", "number", "the largest |effect| over the tracks"),
        _field("top_track", "string", "the track with that effect"),
    ],
}
