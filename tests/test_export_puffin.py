"""`seqscore export puffin --from FILE --accept-licence`: the real Puffin weights, opt-in.

The export carries the tracks-kind metadata (any length, base resolution, 325-bp flanks, the
10 tracks in channel order); it equals the independent float64 numpy forward
(:mod:`export.reference_puffin`, the original's padded form) to 1e-5 at several lengths on real
chr21 windows, and reproduces the original Puffin code's REF and ALT predictions for 20 chr21
dbSNP SNVs near TSSs (``reference_outputs/puffin``).  Without --accept-licence nothing is
written; the weight file is sha256-checked and its keys checked by name.  Skips where
``../shared`` is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")
onnx = pytest.importorskip("onnx")

from export.parity_torch import one_hot  # noqa: E402
from export.reference_puffin import puffin_forward  # noqa: E402
from export.sources import weight_files  # noqa: E402
from export.torch_state import read_state_dict  # noqa: E402

from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.errors import ModelNotInstalledError, WeightMappingError  # noqa: E402
from hail_seqscore.models.registry import KNOWN_MODELS, model_path  # noqa: E402
from hail_seqscore.models.session import ModelSession  # noqa: E402
from hail_seqscore.models.spec import ModelSpec  # noqa: E402

from conftest import REPO  # noqa: E402

WEIGHTS = REPO.parent / "shared" / "weights" / "puffin"
KM = KNOWN_MODELS["puffin"]
#: ONNX vs the float64 reference (same function, float32 arithmetic)
PARITY_TOL = 1e-5
#: ONNX vs the original code's predictions: relative 1e-4, plus 1e-6 absolute for the many
#: outputs near 0 (softplus of large negative sums, down to 1e-7) where the original's FFT
#: convolutions round differently (its README: FFT vs direct convolution up to 1.4e-5)
REL_TOL, ABS_FLOOR = 1e-4, 1e-6


@pytest.fixture(scope="module")
def weight_file():
    path = WEIGHTS / "puffin.pth"
    if not path.is_file():
        pytest.skip(f"Puffin weights not found at {path} (the shared weights folder; see its "
                    "README)")
    return path


@pytest.fixture(scope="module")
def exported(weight_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("puffin") / "puffin.onnx"
    assert main(["export", "puffin", "--from", str(weight_file), "--out", str(out),
                 "--accept-licence"]) == 0
    return out


@pytest.fixture(scope="module")
def session(exported):
    return ModelSession(exported, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def reference_npz(shared_data):
    path = shared_data / "grch38_chr21" / "reference_outputs" / "puffin" / \
        "chr21_dbsnp_near_tss.puffin.npz"
    if not path.is_file():
        pytest.skip(f"Puffin reference predictions not found at {path}")
    return dict(np.load(path))


def _windows(shared_data, starts, length):
    from pyfaidx import Fasta

    with Fasta(str(shared_data / "grch38_chr21" / "chr21.fa.gz")) as fa:
        return np.stack([one_hot(str(fa["21"][s:s + length])) for s in starts])


def test_metadata_tracks_and_up_to_date(exported, session, weight_file, capsys):
    meta = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    spec = ModelSpec.from_metadata(meta)
    assert (spec.name, spec.kind, spec.scorer) == ("puffin", "tracks", "tracks")
    assert (spec.input_length, spec.bin_size, spec.context, spec.offset) == (0, 1, 650, 325)
    assert spec.alphabet == "ACGT" and spec.n_value == 0.25 and spec.members == 1
    assert spec.output_channels == (
        "FANTOM_CAGE+", "ENCODE_CAGE+", "ENCODE_RAMPAGE+", "GRO_CAP+", "PRO_CAP+",
        "PRO_CAP-", "GRO_CAP-", "ENCODE_RAMPAGE-", "ENCODE_CAGE-", "FANTOM_CAGE-")
    assert [t["strand"] for t in spec.tracks] == ["+"] * 5 + ["-"] * 5
    assert spec.tracks[3]["assay"] == "GRO-cap" and "Puffin" in spec.tracks[3]["description"]
    assert spec.default_reduction == "max_abs_diff"
    assert "academic research use only" in spec.licence and "Dudnyk" in spec.attribution
    assert spec.weights_sha256 == {"puffin.pth": KM.weights[0].sha256}
    assert not KM.redistributable and KM.licence_gated
    assert [p.name for p in exported.parent.iterdir()] == ["puffin.onnx"]   # no split graphs
    before = exported.stat().st_mtime_ns
    assert main(["export", "puffin", "--from", str(weight_file), "--out", str(exported),
                 "--accept-licence"]) == 0
    assert "up to date" in capsys.readouterr().err
    assert exported.stat().st_mtime_ns == before
    for shape in ((1, 651, 4), (3, 2000, 4)):          # dynamic batch and length
        assert session.predict(np.zeros(shape, np.float32)).shape == (
            shape[0], shape[1] - 650, 10)


def test_without_accept_licence_nothing_is_written(weight_file, tmp_path, capsys):
    out = tmp_path / "p.onnx"
    assert main(["export", "puffin", "--from", str(weight_file), "--out", str(out)]) == 64
    err = capsys.readouterr().err
    assert "--accept-licence" in err and "academic research use only" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_not_exported_hint_names_accept_licence(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSCORE_HOME", str(tmp_path))
    with pytest.raises(ModelNotInstalledError) as err:
        model_path("puffin")
    assert ("`git clone https://github.com/jzhoulab/puffin` and `seqscore export puffin --from "
            "puffin --accept-licence`") in err.value.message


@pytest.mark.parametrize("length", [651, 1651, 2345])
def test_onnx_equals_independent_reference(session, weight_file, shared_data, reference_npz,
                                           length):
    """Real chr21 windows centred on the three annotated TSSs (MRPL39, JAM2, ATP5J)."""
    centre = np.unique(reference_npz["tss1"]) - 1
    x = _windows(shared_data, centre - length // 2, length)
    got = session.predict(x)
    ref = puffin_forward(read_state_dict(weight_file), x)
    diff = float(np.abs(got - ref).max())
    print(f"\npuffin L={length}: max|ONNX-ref| {diff:.2e} (max value {ref.max():.3f})")
    assert got.shape == (3, length - 650, 10)
    assert diff <= PARITY_TOL
    assert ref.max() > 1.0            # ATP5J's initiation peak (3.1): not a vacuous check


def test_ref_alt_equal_the_original_predictions(session, shared_data, reference_npz):
    z = reference_npz
    x = _windows(shared_data, z["window_start0"], 1651)
    assert (z["window_end0"] - z["window_start0"] == 1651).all()
    xa = x.copy()
    rows = np.arange(len(x))
    ref_idx = np.array(["ACGT".index(a) for a in z["ref_allele"]])
    assert (x[rows, 825, ref_idx] == 1).all()       # the REF base sits at index 825
    xa[rows, 825] = np.eye(4, dtype=np.float32)[["ACGT".index(a) for a in z["alt_allele"]]]
    assert list(z["track_names"]) == list(session.spec.output_channels)
    got_ref, got_alt = session.predict(x), session.predict(xa)
    want_ref, want_alt = z["ref"].transpose(0, 2, 1), z["alt"].transpose(0, 2, 1)
    for label, got, want in (("REF", got_ref, want_ref), ("ALT", got_alt, want_alt)):
        err = np.abs(got - want)
        print(f"\npuffin {label}: max abs {err.max():.2e}, max rel "
              f"{(err / np.maximum(np.abs(want), ABS_FLOOR / REL_TOL)).max():.2e}")
        assert (err <= REL_TOL * np.abs(want) + ABS_FLOOR).all(), label
    effect, want_effect = got_alt - got_ref, want_alt - want_ref
    assert np.abs(effect - want_effect).max() <= REL_TOL * np.abs(want_effect).max()
    assert np.abs(want_effect).max() > 0.2            # a real effect among the 20 SNVs


def test_weight_file_is_checked(weight_file, tmp_path, capsys):
    changed = tmp_path / "puffin.pth"
    data = bytearray(weight_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    changed.write_bytes(bytes(data))
    out = tmp_path / "o.onnx"
    run = ["export", "puffin", "--out", str(out), "--accept-licence", "--from"]
    assert main(run + [str(changed)]) == 65
    assert KM.weights[0].sha256 in capsys.readouterr().err
    assert main(run + [str(tmp_path / "nowhere")]) == 66
    assert "no such file" in capsys.readouterr().err
    # a clone: --from its root finds resources/puffin.pth beside the README's hg38.fa
    clone = tmp_path / "puffin"
    (clone / "resources").mkdir(parents=True)
    (clone / "resources" / "puffin.pth").symlink_to(weight_file)
    (clone / "resources" / "hg38.fa").write_text(">chr1\nACGT\n")
    assert weight_files(KM, clone) == [clone / "resources" / "puffin.pth"]


def test_state_dict_keys_are_checked_by_name(weight_file, tmp_path):
    import torch

    from export.puffin import load

    state = torch.load(weight_file, map_location="cpu", weights_only=True)
    cases = {
        "extra": ({**state, "deconv2.weight": state["deconv.weight"]},
                  "unexpected key 'deconv2.weight'"),
        "missing": ({k: v for k, v in state.items() if k != "scaler2"},
                    "missing key for parameter 'scaler2'"),
        "shape": ({**state, "deconv_inr.weight": state["deconv_inr.weight"][:, :, :13]},
                  "'deconv_inr.weight' has shape (20, 10, 13)"),
    }
    for case, (bad, message) in cases.items():
        path = tmp_path / f"{case}.pth"
        torch.save(bad, path)
        with pytest.raises(WeightMappingError) as err:
            load(path)
        assert message in err.value.message and str(path) in err.value.message, case
