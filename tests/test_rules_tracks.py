"""Track models in the engine (rules/tracks.py) on the synthetic genome with toy track models,
against effects computed here one window per variant straight through the model; and the
reductions and indel alignment of scoring_tracks on small arrays."""

from __future__ import annotations

import numpy as np
import pytest

from hail_seqscore.cli import main
from hail_seqscore.encode import one_hot_oriented
from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.errors import ConfigError
from hail_seqscore.kinds import output_format
from hail_seqscore.models.session import get_session
from hail_seqscore.records import TrackEffects, Variant
from hail_seqscore.scoring_tracks import (average_rc, bins_near, effects, matched,
                                          rc_permutation)
from synthetic import CONTIG_LEN, VCF_HEADER, make_world
from toy_models import TOY_TRACKS, build_toy_tracks

R = 15


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("tracks")
    w = make_world(d)
    w["any"] = str(build_toy_tracks(d / "toytracks.onnx"))
    w["fixed"] = str(build_toy_tracks(d / "toyfixed.onnx", input_length=300, bin_size=10,
                                      name="toyfixed", reduction="log2fc"))
    return w


def variants(seq: str) -> list[Variant]:
    out = [Variant("chr1", p, seq[p - 1], "A" if seq[p - 1] != "A" else "G")
           for p in (300, 310, 1000, 2900)]
    out.append(Variant("chr1", 1200, seq[1199:1204], seq[1199]))           # deletion
    out.append(Variant("chr1", 1210, seq[1209], seq[1209] + "GATTACA"))    # insertion
    out.append(Variant("chr1", 1500, seq[1499:1502], "TTT" if seq[1499:1502] != "TTT"
                       else "AAA"))                                        # MNV
    return out


def _window(seq: str, start: int, end: int) -> str:
    return "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(start, end))


def predict(path: str, s: str, strand: str = "+") -> np.ndarray:
    sess = get_session(path)
    y = sess.predict(one_hot_oriented(s, strand, sess.spec.alphabet, sess.spec.n_value)[None])[0]
    return y[::-1] if strand == "-" else y


def expected_any(world, v: Variant, reduction: str, rc: bool = False) -> np.ndarray:
    seq, half = world["seq"], 50
    ref_s = _window(seq, v.start - R - half, v.end + R + half)
    cut = R + half
    alt_s = ref_s[:cut] + v.alt + ref_s[cut + len(v.ref):]
    ref, alt = predict(world["any"], ref_s), predict(world["any"], alt_s)
    if rc:
        perm = rc_permutation(TOY_TRACKS)
        ref = average_rc(ref, predict(world["any"], ref_s, "-"), perm)
        alt = average_rc(alt, predict(world["any"], alt_s, "-"), perm)
    return effects(*matched(ref, alt, R, len(v.ref), len(v.alt)), reduction)


@pytest.mark.parametrize("reduction", ["diff", "log2fc", "max_abs_diff"])
def test_any_length_model_effects_equal_one_window_per_variant(world, reduction):
    vs = variants(world["seq"])
    eng = Engine(EngineConfig(model=world["any"], reference=world["ref"], distance=R,
                              reduction=reduction))
    results = eng.score(vs)
    for v, r in zip(vs, results):
        assert r.error is None, r.error
        (rec,) = r.scores
        assert isinstance(rec, TrackEffects) and rec.reduction == reduction
        want = expected_any(world, v, reduction)
        assert np.allclose(rec.effects, want, atol=1e-5), (v, rec.effects, want)
        i = int(np.argmax(np.abs(want)))
        assert rec.top_track == TOY_TRACKS[i]["name"]
        assert rec.max_abs_effect == pytest.approx(abs(want[i]), abs=1e-5)


def test_reverse_complement_averaging_swaps_strand_paired_tracks(world):
    vs = variants(world["seq"])[:3] + variants(world["seq"])[4:6]
    eng = Engine(EngineConfig(model=world["any"], reference=world["ref"], distance=R,
                              rc_average=True))
    for v, r in zip(vs, eng.score(vs)):
        want = expected_any(world, v, "diff", rc=True)
        assert np.allclose(r.scores[0].effects, want, atol=1e-5)
    plain = Engine(EngineConfig(model=world["any"], reference=world["ref"], distance=R))
    assert not np.allclose(plain.score(vs[:1])[0].scores[0].effects,
                           eng.score(vs[:1])[0].scores[0].effects)
    assert eng.provenance()["rc_average"] is True


def test_fixed_length_model_centres_the_variant_and_reduces_its_bins(world):
    seq = world["seq"]
    vs = variants(seq)
    eng = Engine(EngineConfig(model=world["fixed"], reference=world["ref"], radius=25))
    for v, r in zip(vs, eng.score(vs)):
        ws = v.start - 150
        ref_s = _window(seq, ws, ws + 300)
        alt_s = (ref_s[:150] + v.alt + ref_s[150 + len(v.ref):]
                 + _window(seq, ws + 300, ws + 300 + max(0, len(v.ref) - len(v.alt))))[:300]
        ref, alt = predict(world["fixed"], ref_s), predict(world["fixed"], alt_s)
        i, j = bins_near(ws + 50, 10, 20, v.start - 25, v.end + 25)
        # bin 0 starts 50 bp into the window; the variant's first base is at 150
        assert (i, j) == (7, -(-(125 + len(v.ref)) // 10))
        want = effects(ref[i:j], alt[i:j], "log2fc")
        assert r.scores[0].reduction == "log2fc"          # the model's default
        assert np.allclose(r.scores[0].effects, want, atol=1e-5), v
    shifted = Engine(EngineConfig(model=world["fixed"], reference=world["ref"],
                                  shifts=(-1, 1))).score(vs[2:3])[0]
    v = vs[2]
    ys = []
    for s in (0, -1, 1):
        ws = v.start - 150 + s
        ref_s = _window(seq, ws, ws + 300)
        alt_s = ref_s[:150 - s] + v.alt + ref_s[150 - s + 1:]
        ys.append((predict(world["fixed"], ref_s), predict(world["fixed"], alt_s)))
    want = effects(np.mean([a for a, _ in ys], axis=0), np.mean([b for _, b in ys], axis=0),
                   "log2fc")
    assert np.allclose(shifted.scores[0].effects, want, atol=1e-5)


def test_bad_variants_keep_their_reasons_and_edges_are_scored(world):
    seq = world["seq"]
    eng = Engine(EngineConfig(model=world["any"], reference=world["ref"], distance=R))
    res = eng.score([Variant("chr1", 5, seq[4], "A" if seq[4] != "A" else "C"),
                     Variant("chr1", 100, "A" if seq[99] != "A" else "C", seq[99]),
                     Variant("chr1", 100, seq[99], "<DEL>"),
                     Variant("chrQ", 100, "A", "C")])
    assert res[0].error is None and len(res[0].scores) == 1     # N beyond the contig start
    assert [r.error.code for r in res[1:]] == ["REF_MISMATCH", "UNSUPPORTED_VARIANT",
                                               "CONTIG_NOT_FOUND"]
    with pytest.raises(ConfigError, match="reduction"):
        Engine(EngineConfig(model=world["any"], reference=world["ref"],
                            reduction="mean")).score([])


def test_cli_writes_one_info_field_per_model_with_selected_tracks(world, tmp_path, capsys):
    seq = world["seq"]
    vs = variants(seq)[:3]
    vcf = tmp_path / "in.vcf"
    vcf.write_text(VCF_HEADER + "".join(f"chr1\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\t.\t.\n"
                                        for v in vs))
    out = tmp_path / "out.vcf"
    assert main(["score", "-I", str(vcf), "-O", str(out), "-R", world["ref"], "--model",
                 world["any"], "-D", str(R), "--tracks", "DNASE", "-q"]) == 0
    lines = out.read_text().splitlines()
    header = [ln for ln in lines if ln.startswith("##INFO=<ID=SeqScore_toytracks")]
    assert len(header) == 1 and "Tracks written: DNASE" in header[0]
    engine = Engine(EngineConfig(model=world["any"], reference=world["ref"], distance=R))
    for line, r in zip([ln for ln in lines if not ln.startswith("#")], engine.score(vs)):
        value = line.split("\t")[7].split("SeqScore_toytracks=", 1)[1]
        alt, top, dnase = value.split("|")
        rec = r.scores[0]
        assert alt == r.variant.alt and dnase == f"DNASE:{rec.effects[2]:.4g}"
        k = [t["name"] for t in TOY_TRACKS].index(rec.top_track)
        assert top == f"top:{rec.top_track}:{rec.effects[k]:.4g}"
    assert main(["score", "-I", str(vcf), "-O", str(tmp_path / "x.vcf"), "-R", world["ref"],
                 "--model", world["any"], "--tracks", "NOPE"]) == 64
    assert "no track NOPE" in capsys.readouterr().err
    fmt = output_format({"name": "toytracks", "kind": "tracks",
                         "tracks": list(TOY_TRACKS)}, None)
    assert [fmt.names[i] for i in fmt.selected] == ["CAGE+", "CAGE-", "DNASE"]


# ---- scoring_tracks on small arrays ----------------------------------------------------------
def test_matched_lays_flanks_base_by_base_and_pads_the_shorter_allele():
    ref = np.arange(7, dtype=float)[:, None]           # flanks 2 | allele 3 | flanks 2
    alt = np.array([0, 1, 9, 5, 6], dtype=float)[:, None]   # the 3-bp REF became 1 bp
    r, a = matched(ref, alt, 2, 3, 1)
    assert r[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert a[:, 0].tolist() == [0, 1, 9, 0, 0, 5, 6]
    assert effects(r, a, "diff")[0] == pytest.approx(sum(a[:, 0]) - sum(r[:, 0]))
    assert effects(r, a, "max_abs_diff")[0] == 7        # 9 - 2, the largest magnitude, signed
    with pytest.raises(ValueError, match="flanks"):
        matched(ref, alt[:-1], 2, 3, 1)


def test_reductions_and_strand_pairs():
    ref = np.array([[1.0, 2.0], [3.0, 0.0]])
    alt = np.array([[1.0, 0.0], [5.0, 0.0]])
    assert effects(ref, alt, "diff").tolist() == [2.0, -2.0]
    assert effects(ref, alt, "log2fc").tolist() == pytest.approx(
        [np.log2(7 / 5), np.log2(1 / 3)])
    assert effects(ref, alt, "max_abs_diff").tolist() == [2.0, -2.0]
    assert rc_permutation(TOY_TRACKS).tolist() == [1, 0, 2]
    assert rc_permutation([{"name": "a", "strand": "+"}, {"name": "a", "strand": "-"},
                           {"name": "b"}]).tolist() == [1, 0, 2]
    assert bins_near(100, 10, 20, 95, 125) == (0, 3)
    assert bins_near(100, 10, 20, 250, 400) == (15, 20)
    assert CONTIG_LEN == 3000


def test_models_lists_a_track_models_table(world, capsys):
    assert main(["models", "--tracks", world["any"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["index", "name", "assay", "cell_type", "strand",
                                    "description"]
    assert [ln.split("\t")[1] for ln in lines[1:]] == ["CAGE+", "CAGE-", "DNASE"]
    assert lines[3].split("\t")[3] == "K562"
    assert main(["models", "--tracks", world["model"]]) == 64      # a splice model
    assert "not a track model" in capsys.readouterr().err


def test_a_model_with_one_value_per_window_scores_the_centred_window(world, tmp_path):
    """AI-TAC's shape: input_length = bin_size = the window, context 0."""
    path = str(build_toy_tracks(tmp_path / "whole.onnx", input_length=120, bin_size=120,
                                name="whole"))
    assert get_session(path).spec.context == 0
    seq = world["seq"]
    vs = variants(seq)
    res = Engine(EngineConfig(model=path, reference=world["ref"])).score(vs)
    for v, r in zip(vs, res):
        assert r.error is None, r.error
        ws = v.start - 60
        ref_s = _window(seq, ws, ws + 120)
        alt_s = (ref_s[:60] + v.alt + ref_s[60 + len(v.ref):]
                 + _window(seq, ws + 120, ws + 120 + max(0, len(v.ref) - len(v.alt))))[:120]
        want = effects(predict(path, ref_s), predict(path, alt_s), "diff")
        assert np.allclose(r.scores[0].effects, want, atol=1e-6)
