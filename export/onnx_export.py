"""Export a known model to one ONNX file: weights → torch ensemble → ONNX with seqscore metadata.

The file is written atomically (temp file in the target directory + ``os.replace``).  Its
metadata carries :meth:`ModelSpec.to_metadata` plus an export fingerprint (pinned weight
sha256s, members, graph form, exporter version); exporting again with the same fingerprint is a
no-op ("up to date") unless ``force``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from hail_seqscore import __version__
from hail_seqscore.errors import ConfigError
from hail_seqscore.models import registry
from hail_seqscore.models.spec import MEMBER_OUTPUT, PREFIX, ModelSpec

from .ensembles import load_member, load_members, member_graphs, n_members, select
from .model import CONTEXT, OUT_CHANNELS, Ensemble, Variant
from .sources import weight_files
from .tracks_onnx import TracksExport

__all__ = ["export_model", "write_onnx", "member_graphs", "load_member", "spec_for"]

log = logging.getLogger(__name__)

#: the graph form written by default: the fastest exact one measured (see export/README)
DEFAULT_VARIANT = Variant(padding="valid", layout="2d")
OPSET = 17
#: bump when the exported graph changes for the same weights (re-export instead of "up to date")
GRAPH_REVISION = 5   # 5: trunk split into stages (NAME.trunk0..5.onnx)
FINGERPRINT_KEY = PREFIX + "export_fingerprint"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    status: str          # "exported" | "up to date"
    seconds: float
    members: tuple[int, ...]


def spec_for(name: str, members: int, out_channels: tuple[str, ...] = OUT_CHANNELS,
             member_channels: tuple[str, ...] = ()) -> ModelSpec:
    km = registry.known_model(name)
    return ModelSpec(
        name=name, version=km.version, source_package=km.source_package,
        source_version=km.source_version,
        weights_sha256={w.filename: w.sha256 for w in km.weights}, context=CONTEXT,
        alphabet="ACGT", n_value=0.0, output_channels=tuple(out_channels), input_layout="NLC",
        members=members, licence=km.licence, attribution=km.attribution,
        exporter_version=__version__, kind=km.kind, scorer=km.scorer,
        member_channels=tuple(member_channels),
    )


def fingerprint(name: str, members: Sequence[int], variant: Variant) -> str:
    km = registry.known_model(name)
    blob = json.dumps({
        "name": name, "weights": [w.sha256 for w in km.weights], "members": list(members),
        "variant": [variant.padding, variant.layout], "exporter": __version__, "opset": OPSET,
        "graph_revision": GRAPH_REVISION,
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def stored_fingerprint(path: Path) -> str | None:
    import onnx  # noqa: PLC0415

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - any unreadable file is simply not up to date
        return None
    return {p.key: p.value for p in model.metadata_props}.get(FINGERPRINT_KEY)


#: the single-input graph: ``x`` [batch, length, 4] → ``y`` [batch, out_length, 3]
ENSEMBLE_IO = {
    "inputs": {"x": {0: "batch", 1: "length"}},
    "outputs": {"y": {0: "batch", 1: "out_length"}},
}


def _torch_to_onnx(module, path: Path, io: dict | None = None, dummies: tuple | None = None) -> None:
    import torch  # noqa: PLC0415

    io = io or ENSEMBLE_IO
    if dummies is None:
        dummies = (torch.zeros(1, CONTEXT + 1, 4),)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, dummies, str(path), dynamo=False, opset_version=OPSET,
            input_names=list(io["inputs"]), output_names=list(io["outputs"]),
            do_constant_folding=True, dynamic_axes={**io["inputs"], **io["outputs"]},
        )


def _replace_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``out``, then move it into place with the
    usual file mode; nothing is left behind on failure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def _set_metadata(model, metadata: dict[str, str]) -> None:
    del model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name, model.producer_version = "hail-seqscore", __version__


def write_onnx(module, out: Path, metadata: dict[str, str], io: dict | None = None,
               dummies: tuple | None = None) -> None:
    """Export ``module``, attach ``metadata``, check, and move into place atomically."""
    import onnx  # noqa: PLC0415

    def write(tmp: Path) -> None:
        _torch_to_onnx(module, tmp, io, dummies)
        model = onnx.load(str(tmp))
        _set_metadata(model, metadata)
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))

    _replace_atomically(out, write)


def _with_members(io: dict, member_output: bool) -> dict:
    """``io`` with the ``y_members`` output beside ``y`` when the graph has it."""
    if not member_output:
        return io
    return {**io, "outputs": {**io["outputs"], MEMBER_OUTPUT: {0: "batch", 1: "out_length"}}}


def _write_split(members: list, parts: tuple[list[Path], Path], meta: dict[str, str],
                 groups=None, member_output: bool = False) -> None:
    import torch  # noqa: PLC0415

    from .split import HEAD_HALF, STAGE_HALVES, Head, TrunkStage, split_metadata  # noqa: PLC0415

    ch = 32 * len(members)
    hs = {"h_in": {0: "batch", 3: "length"}, "s_in": {0: "batch", 3: "length"}}
    hs_out = {"h": {0: "batch", 3: "out_length"}, "s": {0: "batch", 3: "out_length"}}
    stages, head = parts
    for i, path in enumerate(stages):
        n = 2 * STAGE_HALVES[i] + 1
        if i == 0:
            io = {"inputs": {"x": {0: "batch", 1: "length"}}, "outputs": hs_out}
            dummies = (torch.zeros(1, n, 4),)
        else:
            io = {"inputs": hs, "outputs": hs_out}
            dummies = (torch.zeros(1, ch, 1, n), torch.zeros(1, ch, 1, n))
        write_onnx(TrunkStage(members, i), path, {**meta, **split_metadata("trunk", i)}, io,
                   dummies)
    head_io = {"inputs": {"h": {0: "batch", 3: "length"}, "s": {0: "batch", 3: "out_length"}},
               "outputs": {"y": {0: "batch", 1: "out_length"}}}
    head_io = _with_members(head_io, member_output)
    write_onnx(Head(members, groups, member_output), head, {**meta, **split_metadata("head")},
               head_io,
               (torch.zeros(1, ch, 1, 2 * HEAD_HALF + 1), torch.zeros(1, ch, 1, 1)))


def _write_fp16(src: Path, dst: Path) -> None:
    """Write the float16 copy of exported graph ``src`` to ``dst`` (atomically)."""
    import onnx  # noqa: PLC0415

    from .precision import to_fp16  # noqa: PLC0415

    model = to_fp16(onnx.load(str(src)))   # checked there
    meta = {p.key: p.value for p in model.metadata_props}
    _set_metadata(model, {**meta, PREFIX + "precision": "fp16"})
    _replace_atomically(dst, lambda tmp: onnx.save(model, str(tmp)))


def _n_stages() -> int:
    from .split import STAGE_UNITS  # noqa: PLC0415

    return len(STAGE_UNITS)


def export_model(name: str, out: str | os.PathLike | None = None, *,
                 source: str | os.PathLike | None = None, members: Sequence[int] | None = None,
                 force: bool = False, variant: Variant = DEFAULT_VARIANT,
                 split: bool = True, fp16: bool = False,
                 accept_licence: bool = False,
                 options: dict | None = None,
                 progress=None) -> ExportResult | TracksExport:
    """Export known model ``name`` (all members averaged, or just ``members``) to ``out``
    (default ``registry.default_model_path(name)``); weights from ``source`` or the pinned
    wheel (models from a repository need ``source``: see :mod:`export.sources`); members
    combined as :mod:`export.ensembles` says.  Returns status ``"up to date"`` without work
    when the file already matches.
    With ``split`` (the default) the trunk-stage and head graphs for incremental ALT inference are
    written beside it (``NAME.trunk0.onnx`` … and ``NAME.head.onnx``, see :mod:`export.split`).
    With ``fp16``, half-precision copies of every file are written too (``NAME.fp16.onnx``,
    ``NAME.fp16.trunk0.onnx`` …; see :mod:`export.precision`).
    Models of the ``tracks`` kind (Puffin, Enformer, Basenji2, AI-TAC) go to
    :func:`export.tracks_known.export_known` (``options``: their own settings, e.g. ``tracks``);
    ``accept_licence`` is needed for those whose licence restricts use."""
    km = registry.known_model(name)
    if km.kind == "tracks":
        from .tracks_known import export_known  # noqa: PLC0415

        return export_known(name, out, source=source, force=force, members=members,
                            fp16=fp16, accept_licence=accept_licence, options=options)
    given = [k for k, v in (options or {}).items() if v not in (None, "")]
    if given:
        raise ConfigError(f"--{given[0].replace('_', '-')} applies to the tracks models "
                          f"(enformer, basenji2, aitac), not {name}")
    out = Path(out) if out is not None else registry.default_model_path(name)
    start = time.perf_counter()
    sel = select(n_members(name), members)
    fp = fingerprint(name, sel, variant)
    want_split = split and variant == DEFAULT_VARIANT
    parts = registry.split_paths(out, _n_stages())
    files_out = [out, *parts[0], parts[1]] if want_split else [out]
    half = registry.precision_path(out, "fp16")
    half_parts = registry.split_paths(half, _n_stages())
    halves = ([half, *half_parts[0], half_parts[1]] if want_split else [half]) if fp16 else []
    def fresh(paths: list[Path]) -> bool:
        return all(p.is_file() and stored_fingerprint(p) == fp for p in paths)

    if not force and fresh(files_out):
        if fresh(halves):
            return ExportResult(out, "up to date", time.perf_counter() - start, sel)
        for src, dst in zip(files_out, halves):   # only the fp16 copies are missing
            _write_fp16(src, dst)
        return ExportResult(out, "exported", time.perf_counter() - start, sel)
    say = progress or (lambda message: None)
    say(f"weights of {name} from {source or km.source} (sha256-checked) ...")
    files = weight_files(km, source)
    say(f"building the ensemble of {len(sel)} member(s) ...")
    loaded = load_members(name, files, sel, variant)
    with_members = bool(loaded.member_channels)
    ensemble = Ensemble(loaded.nets, loaded.groups, with_members)
    meta = spec_for(name, len(sel), loaded.out_channels, loaded.member_channels).to_metadata()
    meta[FINGERPRINT_KEY] = fp
    meta[PREFIX + "member_indices"] = ",".join(map(str, sel))
    meta[PREFIX + "graph_form"] = f"{variant.padding}-{variant.layout}"
    say(f"writing {out} ...")
    write_onnx(ensemble, out, meta, _with_members(ENSEMBLE_IO, with_members))
    if want_split:
        say(f"writing the {len(files_out) - 1} trunk-stage and head graphs beside it ...")
        _write_split(list(ensemble.members), parts, meta, loaded.groups, with_members)
        stale = registry.sibling(out, ".trunk")   # the single trunk of revision 2
        if stale.is_file():
            stale.unlink()
    if halves:
        say("writing the half-precision copies ...")
    for src, dst in zip(files_out, halves):
        _write_fp16(src, dst)
    seconds = time.perf_counter() - start
    log.info("exported %s (members %s) to %s in %.1f s", name, sel, out, seconds)
    return ExportResult(out, "exported", seconds, sel)
