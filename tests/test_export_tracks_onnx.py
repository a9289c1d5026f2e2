"""export/tracks_onnx.py: any torch module + a tracks ModelSpec → one ONNX file.

Tiny modules built here: an any-length NCL model with 2-bp bins, a fixed-length NLC model; the
written graph has x [batch, length, 4] → y [batch, bins, tracks], a dynamic batch axis and a
dynamic length axis only for any-length models, the spec in its metadata, and outputs equal to
the module's.  A spec that does not fit its module, a bad track name and a graph that differs
from its module are refused and leave nothing (an older file stays as it was).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")
onnx = pytest.importorskip("onnx")

from torch import nn  # noqa: E402

from export.tracks_onnx import random_one_hot, write_tracks_onnx  # noqa: E402

from hail_seqscore import __version__  # noqa: E402
from hail_seqscore.errors import ConfigError, ModelFormatError  # noqa: E402
from hail_seqscore.models.session import ModelSession  # noqa: E402
from hail_seqscore.models.spec import ModelSpec  # noqa: E402


def _spec(names=("a", "b", "c"), **kw) -> ModelSpec:
    settings = dict(
        name="tiny", version="1", source_package="tests", source_version="0",
        weights_sha256={"w.pt": "0" * 64}, context=20, alphabet="ACGT", n_value=0.25,
        output_channels=tuple(names), input_layout="NLC", members=1, licence="CC0",
        attribution="test", exporter_version=__version__, kind="tracks", scorer="tracks",
        tracks=tuple({"name": n, "description": f"track {n}"} for n in names),
        default_reduction="log2fc")
    settings.update(kw)
    return ModelSpec(**settings)


class BinnedNCL(nn.Module):
    """[N, 4, L] → [N, 3, (L - 20) // 2]: a width-21 conv, then 2-bp average pooling."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 3, 21)
        self.pool = nn.AvgPool1d(2)

    def forward(self, x):
        return nn.functional.softplus(self.pool(self.conv(x)))


class FixedNLC(nn.Module):
    """[N, 100, 4] → [N, 5, 2]: dense over the whole window, 5 bins of 16 bp (context 20)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.dense = nn.Linear(400, 10)

    def forward(self, x):
        return self.dense(x.reshape(x.shape[0], 400)).reshape(x.shape[0], 5, 2)


def _dims(model, which):
    value = (model.graph.input if which == "x" else model.graph.output)[0]
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_any_length_ncl_model(tmp_path, capsys):
    spec = _spec(bin_size=2, output_offset=10)
    out = tmp_path / "tiny.onnx"
    res = write_tracks_onnx(BinnedNCL().eval(), spec, out, layout="NCL",
                            parts={"weights": "w1"})
    assert res.status == "exported" and res.max_abs_diff <= 1e-5 and res.size_bytes > 0
    model = onnx.load(str(out))
    assert _dims(model, "x") == ["batch", "length", 4]
    assert _dims(model, "y") == ["batch", "bins", 3]
    sess = ModelSession(out, providers=["CPUExecutionProvider"])
    assert sess.spec == spec
    assert sess.metadata["seqscore.tracks"].startswith('[{"name": "a", "description"')
    for batch, length in ((1, 22), (4, 121), (2, 300)):
        x = random_one_hot(batch, length, seed=length)
        with torch.no_grad():
            want = BinnedNCL()(torch.from_numpy(x).transpose(1, 2)).transpose(1, 2).numpy()
        got = sess.predict(x)
        assert got.shape == (batch, (length - 20) // 2, 3)
        assert np.abs(got - want).max() <= 1e-5
    again = write_tracks_onnx(BinnedNCL().eval(), spec, out, layout="NCL",
                              parts={"weights": "w1"})
    assert again.status == "up to date"
    changed = write_tracks_onnx(BinnedNCL().eval(), spec, out, layout="NCL",
                                parts={"weights": "w2"})
    assert changed.status == "exported"        # other weights: a new fingerprint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]


def test_fixed_length_nlc_model(tmp_path):
    spec = _spec(names=("p", "q"), input_length=100, bin_size=16, context=20)
    out = tmp_path / "fixed.onnx"
    res = write_tracks_onnx(FixedNLC().eval(), spec, out, layout="NLC")
    assert res.status == "exported"
    model = onnx.load(str(out))
    assert _dims(model, "x") == ["batch", 100, 4]     # only the batch axis is free
    assert _dims(model, "y") == ["batch", 5, 2]
    sess = ModelSession(out, providers=["CPUExecutionProvider"])
    assert (sess.spec.input_length, sess.spec.bin_size, sess.spec.offset) == (100, 16, 10)
    x = random_one_hot(3, 100, seed=7)
    with torch.no_grad():
        want = FixedNLC()(torch.from_numpy(x)).numpy()
    assert np.abs(sess.predict(x) - want).max() <= 1e-5


@pytest.mark.parametrize("spec,layout,message", [
    (_spec(bin_size=4), "NCL", "for input [2, 52, 4] the module returned [batch, bins, tracks] "
                               "= [2, 16, 3], but the spec (context 20, bin_size 4, 3 tracks) "
                               "implies [batch, bins, tracks] = [2, 8, 3]"),
    (_spec(names=("a", "b"), bin_size=2), "NCL", "returned [batch, bins, tracks] = [2, 8, 3], "
                                                 "but the spec (context 20, bin_size 2, 2 "
                                                 "tracks) implies [batch, bins, tracks] = "
                                                 "[2, 8, 2]"),
    (_spec(bin_size=2), "CLN", "layout must be one of NCL, NLC, got 'CLN'"),
    (_spec(names=("a", "b|c", "d")), "NCL", "track name 'b|c' is empty or holds one of"),
    (_spec(input_length=101, bin_size=2), "NCL", "input_length 101 minus context 20 is not a "
                                                 "whole number of 2-bp bins"),
    (_spec(kind="splice", scorer="spliceai", bin_size=2), "NCL", "kind/scorer must be "
                                                                 "'tracks'"),
])
def test_a_spec_that_does_not_fit_is_refused(tmp_path, spec, layout, message):
    out = tmp_path / "bad.onnx"
    with pytest.raises(ConfigError) as err:
        write_tracks_onnx(BinnedNCL().eval(), spec, out, layout=layout, source="bad.toml")
    assert message in err.value.message and err.value.message.startswith("bad.toml: ")
    assert list(tmp_path.iterdir()) == []


class Drifting(BinnedNCL):
    """Returns different values on each call: the traced graph cannot equal the module."""

    calls = 0

    def forward(self, x):
        Drifting.calls += 1
        return super().forward(x) * Drifting.calls


def test_a_graph_that_differs_from_its_module_is_not_written(tmp_path):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"an older file")
    with pytest.raises(ModelFormatError) as err:
        write_tracks_onnx(Drifting().eval(), _spec(bin_size=2), out, layout="NCL")
    assert "differs from the torch module" in err.value.message
    assert out.read_bytes() == b"an older file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
