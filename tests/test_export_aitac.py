"""`seqscore export aitac --from W.ckpt`: AI-TAC's saved state dict → tracks ONNX.

The weights and inputs are made here from a fixed seed (numpy's PCG64, stable across versions)
in AI-TAC's own format — the state dict of its ``ConvNet`` (``torch.save(model.state_dict())``,
as its training script saves ``models/<name>.ckpt``), one-hot ``[N, 4, 251]`` in its A, T, G, C
row order.  ``tests/data/aitac/predictions.npz`` holds what AI-TAC's original code computed for
them, once (``tests/data/aitac/make_fixture.py``; ``provenance.json`` beside it says how).
The export must reproduce those predictions (≤ 1e-4), carry the 81 ImmGen cell types as its
track table, and refuse a file that is not an AI-TAC state dict.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")
pytest.importorskip("onnx")

from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.models.session import ModelSession  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "data" / "aitac"
TOL = 1e-4
SEED = 2020
N_SEQS = 6

#: (name, shape, fan-in) of every tensor of AI-TAC's ConvNet(num_classes=81, num_filters=300)
SHAPES = [
    ("layer1_conv.0.weight", (300, 1, 4, 19), 4 * 19), ("layer1_conv.0.bias", (300,), 76),
    ("layer1_process.1", (300,), 0),
    ("layer2.0.weight", (200, 300, 1, 11), 300 * 11), ("layer2.0.bias", (200,), 3300),
    ("layer2.3", (200,), 0),
    ("layer3.0.weight", (200, 200, 1, 7), 200 * 7), ("layer3.0.bias", (200,), 1400),
    ("layer3.3", (200,), 0),
    ("layer4.0.weight", (1000, 1000), 1000), ("layer4.0.bias", (1000,), 1000),
    ("layer5.0.weight", (1000, 1000), 1000), ("layer5.0.bias", (1000,), 1000),
    ("layer6.0.weight", (81, 1000), 1000), ("layer6.0.bias", (81,), 1000),
]


def aitac_state(seed: int = SEED) -> dict[str, np.ndarray]:
    """Random AI-TAC weights (He-scaled) and BatchNorm statistics, under the original's names."""
    rng = np.random.default_rng(seed)
    state: dict[str, np.ndarray] = {}
    for name, shape, fan_in in SHAPES:
        if fan_in == 0:                       # a BatchNorm2d: affine and running statistics
            state[f"{name}.weight"] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
            state[f"{name}.bias"] = rng.normal(0, 0.1, shape).astype(np.float32)
            state[f"{name}.running_mean"] = rng.uniform(0.0, 1.0, shape).astype(np.float32)
            state[f"{name}.running_var"] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
            state[f"{name}.num_batches_tracked"] = np.array(1000, dtype=np.int64)
        else:
            state[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return state


def aitac_inputs(seed: int = SEED + 1, n: int = N_SEQS) -> np.ndarray:
    """``[n, 4, 251]`` one-hot sequences, rows A, T, G, C (the original's layout)."""
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, 251))].transpose(0, 2, 1).copy()


def state_digest(state: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(np.ascontiguousarray(state[name]).tobytes())
    return h.hexdigest()


def save_ckpt(state: dict[str, np.ndarray], path: Path) -> Path:
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, path)
    return path


@pytest.fixture(scope="module")
def fixture():
    data = np.load(FIXTURE / "predictions.npz")
    meta = json.loads((FIXTURE / "provenance.json").read_text())
    return data, meta


def test_reproduces_the_original_codes_predictions(fixture, tmp_path, capsys):
    data, meta = fixture
    state = aitac_state()
    assert state_digest(state) == meta["weights_digest"]     # the same weights as then
    x = aitac_inputs()
    assert np.array_equal(x, data["inputs"])
    ckpt = save_ckpt(state, tmp_path / "aitac.ckpt")
    out = tmp_path / "aitac.onnx"
    assert main(["export", "aitac", "--from", str(ckpt), "--out", str(out)]) == 0, \
        capsys.readouterr().err
    sess = ModelSession(out, providers=["CPUExecutionProvider"])
    # our graph takes [N, L, 4] with columns in the spec's alphabet, ATGC
    got = sess.predict(np.ascontiguousarray(x.transpose(0, 2, 1)))
    want = data["predictions"]
    assert got.shape == (N_SEQS, 1, 81) and want.shape == (N_SEQS, 81)
    diff = float(np.abs(got[:, 0] - want).max())
    print(f"\naitac: max|ONNX-original| {diff:.2e} (max |pred| {np.abs(want).max():.2f})")
    assert diff <= TOL * max(1.0, float(np.abs(want).max()))
    spec = sess.spec
    assert spec.alphabet == "ATGC" and (spec.input_length, spec.bin_size, spec.context,
                                        spec.offset) == (251, 251, 0, 0)
    assert len(spec.tracks) == 81 and spec.output_channels[0] == "B.Fem.Sp"
    assert spec.output_channels[-1] == "proB.FrBC.BM"
    assert spec.tracks[15] == {"name": "DC.4+.Sp", "description": "ATAC-seq peak height "
                               "(AI-TAC prediction), myeloid lineage", "assay": "ATAC-seq",
                               "cell_type": "DC.4+.Sp"}
    assert spec.weights_sha256 == {"aitac.ckpt": hashlib.sha256(ckpt.read_bytes()).hexdigest()}
    assert "Maslova" in spec.attribution


def test_not_an_aitac_state_dict(tmp_path, capsys):
    state = aitac_state()
    cases = {
        "other.ckpt": ({"conv.weight": state["layer2.0.bias"]}, 65,
                       "missing key 'layer6.0.weight' (not an AI-TAC state dict?)"),
        "extra.ckpt": ({**state, "layer7.0.weight": state["layer6.0.bias"]}, 65,
                       "unexpected key 'layer7.0.weight'"),
        "shape.ckpt": ({**state, "layer4.0.weight": state["layer5.0.weight"][:, :900]}, 65,
                       "'layer4.0.weight' has shape (1000, 900), expected (1000, 1000)"),
    }
    for name, (bad, code, message) in cases.items():
        path = save_ckpt(bad, tmp_path / name)
        assert main(["export", "aitac", "--from", str(path), "--out",
                     str(tmp_path / "o.onnx")]) == code, name
        assert message in capsys.readouterr().err, name
    torch.save(torch.nn.Linear(2, 2), tmp_path / "pickled.ckpt")
    assert main(["export", "aitac", "--from", str(tmp_path / "pickled.ckpt")]) == 65
    assert "not a tensors-only PyTorch file" in capsys.readouterr().err
    assert not (tmp_path / "o.onnx").exists()
