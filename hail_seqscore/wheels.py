"""Files taken out of pinned PyPI wheels: fetched with ``pip download``, checked by sha256.

Used for SpliceAI's gene tables at run time (and by ``export/`` for weights).  Nothing comes
from a model hub: the wheel is what ``pip download --no-deps NAME==VERSION`` gives, or a file
the user passes for offline machines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .errors import NetworkUnavailableError, WeightChecksumError
from .models.registry import WeightFile, downloads_dir, sha256_file


def find_wheel(package: str, version: str, directory: Path | None = None) -> Path | None:
    d = directory or downloads_dir()
    stem = package.replace("-", "_")
    hits = sorted(d.glob(f"{stem}-{version}-*.whl")) if d.is_dir() else []
    return hits[0] if hits else None


def fetch_wheel(package: str, version: str) -> Path:
    """The wheel of ``package==version`` in the downloads cache, downloading it if needed."""
    found = find_wheel(package, version)
    if found:
        return found
    dest = downloads_dir()
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--disable-pip-version-check", "-d", str(dest), f"{package}=={version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = find_wheel(package, version)
    if proc.returncode != 0 or found is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise NetworkUnavailableError(
            f"could not download {package}=={version} with pip ({tail[0]}). Offline? Download "
            f"it elsewhere with `pip download --no-deps {package}=={version}` and pass the wheel "
            f"with --from PATH (or copy it into {dest})"
        )
    return found


def extract_checked(wheel: Path, member: WeightFile, dest_dir: Path) -> Path:
    """Extract one file from a wheel into ``dest_dir`` (atomically) and check its sha256."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / member.filename
    if out.is_file() and sha256_file(out) == member.sha256:
        return out
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member.path_in_wheel) as src:
            fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".part-")
            with os.fdopen(fd, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
    except KeyError:
        raise WeightChecksumError(f"{wheel} holds no {member.path_in_wheel}") from None
    except zipfile.BadZipFile:
        raise WeightChecksumError(f"{wheel} is not a valid wheel (zip) file") from None
    check_sha256(Path(tmp), member.sha256, label=f"{wheel}:{member.path_in_wheel}",
                 remove_bad=True)
    os.replace(tmp, out)
    return out


def check_sha256(path: Path, expected: str, *, label: str | None = None,
                 remove_bad: bool = False) -> None:
    got = sha256_file(path)
    if got != expected:
        if remove_bad:
            path.unlink(missing_ok=True)
        raise WeightChecksumError(
            f"{label or path}: sha256 {got} does not match the pinned {expected}; the file is "
            "corrupt or not the expected release"
        )
