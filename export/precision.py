"""Half-precision (fp16) copies of exported graphs, for the opt-in ``--precision fp16``.

Every float weight and constant becomes float16 and the graph computes in float16; its inputs
and outputs stay float32 (a Cast after each input and before each output), so callers feed and
read the same arrays as for the fp32 graph.  The fp32 graph stays the default: scores from the
fp16 copy deviate slightly (measured by ``benchmarks/bench_precision.py``).
"""

from __future__ import annotations

import numpy as np


def to_fp16(model):
    """A float16 copy of ``model`` (an ``onnx.ModelProto``) with float32 inputs and outputs."""
    import onnx  # noqa: PLC0415
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(init).astype(np.float16), init.name))
    for node in g.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(numpy_helper.from_array(
                    numpy_helper.to_array(attr.t).astype(np.float16), attr.t.name))
        if node.op_type == "Cast":
            for attr in node.attribute:
                if attr.name == "to" and attr.i == TensorProto.FLOAT:
                    attr.i = TensorProto.FLOAT16

    def fp16_name(name: str) -> str:
        """Point every use (and the producer) of tensor ``name`` at ``name_fp16``."""
        half = name + "_fp16"
        for node in g.node:
            node.input[:] = [half if n == name else n for n in node.input]
            node.output[:] = [half if n == name else n for n in node.output]
        return half

    def floats(values) -> list[str]:
        return [v.name for v in values if v.type.tensor_type.elem_type == TensorProto.FLOAT]

    casts_in = [helper.make_node("Cast", [n], [fp16_name(n)], to=TensorProto.FLOAT16,
                                 name=n + "_to_fp16") for n in floats(g.input)]
    casts_out = [helper.make_node("Cast", [fp16_name(n)], [n], to=TensorProto.FLOAT,
                                  name=n + "_to_fp32") for n in floats(g.output)]
    nodes = casts_in + list(g.node) + casts_out
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    onnx.checker.check_model(m)
    return m
