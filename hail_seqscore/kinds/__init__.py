"""Kinds of model output, one module each: how a kind's results are written.

``splice``  per-gene splice-site delta scores (SpliceAI, CI-SpliceAI, OpenSpliceAI): the VCF
            INFO key, its header line and entry strings of each scorer's own tool.

A front end asks a model's spec (``spec.kind``, ``spec.scorer``) for its output format here;
it never names a model.
"""
