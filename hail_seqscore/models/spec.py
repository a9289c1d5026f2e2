"""What an exported model's ONNX metadata says: the contract between ``export/`` and the runtime.

The runtime never hard-codes a model's window, channels or N value: it reads them here.

Contract of an exported sequence model:

* input ``x``: float32 ``[batch, length, 4]``, one-hot in ``alphabet`` order, N = ``n_value``;
* output ``y``: float32 ``[batch, length - context, channels]`` — the graph computes only the
  central positions (each output sees ``context // 2`` bases on either side).

Optional keys (defaults keep files exported before them valid): ``kind`` — what the outputs are
(``splice``: per-base splice-site probabilities) —, ``scorer`` — whose rules turn REF and
ALT outputs into scores (``spliceai``, ``openspliceai`` or ``pangolin``) — and
``member_channels``: when present, the graph has a second output ``y_members``
``[batch, length - context, len(member_channels)]`` with every ensemble member's own outputs
(Pangolin: each replicate's P(splice), for its insertion rule).

The ``tracks`` kind (regulatory models: Puffin, Enformer, Basenji2, AI-TAC, a user's own) adds
optional keys that say how output bins map onto the input window:

* ``input_length``: the one input length the graph takes, or ``0`` for any length (a fully
  convolutional model such as Puffin, whose output then has ``length - context`` positions);
* ``bin_size``: bases per output bin (1 for base-resolution models such as Puffin);
* ``output_offset``: bases from the window's first base to the first bin's first base
  (``context // 2`` for a cropped base-resolution model);
* ``tracks``: JSON list, one object per output channel in channel order, with ``name`` (equal to
  ``output_channels``) and optional ``description``, ``assay``, ``cell_type``, ``strand``;
* ``default_reduction``: how a variant's effect on a track is reduced over bins by default
  (``diff``, ``log2fc`` or ``max_abs_diff``; see ``kinds/tracks.py``).

For a fixed-length model ``y`` is ``[batch, n_bins, tracks]``; ``context`` is then the input
length minus ``n_bins * bin_size`` (the bases that give context but get no bin).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

from ..errors import ModelFormatError

PREFIX = "seqscore."
REQUIRED = (
    "name", "version", "source_package", "source_version", "weights_sha256", "context",
    "alphabet", "n_value", "output_channels", "input_layout", "members", "licence",
    "attribution", "exporter_version",
)
#: optional keys and their defaults (the SpliceAI-shaped files exported before them)
OPTIONAL = {"kind": "splice", "scorer": "spliceai"}
#: optional keys of the tracks kind (see the module docstring) and their defaults
TRACK_KEYS = {"input_length": "0", "bin_size": "1", "output_offset": "", "tracks": "[]",
              "default_reduction": "diff"}
MEMBER_OUTPUT = "y_members"
KINDS = ("splice", "tracks")
SCORERS = ("spliceai", "openspliceai", "pangolin", "tracks")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str
    source_package: str
    source_version: str
    weights_sha256: Mapping[str, str]
    context: int
    alphabet: str
    n_value: float
    output_channels: tuple[str, ...]
    input_layout: str
    members: int
    licence: str
    attribution: str
    exporter_version: str
    kind: str = OPTIONAL["kind"]
    scorer: str = OPTIONAL["scorer"]
    member_channels: tuple[str, ...] = ()
    # the tracks kind (see the module docstring)
    input_length: int = 0
    bin_size: int = 1
    output_offset: int | None = None       # None: context // 2
    tracks: tuple[Mapping[str, str], ...] = ()
    default_reduction: str = "diff"
    input_name: str = "x"
    output_name: str = "y"

    @property
    def offset(self) -> int:
        """Bases from the window's first base to the first output bin's first base."""
        return self.context // 2 if self.output_offset is None else self.output_offset

    @property
    def flank(self) -> int:
        """Bases of context on each side of an output position."""
        return self.context // 2

    def channel(self, name: str) -> int:
        try:
            return self.output_channels.index(name)
        except ValueError:
            raise ModelFormatError(
                f"model {self.name!r} has no output channel {name!r} "
                f"(it has {', '.join(self.output_channels)})"
            ) from None

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str], *, source: str = "model") -> "ModelSpec":
        missing = [k for k in REQUIRED if PREFIX + k not in meta]
        if missing:
            raise ModelFormatError(
                f"{source}: ONNX metadata lacks {', '.join(PREFIX + k for k in missing)}; "
                "was it written by `seqscore export`?"
            )
        g = lambda k: meta[PREFIX + k]  # noqa: E731
        try:
            spec = cls(
                name=g("name"),
                version=g("version"),
                source_package=g("source_package"),
                source_version=g("source_version"),
                weights_sha256=json.loads(g("weights_sha256")),
                context=int(g("context")),
                alphabet=g("alphabet"),
                n_value=float(g("n_value")),
                output_channels=tuple(g("output_channels").split(",")),
                input_layout=g("input_layout"),
                members=int(g("members")),
                licence=g("licence"),
                attribution=g("attribution"),
                exporter_version=g("exporter_version"),
                kind=meta.get(PREFIX + "kind", OPTIONAL["kind"]),
                scorer=meta.get(PREFIX + "scorer", OPTIONAL["scorer"]),
                member_channels=tuple(c for c in meta.get(PREFIX + "member_channels",
                                                          "").split(",") if c),
                input_length=int(meta.get(PREFIX + "input_length", TRACK_KEYS["input_length"])),
                bin_size=int(meta.get(PREFIX + "bin_size", TRACK_KEYS["bin_size"])),
                output_offset=(int(meta[PREFIX + "output_offset"])
                               if meta.get(PREFIX + "output_offset") else None),
                tracks=tuple(json.loads(meta.get(PREFIX + "tracks", TRACK_KEYS["tracks"]))),
                default_reduction=meta.get(PREFIX + "default_reduction",
                                           TRACK_KEYS["default_reduction"]),
            )
        except (ValueError, json.JSONDecodeError) as exc:
            raise ModelFormatError(f"{source}: malformed seqscore metadata: {exc}") from None
        if spec.input_layout != "NLC":
            raise ModelFormatError(f"{source}: input_layout {spec.input_layout!r}, expected 'NLC'")
        if spec.context < 0 or spec.context % 2:
            raise ModelFormatError(f"{source}: context {spec.context} must be even and >= 0")
        if len(spec.alphabet) != 4:
            raise ModelFormatError(f"{source}: alphabet {spec.alphabet!r} must have 4 letters")
        if spec.bin_size < 1 or spec.input_length < 0:
            raise ModelFormatError(f"{source}: bin_size {spec.bin_size} must be >= 1 and "
                                   f"input_length {spec.input_length} >= 0")
        if spec.tracks and [t.get("name") for t in spec.tracks] != list(spec.output_channels):
            raise ModelFormatError(f"{source}: the track table's names differ from "
                                   "output_channels")
        if spec.kind not in KINDS or spec.scorer not in SCORERS:
            raise ModelFormatError(
                f"{source}: kind {spec.kind!r} / scorer {spec.scorer!r} not supported (kinds: "
                f"{', '.join(KINDS)}; scorers: {', '.join(SCORERS)}); a newer hail-seqscore may "
                "read it")
        return spec

    def to_metadata(self) -> dict[str, str]:
        return {
            PREFIX + "name": self.name,
            PREFIX + "version": self.version,
            PREFIX + "source_package": self.source_package,
            PREFIX + "source_version": self.source_version,
            PREFIX + "weights_sha256": json.dumps(dict(self.weights_sha256), sort_keys=True),
            PREFIX + "context": str(self.context),
            PREFIX + "alphabet": self.alphabet,
            PREFIX + "n_value": repr(float(self.n_value)),
            PREFIX + "output_channels": ",".join(self.output_channels),
            PREFIX + "input_layout": self.input_layout,
            PREFIX + "members": str(self.members),
            PREFIX + "licence": self.licence,
            PREFIX + "attribution": self.attribution,
            PREFIX + "exporter_version": self.exporter_version,
            PREFIX + "kind": self.kind,
            PREFIX + "scorer": self.scorer,
            **({PREFIX + "member_channels": ",".join(self.member_channels)}
               if self.member_channels else {}),
            **({PREFIX + "input_length": str(self.input_length),
                PREFIX + "bin_size": str(self.bin_size),
                PREFIX + "output_offset": str(self.offset),
                PREFIX + "tracks": json.dumps([dict(t) for t in self.tracks]),
                PREFIX + "default_reduction": self.default_reduction}
               if self.kind == "tracks" else {}),
        }
