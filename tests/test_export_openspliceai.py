"""`seqscore export openspliceai --from DIR`: the real OpenSpliceAI-MANE 10000nt weights.

Parity with the independent numpy forward (:mod:`export.reference_torch`) on real chr21
windows for one member at two lengths (``export/parity_torch.py`` checks all five at four);
the split graphs chained equal the single graph; the full ensemble reproduces the delta scores
that ``openspliceai variant`` 0.0.7 wrote on the shared chr21 SNVs; the --from folder is checked
file by file and the state dicts key by key.  Skips where ``../shared/weights`` is absent.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")
onnx = pytest.importorskip("onnx")

from export.parity_torch import TOL, compare, one_hot  # noqa: E402
from export.sources import weight_files  # noqa: E402

from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.errors import WeightMappingError  # noqa: E402
from hail_seqscore.models.registry import KNOWN_MODELS  # noqa: E402
from hail_seqscore.models.session import ModelSession  # noqa: E402
from hail_seqscore.models.spec import ModelSpec  # noqa: E402



REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO.parent / "shared" / "weights" / "openspliceai-mane-10000nt"
KM = KNOWN_MODELS["openspliceai"]


@pytest.fixture(scope="module")
def weights():
    if not WEIGHTS.is_dir():
        pytest.skip(f"OpenSpliceAI weights not found at {WEIGHTS} (the shared weights folder; "
                    "see its README)")
    return WEIGHTS


@pytest.fixture(scope="module")
def member0(weights, tmp_path_factory):
    out = tmp_path_factory.mktemp("osai") / "m0.onnx"
    assert main(["export", "openspliceai", "--from", str(weights), "--out", str(out),
                 "--members", "0"]) == 0
    return out


@pytest.fixture(scope="module")
def full(weights, tmp_path_factory):
    from export.onnx_export import export_model

    out = tmp_path_factory.mktemp("osai") / "openspliceai.onnx"
    return export_model("openspliceai", out, source=weights, split=False).path


def _copy(src, dst):
    dst.mkdir(parents=True)
    for f in src.iterdir():
        os.symlink(f, dst / f.name)
    return dst


def test_export_metadata_and_up_to_date(weights, member0, capsys):
    meta = {p.key: p.value for p in onnx.load(str(member0)).metadata_props}
    spec = ModelSpec.from_metadata(meta)
    assert (spec.name, spec.kind, spec.scorer) == ("openspliceai", "splice", "openspliceai")
    assert spec.output_channels == ("neither", "acceptor", "donor")
    assert spec.licence == "GPL-3.0" and "Chao" in spec.attribution
    assert spec.weights_sha256 == {w.filename: w.sha256 for w in KM.weights}
    assert spec.members == 1 and meta["seqscore.member_indices"] == "0"
    assert spec.context == 10_000 and meta["seqscore.graph_form"] == "valid-2d"
    assert sorted(p.name for p in member0.parent.iterdir()) == (
        ["m0.head.onnx", "m0.onnx"] + [f"m0.trunk{i}.onnx" for i in range(6)])
    before = member0.stat().st_mtime_ns
    assert main(["export", "openspliceai", "--from", str(weights), "--out", str(member0),
                 "--members", "0"]) == 0
    assert "up to date" in capsys.readouterr().err
    assert member0.stat().st_mtime_ns == before
    sess = ModelSession(member0, providers=["CPUExecutionProvider"])
    for shape in ((1, 10_001, 4), (3, 10_050, 4)):   # dynamic batch and length
        assert sess.predict(np.zeros(shape, np.float32)).shape == (shape[0], shape[1] - 10_000, 3)


def test_member_matches_numpy_reference_and_split_chain(weights, member0):
    files = sorted(weights.glob("*.pt"))
    rows = compare("openspliceai", member0, files, [0], [10_001, 10_101])
    for r in rows:
        print(f"\nopenspliceai member 0 L={r['length']}: max|ONNX-ref| {r['max_abs']:.2e}, "
              f"max|split-ONNX| {r['split_max_abs']:.2e}")
        assert r["max_abs"] <= TOL and r["split_max_abs"] <= TOL, r
        assert r["max_value"] > 0.5   # a real splice site at the centre: not a vacuous check


def _openspliceai_ds(sess, fa, genes, pos, ref, alt, name, d=50):
    """The four delta scores of `openspliceai variant -D 50 -M 0` for an SNV and one gene (its
    window rule: ±(5000 + d), N outside the transcript, '-' strand reverse-complemented)."""
    wid = 10_000 + 2 * d + 1
    strand, tx_start, tx_end = genes[name]
    seq = str(fa["21"][pos - wid // 2 - 1:pos + wid // 2])
    pad = (max(wid // 2 + tx_start + 1 - pos, 0), max(wid // 2 - (tx_end - pos), 0))
    x_ref = "N" * pad[0] + seq[pad[0]:wid - pad[1]] + "N" * pad[1]
    x_alt = x_ref[:wid // 2] + alt + x_ref[wid // 2 + len(ref):]
    x = np.stack([one_hot(x_ref), one_hot(x_alt)])
    if strand == "-":
        x = x[:, ::-1, ::-1]
    y = sess.predict(np.ascontiguousarray(x))
    if strand == "-":
        y = y[:, ::-1]
    delta = y[1] - y[0]
    return [delta[:, 1].max(), (-delta[:, 1]).max(), delta[:, 2].max(), (-delta[:, 2]).max()]


def test_full_ensemble_reproduces_openspliceai_variant(shared_data, full):
    """Same model, same numbers: DS of the original tool's chr21 SNV output (`-M 0`)."""
    from pyfaidx import Fasta

    data = shared_data / "grch38_chr21"
    genes = {}
    for line in (data / "genes.grch38.spliceai.txt").read_text().splitlines()[1:]:
        f = line.split("\t")
        genes[f[0]] = (f[2], int(f[3]), int(f[4]))
    vcf = data / "reference_outputs" / "openspliceai" / "dbsnp_snvs.openspliceai-0.0.7.D50.M0.vcf"
    entries = []
    for line in vcf.read_text().splitlines():
        if line.startswith("#") or "OpenSpliceAI=" not in line:
            continue
        f = line.split("\t")
        for e in f[7].split("OpenSpliceAI=")[1].split(";")[0].split(","):
            p = e.split("|")
            entries.append((int(f[1]), f[3], p[0], p[1], [float(v) for v in p[2:6]]))
    sess = ModelSession(full, providers=["CPUExecutionProvider"])
    sample = entries[::13]          # 10 of 130 entries, spread over the five genes
    with Fasta(str(data / "chr21.fa.gz")) as fa:
        for pos, ref, alt, gene, expected in sample:
            got = _openspliceai_ds(sess, fa, genes, pos, ref, alt, gene)
            assert [f"{v:.2f}" for v in got] == [f"{v:.2f}" for v in expected] or np.allclose(
                got, expected, atol=0.0051), (pos, gene, got, expected)


def test_from_folder_missing_extra_changed(weights, tmp_path, capsys):
    ok = _copy(weights, tmp_path / "ok")
    out = str(tmp_path / "o.onnx")
    run = ["export", "openspliceai", "--out", out, "--members", "0", "--from"]
    missing = _copy(weights, tmp_path / "missing")
    (missing / "model_10000nt_rs12.pt").unlink()
    assert main(run + [str(missing)]) == 66
    assert "missing weight file model_10000nt_rs12.pt" in capsys.readouterr().err
    extra = _copy(weights, tmp_path / "extra")
    shutil.copy(weights / "model_10000nt_rs10.pt", extra / "model_10000nt_rs15.pt")
    assert main(run + [str(extra)]) == 65
    assert "unexpected file model_10000nt_rs15.pt" in capsys.readouterr().err
    changed = _copy(weights, tmp_path / "changed")
    (changed / "model_10000nt_rs13.pt").unlink()
    data = bytearray((weights / "model_10000nt_rs13.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (changed / "model_10000nt_rs13.pt").write_bytes(bytes(data))
    assert main(run + [str(changed)]) == 65
    err = capsys.readouterr().err
    assert "model_10000nt_rs13.pt" in err and KM.weights[3].sha256 in err
    assert not (tmp_path / "o.onnx").exists()
    # the repository layout: --from the clone's root
    clone = tmp_path / "OpenSpliceAI"
    folder = _copy(ok, clone / "models" / "openspliceai-mane" / "10000nt")
    (clone / "README.md").write_text("a clone\n")
    assert weight_files(KM, clone) == [folder / w.filename for w in KM.weights]


def test_without_from_says_where_the_weights_are(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQSCORE_HOME", str(tmp_path))
    assert main(["export", "openspliceai"]) == 64
    err = capsys.readouterr().err
    assert "github.com/Kuanhao-Chao/OpenSpliceAI" in err and "--from" in err


def test_state_dict_keys_are_checked_by_name(weights, tmp_path):
    import torch

    from export.openspliceai import load_member

    state = torch.load(weights / "model_10000nt_rs10.pt", map_location="cpu", weights_only=True)
    cases = {
        "extra": ({**state, "residual_units.20.conv.weight": state["final_conv.weight"]},
                  "unexpected key 'residual_units.20.conv.weight'"),
        "missing": ({k: v for k, v in state.items() if k != "residual_units.7.batchnorm2.bias"},
                    "missing key for parameter 'units.6.bn2.bias'"),
        "shape": ({**state, "final_conv.weight": state["final_conv.weight"][:2]},
                  "'final_conv.weight' has shape (2, 32, 1)"),
        "foreign": ({**state, "transformer.weight": state["final_conv.bias"]},
                    "unexpected key 'transformer.weight'"),
    }
    for case, (bad, message) in cases.items():
        path = tmp_path / f"{case}.pt"
        torch.save(bad, path)
        with pytest.raises(WeightMappingError) as err:
            load_member(path)
        assert message in err.value.message and str(path) in err.value.message, case
