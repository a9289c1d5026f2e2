"""`seqscore export pangolin --from DIR`: the 12 real Pangolin state dicts the CLI loads.

Parity with the independent numpy forward (:mod:`export.reference_torch`: all 12 channels of
each file, then the CLI's channel per tissue and the mean per tissue; and each member's own
channel, the graph's second output ``y_members``) on real chr21 windows for
five members — heart with two replicates, so the per-tissue mean is exercised — at one length
(``export/parity_torch.py`` checks all 12 at four); the split graphs chained equal the single
graph; the full export reproduces the Pangolin CLI's scores on shared chr21 SNVs; the --from
folder is checked file by file and the state dicts key by key.  Skips where
``../shared/weights`` is absent.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")
onnx = pytest.importorskip("onnx")

from export.pangolin import OUT_CHANNELS, member_files  # noqa: E402
from export.parity_torch import TOL, compare, one_hot  # noqa: E402
from export.sources import weight_files  # noqa: E402

from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.errors import WeightMappingError  # noqa: E402
from hail_seqscore.models.registry import KNOWN_MODELS  # noqa: E402
from hail_seqscore.models.session import ModelSession  # noqa: E402
from hail_seqscore.models.spec import ModelSpec  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO.parent / "shared" / "weights" / "pangolin"
KM = KNOWN_MODELS["pangolin"]
#: heart replicates 1 and 2, liver 3, brain 1, testis 1 (indices in the CLI's loading order)
SUBSET = [0, 1, 5, 6, 9]


@pytest.fixture(scope="module")
def weights():
    if not WEIGHTS.is_dir():
        pytest.skip(f"Pangolin weights not found at {WEIGHTS} (the shared weights folder; see "
                    "its README)")
    return WEIGHTS


@pytest.fixture(scope="module")
def subset(weights, tmp_path_factory):
    out = tmp_path_factory.mktemp("pangolin") / "p5.onnx"
    assert main(["export", "pangolin", "--from", str(weights), "--out", str(out),
                 "--members", ",".join(map(str, SUBSET))]) == 0
    return out


def _link(src, dst, names=None):
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if names is None or f.name in names:
            os.symlink(f, dst / f.name)
    return dst


def test_member_order_is_the_clis():
    assert [w.filename for w in KM.weights] == [n for n, _ in member_files()]
    assert [n for n, _ in member_files()][:4] == ["final.1.0.3.v2", "final.2.0.3.v2",
                                                  "final.3.0.3.v2", "final.1.2.3.v2"]
    assert [t for _, t in member_files()] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_export_metadata_and_up_to_date(weights, subset, capsys):
    meta = {p.key: p.value for p in onnx.load(str(subset)).metadata_props}
    spec = ModelSpec.from_metadata(meta)
    assert (spec.name, spec.kind, spec.scorer) == ("pangolin", "splice", "pangolin")
    assert spec.output_channels == OUT_CHANNELS == (
        "p_splice_heart", "p_splice_liver", "p_splice_brain", "p_splice_testis")
    assert spec.licence == "GPL-3.0" and "Zeng" in spec.attribution
    assert spec.weights_sha256 == {w.filename: w.sha256 for w in KM.weights}
    assert spec.members == 5 and meta["seqscore.member_indices"] == "0,1,5,6,9"
    before = subset.stat().st_mtime_ns
    assert main(["export", "pangolin", "--from", str(weights), "--out", str(subset),
                 "--members", ",".join(map(str, SUBSET))]) == 0
    assert "up to date" in capsys.readouterr().err
    assert subset.stat().st_mtime_ns == before
    # each member's own P(splice) too (the CLI's insertion rule needs them), in the CLI's order
    assert spec.member_channels == ("p_splice_heart_r1", "p_splice_heart_r2",
                                    "p_splice_liver_r3", "p_splice_brain_r1",
                                    "p_splice_testis_r1")
    sess = ModelSession(subset, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(7)
    for n, length in ((1, 10_001), (2, 10_040)):   # dynamic batch and length
        x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
        y, each = sess.run(["y", "y_members"], {"x": x})
        assert y.shape == (n, length - 10_000, 4) and each.shape == (n, length - 10_000, 5)
        means = np.stack([each[..., :2].mean(-1), each[..., 2], each[..., 3], each[..., 4]], -1)
        assert np.allclose(y, means, atol=1e-7, rtol=0)


def test_members_match_numpy_reference_and_split_chain(weights, subset):
    files = [weights / n for n, _ in member_files()]
    (r,) = compare("pangolin", subset, files, SUBSET, [10_101], both=False)
    print(f"\npangolin members {SUBSET} L=10101: max|ONNX-ref| {r['max_abs']:.2e}, "
          f"max|split-ONNX| {r['split_max_abs']:.2e}")
    assert r["max_abs"] <= TOL and r["split_max_abs"] <= TOL, r
    assert r["max_value"] > 0.5   # a real splice site at the centre: not a vacuous check


def test_members_must_cover_every_tissue(weights, tmp_path, capsys):
    assert main(["export", "pangolin", "--from", str(weights), "--out",
                 str(tmp_path / "p.onnx"), "--members", "0,1,2,3"]) == 64
    assert "no member for tissue brain, testis" in capsys.readouterr().err


def _gtf_genes(path):
    """gene_id → (strand, start, end, exon boundaries), as create_db.py --filter None keeps."""
    genes, exons = {}, {}
    with gzip.open(path, "rt") as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if len(f) < 9 or f[2] not in ("gene", "exon"):
                continue
            gid = re.search(r'gene_id "([^"]+)"', f[8]).group(1)
            if f[2] == "gene":
                genes[gid] = (f[6], int(f[3]), int(f[4]))
            else:
                exons.setdefault(gid, []).extend([int(f[3]), int(f[4])])
    return {g: (*v, exons.get(g, [])) for g, v in genes.items()}


def _pangolin_scores(sess, fa, genes, pos, ref, alt, d=50):
    """The Pangolin CLI's default output (-d 50, mask True) for an SNV: per gene
    (gain position, gain, loss position, loss)."""
    seq = str(fa["21"][pos - 5001 - d:pos + len(ref) + 4999 + d])
    alt_seq = seq[:5000 + d] + alt + seq[5000 + d + len(ref):]
    hits = {g: v for g, v in genes.items() if v[1] <= pos <= v[2]}
    out = {}
    for strand in ("+", "-"):
        names = [g for g, v in hits.items() if v[0] == strand]
        if not names:
            continue
        x = np.stack([one_hot(seq), one_hot(alt_seq)])
        if strand == "-":
            x = x[:, ::-1, ::-1]
        y = sess.predict(np.ascontiguousarray(x))
        if strand == "-":
            y = y[:, ::-1]
        diff = y[1] - y[0]                       # [positions, tissues]
        loss, gain = diff.min(axis=1), diff.max(axis=1)
        for g in names:                          # masks in place, carried from gene to gene
            sites = np.array(hits[g][3]) - (pos - d)
            sites = sites[(sites >= 0) & (sites < len(loss))]
            gain[sites] = np.minimum(gain[sites], 0)
            others = ~np.isin(np.arange(len(loss)), sites)
            loss[others] = np.maximum(loss[others], 0)
            lo, gi = int(np.argmin(loss)), int(np.argmax(gain))
            out[g] = (gi - d, round(float(gain[gi]), 2), lo - d, round(float(loss[lo]), 2))
    return out


def test_full_export_reproduces_the_pangolin_cli(shared_data, weights, tmp_path):
    from pyfaidx import Fasta

    from export.onnx_export import export_model

    out = export_model("pangolin", tmp_path / "pangolin.onnx", source=weights, split=False).path
    data = shared_data / "grch38_chr21"
    genes = _gtf_genes(data / "custom_test.gtf.gz")
    csv = data / "reference_outputs" / "pangolin" / "chr21_dbsnp_snvs.subset40.pangolin.csv"
    rows = [line.split(",", 5) for line in csv.read_text().splitlines()[1:]]
    sess = ModelSession(out, providers=["CPUExecutionProvider"])
    with Fasta(str(data / "chr21.fa.gz")) as fa:
        for row in rows[::8]:                    # 5 of the 40 SNVs
            got = _pangolin_scores(sess, fa, genes, int(row[1]), row[2], row[3])
            for block in row[5].split(","):
                gene, gain, loss, _ = block.split("|")
                (gp, gv), (lp, lv) = (s.split(":") for s in (gain, loss))
                g = got[gene]
                assert abs(g[1] - float(gv)) < 0.0051 and abs(g[3] - float(lv)) < 0.0051, (
                    row[:4], gene, g, block)
                if abs(float(gv)) >= 0.02:
                    assert g[0] == int(gp), (row[:4], gene, g, block)
                if abs(float(lv)) >= 0.02:
                    assert g[2] == int(lp), (row[:4], gene, g, block)


def test_from_folder_missing_extra_changed_and_repository_layout(weights, tmp_path, capsys):
    out = tmp_path / "o.onnx"
    run = ["export", "pangolin", "--out", str(out), "--members", "0,3,6,9", "--from"]
    missing = _link(weights, tmp_path / "missing")
    (missing / "final.2.4.3.v2").unlink()
    assert main(run + [str(missing)]) == 66
    assert "missing weight file final.2.4.3.v2" in capsys.readouterr().err
    extra = _link(weights, tmp_path / "extra")
    shutil.copy(weights / "final.1.0.3.v2", extra / "final.4.0.3.v2")
    assert main(run + [str(extra)]) == 65
    assert "unexpected file final.4.0.3.v2" in capsys.readouterr().err
    changed = _link(weights, tmp_path / "changed")
    (changed / "final.3.6.3.v2").unlink()
    data = bytearray((weights / "final.3.6.3.v2").read_bytes())
    data[-100] ^= 0x01
    (changed / "final.3.6.3.v2").write_bytes(bytes(data))
    assert main(run + [str(changed)]) == 65
    err = capsys.readouterr().err
    assert "final.3.6.3.v2" in err and KM.weights[-1].sha256 in err
    assert not out.exists()
    # a clone: pangolin/models/ also holds the v1 files and the usage models, which are ignored
    models = _link(weights, tmp_path / "Pangolin" / "pangolin" / "models",
                   {w.filename for w in KM.weights})
    for other in ("final.1.1.3.v2", "final.5.7.3", "final.2.3.3"):
        shutil.copy(weights / "final.1.0.3.v2", models / other)
    assert weight_files(KM, tmp_path / "Pangolin") == [models / w.filename for w in KM.weights]


def test_without_from_says_where_the_weights_are(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQSCORE_HOME", str(tmp_path))
    assert main(["export", "pangolin"]) == 64
    err = capsys.readouterr().err
    assert "github.com/tkzeng/Pangolin" in err and "--from" in err


def test_state_dict_keys_are_checked_by_name(weights, tmp_path):
    import torch

    from export.pangolin import load_member

    state = torch.load(weights / "final.1.0.3.v2", map_location="cpu", weights_only=True)
    cases = {
        "extra": ({**state, "conv_last9.weight": state["conv_last8.weight"]},
                  "unexpected key 'conv_last9.weight'"),
        "unit": ({**state, "resblocks.16.bn1.bias": state["resblocks.0.bn1.bias"]},
                 "unexpected key 'resblocks.16.bn1.bias'"),
        "missing": ({k: v for k, v in state.items() if k != "convs.2.bias"},
                    "missing key for parameter 'skips.3.bias'"),
        "shape": ({**state, "conv_last3.weight": state["conv_last4.weight"]},
                  "'conv_last3.weight' has shape (1, 32, 1)"),
    }
    for case, (bad, message) in cases.items():
        path = tmp_path / f"{case}.v2"
        torch.save(bad, path)
        with pytest.raises(WeightMappingError) as err:
            load_member(path, 0)
        assert message in err.value.message and str(path) in err.value.message, case
