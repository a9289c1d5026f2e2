"""hail-seqscore: score genetic variants with sequence-to-function models exported to ONNX."""

__version__ = "0.1.0"

_HAIL_EXPORTS = ("score_table", "ScoreCache", "ScoreStats")


def __getattr__(name):  # PEP 562: Hail is imported only when these are first used
    if name in _HAIL_EXPORTS:
        from . import hail_ops

        return getattr(hail_ops, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
