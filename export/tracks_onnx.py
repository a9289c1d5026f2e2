"""Write a regulatory ("tracks" kind) model to ONNX: any torch module + its :class:`ModelSpec`.

One writer for every tracks model — Puffin, Enformer, Basenji2, AI-TAC and a user's own
(``seqscore export custom``).  The graph it writes honours the contract of
:mod:`hail_seqscore.models.spec`:

* input ``x``: float32 ``[batch, length, 4]`` (NLC, one-hot in ``spec.alphabet`` order);
* output ``y``: float32 ``[batch, bins, tracks]``, with ``bins = (length - context) // bin_size``.

The batch axis is always dynamic; the length axis too when ``spec.input_length == 0`` (a fully
convolutional model), otherwise the graph takes exactly ``input_length`` bases.  The module may
compute in either layout (``"NCL"``: ``[N, 4, L] → [N, tracks, bins]``, as torch convolutions
do; ``"NLC"``: ``[N, L, 4] → [N, bins, tracks]``, as enformer-pytorch does); the transposes
around it are part of the graph.

Before writing, the module's torch output shape is checked against the spec (bins and tracks at
every check length), so a spec that does not fit its module fails with a message naming both.
After writing, the ONNX graph is run with onnxruntime on the same random one-hot inputs (batch
of 2) and compared with the torch module: the largest difference is returned, and one above
``tolerance × max(1, max |y|)`` is an error.  The file is written atomically and carries an
export fingerprint, so exporting the same inputs again is a no-op unless ``force``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from hail_seqscore import __version__
from hail_seqscore.errors import ConfigError, ModelFormatError
from hail_seqscore.models.spec import PREFIX, ModelSpec

LAYOUTS = ("NCL", "NLC")
#: bump when the graphs this writer makes change for the same module and spec
GRAPH_REVISION = 1
FINGERPRINT_KEY = PREFIX + "export_fingerprint"
#: ONNX vs torch, relative to max(1, max |y|), above which the export is refused
TOLERANCE = 1e-4


@dataclass(frozen=True)
class TracksExport:
    path: Path
    status: str            # "exported" | "up to date"
    seconds: float
    #: max |ONNX - torch| on the check inputs (None when up to date)
    max_abs_diff: float | None = None
    size_bytes: int = 0
    members: tuple[int, ...] = (0,)
    name: str = ""


def check_lengths(spec: ModelSpec) -> list[int]:
    """Input lengths the export is checked at: the fixed length, or two lengths (a short one and
    an odd number of bins more) for an any-length model."""
    if spec.input_length:
        return [spec.input_length]
    return [spec.context + 8 * spec.bin_size, spec.context + 37 * spec.bin_size]


def expected_bins(spec: ModelSpec, length: int) -> int:
    return (length - spec.context) // spec.bin_size


def validate_spec(spec: ModelSpec, source: str = "spec") -> None:
    """The tracks-kind settings that the writer relies on, each with what was found."""
    if spec.kind != "tracks" or spec.scorer != "tracks":
        raise ConfigError(f"{source}: kind/scorer must be 'tracks', got {spec.kind!r}/"
                          f"{spec.scorer!r}")
    if spec.input_layout != "NLC":
        raise ConfigError(f"{source}: input_layout must be 'NLC', got {spec.input_layout!r}")
    if spec.bin_size < 1 or spec.input_length < 0 or spec.context < 0 or spec.context % 2:
        raise ConfigError(f"{source}: need bin_size >= 1 (got {spec.bin_size}), input_length "
                          f">= 0 (got {spec.input_length}) and an even context >= 0 (got "
                          f"{spec.context})")
    if spec.input_length and (spec.input_length - spec.context) % spec.bin_size:
        raise ConfigError(f"{source}: input_length {spec.input_length} minus context "
                          f"{spec.context} is not a whole number of {spec.bin_size}-bp bins")
    if spec.input_length and spec.input_length <= spec.context:
        raise ConfigError(f"{source}: input_length {spec.input_length} leaves no bin after a "
                          f"context of {spec.context}")
    if not spec.output_channels or len(set(spec.output_channels)) != len(spec.output_channels):
        raise ConfigError(f"{source}: track names must be given and distinct")
    bad = [n for n in spec.output_channels if not n or any(c in n for c in ",|:;= \t")]
    if bad:
        raise ConfigError(f"{source}: track name {bad[0]!r} is empty or holds one of , | : ; = "
                          "or whitespace (they separate fields in VCF INFO)")
    if spec.tracks and [t.get("name") for t in spec.tracks] != list(spec.output_channels):
        raise ConfigError(f"{source}: the track table's names differ from output_channels")
    if not 0 <= spec.offset <= max(spec.context, spec.input_length):
        raise ConfigError(f"{source}: output_offset {spec.offset} outside the window")


def fingerprint(spec: ModelSpec, parts: Mapping[str, object]) -> str:
    """What decides the file's content: the spec's metadata, the exporter, and ``parts``
    (e.g. the module's source file digest)."""
    blob = json.dumps({"meta": spec.to_metadata(), "exporter": __version__,
                       "graph_revision": GRAPH_REVISION, "parts": dict(parts)}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _graph(module, layout: str):
    """``module`` wrapped to take ``[N, L, 4]`` and return ``[N, bins, tracks]``."""
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    class NLCGraph(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = module

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if layout == "NCL":
                return self.inner(x.transpose(1, 2)).transpose(1, 2)
            return self.inner(x)

    return NLCGraph().eval()


def random_one_hot(batch: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(batch, length))]


def _torch_outputs(graph, spec: ModelSpec, source: str) -> dict[int, np.ndarray]:
    import torch  # noqa: PLC0415

    out = {}
    for length in check_lengths(spec):
        x = torch.from_numpy(random_one_hot(2, length, seed=length))
        with torch.no_grad():
            y = graph(x)
        if not isinstance(y, torch.Tensor):
            raise ConfigError(f"{source}: the module returned {type(y).__name__}, expected one "
                              "tensor")
        want = (2, expected_bins(spec, length), len(spec.output_channels))
        if tuple(y.shape) != want:
            raise ConfigError(
                f"{source}: for input [2, {length}, 4] the module returned [batch, bins, "
                f"tracks] = {list(y.shape)}, but the spec (context {spec.context}, "
                f"bin_size {spec.bin_size}, {len(spec.output_channels)} tracks) implies "
                f"[batch, bins, tracks] = {list(want)}")
        out[length] = y.float().numpy()
    return out


def _io(spec: ModelSpec) -> dict:
    free_length = spec.input_length == 0
    return {"inputs": {"x": {0: "batch", **({1: "length"} if free_length else {})}},
            "outputs": {"y": {0: "batch", **({1: "bins"} if free_length else {})}}}


def _onnx_outputs(path: Path, inputs: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    from hail_seqscore.models.session import ModelSession  # noqa: PLC0415

    session = ModelSession(path, providers=["CPUExecutionProvider"])
    return {n: session.run(["y"], {"x": random_one_hot(2, n, seed=n)})[0] for n in inputs}


def stored_fingerprint(path: Path) -> str | None:
    from .onnx_export import stored_fingerprint as read  # noqa: PLC0415

    return read(path)


def write_tracks_onnx(module, spec: ModelSpec, out: str | Path, *, layout: str = "NCL",
                      parts: Mapping[str, object] | None = None, force: bool = False,
                      tolerance: float = TOLERANCE,
                      extra_metadata: Mapping[str, str] | None = None,
                      source: str = "model") -> TracksExport:
    """Export torch ``module`` (eval mode, weights loaded) under ``spec`` to ``out``.

    ``layout`` is the module's own (see the module docstring); ``parts`` join the fingerprint
    (weights' digests, module source digest …).  Returns the status, time, ONNX-vs-torch max
    difference and file size.  Nothing is left at ``out`` (and an older file there stays) when
    a check fails."""
    import onnx  # noqa: PLC0415
    import torch  # noqa: PLC0415

    # onnx_export dispatches known tracks models here, so import it late
    from .onnx_export import _replace_atomically, _set_metadata, _torch_to_onnx  # noqa: PLC0415

    start = time.perf_counter()
    out = Path(out)
    if layout not in LAYOUTS:
        raise ConfigError(f"{source}: layout must be one of {', '.join(LAYOUTS)}, got "
                          f"{layout!r}")
    validate_spec(spec, source)
    fp = fingerprint(spec, {"layout": layout, **dict(parts or {})})
    if not force and out.is_file() and stored_fingerprint(out) == fp:
        return TracksExport(out, "up to date", time.perf_counter() - start,
                            size_bytes=out.stat().st_size, name=spec.name)
    graph = _graph(module, layout)
    expected = _torch_outputs(graph, spec, source)
    meta = {**spec.to_metadata(), **dict(extra_metadata or {}), FINGERPRINT_KEY: fp}
    dummy = (torch.from_numpy(random_one_hot(1, check_lengths(spec)[0])),)
    diffs: list[float] = []

    def write(tmp: Path) -> None:
        _torch_to_onnx(graph, tmp, _io(spec), dummy)
        model = onnx.load(str(tmp))
        _set_metadata(model, meta)
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
        del model
        got = _onnx_outputs(tmp, expected)
        diffs.append(max(float(np.abs(got[n] - expected[n]).max()) for n in expected))
        scale = max([1.0] + [float(np.abs(v).max()) for v in expected.values()])
        if not diffs[-1] <= tolerance * scale:
            raise ModelFormatError(
                f"{source}: the exported graph differs from the torch module by "
                f"{diffs[-1]:.3g} (allowed {tolerance * scale:.3g}); nothing written")

    _replace_atomically(out, write)
    return TracksExport(out, "exported", time.perf_counter() - start, diffs[-1],
                        out.stat().st_size, name=spec.name)

