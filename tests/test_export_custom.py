"""`seqscore export custom --module … --weights … --spec …`: the user's own tracks model.

The worked example of docs/custom_models.md is run as written (its files and commands, in a
temporary folder): the ONNX metadata holds the spec, the weights' sha256, the module reference
and the spec text, and its outputs equal the module's at several lengths and batch sizes.  Then
each kind of bad input — spec, weights, module, options — exits with its documented code and
one message naming what is wrong, and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import runpy
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")
onnx = pytest.importorskip("onnx")

from export.tracks_onnx import random_one_hot  # noqa: E402

from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.models.session import ModelSession  # noqa: E402

from conftest import REPO  # noqa: E402

DOC = REPO / "docs" / "custom_models.md"
BLOCK = re.compile(r"<!-- (file: (?P<name>\S+)|run) -->\n```\w*\n(?P<body>.*?)```", re.S)


def _doc_blocks() -> tuple[dict[str, str], list[str]]:
    files, commands = {}, []
    for m in BLOCK.finditer(DOC.read_text()):
        if m["name"]:
            files[m["name"]] = m["body"]
        else:
            commands += [c for c in m["body"].splitlines() if c.strip()]
    return files, commands


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SEQSCORE_HOME", str(tmp_path / "home"))
    yield tmp_path
    for name in ("my_cnn", "tiny_mod"):
        sys.modules.pop(name, None)


def run_documented_example(workdir: Path, capsys) -> dict[str, str]:
    """Write the page's files into ``workdir`` and run its commands there; returns the files."""
    files, commands = _doc_blocks()
    assert set(files) == {"my_cnn.py", "save_weights.py", "my_cnn.toml"}
    assert len(commands) == 2
    for name, body in files.items():
        (workdir / name).write_text(body)
    for command in commands:
        argv = shlex.split(command)
        if argv[0] == "python":
            runpy.run_path(argv[1], run_name="__main__")
        else:
            assert argv[0] == "seqscore"
            assert main(argv[1:]) == 0, capsys.readouterr().err
    return files


def test_the_documented_example_exports_and_matches_torch(workdir, capsys):
    files = run_documented_example(workdir, capsys)
    assert "tiny_cnn: exported to tiny_cnn.onnx" in capsys.readouterr().err

    out = workdir / "tiny_cnn.onnx"
    sess = ModelSession(out, providers=["CPUExecutionProvider"])
    spec, meta = sess.spec, sess.metadata
    assert (spec.name, spec.version, spec.kind, spec.scorer) == ("tiny_cnn", "1.0", "tracks",
                                                                 "tracks")
    assert (spec.input_length, spec.context, spec.bin_size, spec.offset) == (0, 20, 4, 10)
    assert (spec.alphabet, spec.n_value, spec.default_reduction) == ("ACGT", 0.25, "diff")
    assert spec.output_channels == ("DNase_K562", "H3K27ac_HepG2")
    assert spec.tracks[1] == {"name": "H3K27ac_HepG2", "assay": "ChIP-seq",
                              "cell_type": "HepG2", "description": "H3K27ac ChIP-seq signal "
                              "(made-up track of this example)"}
    assert spec.licence == "CC-BY-4.0" and spec.attribution.startswith("Doe J.")
    assert (spec.source_package, spec.source_version) == ("github.com/example/tiny-cnn", "v1.0")
    digest = hashlib.sha256((workdir / "my_cnn.pt").read_bytes()).hexdigest()
    assert spec.weights_sha256 == {"my_cnn.pt": digest}
    assert meta["seqscore.custom_module"] == "my_cnn.py:build"
    assert meta["seqscore.custom_spec"] == files["my_cnn.toml"]
    assert json.loads(meta["seqscore.tracks"])[0]["cell_type"] == "K562"

    from my_cnn import build

    net = build(16)
    net.load_state_dict(torch.load(workdir / "my_cnn.pt", weights_only=True))
    net.eval()
    for batch, length in ((1, 24), (3, 1003), (2, 4096)):
        x = random_one_hot(batch, length, seed=length)
        with torch.no_grad():
            want = net(torch.from_numpy(x).transpose(1, 2)).transpose(1, 2).numpy()
        got = sess.predict(x)
        assert got.shape == (batch, (length - 20) // 4, 2)
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))

    argv = shlex.split(_doc_blocks()[1][1])[1:]
    assert main(argv) == 0
    assert "up to date" in capsys.readouterr().err


TINY_MODULE = '''
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self, width=5):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, width)

    def forward(self, x):
        return self.conv(x)


def build(width=5):
    return Tiny(width)


def not_a_module():
    return 42
'''

TINY_SPEC = '''
[model]
name = "tiny"
licence = "MIT"
citation = "test"

[input]
layout = "NCL"

[output]
context = 4
'''

TRACKS = '''
[[tracks]]
name = "t1"

[[tracks]]
name = "t2"
'''


@pytest.fixture
def tiny(workdir):
    (workdir / "tiny_mod.py").write_text(TINY_MODULE)
    torch.manual_seed(0)
    state = {k: v.clone() for k, v in torch.nn.Conv1d(4, 2, 5).state_dict().items()}
    torch.save({"conv." + k: v for k, v in state.items()}, workdir / "w.pt")
    (workdir / "spec.toml").write_text(TINY_SPEC + TRACKS)
    return workdir


def _run(*extra: str, module="tiny_mod:build", weights="w.pt", spec="spec.toml"):
    argv = ["export", "custom", "--out", "t.onnx"]
    for flag, value in (("--module", module), ("--weights", weights), ("--spec", spec)):
        if value:
            argv += [flag, value]
    return main(argv + list(extra))


def test_tiny_module_from_an_importable_package_and_a_tracks_file(tiny, capsys):
    (tiny / "tracks.tsv").write_text("index\tname\tcell_type\n0\tt1\tGM12878\n1\tt2\t\n")
    (tiny / "spec.toml").write_text(TINY_SPEC.replace('context = 4', 'context = 4\n'
                                                      'tracks_file = "tracks.tsv"'))
    assert _run() == 0, capsys.readouterr().err
    spec = ModelSession(tiny / "t.onnx", providers=["CPUExecutionProvider"]).spec
    assert spec.tracks == ({"name": "t1", "cell_type": "GM12878"}, {"name": "t2"})
    assert spec.n_value == 0.0 and spec.offset == 2 and spec.source_package == "tiny_mod:build"


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("change,code,message", [
    # the spec
    (lambda d: _rewrite(d / "spec.toml", "layout", "lay_out"), 64,
     "spec.toml: unknown key 'lay_out' in [input] (expected one of alphabet, layout, length, "
     "n_value)"),
    (lambda d: _rewrite(d / "spec.toml", "context = 4", "context = 6"), 64,
     "spec.toml: for input [2, 14, 4] the module returned [batch, bins, tracks] = [2, 10, 2], "
     "but the spec (context 6, bin_size 1, 2 tracks) implies [batch, bins, tracks] = [2, 8, 2]"),
    (lambda d: _rewrite(d / "spec.toml", '"tiny"', '"pangolin"'), 64,
     "[model] name 'pangolin' is a known model's name"),
    (lambda d: _rewrite(d / "spec.toml", 'licence = "MIT"\n', ""), 64,
     "spec.toml: [model] licence is required"),
    (lambda d: _rewrite(d / "spec.toml", "context = 4", 'context = "4"'), 64,
     "spec.toml: [output] context must be a int, got '4'"),
    (lambda d: _rewrite(d / "spec.toml", 'name = "t2"', 'name = "t1"'), 64,
     "spec.toml: track names must be given and distinct"),
    (lambda d: _rewrite(d / "spec.toml", "[input]", "[inputs]"), 64,
     "spec.toml: unknown table [inputs]"),
    (lambda d: _rewrite(d / "spec.toml", "[output]", "[output"), 64, "spec.toml: not valid TOML"),
    (lambda d: (d / "spec.toml").unlink(), 66, "--spec spec.toml: no such file"),
    # the weights
    (lambda d: torch.save({"conv.weight": torch.zeros(2, 4, 5)}, d / "w.pt"), 65,
     "--weights w.pt: missing key 'conv.bias'"),
    (lambda d: torch.save({"conv.weight": torch.zeros(2, 4, 5), "conv.bias": torch.zeros(2),
                           "extra": torch.zeros(1)}, d / "w.pt"), 65,
     "--weights w.pt: unexpected key 'extra'"),
    (lambda d: torch.save({"conv.weight": torch.zeros(2, 4, 3), "conv.bias": torch.zeros(2)},
                          d / "w.pt"), 65,
     "--weights w.pt: 'conv.weight' has shape (2, 4, 3), the module expects (2, 4, 5)"),
    (lambda d: torch.save({"state_dict": torch.load(d / "w.pt"), "epoch": 3}, d / "w.pt"), 65,
     "found dict; a checkpoint? set [weights] key = 'state_dict'"),
    (lambda d: torch.save(torch.nn.Conv1d(4, 2, 5), d / "w.pt"), 65,
     "--weights w.pt: not a tensors-only PyTorch file"),
    (lambda d: (d / "w.pt").unlink(), 66, "--weights w.pt: no such file"),
])
def test_bad_inputs_are_refused(tiny, capsys, change, code, message):
    change(tiny)
    assert _run() == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tiny / "t.onnx").exists()


def test_checkpoint_key_and_prefix(tiny, capsys):
    state = torch.load(tiny / "w.pt")
    torch.save({"epoch": 3, "model": {"module." + k: v for k, v in state.items()}},
               tiny / "w.pt")
    _rewrite(tiny / "spec.toml", "[input]", '[weights]\nkey = "model"\nstrip_prefix = '
             '"module."\n\n[input]')
    assert _run() == 0, capsys.readouterr().err


@pytest.mark.parametrize("kwargs,code,message", [
    (dict(module="tiny_mod:nothing"), 64, "--module tiny_mod:nothing: tiny_mod has no callable "
                                          "'nothing'"),
    (dict(module="tiny_mod:not_a_module"), 64, "the factory returned int, expected a "
                                               "torch.nn.Module"),
    (dict(module="no_such_pkg.mod:build"), 64, "cannot import no_such_pkg.mod"),
    (dict(module="tiny_mod"), 64, "expected PKG.MOD:FACTORY or FILE.py:FACTORY"),
    (dict(module="tiny_mod.py:build"), 0, ""),                      # a file path works too
    (dict(module="elsewhere.py:build"), 66, "no such file elsewhere.py"),
    (dict(spec=None), 64, "export custom needs --spec"),
])
def test_module_references(tiny, capsys, kwargs, code, message):
    assert _run(**kwargs) == code
    assert message in capsys.readouterr().err


def test_options_do_not_mix(tiny, capsys):
    assert _run("--from", "x") == 64
    assert "--from does not apply to export custom" in capsys.readouterr().err
    assert main(["export", "puffin", "--spec", "spec.toml"]) == 64
    assert "--spec applies only to `seqscore export custom`" in capsys.readouterr().err
