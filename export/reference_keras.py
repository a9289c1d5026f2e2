"""An independent numpy forward pass of a Keras 2 ``.h5`` model (the parity reference).

It shares no code with the torch module or the weight mapping: it opens the file with h5py,
reads ``model_config`` and runs the functional graph layer by layer exactly as Keras defines
each layer (Conv1D with "same"/"valid" padding and dilation, BatchNormalization in inference
mode, ReLU, Add, Cropping1D, softmax), in float64 by default.
"""

from __future__ import annotations

import json

import numpy as np

from .reference_ops import valid_conv


def conv1d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, dilation: int,
           padding: str) -> np.ndarray:
    """Keras Conv1D on channels-last ``x`` ``[B, L, Cin]``; ``kernel`` ``[K, Cin, Cout]``."""
    k = kernel.shape[0]
    span = (k - 1) * dilation
    if padding == "same":
        left = span // 2
        x = np.pad(x, ((0, 0), (left, span - left), (0, 0)))
    elif padding != "valid":
        raise ValueError(f"padding {padding!r}")
    return valid_conv(x, kernel, dilation) + bias


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _load(path, dtype):
    import h5py  # noqa: PLC0415

    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        root = f["model_weights"]
        weights = {}
        for lname in root:
            for raw in root[lname].attrs.get("weight_names", []):
                wname = raw.decode() if isinstance(raw, bytes) else raw
                weights.setdefault(lname, {})[wname.split("/")[-1].split(":")[0]] = \
                    np.asarray(root[lname][wname], dtype=dtype)
    return config["config"], weights


def _apply(spec: dict, inputs: list[np.ndarray], w: dict[str, np.ndarray]) -> np.ndarray:
    cls, c = spec["class_name"], spec["config"]
    if cls == "Conv1D":
        y = conv1d(inputs[0], w["kernel"], w["bias"], c["dilation_rate"][0], c["padding"])
        act = c["activation"]
        if act == "softmax":
            return softmax(y)
        if act != "linear":
            raise ValueError(f"activation {act}")
        return y
    if cls == "BatchNormalization":
        inv = 1.0 / np.sqrt(w["moving_variance"] + c["epsilon"])
        return (inputs[0] - w["moving_mean"]) * (inv * w["gamma"]) + w["beta"]
    if cls == "Activation":
        if c["activation"] != "relu":
            raise ValueError(f"activation {c['activation']}")
        return np.maximum(inputs[0], 0)
    if cls == "Add":
        return sum(inputs[1:], inputs[0].copy())
    if cls == "Cropping1D":
        a, b = c["cropping"]
        return inputs[0][:, a:inputs[0].shape[1] - b]
    raise ValueError(f"layer class {cls} not supported by the reference")


def keras_forward(path, x: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Run the ``.h5`` model on ``x`` ``[B, L, 4]``; returns the model output (softmax)."""
    cfg, weights = _load(path, dtype)
    specs = {s["name"]: s for s in cfg["layers"]}
    inbound = {n: [i[0] for i in s["inbound_nodes"][0]] if s["inbound_nodes"] else []
               for n, s in specs.items()}
    (inp,), (outp,) = cfg["input_layers"], cfg["output_layers"]
    # topological order from the output back; free each tensor after its last use
    order, seen = [], set()

    def visit(n):
        if n not in seen:
            seen.add(n)
            for m in inbound[n]:
                visit(m)
            order.append(n)

    visit(outp[0])
    uses = {n: 0 for n in order}
    for n in order:
        for m in inbound[n]:
            uses[m] += 1
    values = {inp[0]: np.asarray(x, dtype=dtype)}
    for n in order:
        if n == inp[0]:
            continue
        values[n] = _apply(specs[n], [values[m] for m in inbound[n]], weights.get(n, {}))
        for m in inbound[n]:
            uses[m] -= 1
            if uses[m] == 0:
                del values[m]
    return values[outp[0]]
