"""Bad input to the exporter: corrupt or wrong weight files, unknown models, no network, and an
interrupted write."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")

from export.onnx_export import export_model, write_onnx  # noqa: E402
from export.sources import weight_files  # noqa: E402

from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.errors import (  # noqa: E402
    NetworkUnavailableError, UnknownModelError, WeightChecksumError)
from hail_seqscore.models.registry import KNOWN_MODELS, known_model  # noqa: E402


def test_corrupt_weight_file_names_file_and_expected_sha(model_weights, tmp_path):
    src = model_weights("spliceai")
    d = tmp_path / "weights"
    d.mkdir()
    for f in src:
        shutil.copy(f, d / f.name)
    bad = d / "spliceai3.h5"
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    expected = next(w.sha256 for w in KNOWN_MODELS["spliceai"].weights
                    if w.filename == "spliceai3.h5")
    with pytest.raises(WeightChecksumError) as err:
        weight_files(known_model("spliceai"), d)
    assert str(bad) in err.value.message and expected in err.value.message


def test_wrong_weight_file_is_refused(model_weights, tmp_path):
    (pb,) = model_weights("cispliceai")
    wrong = tmp_path / "CI-SpliceAI.pb"
    shutil.copy(model_weights("spliceai")[0], wrong)  # an .h5 under the .pb's name
    with pytest.raises(WeightChecksumError, match=KNOWN_MODELS["cispliceai"].weights[0].sha256):
        export_model("cispliceai", tmp_path / "x.onnx", source=wrong)
    assert not (tmp_path / "x.onnx").exists()
    # a single file cannot stand for a 5-file model
    with pytest.raises(WeightChecksumError, match="needs"):
        export_model("spliceai", tmp_path / "y.onnx", source=pb)


def test_unknown_model_lists_known_ones(tmp_path, capsys):
    with pytest.raises(UnknownModelError) as err:
        export_model("splice-ai", tmp_path / "x.onnx")
    assert "cispliceai" in str(err.value) and "spliceai" in str(err.value)
    assert main(["export", "nosuchmodel"]) == UnknownModelError.exit_code
    assert "known models: aitac, basenji2, cispliceai, enformer, openspliceai, pangolin, puffin, spliceai" in capsys.readouterr().err


def test_no_network_gives_offline_alternative(tmp_path, monkeypatch, capsys):
    # an empty cache and an index nobody listens on: pip cannot download
    monkeypatch.setenv("SEQSCORE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    with pytest.raises(NetworkUnavailableError) as err:
        export_model("cispliceai")
    assert "--from" in err.value.message and "cispliceai==1.2.2" in err.value.message
    assert main(["export", "cispliceai"]) == NetworkUnavailableError.exit_code
    assert "--from" in capsys.readouterr().err
    assert not (tmp_path / "home" / "models" / "cispliceai.onnx").exists()


def test_missing_from_path(tmp_path, capsys):
    assert main(["export", "cispliceai", "--from", str(tmp_path / "nope.whl"),
                 "--out", str(tmp_path / "c.onnx")]) == 66
    assert "nope.whl" in capsys.readouterr().err


def test_bad_members(model_weights, tmp_path):
    from hail_seqscore.errors import ConfigError

    with pytest.raises(ConfigError, match="members"):
        export_model("cispliceai", tmp_path / "c.onnx", members=[5])


def test_interrupted_write_leaves_old_file_and_no_temp(tmp_path):
    import torch

    class Interrupted(torch.nn.Module):
        def forward(self, x):
            raise KeyboardInterrupt

    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous export")
    with pytest.raises(KeyboardInterrupt):
        write_onnx(Interrupted(), out, {})
    assert out.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
