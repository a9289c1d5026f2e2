"""hail-seqscore: score genetic variants with sequence-to-function models exported to ONNX.

Public names (imported on first use, so ``import hail_seqscore`` stays light):

* ``Engine``, ``EngineConfig`` — score variants in process (``engine.py``);
* ``Variant``, ``ScoreResult``, ``GeneScore``, ``PangolinScore``, ``TrackEffects``, ``ErrorInfo``
  — the records every front end shares (``records.py``);
* ``Client`` — the scoring daemon's HTTP client (``client.py``);
* ``score_table``, ``ScoreCache``, ``ScoreStats`` — Hail (the ``hail/`` package; needs the hail extra).

A variant may also be given as ``{"chrom": "17", "pos": 43045615, "ref": "G", "alt": "A"}``.
"""

import importlib as _importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Engine": "engine", "EngineConfig": "engine",
    "Variant": "records", "ScoreResult": "records", "GeneScore": "records",
    "PangolinScore": "records", "TrackEffects": "records", "ErrorInfo": "records",
    "Client": "client",
    "score_table": "hail.table", "ScoreCache": "hail.table", "ScoreStats": "hail.table",
    "precompute_table": "hail.precompute",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):  # PEP 562: heavy modules (Hail, onnxruntime) only when first used
    if name in _EXPORTS:
        return getattr(_importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
