"""Which ONNX Runtime is installed, and which device a model runs on.

The CPU and GPU runtimes are two PyPI packages, ``onnxruntime`` and ``onnxruntime-gpu``, that
write the same ``onnxruntime`` module: installed together they overwrite each other's files
and whichever was installed last wins (usually the CPU one, silently).  hail-seqscore depends
on neither; its extras choose one (``[cpu]`` or ``[gpu]``), and :func:`runtime_problem` names
a missing or mixed install, with the fix, the first time a session is made.

``device`` is the user's choice of where models run:

* ``auto`` (default): the best provider this onnxruntime has (CUDA, then CPU; TensorRT first
  for fp16), falling back to the CPU if the GPU one cannot be created — the provider that
  runs is reported (:func:`describe`), never silent;
* ``cpu``: the CPU provider only;
* ``cuda``: the CUDA provider, or an error (exit 69) at start-up when this onnxruntime has no
  CUDA provider or cannot create it (NVIDIA driver, CUDA or cuDNN missing: onnxruntime then
  falls back to the CPU by itself, which :func:`fallback_problem` catches).

Nothing here imports onnxruntime (``session.py`` does); it only reads package metadata.
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Mapping, Sequence

from ..errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
DEVICE_HELP = ("where the model runs: auto (default: the GPU when this onnxruntime has CUDA "
               "and it loads, else the CPU; the provider used is printed on stderr), cpu, or "
               "cuda (an NVIDIA GPU; fails at start-up, exit 69, when the CUDA provider "
               "cannot be created)")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
GPU_PROVIDERS = (TENSORRT, CUDA)

#: the PyPI packages that ship the ``onnxruntime`` module (any two of them clash)
RUNTIME_PACKAGES = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml",
                    "onnxruntime-openvino", "onnxruntime-rocm", "onnxruntime-qnn")
INSTALL_HINT = "pip install 'hail-seqscore[cpu]' (or [gpu] on an NVIDIA machine)"
GPU_FIX = "pip uninstall -y onnxruntime onnxruntime-gpu; pip install onnxruntime-gpu"


@functools.lru_cache(maxsize=1)
def installed_runtimes() -> dict[str, str]:
    """The onnxruntime packages installed in this environment → their versions."""
    found = {}
    for name in RUNTIME_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _listed(installed: Mapping[str, str]) -> str:
    return " and ".join(f"{n} {v}" for n, v in installed.items())


def missing_runtime_message(installed: Mapping[str, str], error: BaseException) -> str:
    """Why ``import onnxruntime`` failed, and what to install."""
    if not installed:
        return f"ONNX Runtime is not installed: {INSTALL_HINT}"
    if len(installed) > 1:
        return clash_message(installed, None)
    name = next(iter(installed))
    return (f"{_listed(installed)} is installed but its onnxruntime module cannot be "
            f"imported ({error}); reinstall it: pip install --force-reinstall {name}")


def clash_message(installed: Mapping[str, str], available: Sequence[str] | None) -> str:
    offers = f" (the module now offers {', '.join(available)})" if available else ""
    return (f"{_listed(installed)} are both installed: they write the same onnxruntime "
            f"module and overwrite each other's files{offers}; keep one: {GPU_FIX} (NVIDIA "
            "GPU), or pip install onnxruntime instead of onnxruntime-gpu for the CPU")


def runtime_problem(installed: Mapping[str, str], available: Sequence[str]) -> str | None:
    """A broken install given the packages installed and the providers the imported module
    offers, or None: two runtimes at once, or onnxruntime-gpu whose module has no CUDA
    provider (its files overwritten by the CPU package)."""
    if len(installed) > 1:
        return clash_message(installed, available)
    if "onnxruntime-gpu" in installed and CUDA not in available:
        return (f"onnxruntime-gpu {installed['onnxruntime-gpu']} is installed but the "
                f"onnxruntime module offers only {', '.join(available)} (no {CUDA}): its files "
                f"were overwritten by another onnxruntime package; reinstall: {GPU_FIX}")
    return None


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    return device


def device_providers(device: str) -> tuple[str, ...] | None:
    """The providers a device asks for (None for ``auto``: chosen by availability).  Named
    providers are required: a session that comes up without them is an error."""
    return {"auto": None, "cpu": (CPU,), "cuda": (CUDA,)}[check_device(device)]


def merge_device(device: str, providers: Sequence[str] | None) -> tuple[str, ...] | None:
    """``providers`` as given, or the device's; both at once must agree."""
    from_device = device_providers(device)
    if providers and from_device and tuple(providers)[:1] != from_device[:1]:
        raise ConfigError(f"device {device!r} and providers {', '.join(providers)} disagree; "
                          "give one of them")
    return tuple(providers) if providers else from_device


def no_cuda_message(installed: Mapping[str, str], available: Sequence[str]) -> str:
    """device cuda on an onnxruntime without the CUDA provider."""
    have = _listed(installed) or "onnxruntime"
    fix = ("pip uninstall -y onnxruntime; pip install 'hail-seqscore[gpu]'"
           if "onnxruntime" in installed else "pip install 'hail-seqscore[gpu]'")
    return (f"device cuda needs the {CUDA}, which this onnxruntime ({have}) does not have "
            f"(it offers {', '.join(available)}): {fix}, or run with device cpu")


def fallback_problem(requested: Sequence[str] | None, active: Sequence[str]) -> str | None:
    """Named GPU providers that the session came up without (onnxruntime falls back to the CPU
    when a provider's libraries fail to load, logging the reason itself), or None."""
    missing = [p for p in requested or () if p in GPU_PROVIDERS and p not in active]
    if not missing:
        return None
    return (f"the {' and '.join(missing)} could not be created, so onnxruntime fell back to "
            f"{', '.join(active)} (its own message above says why: usually the NVIDIA driver, "
            "or the CUDA or cuDNN libraries of this onnxruntime-gpu, are missing; "
            "pip install 'hail-seqscore[gpu-cuda]' brings CUDA and cuDNN); run with device "
            "cpu or auto to use the CPU")


def active_device(active: Sequence[str]) -> str:
    """``cuda`` when a session runs on the GPU, else ``cpu``."""
    return "cuda" if any(p in GPU_PROVIDERS for p in active[:1]) else "cpu"


def describe(active: Sequence[str], device: str = "auto",
             chosen: Sequence[str] = ()) -> str:
    """One line: which provider runs a model (and which GPU provider could not be created),
    for stderr and logs."""
    first = active[0] if active else "?"
    lost = [p for p in chosen if p in GPU_PROVIDERS and p not in active]
    note = f"; {' and '.join(lost)} could not be created" if lost else ""
    return f"runs on {first} (device {device}{note})"
