"""Export a known regulatory ("tracks" kind) model: its weights → torch → tracks ONNX.

``seqscore export puffin|enformer|basenji2|aitac --from PATH`` ends here (through
:func:`export.onnx_export.export_model`).

* Puffin's weights are pinned (sha256-checked by :mod:`export.sources`); its licence restricts
  use (``KnownModel.licence_gated``), so it is exported only with ``accept_licence``.
* Enformer, Basenji2 and AI-TAC take the user's own files in the formats the maintained PyTorch
  ports or the authors publish (``KnownModel.user_weights``); their sha256 goes into the
  metadata, and the version is named after it.

Each model's recipe builds the network (strictly, by name) and says how its bins sit in the
window; :func:`export.tracks_onnx.write_tracks_onnx` writes and checks the graph.  Options that
only some models take (``tracks``, ``head``, ``config``, ``tf_gammas``, ``input_length``) are
refused by the others.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from hail_seqscore import __version__
from hail_seqscore.errors import ConfigError
from hail_seqscore.models import registry
from hail_seqscore.models.registry import KnownModel, sha256_file
from hail_seqscore.models.spec import ModelSpec

from .sources import weight_files
from .track_tables import numbered, read_track_table
from .tracks_onnx import TracksExport, write_tracks_onnx

#: options each model takes (beyond --from, --out, --force)
OPTIONS = {"puffin": (), "enformer": ("tracks", "head", "tf_gammas", "input_length"),
           "basenji2": ("tracks", "config"), "aitac": ("tracks",)}


@dataclass
class Built:
    """A network ready to export, and how its outputs map onto the window."""
    module: object
    layout: str
    files: list[Path]              # every file read (their sha256 go into the metadata)
    context: int
    n_value: float
    tracks: tuple[dict[str, str], ...]
    default_reduction: str
    input_length: int = 0
    bin_size: int = 1
    output_offset: int | None = None
    alphabet: str = "ACGT"
    name: str = ""                 # default: the known model's name
    pinned: dict[str, str] = field(default_factory=dict)   # filename → sha256 (pinned weights)


def _tracks(options: Mapping, n: int, prefix: str, description: str, default=None):
    if options.get("tracks"):
        return read_track_table(options["tracks"], n, label="--tracks")
    if default is not None and len(default) == n:
        return default
    return numbered(prefix, n, description)


def _puffin(km: KnownModel, source, options: Mapping) -> Built:
    from . import puffin  # noqa: PLC0415

    files = weight_files(km, source)
    return Built(puffin.load(files[0]), "NCL", files, puffin.CONTEXT, puffin.N_VALUE,
                 puffin.TRACKS,
                 # effects are local to a TSS peak: the largest change at any base
                 "max_abs_diff", output_offset=puffin.FLANK,
                 pinned={w.filename: w.sha256 for w in km.weights})


def _enformer(km: KnownModel, source, options: Mapping) -> Built:
    from . import enformer  # noqa: PLC0415

    head = options.get("head") or "human"
    net, files = enformer.load(source, head, options.get("input_length"),
                               options.get("tf_gammas"))
    tracks = _tracks(options, net.n_tracks, head, f"Enformer {head} head (pass --tracks "
                     f"targets_{head}.txt for the track names)")
    return Built(net, "NLC", files, net.context, 0.0, tracks, "diff",
                 input_length=net.input_length, bin_size=net.bin_size,
                 name="enformer" if head == "human" else f"enformer_{head}")


def _basenji2(km: KnownModel, source, options: Mapping) -> Built:
    from . import basenji2  # noqa: PLC0415

    net = basenji2.load(source, options.get("config"))
    files = [Path(source)] + ([Path(options["config"])] if options.get("config") else [])
    length = net.seq_length
    tracks = _tracks(options, net.n_tracks, "human", "Basenji2 human head (pass --tracks "
                     "targets_human.txt for the track names)")
    return Built(net, "NLC", files, length - net.n_bins(length) * net.bin_size, 0.0, tracks,
                 "diff", input_length=length, bin_size=net.bin_size)


def _aitac(km: KnownModel, source, options: Mapping) -> Built:
    from . import aitac  # noqa: PLC0415

    net = aitac.load(source)
    tracks = _tracks(options, net.out.out_features, "task", "AI-TAC output (pass --tracks for "
                     "the cell-type names)", default=aitac.track_table())
    # one prediction for the whole 251-bp peak: one bin spanning the window
    return Built(net, "NCL", [Path(source)], 0, 0.0, tracks, "diff",
                 input_length=aitac.INPUT_LENGTH, bin_size=aitac.INPUT_LENGTH,
                 output_offset=0, alphabet=aitac.ALPHABET)


RECIPES: dict[str, Callable[[KnownModel, object, Mapping], Built]] = {
    "puffin": _puffin, "enformer": _enformer, "basenji2": _basenji2, "aitac": _aitac}


def spec_for(km: KnownModel, built: Built) -> ModelSpec:
    digests = dict(built.pinned) or {p.name: sha256_file(p) for p in built.files}
    version = km.version
    if not built.pinned:            # the user's files: a version named after their digests
        joined = ",".join(f"{k}={v}" for k, v in sorted(digests.items()))
        version = "weights-" + hashlib.sha256(joined.encode()).hexdigest()[:12]
    return ModelSpec(
        name=built.name or km.name, version=version, source_package=km.source_package,
        source_version=km.source_version, weights_sha256=digests, context=built.context,
        alphabet=built.alphabet, n_value=built.n_value,
        output_channels=tuple(t["name"] for t in built.tracks), input_layout="NLC", members=1,
        licence=km.licence, attribution=km.attribution, exporter_version=__version__,
        kind="tracks", scorer="tracks", input_length=built.input_length,
        bin_size=built.bin_size, output_offset=built.output_offset, tracks=built.tracks,
        default_reduction=built.default_reduction,
    )


def licence_refusal(km: KnownModel) -> str:
    return (f"{km.name}: exporting it needs --accept-licence (Python: accept_licence=True); "
            f"its weights' licence: {km.licence} ({km.source}). Pass it only if your use "
            "complies, and keep the export to yourself")


def export_known(name: str, out: str | os.PathLike | None = None, *,
                 source: str | os.PathLike | None = None, force: bool = False,
                 accept_licence: bool = False, members: Sequence[int] | None = None,
                 fp16: bool = False, options: Mapping[str, object] | None = None
                 ) -> TracksExport:
    """Export known tracks model ``name`` to ``out`` (default: the cache's ``NAME.onnx``)."""
    km = registry.known_model(name)
    if name not in RECIPES:
        raise ConfigError(f"{name}: no tracks export recipe (known: {', '.join(RECIPES)})")
    options = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    wrong = sorted(set(options) - set(OPTIONS[name]))
    if wrong:
        takes = [m for m, opts in OPTIONS.items() if wrong[0] in opts]
        raise ConfigError(f"--{wrong[0].replace('_', '-')} applies to {', '.join(takes)}, not "
                          f"{name}")
    if members:
        raise ConfigError(f"{name}: --members applies to ensembles; {name} is one network")
    if fp16:
        raise ConfigError(f"{name}: --fp16 is not available for tracks models yet")
    if km.licence_gated and not accept_licence:
        raise ConfigError(licence_refusal(km))
    if km.user_weights and source is None:
        raise ConfigError(f"{name}: its weights are yours to bring: seqscore export {name} "
                          f"--from {km.user_weights}")
    built = RECIPES[name](km, Path(source).expanduser() if source is not None else None,
                          options)
    spec = spec_for(km, built)
    if out is None:
        out = registry.default_model_path(spec.name)
    parts = {"weights": dict(spec.weights_sha256), "options": {k: str(v) for k, v in
                                                               options.items()}}
    return write_tracks_onnx(built.module, spec, out, layout=built.layout, force=force,
                             parts=parts, source=name)
