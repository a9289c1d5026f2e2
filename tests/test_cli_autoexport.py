"""A model used before it is exported: SpliceAI and CI-SpliceAI (weights from a pinned
package) are exported on first use with a notice naming the licence; SEQSCORE_OFFLINE=1 turns
that off, and the "not exported" error then names SEQSCORE_HOME and where `make` keeps models.
The export reads the wheel already in SEQSCORE_HOME/downloads (no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import VCF_HEADER, make_world

ROOT = Path(__file__).resolve().parents[1]
WHEEL = "cispliceai-1.2.2-py3-none-any.whl"


def run(home: Path, world: dict, *extra: str, env: dict | None = None):
    vcf = world["dir"] / "one.vcf"
    seq = world["seq"]
    vcf.write_text(VCF_HEADER + f"chr1\t1100\t.\t{seq[1099]}\t{'A' if seq[1099] != 'A' else 'C'}"
                                "\t.\t.\t.\n")
    return subprocess.run(
        [sys.executable, "-m", "hail_seqscore", "score", "--model", "cispliceai", "-I", str(vcf),
         "-O", str(world["dir"] / "out.vcf"), "-R", world["ref"], "-A", world["genes"], *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "SEQSCORE_HOME": str(home), **(env or {})})


def test_offline_refusal_names_seqscore_home(tmp_path):
    world = make_world(tmp_path)
    r = run(tmp_path / "home", world, env={"SEQSCORE_OFFLINE": "1"})
    assert r.returncode == 69, r.stderr
    assert "SEQSCORE_HOME" in r.stderr and "./.cache" in r.stderr
    assert "seqscore export cispliceai" in r.stderr and "Traceback" not in r.stderr
    assert not (world["dir"] / "out.vcf").exists()


def test_a_pinned_model_is_exported_on_first_use(tmp_path):
    pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")
    cached = Path(os.environ.get("SEQSCORE_HOME", ROOT / ".cache")) / "downloads" / WHEEL
    if not cached.is_file():
        pytest.skip(f"{cached} not downloaded (the model fixtures put it there)")
    home = tmp_path / "home"
    (home / "downloads").mkdir(parents=True)
    shutil.copy(cached, home / "downloads" / WHEEL)
    world = make_world(tmp_path)
    r = run(home, world, "-q", "--pad-edges")      # the synthetic contig is 3 kb
    assert r.returncode == 0, r.stderr
    assert "exporting it now from cispliceai==1.2.2" in r.stderr and "CC BY 4.0" in r.stderr
    assert "building the ensemble of 5 member(s)" in r.stderr          # progress as it goes
    assert (home / "models" / "cispliceai.onnx").is_file()
    assert "SpliceAI=" in (world["dir"] / "out.vcf").read_text()
    again = run(home, world, "-q", "--pad-edges")     # now it is there: no second export
    assert again.returncode == 0 and "exporting" not in again.stderr
