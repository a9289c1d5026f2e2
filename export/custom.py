"""Bring your own model: a PyTorch module factory + a state dict + a TOML spec → tracks ONNX.

``seqscore export custom --module PKG.MOD:FACTORY --weights W.pt --spec SPEC.toml [--out F]``

* ``--module``: ``package.module:factory`` (importable from ``sys.path``) or
  ``path/to/file.py:factory``; ``factory(**[module].kwargs)`` returns the ``nn.Module``;
* ``--weights``: a file written by ``torch.save(model.state_dict(), W)``, read with
  ``torch.load(weights_only=True)`` (tensors only, never pickled code) and loaded with
  ``strict=True`` — every key must be a parameter or buffer of the module and the reverse;
  ``[weights] key`` picks a state dict nested in a checkpoint dict, ``[weights] strip_prefix``
  drops a prefix from every name (e.g. ``"model."``);
* ``--spec``: the TOML file documented in ``docs/custom_models.md``: ``[model]`` (name, version,
  licence, citation, source), ``[input]`` (length, alphabet, n_value, layout), ``[output]``
  (context, bin_size, offset, default_reduction), and the track table — ``[[tracks]]`` entries
  or ``[output] tracks_file``, a tab-separated file with a header row.

The file's metadata holds the spec (:class:`ModelSpec`), the sha256 of the weights file, the
module reference and the spec's own text; :mod:`export.tracks_onnx` checks the module against
the spec and the graph against the module.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any, Mapping

from hail_seqscore import __version__
from hail_seqscore.errors import ConfigError, WeightMappingError
from hail_seqscore.models import registry
from hail_seqscore.models.spec import PREFIX, ModelSpec

from .track_tables import FIELDS as TRACK_FIELDS
from .track_tables import read_track_table
from .tracks_onnx import TracksExport, write_tracks_onnx

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REDUCTIONS = ("diff", "log2fc", "max_abs_diff")
#: the keys a spec may hold, per table (anything else is a typo worth reporting)
SPEC_KEYS = {
    "model": {"name", "version", "licence", "citation", "source", "source_version"},
    "input": {"length", "alphabet", "n_value", "layout"},
    "output": {"context", "bin_size", "offset", "default_reduction", "tracks_file"},
    "module": {"kwargs"},
    "weights": {"key", "strip_prefix"},
    "tracks": set(TRACK_FIELDS),
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class _Table:
    """One table of the spec, read with checks that name the file, the key and the value."""

    def __init__(self, source: str, name: str, data: Mapping[str, Any]):
        self.source, self.name, self.data = source, name, data

    def where(self, key: str) -> str:
        return f"{self.source}: [{self.name}] {key}"

    def get(self, key: str, kind: type, default: Any = None) -> Any:
        if key not in self.data:
            if default is None:
                raise ConfigError(f"{self.where(key)} is required")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise ConfigError(f"{self.where(key)} must be a {kind.__name__}, got {value!r}")
        return value


def read_spec_file(path: Path) -> tuple[dict, str]:
    """The parsed TOML and its text; unknown tables or keys are errors naming them."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"--spec {path}: no such file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    for table, value in data.items():
        if table not in SPEC_KEYS:
            raise ConfigError(f"{path}: unknown table [{table}] (expected "
                              f"{', '.join(f'[{t}]' for t in SPEC_KEYS)})")
        rows = value if table == "tracks" else [value]
        if table == "tracks" and not isinstance(value, list) or not all(
                isinstance(r, dict) for r in rows):
            raise ConfigError(f"{path}: [{table}] must be a table"
                              f"{' array ([[tracks]] entries)' if table == 'tracks' else ''}")
        for row in rows:
            unknown = sorted(set(row) - SPEC_KEYS[table])
            if unknown:
                raise ConfigError(f"{path}: unknown key {unknown[0]!r} in [{table}] (expected "
                                  f"one of {', '.join(sorted(SPEC_KEYS[table]))})")
    return data, text


def _tracks(spec_path: Path, data: dict, output: _Table) -> tuple[dict[str, str], ...]:
    rows = data.get("tracks", [])
    table_file = output.data.get("tracks_file")
    if rows and table_file:
        raise ConfigError(f"{spec_path}: give the tracks either as [[tracks]] entries or as "
                          "[output] tracks_file, not both")
    if table_file:
        return read_track_table(spec_path.parent / output.get("tracks_file", str),
                                label=f"{spec_path}: tracks_file")
    if not rows:
        raise ConfigError(f"{spec_path}: no tracks: add [[tracks]] entries (name = …) or "
                          "[output] tracks_file")
    out = []
    for i, row in enumerate(rows):
        entry = {k: str(row[k]) for k in TRACK_FIELDS if row.get(k) not in (None, "")}
        if "name" not in entry:
            raise ConfigError(f"{spec_path}: track {i + 1} has no name")
        out.append(entry)
    return tuple(out)


def parse_spec(spec_path: str | os.PathLike, weights_sha256: Mapping[str, str],
               module_ref: str) -> tuple[ModelSpec, str, dict, str]:
    """``(ModelSpec, module layout, spec data, spec text)`` from the TOML file at
    ``spec_path``."""
    spec_path = Path(spec_path)
    data, text = read_spec_file(spec_path)
    source = str(spec_path)
    model, inp, output = (_Table(source, t, data.get(t, {})) for t in ("model", "input",
                                                                       "output"))
    name = model.get("name", str)
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{model.where('name')} {name!r}: use letters, digits, '_', '.' or "
                          "'-' (it names the file and the VCF INFO key)")
    if name in registry.KNOWN_MODELS:
        raise ConfigError(f"{model.where('name')} {name!r} is a known model's name; choose "
                          "another")
    alphabet = inp.get("alphabet", str, "ACGT")
    if len(alphabet) != 4 or len(set(alphabet.upper())) != 4 or set(alphabet.upper()) != set(
            "ACGT"):
        raise ConfigError(f"{inp.where('alphabet')} must order the four bases A, C, G, T, got "
                          f"{alphabet!r}")
    reduction = output.get("default_reduction", str, "diff")
    if reduction not in REDUCTIONS:
        raise ConfigError(f"{output.where('default_reduction')} must be one of "
                          f"{', '.join(REDUCTIONS)}, got {reduction!r}")
    layout = inp.get("layout", str, "NCL")
    length, context = inp.get("length", int, 0), output.get("context", int)
    bin_size = output.get("bin_size", int, 1)
    offset = output.data.get("offset")
    if offset is not None:
        offset = output.get("offset", int)
    tracks = _tracks(spec_path, data, output)
    spec = ModelSpec(
        name=name, version=model.get("version", str, "0"),
        source_package=model.get("source", str, module_ref),
        source_version=model.get("source_version", str, "unversioned"),
        weights_sha256=dict(weights_sha256), context=context, alphabet=alphabet.upper(),
        n_value=inp.get("n_value", float, 0.0),
        output_channels=tuple(t["name"] for t in tracks), input_layout="NLC", members=1,
        licence=model.get("licence", str), attribution=model.get("citation", str),
        exporter_version=__version__, kind="tracks", scorer="tracks", input_length=length,
        bin_size=bin_size, output_offset=offset, tracks=tracks, default_reduction=reduction)
    return spec, layout, data, text


def load_factory(module_ref: str):
    """The callable named by ``package.module:factory`` or ``file.py:factory``."""
    target, sep, attr = module_ref.rpartition(":")
    if not sep or not target or not attr.isidentifier():
        raise ConfigError(f"--module {module_ref!r}: expected PKG.MOD:FACTORY or FILE.py:FACTORY")
    try:
        if target.endswith(".py"):
            path = Path(target).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"--module {module_ref}: no such file {path}")
            spec = importlib.util.spec_from_file_location(f"seqscore_custom_{path.stem}", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
        else:
            mod = importlib.import_module(target)
    except (ImportError, SyntaxError) as exc:
        raise ConfigError(f"--module {module_ref}: cannot import {target} ({exc})") from None
    factory = getattr(mod, attr, None)
    if not callable(factory):
        raise ConfigError(f"--module {module_ref}: {target} has no callable {attr!r}")
    return factory


def build_module(module_ref: str, kwargs: Mapping[str, Any]):
    import torch  # noqa: PLC0415

    factory = load_factory(module_ref)
    try:
        module = factory(**dict(kwargs))
    except Exception as exc:  # noqa: BLE001 - the user's code: report whatever it raised
        raise ConfigError(f"--module {module_ref}: {type(exc).__name__} from the factory "
                          f"({exc})") from None
    if not isinstance(module, torch.nn.Module):
        raise ConfigError(f"--module {module_ref}: the factory returned "
                          f"{type(module).__name__}, expected a torch.nn.Module")
    return module


def read_weights(path: Path, key: str = "", strip_prefix: str = "") -> dict:
    """The state dict of ``path`` (tensors by name), from ``checkpoint[key]`` when given."""
    import torch  # noqa: PLC0415

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"--weights {path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a mapping error
        raise WeightMappingError(f"--weights {path}: not a tensors-only PyTorch file "
                                 f"({_why(exc)}); save it with torch.save(model.state_dict(), "
                                 "PATH)") from None
    if key:
        if not isinstance(obj, dict) or not isinstance(obj.get(key), dict):
            raise WeightMappingError(f"--weights {path}: no state dict under key {key!r} "
                                     "([weights] key)")
        obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        nested = [k for k, v in obj.items() if isinstance(v, dict)] if isinstance(obj,
                                                                                 dict) else []
        hint = f"; a checkpoint? set [weights] key = {nested[0]!r}" if nested else ""
        raise WeightMappingError(f"--weights {path}: expected a state dict (name → tensor), "
                                 f"found {type(obj).__name__}{hint}")
    if strip_prefix:
        obj = {k[len(strip_prefix):] if k.startswith(strip_prefix) else k: v
               for k, v in obj.items()}
    return obj


def _why(exc: Exception) -> str:
    """One line of torch.load's (long, multi-line) complaint."""
    text = str(exc)
    pickled = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if pickled:
        return f"it holds a pickled {pickled.group(1)}, and pickled code is never loaded"
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


def load_weights(module, state: dict, path: Path):
    """``module`` with ``state`` loaded strictly; a mismatch names the keys and shapes."""
    own = module.state_dict()
    unexpected = sorted(set(state) - set(own))
    missing = sorted(set(own) - set(state))
    if unexpected or missing:
        parts = ([f"unexpected key {unexpected[0]!r}" + _more(unexpected)] if unexpected else [])
        parts += [f"missing key {missing[0]!r}" + _more(missing)] if missing else []
        raise WeightMappingError(f"--weights {path}: {'; '.join(parts)} (the module's keys: "
                                 f"{', '.join(list(own)[:6])}{' …' if len(own) > 6 else ''})")
    for name, value in state.items():
        if tuple(value.shape) != tuple(own[name].shape):
            raise WeightMappingError(f"--weights {path}: {name!r} has shape "
                                     f"{tuple(value.shape)}, the module expects "
                                     f"{tuple(own[name].shape)}")
    module.load_state_dict(state, strict=True)
    return module.eval()


def _more(names: list[str]) -> str:
    return f" and {len(names) - 1} more" if len(names) > 1 else ""


def _source_digest(module) -> str:
    """sha256 of the file defining ``module``'s class (a changed definition re-exports)."""
    try:
        return registry.sha256_file(inspect.getfile(type(module)))
    except (TypeError, OSError):
        return ""


def export_custom(module_ref: str, weights: str | os.PathLike, spec_path: str | os.PathLike,
                  out: str | os.PathLike | None = None, *, force: bool = False) -> TracksExport:
    """Export the user's model; ``out`` defaults to ``$SEQSCORE_HOME/models/NAME.onnx``."""
    weights, spec_path = Path(weights).expanduser(), Path(spec_path).expanduser()
    if not weights.is_file():
        raise FileNotFoundError(f"--weights {weights}: no such file")
    digest = registry.sha256_file(weights)
    spec, layout, data, text = parse_spec(spec_path, {weights.name: digest}, module_ref)
    wtable = _Table(str(spec_path), "weights", data.get("weights", {}))
    state = read_weights(weights, wtable.get("key", str, ""), wtable.get("strip_prefix", str, ""))
    kwargs = _Table(str(spec_path), "module", data.get("module", {})).get("kwargs", dict, {})
    module = load_weights(build_module(module_ref, kwargs), state, weights)
    target = Path(out) if out is not None else registry.default_model_path(spec.name)
    extra = {PREFIX + "custom_module": module_ref, PREFIX + "custom_spec": text}
    return write_tracks_onnx(module, spec, target, layout=layout, force=force,
                             parts={"weights": digest, "module": module_ref,
                                    "module_source": _source_digest(module), "spec": text},
                             extra_metadata=extra, source=str(spec_path))
