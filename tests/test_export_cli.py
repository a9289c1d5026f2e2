"""`seqscore export`: one ONNX file with the metadata contract; re-export is a no-op."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")
onnx = pytest.importorskip("onnx")

from hail_seqscore import __version__  # noqa: E402
from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.models.registry import KNOWN_MODELS, downloads_dir  # noqa: E402
from hail_seqscore.models.session import ModelSession  # noqa: E402
from hail_seqscore.models.spec import ModelSpec  # noqa: E402
from export.split import STAGE_UNITS  # noqa: E402


@pytest.fixture(scope="module")
def cis_wheel(model_weights):
    model_weights("cispliceai")  # makes sure the wheel is in the downloads dir
    (wheel,) = downloads_dir().glob("cispliceai-1.2.2-*.whl")
    return wheel


def test_export_from_wheel_then_up_to_date_then_force(cis_wheel, tmp_path, capsys):
    out = tmp_path / "cis.onnx"
    assert main(["export", "cispliceai", "--from", str(cis_wheel), "--out", str(out)]) == 0
    assert "exported" in capsys.readouterr().err
    first = out.stat().st_mtime_ns
    assert main(["export", "cispliceai", "--from", str(cis_wheel), "--out", str(out)]) == 0
    assert "up to date" in capsys.readouterr().err
    assert out.stat().st_mtime_ns == first
    assert main(["export", "cispliceai", "--from", str(cis_wheel), "--out", str(out),
                 "--force"]) == 0
    assert "exported" in capsys.readouterr().err
    assert out.stat().st_mtime_ns != first
    # the model and its split trunk-stage/head graphs (incremental inference); no temp files
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["cis.head.onnx", "cis.onnx"] + [f"cis.trunk{i}.onnx" for i in range(len(STAGE_UNITS))])

    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    meta = {p.key: p.value for p in model.metadata_props}
    spec = ModelSpec.from_metadata(meta)
    km = KNOWN_MODELS["cispliceai"]
    assert (spec.name, spec.source_package, spec.source_version) == ("cispliceai", "cispliceai",
                                                                     "1.2.2")
    assert spec.weights_sha256 == {w.filename: w.sha256 for w in km.weights}
    assert spec.context == 10_000 and spec.alphabet == "ACGT" and spec.n_value == 0.0
    assert spec.output_channels == ("neither", "acceptor", "donor")
    assert spec.input_layout == "NLC" and spec.members == 5
    assert spec.licence == "CC BY 4.0" and "Strauch" in spec.attribution
    assert spec.exporter_version == __version__
    # dynamic batch and length axes
    inp = model.graph.input[0]
    assert inp.name == "x"
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_param and dims[2].dim_value == 4
    sess = ModelSession(out, providers=["CPUExecutionProvider"])
    import numpy as np

    for shape in ((1, 10_001, 4), (3, 10_050, 4)):
        y = sess.predict(np.zeros(shape, dtype=np.float32))
        assert y.shape == (shape[0], shape[1] - 10_000, 3)


def test_single_member_export(cis_wheel, tmp_path):
    out = tmp_path / "m2.onnx"
    assert main(["export", "cispliceai", "--from", str(cis_wheel), "--out", str(out),
                 "--members", "2"]) == 0
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["seqscore.members"] == "1" and meta["seqscore.member_indices"] == "2"


def test_export_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--from" in text and "--force" in text and "sha256" in text
