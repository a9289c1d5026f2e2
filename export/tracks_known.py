"""Export a known regulatory ("tracks" kind) model: pinned weights → torch → tracks ONNX.

``seqscore export puffin --from FILE --accept-licence`` ends here (through
:func:`export.onnx_export.export_model`).  The weight files are found and sha256-checked by
:mod:`export.sources`; a model whose licence restricts use (``KnownModel.licence_gated``:
Puffin, academic research use only) is exported only with ``accept_licence``; the network is
loaded strictly by name and written by :func:`export.tracks_onnx.write_tracks_onnx`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from hail_seqscore import __version__
from hail_seqscore.errors import ConfigError
from hail_seqscore.models import registry
from hail_seqscore.models.registry import KnownModel
from hail_seqscore.models.spec import ModelSpec

from .sources import weight_files
from .tracks_onnx import TracksExport, write_tracks_onnx


@dataclass(frozen=True)
class TracksRecipe:
    """How a known tracks model is built: its network from the weight files, and its settings."""
    load: Callable[[list[Path]], object]   # weight files (pin order) → torch module (eval)
    layout: str
    context: int
    n_value: float
    tracks: tuple[dict[str, str], ...]
    default_reduction: str
    input_length: int = 0
    bin_size: int = 1
    output_offset: int | None = None


def _puffin() -> TracksRecipe:
    from . import puffin  # noqa: PLC0415

    return TracksRecipe(load=lambda files: puffin.load(files[0]), layout="NCL",
                        context=puffin.CONTEXT, n_value=puffin.N_VALUE, tracks=puffin.TRACKS,
                        # effects are local to a TSS peak: the largest change at any base
                        default_reduction="max_abs_diff", output_offset=puffin.FLANK)


RECIPES: dict[str, Callable[[], TracksRecipe]] = {"puffin": _puffin}


def spec_for(km: KnownModel, recipe: TracksRecipe) -> ModelSpec:
    return ModelSpec(
        name=km.name, version=km.version, source_package=km.source_package,
        source_version=km.source_version,
        weights_sha256={w.filename: w.sha256 for w in km.weights}, context=recipe.context,
        alphabet="ACGT", n_value=recipe.n_value,
        output_channels=tuple(t["name"] for t in recipe.tracks), input_layout="NLC", members=1,
        licence=km.licence, attribution=km.attribution, exporter_version=__version__,
        kind="tracks", scorer="tracks", input_length=recipe.input_length,
        bin_size=recipe.bin_size, output_offset=recipe.output_offset, tracks=recipe.tracks,
        default_reduction=recipe.default_reduction,
    )


def licence_refusal(km: KnownModel) -> str:
    return (f"{km.name}: exporting it needs --accept-licence (Python: accept_licence=True); "
            f"its weights' licence: {km.licence} ({km.source}). Pass it only if your use "
            "complies, and keep the export to yourself")


def export_known(name: str, out: str | os.PathLike | None = None, *,
                 source: str | os.PathLike | None = None, force: bool = False,
                 accept_licence: bool = False, members: Sequence[int] | None = None,
                 fp16: bool = False) -> TracksExport:
    """Export known tracks model ``name`` to ``out`` (default: the cache's ``NAME.onnx``)."""
    km = registry.known_model(name)
    if name not in RECIPES:
        raise ConfigError(f"{name}: no tracks export recipe (known: {', '.join(RECIPES)})")
    if members:
        raise ConfigError(f"{name}: --members applies to ensembles; {name} is one network")
    if fp16:
        raise ConfigError(f"{name}: --fp16 is not available for tracks models yet")
    if km.licence_gated and not accept_licence:
        raise ConfigError(licence_refusal(km))
    out = Path(out) if out is not None else registry.default_model_path(name)
    files = weight_files(km, source)
    recipe = RECIPES[name]()
    spec = spec_for(km, recipe)
    module = recipe.load(files)
    return write_tracks_onnx(module, spec, out, layout=recipe.layout, force=force,
                             parts={"weights": [w.sha256 for w in km.weights]}, source=name)
