"""`seqscore export basenji2 --from W.pth [--config PARAMS.json]`: basenji2-pytorch → tracks ONNX.

A small random-weight Basenji2 is built by basenji2-pytorch from its own params format and saved
as the port saves its weights (the ``Basenji2`` state dict; and a Lightning checkpoint of
``PLBasenji2``), exported, and compared with the port's own forward pass (≤ 1e-4).  The
published architecture is the default (a small file for it fails naming the key, with a hint);
bad params files exit with their codes.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")
pytest.importorskip("onnx")
basenji2_pytorch = pytest.importorskip(
    "basenji2_pytorch", reason="needs the test extra: pip install '.[test]' (basenji2-pytorch)")

from export.tracks_onnx import random_one_hot  # noqa: E402

from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.models.session import ModelSession  # noqa: E402

TOL = 1e-4
PARAMS = {
    "seq_length": 1024, "activation": "gelu", "norm_type": "batch", "bn_momentum": 0.9,
    "trunk": [
        {"name": "conv_block", "filters": 12, "kernel_size": 15, "pool_size": 2},
        {"name": "conv_tower", "filters_init": 14, "filters_mult": 1.2, "kernel_size": 5,
         "pool_size": 2, "repeat": 3},
        {"name": "dilated_residual", "filters": 8, "rate_mult": 1.5, "repeat": 4,
         "dropout": 0.3, "round": True},
        {"name": "Cropping1D", "cropping": 8},
        {"name": "conv_block", "filters": 24, "dropout": 0.05},
    ],
    "head_human": {"name": "final", "units": 6, "activation": "softplus"},
}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from basenji2_pytorch import Basenji2

    torch.manual_seed(0)
    model = Basenji2(copy.deepcopy(PARAMS))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    model.eval()
    folder = tmp_path_factory.mktemp("basenji2")
    torch.save(model.state_dict(), folder / "basenji2.pth")
    (folder / "params.json").write_text(json.dumps({"model": PARAMS}))
    return model, folder


def _compare(out, model):
    sess = ModelSession(out, providers=["CPUExecutionProvider"])
    x = random_one_hot(2, PARAMS["seq_length"], seed=5)
    with torch.no_grad():
        want = model(torch.from_numpy(x).transpose(1, 2)).numpy()
    got = sess.predict(x)
    assert got.shape == want.shape == (2, 48, 6)
    diff = float(np.abs(got - want).max())
    print(f"\nbasenji2: max|ONNX-port| {diff:.2e} (max {np.abs(want).max():.2f})")
    assert diff <= TOL * max(1.0, float(np.abs(want).max()))
    return sess


def test_state_dict_with_params(small, tmp_path, capsys):
    model, folder = small
    tracks = tmp_path / "tracks.tsv"
    tracks.write_text("name\tassay\tcell_type\n" + "".join(
        f"t{i}\tDNase-seq\tK562\n" for i in range(6)))
    out = tmp_path / "b.onnx"
    argv = ["export", "basenji2", "--from", str(folder / "basenji2.pth"), "--config",
            str(folder / "params.json"), "--tracks", str(tracks), "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    spec = _compare(out, model).spec
    # 1024 bp → 64 positions of 16 bp, 8 cropped each side → 48 bins; 256 bp of context
    assert (spec.input_length, spec.bin_size, spec.context, spec.offset) == (1024, 16, 256, 128)
    assert spec.tracks[5] == {"name": "t5", "assay": "DNase-seq", "cell_type": "K562"}
    assert set(spec.weights_sha256) == {"basenji2.pth", "params.json"}
    assert spec.name == "basenji2" and "Kelley" in spec.attribution


def test_lightning_checkpoint(small, tmp_path, capsys):
    model, folder = small
    ckpt = tmp_path / "epoch=3.ckpt"
    torch.save({"epoch": 3, "state_dict": {"basenji2." + k: v for k, v in
                                           model.state_dict().items()}}, ckpt)
    out = tmp_path / "l.onnx"
    assert main(["export", "basenji2", "--from", str(ckpt), "--config",
                 str(folder / "params.json"), "--out", str(out)]) == 0, capsys.readouterr().err
    assert _compare(out, model).spec.output_channels[0] == "human_0000"


def test_published_architecture_is_the_default(small, tmp_path, capsys):
    from export.basenji2 import BASENJI2_MODEL, Basenji2Net

    _, folder = small
    assert main(["export", "basenji2", "--from", str(folder / "basenji2.pth"), "--out",
                 str(tmp_path / "o.onnx")]) == 65
    err = capsys.readouterr().err
    assert "missing key for parameter" in err and "pass its params with --config" in err
    net = Basenji2Net(copy.deepcopy(BASENJI2_MODEL))
    # basenji2-pytorch 0.1.2's Basenji2(basenji2_params["model"]) has the same 152 tensors
    # with the same shapes and 30,088,228 parameters (compared once; building it runs a full
    # 131-kb forward pass, too slow for this test)
    assert len(net.state_dict()) == 152
    assert sum(p.numel() for p in net.parameters()) == 30_088_228
    assert (net.bin_size, net.n_bins(131_072)) == (128, 896)


@pytest.mark.parametrize("content,code,message", [
    ("{", 64, "not valid JSON"),
    ('{"model": {"trunk": []}}', 64, "expected basenji2-pytorch params"),
    (json.dumps({"model": {**PARAMS, "trunk": [{"name": "conv_block", "filters": 4,
                                                "kernel_size": 4}]}}), 64,
     "even kernel sizes are not supported"),
    (json.dumps({"model": {**PARAMS, "activation": "tanh"}}), 64, "activation 'tanh'"),
])
def test_bad_params(small, tmp_path, capsys, content, code, message):
    _, folder = small
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["export", "basenji2", "--from", str(folder / "basenji2.pth"), "--config",
                 str(bad), "--out", str(tmp_path / "o.onnx")]) == code
    assert message in capsys.readouterr().err
