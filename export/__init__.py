"""Export SpliceAI-style models to ONNX: torch definitions, weight readers, parity references.

Needs the ``export`` extra (torch, onnx, h5py).  The runtime (``hail_seqscore``) never imports
this package.  Public API:

* :func:`export.onnx_export.export_model` — write one ONNX file for a known model (SpliceAI,
  CI-SpliceAI, OpenSpliceAI, Pangolin; :mod:`export.ensembles` says how each is assembled);
* :func:`export.sources.weight_files` — find (download or unpack) and sha256-check the weights;
* :func:`export.reference_keras.keras_forward` / :func:`export.reference_graphdef.graphdef_forward`
  / :mod:`export.reference_torch` — independent numpy forward passes used by the parity tests
  (``python -m export.parity_torch`` runs the full OpenSpliceAI / Pangolin check).
"""
