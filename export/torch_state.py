"""PyTorch state dicts (OpenSpliceAI, Pangolin): read one file, map its names onto ours, strictly.

A state dict is read with ``torch.load(weights_only=True)`` (tensors only, no pickled code).
Each of its names is renamed by an ordered list of ``(pattern, replacement)`` rules, the first
full match winning; the renamed set must equal the target module's state-dict keys exactly, and
every shape must agree.  An unexpected name (no rule, or no such parameter), a missing one or a
wrong shape is a :class:`WeightMappingError` naming the file and the key — nothing is matched by
position or skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from hail_seqscore.errors import WeightMappingError

#: (regular expression for a source name, replacement template giving our name)
Rules = Sequence[tuple[str, str]]


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The tensors of state-dict file ``path`` as numpy arrays, by name."""
    import torch  # noqa: PLC0415

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a mapping error
        raise WeightMappingError(f"{path}: not a readable PyTorch state dict ({exc})") from None
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightMappingError(f"{path}: expected a state dict (name → tensor), found "
                                 f"{type(obj).__name__}")
    return {str(k): v.detach().cpu().numpy() for k, v in obj.items()}


def rename(source: str, state: dict[str, np.ndarray], rules: Rules) -> dict[str, str]:
    """Our name for each name of ``state``: the first rule that fully matches it rewrites it."""
    out: dict[str, str] = {}
    compiled = [(re.compile(p), r) for p, r in rules]
    for name, value in state.items():
        for pattern, repl in compiled:
            if pattern.fullmatch(name):
                new = pattern.sub(repl, name)
                break
        else:
            raise WeightMappingError(f"{source}: unexpected key {name!r} (not part of the "
                                     "architecture)")
        if new in out:
            raise WeightMappingError(f"{source}: keys {out[new]!r} and {name!r} both map onto "
                                     f"{new!r}")
        out[new] = name
    return out


def load_strict(module, source: str, state: dict[str, np.ndarray], rules: Rules):
    """Load ``state`` (source names) into torch ``module`` through ``rules``; the names must
    cover the module's parameters and buffers exactly.  Conv kernels ``[O, I, K]`` are reshaped
    to the module's layout (``[O, I, 1, K]`` for the 2-D form).  Returns ``module`` in eval
    mode."""
    import torch  # noqa: PLC0415

    origin = rename(source, state, rules)
    target = module.state_dict()
    extra = sorted(set(origin) - set(target))
    if extra:
        raise WeightMappingError(
            f"{source}: unexpected key {origin[extra[0]]!r} (the network has no parameter "
            f"{extra[0]!r}){_more(extra)}")
    missing = sorted(set(target) - set(origin))
    if missing:
        raise WeightMappingError(f"{source}: missing key for parameter {missing[0]!r}"
                                 f"{_more(missing)}")
    loaded = {}
    for name, want in target.items():
        value = state[origin[name]]
        shape = tuple(want.shape)
        if len(shape) == value.ndim + 1 and shape[2] == 1:   # 2-D layout of a 1-D kernel
            shape = shape[:2] + shape[3:]
        if value.shape != shape:
            raise WeightMappingError(f"{source}: {origin[name]!r} has shape "
                                     f"{tuple(value.shape)}, expected {shape}")
        loaded[name] = torch.from_numpy(np.ascontiguousarray(value)).reshape(want.shape).to(
            want.dtype)
    module.load_state_dict(loaded, strict=True)
    return module.eval()


def _more(names: list[str]) -> str:
    return f" and {len(names) - 1} more" if len(names) > 1 else ""
