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


def fetch_wheel(package: str, version: str, *, directory: Path | None = None,
                offline_hint: str | None = None) -> Path:
    """The wheel of ``package==version`` in the downloads cache, downloading it if needed."""
    dest = Path(directory or downloads_dir())
    found = find_wheel(package, version, dest)
    if found:
        return found
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--disable-pip-version-check", "-d", str(dest), f"{package}=={version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = find_wheel(package, version, dest)
    if proc.returncode != 0 or found is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        hint = offline_hint or f"copy the wheel into {dest}"
        raise NetworkUnavailableError(
            f"could not download {package}=={version} with pip ({tail[0]}). Offline? Download "
            f"it elsewhere with `pip download --no-deps {package}=={version}` and {hint}"
        )
    return found


def extract_checked(wheel: Path, member: WeightFile, out: Path, *,
                    expected: str = "") -> Path:
    """Extract one file of a wheel to ``out`` (atomically) and check its sha256.

    ``expected`` names what the wheel should be (e.g. ``spliceai==1.3.1``) in error messages."""
    if out.is_file() and sha256_file(out) == member.sha256:
        return out
    what = f" ({expected})" if expected else ""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WeightChecksumError(f"{wheel} is not a readable wheel ({exc}); expected a wheel"
                                  f"{what}") from None
    with zf:
        if member.path_in_wheel not in zf.namelist():
            raise WeightChecksumError(
                f"{wheel} has no {member.path_in_wheel} (expected sha256 {member.sha256}); is it "
                f"the right wheel{what}?")
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as dst, zf.open(member.path_in_wheel) as src:
            while block := src.read(1 << 20):
                dst.write(block)
    check_sha256(Path(tmp), member.sha256, label=f"{member.path_in_wheel} in {wheel}",
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
            f"{label or path} has sha256 {got}, expected {expected}; the file is corrupt or not "
            "the pinned release"
        )
