"""Export models to ONNX: torch definitions, weight readers, parity references.

Needs the ``export`` extra (torch, onnx, h5py).  The runtime (``hail_seqscore``) never imports
this package.  Public API:

* :func:`export.onnx_export.export_model` — write one ONNX file for a known model (splice
  models: SpliceAI, CI-SpliceAI, OpenSpliceAI, Pangolin, :mod:`export.ensembles` says how each is
  assembled; track models: Puffin, Enformer, Basenji2, AI-TAC, :mod:`export.tracks_known`);
* :mod:`export.custom` — the user's own PyTorch track model with a spec (``export custom``);
* :mod:`export.tracks_onnx` — the one writer of track models' ONNX files;
* :func:`export.sources.weight_files` — find (download or unpack) and sha256-check the weights;
* :func:`export.reference_keras.keras_forward` / :func:`export.reference_graphdef.graphdef_forward`
  / :mod:`export.reference_torch` — independent numpy forward passes used by the parity tests
  (``python -m export.parity_torch`` runs the full OpenSpliceAI / Pangolin check).
"""
