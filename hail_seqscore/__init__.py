"""hail-seqscore: score genetic variants with sequence-to-function models exported to ONNX."""

__version__ = "0.1.0"
