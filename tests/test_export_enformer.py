"""`seqscore export enformer --from DIR`: enformer-pytorch checkpoint folders → tracks ONNX.

Small random-weight Enformers are written in the port's own formats (``save_pretrained``'s
``config.json`` + ``pytorch_model.bin``; a ``model.safetensors`` holding part of the tensors
under the port's ``_trunk`` aliases), exported, and compared with enformer-pytorch's own
forward pass (≤ 1e-4): the human and mouse heads, and the TensorFlow gamma table that the port
uses for the converted official weights.  The metadata says where the bins sit; bad folders,
heads, track tables and options exit with their codes.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")
pytest.importorskip("onnx")
enformer_pytorch = pytest.importorskip(
    "enformer_pytorch", reason="needs the test extra: pip install '.[test]' (enformer-pytorch)")

from export.tracks_onnx import random_one_hot  # noqa: E402

from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.models.session import ModelSession  # noqa: E402

TOL = 1e-4
SMALL = dict(dim=96, depth=2, heads=2, output_heads={"human": 7, "mouse": 3}, target_length=48,
             num_downsamples=3, dim_divisible_by=16)


def _random_enformer(seed: int = 0, **config):
    """An enformer-pytorch model with every parameter and BatchNorm statistic random (the port
    zero-initialises some, which would hide mistakes)."""
    from enformer_pytorch import Enformer

    torch.manual_seed(seed)
    model = Enformer.from_hparams(**config)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    model = _random_enformer(**SMALL)
    folder = tmp_path_factory.mktemp("enformer") / "ckpt"
    model.save_pretrained(folder, safe_serialization=False)
    return model, folder


def _targets(path, n, prefix="ENCFF"):
    rows = ["index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription"]
    kinds = ["DNASE:cerebellum male adult", "CHIP:H3K27ac:liver", "CAGE:brain"]
    rows += [f"{i}\t0\t{prefix}{i:03d}\tf{i}.w5\t32\t2\tmean\t{kinds[i % 3]}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _compare(out, model, head, length):
    sess = ModelSession(out, providers=["CPUExecutionProvider"])
    x = random_one_hot(2, length, seed=3)
    with torch.no_grad():
        want = model(torch.from_numpy(x), head=head).numpy()
    got = sess.predict(x)
    assert got.shape == want.shape
    diff = float(np.abs(got - want).max())
    print(f"\nenformer {head} L={length}: max|ONNX-port| {diff:.2e} (max {np.abs(want).max():.2f})")
    assert diff <= TOL * max(1.0, float(np.abs(want).max()))
    return sess


def test_human_head_from_pytorch_model_bin(small, tmp_path, capsys):
    model, folder = small
    assert sorted(os.listdir(folder)) == ["config.json", "pytorch_model.bin"]
    out = tmp_path / "enf.onnx"
    argv = ["export", "enformer", "--from", str(folder), "--input-length", "1024", "--tracks",
            str(_targets(tmp_path / "targets_human.txt", 7)), "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    sess = _compare(out, model, "human", 1024)
    spec = sess.spec
    assert (spec.name, spec.kind, spec.scorer) == ("enformer", "tracks", "tracks")
    # 1024 bp → 128 positions of 8 bp → 48 central bins; 320 bp each side give context only
    assert (spec.input_length, spec.bin_size, spec.context, spec.offset) == (1024, 8, 640, 320)
    assert spec.output_channels[:2] == ("ENCFF000", "ENCFF001")
    assert spec.tracks[1] == {"name": "ENCFF001", "description": "CHIP:H3K27ac:liver",
                              "assay": "CHIP"}
    assert set(spec.weights_sha256) == {"config.json", "pytorch_model.bin"}
    assert spec.version.startswith("weights-") and spec.default_reduction == "diff"
    assert spec.alphabet == "ACGT" and spec.n_value == 0.0 and "Avsec" in spec.attribution
    assert main(argv) == 0 and "up to date" in capsys.readouterr().err


def test_mouse_head_from_safetensors_with_trunk_aliases(small, tmp_path, capsys):
    import safetensors.torch

    model, _ = small
    folder = tmp_path / "st"
    folder.mkdir()
    model.config.to_json_file(folder / "config.json")
    # as a deduplicating converter may keep them: stem and tower under _trunk.N only
    state = {k: v.contiguous() for k, v in model.state_dict().items()
             if not k.startswith(("stem.", "conv_tower.", "_trunk.4", "_trunk.6"))}
    safetensors.torch.save_file(state, folder / "model.safetensors")
    out = tmp_path / "mouse.onnx"
    assert main(["export", "enformer", "--from", str(folder), "--head", "mouse",
                 "--input-length", "1024", "--out", str(out)]) == 0, capsys.readouterr().err
    sess = _compare(out, model, "mouse", 1024)
    assert sess.spec.name == "enformer_mouse"
    assert sess.spec.output_channels == ("mouse_0000", "mouse_0001", "mouse_0002")


def test_tf_gamma_table_as_the_port_uses_it(tmp_path, capsys):
    """1,536 positions (the official count), the port's use_tf_gamma=True."""
    config = dict(dim=192, depth=1, heads=1, output_heads={"human": 4}, target_length=1000,
                  num_downsamples=3, dim_divisible_by=32, use_tf_gamma=True)
    model = _random_enformer(seed=1, **config)
    folder = tmp_path / "tf"
    model.save_pretrained(folder, safe_serialization=False)
    table = os.path.join(os.path.dirname(enformer_pytorch.__file__), "precomputed",
                         "tf_gammas.pt")
    out = tmp_path / "tf.onnx"
    # without --input-length: 1,536 positions × 8 bp
    assert main(["export", "enformer", "--from", str(folder), "--tf-gammas", table,
                 "--out", str(out)]) == 0, capsys.readouterr().err
    sess = _compare(out, model, "human", 12_288)
    assert "tf_gammas.pt" in sess.spec.weights_sha256


def test_bad_folders_heads_and_options(small, tmp_path, capsys):
    _, folder = small
    run = ["export", "enformer", "--input-length", "1024", "--out", str(tmp_path / "o.onnx")]
    cases = [
        (["--from", str(tmp_path / "nowhere")], 66, "no such folder"),
        (["--from", str(tmp_path)], 66, "no config.json inside"),
        ([], 64, "its weights are yours to bring: seqscore export enformer --from DIR"),
        (["--from", str(folder), "--head", "rat"], 64,
         "head 'rat' not in the checkpoint's config (heads: human, mouse)"),
        (["--from", str(folder), "--tracks", str(_targets(tmp_path / "t5.txt", 5))], 64,
         "5 rows, but the model has 7 output channels"),
        (["--from", str(folder), "--input-length", "1001"], 64,
         "input length 1001 is not a multiple of the bin size 8"),
        (["--from", str(folder), "--input-length", "256"], 64,
         "input length 256 gives 32 positions; the 48 target bins need at least that many"),
        (["--from", str(folder), "--config", "p.json"], 64,
         "--config applies to basenji2, not enformer"),
        (["--from", str(folder), "--members", "0"], 64, "--members applies to ensembles"),
    ]
    for extra, code, message in cases:
        assert main(run + extra) == code, extra
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (extra, err)
    # a checkpoint of another architecture: the names say so
    other = tmp_path / "deeper"
    _random_enformer(**{**SMALL, "depth": 3}).save_pretrained(other, safe_serialization=False)
    (other / "config.json").write_text((folder / "config.json").read_text())
    assert main(run + ["--from", str(other)]) == 65
    assert "unexpected key 'transformer.2.0.fn.1.rel_content_bias'" in capsys.readouterr().err
    assert not (tmp_path / "o.onnx").exists()


def test_not_exported_hint_says_what_to_bring(tmp_path, monkeypatch):
    from hail_seqscore.errors import ModelNotInstalledError
    from hail_seqscore.models.registry import model_path

    monkeypatch.setenv("SEQSCORE_HOME", str(tmp_path))
    with pytest.raises(ModelNotInstalledError) as err:
        model_path("enformer")
    assert ("run `seqscore export enformer --from PATH` (PATH: DIR (an enformer-pytorch "
            "checkpoint folder") in err.value.message
