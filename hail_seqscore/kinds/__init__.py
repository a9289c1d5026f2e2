"""Kinds of model output: how each tool's results are written (VCF INFO, JSON records).

``splice``    per-gene splice-site delta scores of SpliceAI, CI-SpliceAI and OpenSpliceAI: the
              SpliceAI entry format under each tool's own INFO key (``kinds/splice.py``);
``pangolin``  Pangolin's per-gene largest gain and loss over tissues, as its CLI writes them
              (``kinds/pangolin.py``; a scorer of the splice kind with a record of its own);
``tracks``    regulatory track models' per-track effects (``SeqScore_<model>=``,
              ``kinds/tracks.py``).

How windows are planned and predictions become records is in ``rules/``.  A front end asks a
model's spec (``spec.kind``, ``spec.scorer``) for its output here; it never names a model.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import ModelFormatError
from .pangolin import PANGOLIN, PANGOLIN_GAIN_LOSS, PangolinFormat
from .splice import DELTA_FORMATS, SPLICE_DELTAS, InfoFormat
from .tracks import TRACK_EFFECTS, TracksFormat, tracks_format

#: the VCF output of each scorer (``ModelSpec.scorer``)
INFO_FORMATS: dict[str, InfoFormat | PangolinFormat] = {**DELTA_FORMATS, "pangolin": PANGOLIN}

#: the JSON result record of each (kind, scorer) (shown by the daemon's GET /v1/models)
RESULT_RECORDS: dict[tuple[str, str], dict[str, Any]] = {
    ("splice", "spliceai"): SPLICE_DELTAS,
    ("splice", "openspliceai"): SPLICE_DELTAS,     # same record, its own VCF key
    ("splice", "pangolin"): PANGOLIN_GAIN_LOSS,
    ("tracks", "tracks"): TRACK_EFFECTS,
}


def output_format(model: Mapping[str, Any], tracks: str | None = None
                  ) -> InfoFormat | PangolinFormat | TracksFormat:
    """The VCF output of a model described by ``model`` (a session's provenance or a
    ``GET /v1/models`` entry: ``name``, ``kind``, ``scorer`` and, for track models, ``tracks``
    and ``default_reduction``); ``tracks`` selects the tracks written (``--tracks``)."""
    if model.get("kind") == "tracks":
        names = [t["name"] for t in model.get("tracks") or ()]
        return tracks_format(str(model.get("name", "model")), names, tracks,
                             str(model.get("reduction") or model.get("default_reduction", "")))
    return info_format(str(model.get("scorer") or "spliceai"))


def info_format(scorer: str) -> InfoFormat | PangolinFormat:
    """The VCF output of models scored by ``scorer`` (a ModelSpec's ``scorer``)."""
    try:
        return INFO_FORMATS[scorer]
    except KeyError:
        raise ModelFormatError(
            f"models scored by {scorer!r} have no VCF output yet (known: "
            f"{', '.join(INFO_FORMATS)})") from None
