"""Read CI-SpliceAI's TensorFlow frozen graph (``CI-SpliceAI.pb``) into per-member layer graphs.

The graph holds the 5 members side by side (``model_1/<layer>/<op>[_k]``), each ending in a
softmax; a ``Pack`` + ``Mean`` averages them.  Members are told apart by graph structure — the
ancestors of each input of the final ``Pack`` — not by name suffixes.  Within a member, nodes are
grouped into Keras layers by their ``model_1/<layer>/`` scope; a layer's kind, weights, kernel,
dilation and padding are read from its ops (Conv2D, SpaceToBatchND block shape and paddings,
BiasAdd, the batchnorm arithmetic).  Every float constant of the graph must land in a layer.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from hail_seqscore.errors import WeightMappingError

from .graphdef import Node, read_graphdef_file
from .layers import Layer, LayerGraph


class _Graph:
    def __init__(self, nodes: list[Node], source: str):
        self.nodes = {n.name: n for n in nodes}
        self.order = nodes
        self.source = source

    def fail(self, msg: str):
        raise WeightMappingError(f"{self.source}: {msg}")

    def const(self, name: str) -> tuple[str, np.ndarray]:
        """Follow Identity nodes back to a Const; return its name and value."""
        node = self.nodes[name]
        while node.op == "Identity":
            node = self.nodes[node.data_inputs[0]]
        if node.op != "Const":
            self.fail(f"{name} does not come from a constant (reaches {node.op} {node.name})")
        return node.name, np.asarray(node.attr["value"])

    def ancestors(self, name: str) -> set[str]:
        seen, stack = set(), [name]
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(self.nodes[n].data_inputs)
        return seen


def _scope(name: str) -> str | None:
    parts = name.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "model_1" else None


def _conv_layer(g: _Graph, name: str, nodes: list[Node], used: set[str]) -> Layer:
    conv = [n for n in nodes if n.op == "Conv2D"]
    bias = [n for n in nodes if n.op == "BiasAdd"]
    if len(conv) != 1 or len(bias) != 1:
        g.fail(f"layer {name}: {len(conv)} Conv2D and {len(bias)} BiasAdd nodes, expected 1 each")
    conv, bias = conv[0], bias[0]
    filt = g.nodes[conv.data_inputs[1]]
    if filt.op != "ExpandDims":
        g.fail(f"layer {name}: conv filter comes from {filt.op}, expected ExpandDims")
    kname, kernel = g.const(filt.data_inputs[0])
    bname, bvalue = g.const(bias.data_inputs[1])
    used.update((kname, bname))
    if kernel.ndim != 3:
        g.fail(f"layer {name}: kernel of shape {kernel.shape}, expected [K, Cin, Cout]")
    k = kernel.shape[0]
    s2b = [n for n in nodes if n.op == "SpaceToBatchND"]
    if s2b:
        _, block = g.const(s2b[0].data_inputs[1])
        dilation = int(block.reshape(-1)[0])
        base = [n for n in nodes if n.op == "Const" and n.name.endswith("/stack")
                and np.asarray(n.attr["value"]).shape == (1, 2)]
        half = (k - 1) * dilation // 2
        padding = "same" if base and np.asarray(base[0].attr["value"]).tolist() == [[half, half]] \
            else "unknown"
        if conv.attr.get("padding") != "VALID":
            padding = "unknown"
    else:
        dil = conv.attr.get("dilations") or [1, 1, 1, 1]
        dilation = int(max(dil))
        padding = {"SAME": "same", "VALID": "valid"}.get(conv.attr.get("padding"), "unknown")
        if k == 1 and padding == "same":
            padding = "valid"  # identical for a 1×1 kernel
    activation = "softmax" if any(n.op == "Exp" for n in nodes) else "linear"
    return Layer(name=name, kind="conv", kernel=k, dilation=dilation, padding=padding,
                 activation=activation, weights={"kernel": kernel, "bias": bvalue})


def _bn_layer(g: _Graph, name: str, nodes: list[Node], used: set[str]) -> Layer:
    """batchnorm: add = var + eps; mul = rsqrt(add) * gamma; mul_2 = mean * mul;
    sub = beta - mul_2; out = x * mul + sub."""
    by_op = defaultdict(list)
    for n in nodes:
        by_op[n.op].append(n)
    if len(by_op["Rsqrt"]) != 1:
        g.fail(f"layer {name}: expected one Rsqrt in the batch norm")
    rsqrt = by_op["Rsqrt"][0]
    add = g.nodes[rsqrt.data_inputs[0]]
    (var_name, eps_name) = add.data_inputs
    _, eps = g.const(eps_name)
    weights = {}

    def take(key, node_name):
        cname, value = g.const(node_name)
        used.add(cname)
        weights[key] = value

    take("moving_variance", var_name)
    mul = [n for n in by_op["Mul"] if rsqrt.name in n.data_inputs]
    if len(mul) != 1:
        g.fail(f"layer {name}: cannot find gamma multiply")
    mul = mul[0]
    take("gamma", [i for i in mul.data_inputs if i != rsqrt.name][0])
    mul2 = [n for n in by_op["Mul"] if mul.name in n.data_inputs
            and all(g.nodes[i].op in ("Identity", "Const") or i == mul.name for i in n.data_inputs)]
    sub = by_op["Sub"]
    if len(mul2) != 1 or len(sub) != 1:
        g.fail(f"layer {name}: cannot find mean multiply / beta subtract")
    take("moving_mean", [i for i in mul2[0].data_inputs if i != mul.name][0])
    take("beta", [i for i in sub[0].data_inputs if i != mul2[0].name][0])
    return Layer(name=name, kind="bn", epsilon=float(eps), weights=weights)


def _kind_of(nodes: list[Node]) -> str:
    ops = {n.op for n in nodes}
    if "Conv2D" in ops:
        return "conv"
    if "Rsqrt" in ops:
        return "bn"
    if ops == {"Relu"}:
        return "relu"
    if ops == {"AddV2"}:
        return "add"
    if "StridedSlice" in ops and ops <= {"StridedSlice", "Const"}:
        return "crop"
    return "unknown:" + ",".join(sorted(ops))


def _member_graph(g: _Graph, output: str, names: set[str], used: set[str], index: int,
                  inp: str) -> LayerGraph:
    scopes: dict[str, list[Node]] = defaultdict(list)
    for n in g.order:
        if n.name in names and _scope(n.name):
            scopes[_scope(n.name)].append(n)
    source = f"{g.source} (member {index})"
    layers: dict[str, Layer] = {inp: Layer(name=inp, kind="input")}
    for scope, nodes in scopes.items():
        kind = _kind_of(nodes)
        if kind == "conv":
            layer = _conv_layer(g, scope, nodes, used)
        elif kind == "bn":
            layer = _bn_layer(g, scope, nodes, used)
        elif kind == "crop":
            begin = [n for n in nodes if n.op == "StridedSlice"][0]
            _, b = g.const(begin.data_inputs[1])
            _, e = g.const(begin.data_inputs[2])
            layer = Layer(name=scope, kind="crop", crop=(int(b[1]), int(-e[1])))
        elif kind in ("relu", "add"):
            layer = Layer(name=scope, kind=kind)
        else:
            raise WeightMappingError(f"{source}: layer {scope} of unknown kind ({kind})")
        inbound = []
        for n in nodes:
            for i in n.data_inputs:
                s = _scope(i) or (i if i == inp else None)
                if s and s != scope and s not in inbound:
                    inbound.append(s)
        layer.inbound = inbound
        layers[scope] = layer
    out_scope = _scope(output)
    return LayerGraph(source=source, layers=layers, input=inp, output=out_scope)


def read_frozen_graph(path: str | Path) -> list[LayerGraph]:
    """One :class:`LayerGraph` per ensemble member, in the order of the final ``Pack``."""
    nodes = read_graphdef_file(path)
    g = _Graph(nodes, str(path))
    inp, out = nodes[0], nodes[-1]
    if inp.op != "Placeholder":
        g.fail(f"first node {inp.name} is {inp.op}, expected the input Placeholder")
    # output: Identity(Mean(Pack(member softmaxes), axis 0))
    node = out
    while node.op == "Identity":
        node = g.nodes[node.data_inputs[0]]
    if node.op != "Mean":
        g.fail(f"output {out.name} is not a mean over members (found {node.op})")
    _, axis = g.const(node.data_inputs[1])
    pack = g.nodes[node.data_inputs[0]]
    if pack.op != "Pack" or int(pack.attr.get("axis", 0)) != 0 or int(axis) != 0:
        g.fail("the members are not stacked on axis 0 and averaged over it")
    used: set[str] = set()
    members = []
    seen_weights: set[str] = set()
    for i, member_out in enumerate(pack.data_inputs):
        names = g.ancestors(member_out)
        before = set(used)
        members.append(_member_graph(g, member_out, names, used, i, inp.name))
        mine = used - before
        if len(mine) == 0 or (seen_weights & mine):
            g.fail(f"member {i} shares weights with another member")
        seen_weights |= mine
    floats = [n.name for n in nodes if n.op == "Const" and n.attr.get("dtype") == ("dtype", 1)
              and np.asarray(n.attr["value"]).ndim >= 1]
    unmapped = sorted(set(floats) - used)
    if unmapped:
        g.fail(f"{len(unmapped)} weight tensors not mapped, e.g. {', '.join(unmapped[:5])}")
    return members
