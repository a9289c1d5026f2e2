"""Weight files of the maintained PyTorch ports: torch state dicts, safetensors, sharded folders.

* a ``.bin`` / ``.pt`` / ``.pth`` / ``.ckpt`` file: ``torch.load(weights_only=True)`` (tensors
  only, never pickled code), a flat state dict or a checkpoint dict holding one;
* a ``.safetensors`` file: read here with numpy (an 8-byte header length, a JSON header naming
  each tensor's dtype, shape and byte range, then the raw little-endian data) — no extra
  package needed;
* a Hugging Face checkpoint folder (``config.json`` beside ``model.safetensors`` or
  ``pytorch_model.bin``, or their sharded form with a ``*.index.json`` weight map).

Every reader returns ``{name: numpy array}`` and the files it read (for their sha256 in the
export's metadata); every problem is a :class:`WeightMappingError` naming the file.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from hail_seqscore.errors import WeightMappingError

_SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16,
                       "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
                       "U8": np.uint8, "BOOL": np.bool_}
#: weight files of a Hugging Face folder, in the order they are looked for
HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
              "pytorch_model.bin.index.json")


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
            data = fh.read()
    except (OSError, struct.error, ValueError) as exc:
        raise WeightMappingError(f"{path}: not a readable safetensors file ({exc})") from None
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "BF16":     # the upper half of a float32
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif info["dtype"] in _SAFETENSORS_DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(_SAFETENSORS_DTYPES[info["dtype"]]
                                                    ).newbyteorder("<"))
        else:
            raise WeightMappingError(f"{path}: tensor {name!r} has dtype {info['dtype']}, "
                                     "which is not read")
        out[name] = arr.reshape(info["shape"]).copy()
    return out


def read_torch(path: Path, key: str = "") -> dict[str, np.ndarray]:
    """A tensors-only torch file: the state dict itself or ``checkpoint[key]``."""
    import torch  # noqa: PLC0415

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a mapping error
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise WeightMappingError(f"{path}: not a tensors-only PyTorch file ({first})") from None
    if key and isinstance(obj, dict) and isinstance(obj.get(key), dict):
        obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightMappingError(f"{path}: expected a state dict (name → tensor), found "
                                 f"{type(obj).__name__}")
    return {str(k): v.detach().cpu().numpy() for k, v in obj.items()}


def read_weights(path: Path) -> dict[str, np.ndarray]:
    return read_safetensors(path) if path.suffix == ".safetensors" else read_torch(path)


def read_hf_folder(folder: Path) -> tuple[dict, dict[str, np.ndarray], list[Path]]:
    """``(config, state, files read)`` of a Hugging Face checkpoint folder."""
    if not folder.is_dir():
        raise FileNotFoundError(f"--from {folder}: no such folder (expected a checkpoint folder "
                                "with config.json and model.safetensors or pytorch_model.bin)")
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"--from {folder}: no config.json inside") from None
    except ValueError as exc:
        raise WeightMappingError(f"{config_path}: not valid JSON ({exc})") from None
    found = next((folder / n for n in HF_WEIGHTS if (folder / n).is_file()), None)
    if found is None:
        raise FileNotFoundError(f"--from {folder}: no weights inside (expected one of "
                                f"{', '.join(HF_WEIGHTS)})")
    files = [config_path]
    if found.name.endswith(".index.json"):
        try:
            shards = sorted(set(json.loads(found.read_text())["weight_map"].values()))
        except (ValueError, KeyError, AttributeError) as exc:
            raise WeightMappingError(f"{found}: not a weight index ({exc})") from None
        state: dict[str, np.ndarray] = {}
        files.append(found)
        for shard in shards:
            state.update(read_weights(folder / shard))
            files.append(folder / shard)
        return config, state, files
    return config, read_weights(found), files + [found]
