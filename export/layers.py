"""A small layer graph shared by the weight readers, and its mapping onto :mod:`export.model`.

Both readers (Keras HDF5, TensorFlow frozen GraphDef) describe a member as named layers with
their inbound layers and weights.  :func:`state_dict_from_layers` walks that graph from the
input — stem, then each residual unit (BN → ReLU → conv → BN → ReLU → conv → Add), the skip
convs, the crop and the head — checks every kernel size, dilation and channel count against
the architecture of :mod:`export.model`, and fails with :class:`WeightMappingError` on anything
it cannot place or any weight left unused.  Nothing is matched by file order or numeric suffix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hail_seqscore.errors import WeightMappingError

from .model import BN_EPS, CHANNELS, CONTEXT, GROUPS, OUT_CHANNELS, UNITS_PER_GROUP


@dataclass
class Layer:
    name: str
    kind: str                      # input | conv | bn | relu | add | crop
    inbound: list[str] = field(default_factory=list)
    kernel: int = 0
    dilation: int = 1
    padding: str = ""              # conv: same | valid
    activation: str = "linear"     # conv: linear | softmax
    epsilon: float = 0.0           # bn
    crop: tuple[int, int] = (0, 0)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    # conv: kernel [K, Cin, Cout], bias [Cout]; bn: gamma, beta, moving_mean, moving_variance


@dataclass
class LayerGraph:
    source: str                    # for messages: file (and member)
    layers: dict[str, Layer]
    input: str
    output: str

    def consumers(self, name: str, kind: str | None = None) -> list[Layer]:
        return [l for l in self.layers.values()
                if name in l.inbound and (kind is None or l.kind == kind)]


def _one(graph: LayerGraph, found: list[Layer], what: str) -> Layer:
    if len(found) != 1:
        names = ", ".join(l.name for l in found) or "none"
        raise WeightMappingError(f"{graph.source}: expected exactly one {what}, found {names}")
    return found[0]


class _Mapper:
    def __init__(self, graph: LayerGraph, layout: str):
        self.g, self.layout, self.used, self.state = graph, layout, set(), {}

    def fail(self, msg: str):
        raise WeightMappingError(f"{self.g.source}: {msg}")

    def conv(self, layer: Layer, prefix: str, k: int, d: int, cin: int, cout: int,
             padding: str | None = None, activation: str = "linear") -> None:
        w = layer.weights
        if layer.kind != "conv" or set(w) != {"kernel", "bias"}:
            self.fail(f"layer {layer.name} is not a conv with kernel and bias ({layer.kind}, "
                      f"{sorted(w)})")
        if w["kernel"].shape != (k, cin, cout) or w["bias"].shape != (cout,):
            self.fail(f"layer {layer.name}: kernel {w['kernel'].shape} / bias "
                      f"{w['bias'].shape}, expected ({k}, {cin}, {cout}) / ({cout},)")
        if layer.dilation != d or (padding and layer.padding != padding):
            self.fail(f"layer {layer.name}: dilation {layer.dilation} padding "
                      f"{layer.padding!r}, expected {d} {padding!r}")
        if layer.activation != activation:
            self.fail(f"layer {layer.name}: activation {layer.activation}, expected {activation}")
        kern = np.transpose(w["kernel"], (2, 1, 0))  # [Cout, Cin, K]
        if self.layout == "2d":
            kern = kern[:, :, None, :]
        self.state[prefix + ".weight"] = np.ascontiguousarray(kern, dtype=np.float32)
        self.state[prefix + ".bias"] = np.asarray(w["bias"], dtype=np.float32)
        self.used.add(layer.name)

    def bn(self, layer: Layer, prefix: str) -> None:
        w = layer.weights
        need = {"gamma", "beta", "moving_mean", "moving_variance"}
        if layer.kind != "bn" or set(w) != need:
            self.fail(f"layer {layer.name} is not a batch norm with {sorted(need)}")
        if not np.isclose(layer.epsilon, BN_EPS, rtol=1e-6):
            self.fail(f"layer {layer.name}: epsilon {layer.epsilon}, expected {BN_EPS}")
        for key, tkey in (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                          ("moving_variance", "running_var")):
            if w[key].shape != (CHANNELS,):
                self.fail(f"layer {layer.name}: {key} shape {w[key].shape}")
            self.state[f"{prefix}.{tkey}"] = np.asarray(w[key], dtype=np.float32)
        self.used.add(layer.name)

    def follow(self, name: str, kind: str) -> Layer:
        return _one(self.g, self.g.consumers(name, kind), f"{kind} layer after {name}")

    def skip(self, trunk: str, index: int) -> Layer:
        convs = [l for l in self.g.consumers(trunk, "conv") if l.kernel == 1]
        layer = _one(self.g, convs, f"1x1 skip conv on {trunk}")
        self.conv(layer, f"skips.{index}", 1, 1, CHANNELS, CHANNELS)
        return layer

    def run(self) -> dict[str, np.ndarray]:
        g = self.g
        stem = _one(g, g.consumers(g.input, "conv"), f"stem conv on input {g.input}")
        self.conv(stem, "stem", 1, 1, 4, CHANNELS)
        skip_layers = [self.skip(stem.name, 0)]
        trunk, unit = stem.name, 0
        for gi, (k, d) in enumerate(GROUPS):
            for _ in range(UNITS_PER_GROUP):
                x = trunk
                for j in (1, 2):
                    bn = self.follow(x, "bn")
                    self.bn(bn, f"units.{unit}.bn{j}")
                    relu = self.follow(bn.name, "relu")
                    conv = self.follow(relu.name, "conv")
                    self.conv(conv, f"units.{unit}.conv{j}", k, d, CHANNELS, CHANNELS, "same")
                    self.used.add(relu.name)
                    x = conv.name
                add = self.follow(x, "add")
                if sorted(add.inbound) != sorted([x, trunk]):
                    self.fail(f"residual add {add.name} joins {add.inbound}, expected {x} and "
                              f"{trunk}")
                self.used.add(add.name)
                trunk, unit = add.name, unit + 1
            skip_layers.append(self.skip(trunk, gi + 1))
        self._check_tail(skip_layers)
        unused = [l.name for l in g.layers.values()
                  if l.name not in self.used and (l.weights or l.kind == "conv")]
        if unused:
            self.fail(f"weights not mapped onto the network: {', '.join(sorted(unused))}")
        return self.state

    def _check_tail(self, skip_layers: list[Layer]) -> None:
        """The skip terms are summed, cropped by CONTEXT/2 per side and fed to the head."""
        g = self.g
        head = g.layers[g.output]
        crop = _one(g, [g.layers[n] for n in head.inbound], f"input of head {head.name}")
        if crop.kind != "crop" or crop.crop != (CONTEXT // 2, CONTEXT // 2):
            self.fail(f"head input {crop.name} is not a crop of {CONTEXT // 2} per side")
        self.conv(head, "head", 1, 1, CHANNELS, len(OUT_CHANNELS), activation="softmax")
        self.used.add(crop.name)
        # the tree of adds under the crop must reach exactly the skip convs
        leaves, stack = [], list(crop.inbound)
        while stack:
            name = stack.pop()
            if name not in g.layers:
                self.fail(f"skip sum refers to layer {name}, which is not in the graph")
            layer = g.layers[name]
            if layer.kind == "add":
                self.used.add(layer.name)
                stack.extend(layer.inbound)
            else:
                leaves.append(layer.name)
        if sorted(leaves) != sorted(l.name for l in skip_layers):
            self.fail(f"skip sum adds {sorted(leaves)}, expected the skip convs "
                      f"{sorted(l.name for l in skip_layers)}")


def state_dict_from_layers(graph: LayerGraph, layout: str = "2d") -> dict[str, np.ndarray]:
    """Map one member's layers onto :class:`export.model.SpliceAINet` parameter names."""
    return _Mapper(graph, layout).run()
