"""ONNX Runtime sessions: the only module that imports onnxruntime.

One session per (model file, providers) per process, created lazily in the process that uses
it — after a fork, never before (Spark workers, the daemon's worker, forked VEP helpers).
Execution providers are chosen by availability and precision:

* ``fp32`` (default): CUDA with TF32 turned off (``use_tf32=0``; onnxruntime allows TF32 by
  default, which rounds convolution inputs to 10 mantissa bits on Ampere and later GPUs), then
  CPU.  TensorRT is used only when asked for by name, because it may pick TF32 kernels;
* ``tf32``: the fp32 graphs with TF32 convolutions on CUDA (needs a CUDA GPU);
* ``fp16``: the half-precision graphs (``NAME.fp16.onnx``): TensorRT with fp16 enabled, then
  CUDA, then CPU.

``device`` (``auto``, ``cpu``, ``cuda``; see :mod:`.device`) is the user-facing choice:
``cpu`` and ``cuda`` name the provider, ``auto`` chooses by availability.  Named providers are
required: onnxruntime silently falls back to the CPU when a GPU provider cannot be created, so
the session's providers are checked after creation and a missing one is an error
(:class:`RuntimeUnavailableError`, exit 69).  The first use of onnxruntime checks the install
(none or both of onnxruntime and onnxruntime-gpu) and says how to fix it.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import (ConfigError, ModelFormatError, ModelNotInstalledError,
                      RuntimeUnavailableError)
from . import device as dev
from .registry import PRECISIONS, model_path, precision_path, sha256_file
from .spec import PREFIX, ModelSpec

PREFERRED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)


_ORT = None
#: per process: GPU providers that could not be created (device auto tries them once)
_LOST: "defaultdict[int, set[str]]" = defaultdict(set)


def _ort():
    """The onnxruntime module, once the install is checked (:func:`device.runtime_problem`)."""
    global _ORT
    if _ORT is not None:
        return _ORT
    installed = dev.installed_runtimes()
    try:
        import onnxruntime  # noqa: PLC0415 - kept lazy so that importing the package stays cheap
    except ImportError as exc:
        raise RuntimeUnavailableError(dev.missing_runtime_message(installed, exc)) from None
    available = list(onnxruntime.get_available_providers())
    problem = dev.runtime_problem(installed, available)
    if problem:
        raise RuntimeUnavailableError(problem)
    if dev.CUDA in available and hasattr(onnxruntime, "preload_dlls") and _nvidia_wheels():
        onnxruntime.preload_dlls()   # CUDA/cuDNN from pip's nvidia-* wheels ([gpu-cuda])
    _ORT = onnxruntime
    return _ORT


def _nvidia_wheels() -> bool:
    import importlib.util  # noqa: PLC0415

    return importlib.util.find_spec("nvidia") is not None


def available_providers() -> list[str]:
    return list(_ort().get_available_providers())


def check_device(device: str) -> None:
    """A start-up check without a model (for front ends whose sessions are made elsewhere,
    e.g. Spark workers on this machine): device cuda on an onnxruntime without the CUDA
    provider is :class:`RuntimeUnavailableError`.  A CUDA provider that cannot be created is
    found only when a session is made."""
    providers = dev.device_providers(device)
    if providers and dev.CUDA in providers:
        avail = available_providers()
        if dev.CUDA not in avail:
            raise RuntimeUnavailableError(dev.no_cuda_message(dev.installed_runtimes(), avail))


def choose_providers(requested: Sequence[str] | None = None,
                     available: Sequence[str] | None = None,
                     precision: str = "fp32") -> list[str]:
    """The providers to use, best first.  ``requested`` may name providers or be ``None``
    (by default TensorRT → CUDA → CPU for fp16, CUDA → CPU for fp32 and tf32, whichever this
    onnxruntime build has)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    avail = list(available if available is not None else available_providers())
    if requested:
        unknown = [p for p in requested if p not in avail]
        if unknown:
            raise ConfigError(
                f"execution provider(s) {', '.join(unknown)} not available; this onnxruntime "
                f"offers {', '.join(avail)}"
            )
        chosen = list(requested)
    else:
        chosen = [p for p in PREFERRED_PROVIDERS if p in avail
                  and (precision == "fp16" or p != "TensorrtExecutionProvider")]
    if "CPUExecutionProvider" not in chosen and "CPUExecutionProvider" in avail:
        chosen.append("CPUExecutionProvider")
    if precision == "tf32" and "CUDAExecutionProvider" not in chosen:
        raise ConfigError("precision tf32 needs the CUDA execution provider (an NVIDIA GPU and "
                          "onnxruntime-gpu: pip install 'hail-seqscore[gpu]'); this onnxruntime "
                          f"offers {', '.join(avail)}")
    return chosen


def provider_options(chosen: Sequence[str], precision: str = "fp32") -> list:
    """``chosen`` with the options that set ``precision``, as ``InferenceSession`` takes them."""
    out: list = []
    for p in chosen:
        if p == "CUDAExecutionProvider":
            out.append((p, {"use_tf32": "1" if precision == "tf32" else "0"}))
        elif p == "TensorrtExecutionProvider":
            out.append((p, {"trt_fp16_enable": "True" if precision == "fp16" else "False"}))
        else:
            out.append(p)
    return out


class ModelSession:
    """An exported model loaded for inference, with its :class:`ModelSpec`."""

    def __init__(self, path: str | os.PathLike, *, providers: Sequence[str] | None = None,
                 threads: int | None = None, precision: str = "fp32", device: str = "auto"):
        self.path = Path(path)
        providers = dev.merge_device(device, providers)
        ort = _ort()
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        avail = available_providers()
        if providers and dev.CUDA in providers and dev.CUDA not in avail:
            raise RuntimeUnavailableError(dev.no_cuda_message(dev.installed_runtimes(), avail))
        names = choose_providers(providers, avail, precision=precision)
        # auto: a GPU provider that failed once in this process is not tried again for every
        # graph (each try logs onnxruntime's failure anew); it is still reported as lost
        run = names if providers else [p for p in names if p not in _LOST[os.getpid()]]
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=opts,
                                                 providers=provider_options(run, precision))
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelFormatError(f"cannot load {self.path}: {exc}") from None
        self.providers = list(self._session.get_providers())
        self.chosen = names
        self.device = device
        _LOST[os.getpid()].update(self.fell_back)
        lost = dev.fallback_problem(providers, self.providers)
        if lost is None and precision == "tf32" and dev.CUDA not in self.providers:
            lost = dev.fallback_problem([dev.CUDA], self.providers) + " (precision tf32)"
        if lost:
            raise RuntimeUnavailableError(f"{self.path.name}: {lost}")
        meta = self._session.get_modelmeta().custom_metadata_map
        self.metadata = dict(meta)
        self.spec = ModelSpec.from_metadata(meta, source=str(self.path))
        self.precision = precision
        graph = self.metadata.get(PREFIX + "precision", "fp32")
        if (graph == "fp16") != (precision == "fp16"):
            need = "the fp16 copy" if precision == "fp16" else "an fp32 graph"
            raise ConfigError(f"{self.path} holds an {graph} graph; precision {precision} "
                              f"needs {need}")
        self._sha256: str | None = None
        self._lock = threading.Lock()

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = sha256_file(self.path)
        return self._sha256

    @property
    def fell_back(self) -> list[str]:
        """GPU providers chosen (device auto) that onnxruntime could not create."""
        return [p for p in self.chosen if p in dev.GPU_PROVIDERS and p not in self.providers]

    def describe(self) -> str:
        """One line: the provider that runs this model (for stderr and logs)."""
        return dev.describe(self.providers, self.device, self.chosen)

    def predict(self, x: np.ndarray, output: str | None = None) -> np.ndarray:
        """``x`` float32 ``[batch, length, 4]`` → ``[batch, length - context, channels]``
        (``output``: another graph output than ``y``, e.g. ``y_members``)."""
        if x.ndim != 3 or x.shape[2] != 4:
            raise ValueError(f"expected [batch, length, 4], got shape {x.shape}")
        if x.shape[1] <= self.spec.context:
            raise ValueError(f"input length {x.shape[1]} must exceed context {self.spec.context}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self._session.run([output or self.spec.output_name],
                                 {self.spec.input_name: x})[0]

    def run(self, outputs: Sequence[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run the graph by input/output names (for graphs other than ``x`` → ``y``)."""
        return self._session.run(list(outputs), feeds)

    def provenance(self) -> dict[str, object]:
        s = self.spec
        return {
            "name": s.name, "version": s.version, "sha256": self.sha256,
            "source": f"{s.source_package}=={s.source_version}",
            "weights_sha256": dict(s.weights_sha256), "licence": s.licence,
            "attribution": s.attribution, "exporter_version": s.exporter_version,
            "providers": self.providers, "execution_provider": self.providers[0],
            "device": dev.active_device(self.providers), "precision": self.precision,
            "context": s.context,
            "kind": s.kind, "scorer": s.scorer,
            **({"tracks": [dict(t) for t in s.tracks] or [{"name": n}
                                                        for n in s.output_channels],
                "bin_size": s.bin_size, "input_length": s.input_length,
                "default_reduction": s.default_reduction} if s.kind == "tracks" else {}),
        }


_SESSIONS: dict[tuple, ModelSession] = {}
_SESSIONS_LOCK = threading.Lock()


def get_session(model: str | os.PathLike, *, providers: Sequence[str] | None = None,
                threads: int | None = None, precision: str = "fp32",
                device: str = "auto") -> ModelSession:
    """The process's session for ``model`` (a known name or an .onnx path), made on first use;
    for ``precision="fp16"`` the half-precision copy exported beside it; on ``device``
    (``auto``, ``cpu``, ``cuda``) or the named ``providers``.

    Keyed by process id too, so a session inherited through ``fork`` is never reused."""
    providers = dev.merge_device(device, providers)
    path = precision_path(model_path(model), precision).resolve()
    if not path.is_file():
        raise ModelNotInstalledError(
            f"precision {precision} needs {path}; write it with `seqscore export NAME --fp16`")
    key = (os.getpid(), str(path), tuple(providers or ()), threads, precision, device)
    with _SESSIONS_LOCK:
        sess = _SESSIONS.get(key)
        if sess is None:
            sess = ModelSession(path, providers=providers, threads=threads, precision=precision,
                                device=device)
            _SESSIONS[key] = sess
        return sess
