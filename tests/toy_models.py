"""A tiny ONNX sequence model that honours the seqscore model contract.

It stands in for SpliceAI where a test or benchmark measures the plumbing (daemon, Hail, VEP)
rather than the network: same input/output layout and metadata, a 100-bp context instead of
10,000, random but fixed weights.  Built with ``onnx.helper`` — no torch needed.

    python tests/toy_models.py OUT.onnx [--context 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hail_seqscore import __version__  # noqa: E402
from hail_seqscore.models.spec import ModelSpec  # noqa: E402


def toy_spec(context: int, scorer: str = "spliceai", name: str = "toy") -> ModelSpec:
    return ModelSpec(
        name=name, version="0", source_package="tests/toy_models.py", source_version="0",
        weights_sha256={"random-seed-0": "0" * 64}, context=context, alphabet="ACGT",
        n_value=0.0, output_channels=("neither", "acceptor", "donor"), input_layout="NLC",
        members=1, licence="CC0", attribution="synthetic test model", exporter_version=__version__,
        scorer=scorer,
    )


def _trunk(rng, context: int, hidden: int, n_out: int, w2_scale: float, b2: np.ndarray,
           pads: list[int] | None = None) -> tuple[list, list]:
    """x [batch, length, 4] → ``logits`` [batch, n_out, length - context] (or ``length`` with
    ``pads``): one dilated convolution (receptive field context + 1), ReLU, a 1x1 convolution.
    Returns (nodes, initializers)."""
    from onnx import helper, numpy_helper

    if context % 20:
        raise ValueError(f"context must be a multiple of 20, got {context}")
    kernel, dilation = 21, context // 20          # receptive field 1 + 20 * dilation = context + 1
    w1 = rng.normal(0, 0.6, (hidden, 4, kernel)).astype(np.float32)
    b1 = rng.normal(0, 0.1, (hidden,)).astype(np.float32)
    w2 = rng.normal(0, w2_scale, (n_out, hidden, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Transpose", ["x"], ["xc"], perm=[0, 2, 1]),
        helper.make_node("Conv", ["xc", "w1", "b1"], ["h"], dilations=[dilation],
                         kernel_shape=[kernel], **({"pads": pads} if pads else {})),
        helper.make_node("Relu", ["h"], ["hr"]),
        helper.make_node("Conv", ["hr", "w2", "b2"], ["logits"], kernel_shape=[1]),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2.astype(np.float32), "b2"))]
    return nodes, inits


def _save(path, nodes: list, inits: list, outputs: list[tuple[str, int]], spec: ModelSpec,
          length: object = "length") -> Path:
    """The graph as an ONNX file with the spec's metadata (written under a temporary name)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes, spec.name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", length, 4])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", "out_length", c])
         for n, c in outputs],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, spec.to_metadata())
    onnx.checker.check_model(model)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, out)
    return out


def build_toy_model(path: str | os.PathLike, context: int = 100, hidden: int = 8,
                    seed: int = 0, scorer: str = "spliceai", name: str = "toy") -> Path:
    from onnx import helper

    rng = np.random.default_rng(seed)
    nodes, inits = _trunk(rng, context, hidden, 3, 1.0, np.array([2.0, -1.0, -1.0]))
    nodes += [helper.make_node("Softmax", ["logits"], ["p"], axis=1),
              helper.make_node("Transpose", ["p"], ["y"], perm=[0, 2, 1])]
    return _save(path, nodes, inits, [("y", 3)], toy_spec(context, scorer, name))


TISSUES = ("heart", "liver", "brain", "testis")


def build_toy_pangolin(path: str | os.PathLike, context: int = 100, hidden: int = 8,
                       seed: int = 0, replicates: int = 2, name: str = "toypango") -> Path:
    """A Pangolin-shaped toy: ``y_members`` = each replicate's P(splice) (sigmoid), tissue by
    tissue (``p_splice_heart_r1``, ``p_splice_heart_r2``, …), and ``y`` = their mean per
    tissue, with the metadata of ``seqscore export pangolin`` (scorer ``pangolin``)."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(seed)
    n = replicates * len(TISSUES)
    nodes, inits = _trunk(rng, context, hidden, n, 1.5, np.full((n,), -1.0))
    avg = np.zeros((len(TISSUES), n, 1), dtype=np.float32)
    for t in range(len(TISSUES)):
        avg[t, t * replicates:(t + 1) * replicates, 0] = 1.0 / replicates
    nodes += [
        helper.make_node("Sigmoid", ["logits"], ["pm"]),
        helper.make_node("Conv", ["pm", "avg"], ["pt"], kernel_shape=[1]),
        helper.make_node("Transpose", ["pm"], ["y_members"], perm=[0, 2, 1]),
        helper.make_node("Transpose", ["pt"], ["y"], perm=[0, 2, 1]),
    ]
    spec = dataclasses.replace(
        toy_spec(context, "pangolin", name), members=n,
        output_channels=tuple(f"p_splice_{t}" for t in TISSUES),
        member_channels=tuple(f"p_splice_{t}_r{r + 1}" for t in TISSUES
                              for r in range(replicates)))
    return _save(path, nodes, inits + [numpy_helper.from_array(avg, "avg")],
                 [("y", len(TISSUES)), ("y_members", n)], spec)


TOY_TRACKS = ({"name": "CAGE+", "assay": "CAGE", "strand": "+"},
              {"name": "CAGE-", "assay": "CAGE", "strand": "-"},
              {"name": "DNASE", "assay": "DNase", "cell_type": "K562"})


def build_toy_tracks(path: str | os.PathLike, context: int = 100, hidden: int = 8,
                     seed: int = 0, input_length: int = 0, bin_size: int = 1,
                     name: str = "toytracks", reduction: str = "diff") -> Path:
    """A track model (kind ``tracks``): softplus of a dilated convolution, 3 tracks (two
    strand-paired); any input length (``input_length=0``, base resolution) or a fixed length
    whose ``input_length - context`` outputs are averaged into bins of ``bin_size`` (with
    ``bin_size == input_length``: one value per window over a zero-padded convolution, context
    0, as AI-TAC)."""
    from onnx import helper

    rng = np.random.default_rng(seed)
    whole = bool(input_length) and bin_size == input_length   # one value per window (AI-TAC)
    nodes, inits = _trunk(rng, context, hidden, len(TOY_TRACKS), 1.0,
                          np.zeros((len(TOY_TRACKS),)),
                          pads=[context // 2, context // 2] if whole else None)
    nodes.append(helper.make_node("Softplus", ["logits"], ["p"]))
    last = "p"
    if whole:
        nodes.append(helper.make_node("GlobalAveragePool", ["p"], ["pb"]))
        last = "pb"
    elif bin_size > 1:
        nodes.append(helper.make_node("AveragePool", ["p"], ["pb"], kernel_shape=[bin_size],
                                      strides=[bin_size]))
        last = "pb"
    nodes.append(helper.make_node("Transpose", [last], ["y"], perm=[0, 2, 1]))
    spec = dataclasses.replace(
        toy_spec(context, "tracks", name), kind="tracks",
        output_channels=tuple(t["name"] for t in TOY_TRACKS), tracks=TOY_TRACKS,
        context=0 if whole else context, input_length=input_length, bin_size=bin_size,
        output_offset=0 if whole else context // 2, default_reduction=reduction)
    return _save(path, nodes, inits, [("y", len(TOY_TRACKS))], spec,
                 length=input_length or "length")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--context", type=int, default=100)
    a = ap.parse_args()
    print(build_toy_model(a.out, a.context))
