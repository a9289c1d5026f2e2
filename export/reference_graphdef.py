"""An independent numpy interpreter of TensorFlow frozen graphs (the CI-SpliceAI parity reference).

It runs the ``GraphDef`` op by op — Conv2D, SpaceToBatchND/BatchToSpaceND, BiasAdd, the
batchnorm arithmetic, softmax pieces, Pack and Mean, plus the shape arithmetic between them —
with TensorFlow's semantics, in float64 by default.  It shares only the protobuf wire reader
(:mod:`export.graphdef`) with the exporter; no layer mapping, no torch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .reference_ops import valid_conv
from .graphdef import Node, read_graphdef_file


def _pad_same(n_in: int, k: int, d: int) -> tuple[int, int]:
    total = (k - 1) * d
    return total // 2, total - total // 2


def _conv2d(x: np.ndarray, f: np.ndarray, node: Node) -> np.ndarray:
    if node.attr.get("data_format", "NHWC") != "NHWC" or list(node.attr["strides"]) != [1] * 4:
        raise ValueError(f"{node.name}: only NHWC, stride 1 is supported")
    dil = list(node.attr.get("dilations") or [1, 1, 1, 1])
    if f.shape[0] != 1 or x.shape[1] != 1 or dil[1] != 1:
        raise ValueError(f"{node.name}: only [N, 1, W, C] convs are supported")
    d, k = dil[2], f.shape[1]
    x3 = x[:, 0]
    if node.attr["padding"] == "SAME":
        x3 = np.pad(x3, ((0, 0), _pad_same(x3.shape[1], k, d), (0, 0)))
    elif node.attr["padding"] != "VALID":
        raise ValueError(f"{node.name}: padding {node.attr['padding']}")
    return valid_conv(x3, f[0], d)[:, None]


def _space_to_batch(x, block, pads):
    d, (a, b) = int(block[0]), (int(v) for v in pads[0])
    x = np.pad(x, [(0, 0), (a, b)] + [(0, 0)] * (x.ndim - 2))
    n, lp = x.shape[:2]
    x = x.reshape((n, lp // d, d) + x.shape[2:])
    x = np.moveaxis(x, 2, 0)
    return x.reshape((d * n, lp // d) + x.shape[3:])


def _batch_to_space(x, block, crops):
    d, (a, b) = int(block[0]), (int(v) for v in crops[0])
    nb, lq = x.shape[:2]
    x = x.reshape((d, nb // d, lq) + x.shape[2:])
    x = np.moveaxis(x, 0, 2).reshape((nb // d, lq * d) + x.shape[3:])
    return x[:, a:lq * d - b]


def _strided_slice(x, begin, end, strides, node: Node):
    a = node.attr
    if a.get("ellipsis_mask", 0) or a.get("new_axis_mask", 0):
        raise ValueError(f"{node.name}: ellipsis/new-axis masks are not supported")
    index, shrink = [], []
    for i in range(len(begin)):
        if a.get("shrink_axis_mask", 0) >> i & 1:
            index.append(int(begin[i]))
            continue
        lo = None if a.get("begin_mask", 0) >> i & 1 else int(begin[i])
        hi = None if a.get("end_mask", 0) >> i & 1 else int(end[i])
        index.append(slice(lo, hi, int(strides[i])))
    return np.asarray(x)[tuple(index)]


def _reduce(fn, x, axes, node):
    axes = tuple(np.atleast_1d(axes).astype(int).tolist())
    return fn(x, axis=axes, keepdims=bool(node.attr.get("keep_dims", False)))


def _eval(node: Node, args: list, dtype):
    op = node.op
    if op == "Const":
        v = np.asarray(node.attr["value"])
        return v.astype(dtype) if v.dtype == np.float32 else v
    if op == "Identity":
        return args[0]
    if op == "ExpandDims":
        return np.expand_dims(args[0], int(args[1]))
    if op == "Squeeze":
        return np.squeeze(args[0], axis=tuple(node.attr["squeeze_dims"]))
    if op == "Conv2D":
        return _conv2d(args[0], args[1], node)
    if op == "BiasAdd":
        return args[0] + args[1]
    if op in ("AddV2", "Add"):
        return args[0] + args[1]
    if op == "Sub":
        return args[0] - args[1]
    if op == "Mul":
        return args[0] * args[1]
    if op == "RealDiv":
        return args[0] / args[1]
    if op == "FloorMod":
        return np.mod(args[0], args[1])
    if op == "Rsqrt":
        return 1.0 / np.sqrt(args[0])
    if op == "Relu":
        return np.maximum(args[0], 0)
    if op == "Exp":
        return np.exp(args[0])
    if op == "Max":
        return _reduce(np.max, args[0], args[1], node)
    if op == "Sum":
        return _reduce(np.sum, args[0], args[1], node)
    if op == "Mean":
        return _reduce(np.mean, args[0], args[1], node)
    if op == "Shape":
        return np.asarray(np.shape(args[0]), dtype=np.int32)
    if op == "Pack":
        return np.stack([np.asarray(a) for a in args], axis=int(node.attr.get("axis", 0)))
    if op == "StridedSlice":
        return _strided_slice(*args, node)
    if op == "SpaceToBatchND":
        return _space_to_batch(*args)
    if op == "BatchToSpaceND":
        return _batch_to_space(*args)
    raise ValueError(f"op {op} ({node.name}) is not supported by the reference interpreter")


class GraphInterpreter:
    def __init__(self, path):
        self.nodes = read_graphdef_file(path)
        self.by_name = {n.name: n for n in self.nodes}
        self.input = self.nodes[0].name
        self.output = self.nodes[-1].name

    def member_outputs(self) -> list[str]:
        """The per-member softmax nodes: the inputs of the ``Pack`` under the final mean."""
        node = self.by_name[self.output]
        while node.op != "Pack":
            node = self.by_name[node.data_inputs[0]]
        return node.data_inputs

    def run(self, x: np.ndarray, outputs: Sequence[str], dtype=np.float64) -> list[np.ndarray]:
        order, seen = [], set()
        for out in outputs:  # iterative post-order DFS
            stack = [(out, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    order.append(name)
                    continue
                if name in seen:
                    continue
                seen.add(name)
                stack.append((name, True))
                stack.extend((i, False) for i in self.by_name[name].data_inputs if i not in seen)
        uses = {n: 0 for n in order}
        for n in order:
            for i in self.by_name[n].data_inputs:
                uses[i] += 1
        for out in outputs:
            uses[out] += 1  # keep
        values = {}
        for name in order:
            node = self.by_name[name]
            if name == self.input:
                values[name] = np.asarray(x, dtype=dtype)
                continue
            values[name] = _eval(node, [values[i] for i in node.data_inputs], dtype)
            for i in node.data_inputs:
                uses[i] -= 1
                if uses[i] == 0:
                    del values[i]
        return [values[o] for o in outputs]


def graphdef_forward(path, x: np.ndarray, dtype=np.float64) -> tuple[list[np.ndarray], np.ndarray]:
    """Run a frozen ensemble on ``x``; returns (per-member outputs, the graph's own output)."""
    interp = GraphInterpreter(path)
    outs = interp.member_outputs() + [interp.output]
    values = interp.run(x, outs, dtype)
    return values[:-1], values[-1]
