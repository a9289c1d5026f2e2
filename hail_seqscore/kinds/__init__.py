"""Kinds of model output: how each tool's results are written (VCF INFO, JSON records).

``splice``    per-gene splice-site delta scores of SpliceAI, CI-SpliceAI and OpenSpliceAI: the
              SpliceAI entry format under each tool's own INFO key (``kinds/splice.py``);
``pangolin``  Pangolin's per-gene largest gain and loss over tissues, as its CLI writes them
              (``kinds/pangolin.py``; a scorer of the splice kind with a record of its own).

How windows are planned and predictions become records is in ``rules/``.  A front end asks a
model's spec (``spec.kind``, ``spec.scorer``) for its output here; it never names a model.
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelFormatError
from .pangolin import PANGOLIN, PANGOLIN_GAIN_LOSS, PangolinFormat
from .splice import OPENSPLICEAI, SPLICE_DELTAS, SPLICEAI, InfoFormat

#: the VCF output of each scorer (``ModelSpec.scorer``)
INFO_FORMATS: dict[str, InfoFormat | PangolinFormat] = {
    "spliceai": SPLICEAI, "openspliceai": OPENSPLICEAI, "pangolin": PANGOLIN}

#: the JSON result record of each (kind, scorer) (shown by the daemon's GET /v1/models)
RESULT_RECORDS: dict[tuple[str, str], dict[str, Any]] = {
    ("splice", "spliceai"): SPLICE_DELTAS,
    ("splice", "openspliceai"): SPLICE_DELTAS,     # same record, its own VCF key
    ("splice", "pangolin"): PANGOLIN_GAIN_LOSS,
}


def info_format(scorer: str) -> InfoFormat | PangolinFormat:
    """The VCF output of models scored by ``scorer`` (a ModelSpec's ``scorer``)."""
    try:
        return INFO_FORMATS[scorer]
    except KeyError:
        raise ModelFormatError(
            f"models scored by {scorer!r} have no VCF output yet (known: "
            f"{', '.join(INFO_FORMATS)})") from None
