"""Read a SpliceAI Keras 2 HDF5 model (``spliceai{1..5}.h5``) with h5py, without TensorFlow.

The topology comes from the file's ``model_config`` attribute (the Keras functional graph), the
weights from ``model_weights/<layer>/<layer>/<name>:0``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hail_seqscore.errors import WeightMappingError

from .layers import Layer, LayerGraph

_KINDS = {"InputLayer": "input", "Conv1D": "conv", "BatchNormalization": "bn", "Add": "add",
          "Cropping1D": "crop"}


def _open(path):
    import h5py  # noqa: PLC0415 - export extra

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise WeightMappingError(f"{path}: not a readable HDF5 file ({exc})") from None


def read_model_config(path: str | Path) -> dict:
    with _open(path) as f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise WeightMappingError(f"{path}: no Keras model_config attribute")
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def read_h5_weights(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """``{layer: {weight: array}}``, weight names without the layer prefix and ``:0``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    with _open(path) as f:
        root = f["model_weights"] if "model_weights" in f else f
        for lname in root:
            names = root[lname].attrs.get("weight_names", [])
            for raw in names:
                wname = raw.decode() if isinstance(raw, bytes) else str(raw)
                short = wname.split("/")[-1].split(":")[0]
                out.setdefault(lname, {})[short] = np.asarray(root[lname][wname])
    return out


def read_keras_h5(path: str | Path) -> LayerGraph:
    """The layer graph of one Keras ``.h5`` member."""
    config = read_model_config(path)
    weights = read_h5_weights(path)
    cfg = config.get("config", {})
    layers: dict[str, Layer] = {}
    for spec in cfg.get("layers", []):
        name, cls, c = spec["name"], spec["class_name"], spec["config"]
        inbound = [n[0] for n in spec["inbound_nodes"][0]] if spec.get("inbound_nodes") else []
        if cls == "Activation":
            if c["activation"] != "relu":
                raise WeightMappingError(f"{path}: layer {name} activation {c['activation']}")
            kind = "relu"
        elif cls in _KINDS:
            kind = _KINDS[cls]
        else:
            raise WeightMappingError(f"{path}: layer {name} of unsupported class {cls}")
        layer = Layer(name=name, kind=kind, inbound=inbound, weights=weights.pop(name, {}))
        if kind == "conv":
            if c.get("strides", [1]) != [1]:
                raise WeightMappingError(f"{path}: layer {name} strides {c['strides']}")
            layer.kernel = int(c["kernel_size"][0])
            layer.dilation = int(c["dilation_rate"][0])
            layer.padding = c["padding"]
            layer.activation = c["activation"]
        elif kind == "bn":
            layer.epsilon = float(c["epsilon"])
        elif kind == "crop":
            layer.crop = tuple(int(v) for v in c["cropping"])
        layers[name] = layer
    if weights:
        raise WeightMappingError(f"{path}: weights for layers not in model_config: "
                                 f"{', '.join(sorted(weights))}")
    try:
        (inp,), (out,) = cfg["input_layers"], cfg["output_layers"]
    except (KeyError, ValueError):
        raise WeightMappingError(f"{path}: model_config needs one input and one output") from None
    return LayerGraph(source=str(path), layers=layers, input=inp[0], output=out[0])
