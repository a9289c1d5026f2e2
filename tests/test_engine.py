"""The engine on a synthetic genome with the toy model (fast), checked against a direct
re-computation of SpliceAI's recipe written out step by step here."""

import numpy as np
import pytest

from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.errors import ConfigError
from hail_seqscore.records import Variant
from synthetic import make_world, other_base

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("engine"))


def _engine(world, **kw):
    cfg = dict(model=world["model"], reference=world["ref"], annotation=world["genes"],
               distance=20)
    cfg.update(kw)
    return Engine(EngineConfig(**cfg))


def _manual(world, engine, pos, ref, alt, tx_start, tx_end, strand, boundaries, dist=20,
            mask=False):
    """SpliceAI 1.3.1's get_delta_scores for one gene, spelled out independently."""
    from hail_seqscore.encode import one_hot

    sess = engine.session
    cov = 2 * dist + 1
    wid = sess.spec.context + cov
    seq = world["seq"][pos - wid // 2 - 1: pos + wid // 2]
    d0, d1 = tx_start + 1 - pos, tx_end - pos
    bd = np.array(sorted(boundaries)) - pos
    dist_b = int(min(bd, key=abs))
    p0, p1 = max(wid // 2 + d0, 0), max(wid // 2 - d1, 0)
    x_ref = "N" * p0 + seq[p0:wid - p1] + "N" * p1
    x_alt = x_ref[:wid // 2] + alt + x_ref[wid // 2 + len(ref):]
    xr, xa = one_hot(x_ref)[None], one_hot(x_alt)[None]
    if strand == "-":
        xr, xa = xr[:, ::-1, ::-1], xa[:, ::-1, ::-1]
    yr, ya = sess.predict(xr.copy()), sess.predict(xa.copy())
    if strand == "-":
        yr, ya = yr[:, ::-1], ya[:, ::-1]
    if len(ref) > 1 and len(alt) == 1:
        ya = np.concatenate([ya[:, :cov // 2 + 1], np.zeros((1, len(ref) - 1, 3)),
                             ya[:, cov // 2 + 1:]], axis=1)
    elif len(ref) == 1 and len(alt) > 1:
        ya = np.concatenate([ya[:, :cov // 2], ya[:, cov // 2:cov // 2 + len(alt)].max(axis=1)[:, None],
                             ya[:, cov // 2 + len(alt):]], axis=1)
    y = np.concatenate([yr, ya])
    out = []
    for ch in (1, 2):
        ig, il = (y[1, :, ch] - y[0, :, ch]).argmax(), (y[0, :, ch] - y[1, :, ch]).argmax()
        mg = mask and ig - cov // 2 == dist_b
        ml = mask and il - cov // 2 != dist_b
        out += [(y[1, ig, ch] - y[0, ig, ch]) * (1 - mg), (y[0, il, ch] - y[1, il, ch]) * (1 - ml)]
    return out


PLUS = (500, 2500, "+", [501, 700, 1001, 1200, 2001, 2500])
MINUS = (1200, 2900, "-", [1201, 1500, 2601, 2900])


@pytest.mark.parametrize("mask", [False, True])
@pytest.mark.parametrize("pos,alt_fn", [
    (800, lambda r: "A" if r != "A" else "C"),    # SNV in PLUS only
    (1300, lambda r: r + "GT"),                    # insertion in PLUS and MINUS
    (1350, None),                                  # 4-bp deletion in both
])
def test_engine_equals_spliceai_recipe(world, pos, alt_fn, mask):
    eng = _engine(world, mask=mask)
    if alt_fn is None:
        ref = world["seq"][pos - 1:pos + 3]
        alt = ref[0]
    else:
        ref = world["seq"][pos - 1]
        alt = alt_fn(ref)
    (res,) = eng.score([Variant("chr1", pos, ref, alt)])
    assert res.ok, res.error
    genes = [g for g in (("PLUS",) + PLUS, ("MINUS",) + MINUS) if g[1] < pos <= g[2]]
    assert [s.gene for s in res.scores] == [g[0] for g in genes]
    for s, g in zip(res.scores, genes):
        want = _manual(world, eng, pos, ref, alt, *g[1:], mask=mask)
        np.testing.assert_allclose([s.ds_ag, s.ds_al, s.ds_dg, s.ds_dl], want, atol=1e-6)
        assert s.strand == g[3]


def test_one_result_per_input_in_order_with_duplicates(world):
    eng = _engine(world)
    seq = world["seq"]
    vs = [Variant("chr1", p, seq[p - 1], "A" if seq[p - 1] != "A" else "G")
          for p in (900, 1400, 900, 2100, 60)]
    res = eng.score(vs)
    assert [r.variant for r in res] == vs
    assert res[0].scores == res[2].scores
    assert res[4].ok and res[4].scores == ()      # no gene at 60


def test_batch_size_and_batch_mix_do_not_change_scores(world):
    seq = world["seq"]
    vs = [Variant("chr1", p, seq[p - 1], "ACGT"[(i + 1) % 4] if seq[p - 1] != "ACGT"[(i + 1) % 4] else "T"
                  if seq[p - 1] != "T" else "G") for i, p in enumerate(range(1250, 1290, 3))]
    vs.append(Variant("chr1", 1300, seq[1299:1306], seq[1299]))           # deletion: shorter ALT
    vs.append(Variant("chr1", 1310, seq[1309], seq[1309] + "ACGTACG"))   # insertion: longer ALT
    big = _engine(world, batch_size=64).score(vs)
    small = _engine(world, batch_size=1).score(vs)
    alone = [_engine(world).score([v])[0] for v in vs]
    for a, b, c in zip(big, small, alone):
        for sa, sb, sc in zip(a.scores, b.scores, c.scores):
            np.testing.assert_allclose([sa.ds_ag, sa.ds_al, sa.ds_dg, sa.ds_dl],
                                       [sb.ds_ag, sb.ds_al, sb.ds_dg, sb.ds_dl], atol=1e-6)
            np.testing.assert_allclose([sa.ds_ag, sa.ds_dl], [sc.ds_ag, sc.ds_dl], atol=1e-6)
            assert (sa.dp_ag, sa.dp_dl) == (sb.dp_ag, sb.dp_dl)


def test_bad_variants_get_their_own_errors(world):
    seq = world["seq"]
    eng = _engine(world)
    good = Variant("chr1", 1000, seq[999], "A" if seq[999] != "A" else "C")
    vs = [
        Variant("chr1", 1000, "A" if seq[999] != "A" else "C", "T"),   # REF mismatch
        Variant("chr9", 1000, "A", "C"),                              # unknown contig
        Variant("chr1", 520, seq[519], "A" if seq[519] != "A" else "C"),   # near the TX start: fine
        Variant("chr1", 1000, seq[999:1045], seq[999]),               # REF 46 bp > 2 x 20
        Variant("chr1", 1000, seq[999], "<DEL>"),                     # symbolic
        Variant("chr1", 0, "A", "C"),                                 # invalid position
        Variant("chr1", 5000, "A", "C"),                              # beyond the contig
        good,
    ]
    res = eng.score(vs)
    codes = [r.error.code if r.error else None for r in res]
    assert codes[:7] == ["REF_MISMATCH", "CONTIG_NOT_FOUND", None, "REF_TOO_LONG",
                         "UNSUPPORTED_VARIANT", "INVALID_VARIANT", "INVALID_VARIANT"]
    assert res[2].scores and res[7].scores
    assert "chr1" in res[0].error.message and "1000" in res[0].error.message


def test_near_contig_end_skipped_unless_padding(tmp_path, world):
    (tmp_path / "genes.txt").write_text(
        "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
        "EDGE\tchr1\t+\t0\t3000\t0,2950,\t100,3000,\n")
    seq = world["seq"]
    v = Variant("chr1", 2990, seq[2989], "A" if seq[2989] != "A" else "C")
    r = _engine(world, annotation=str(tmp_path / "genes.txt")).score([v])[0]
    assert r.error and r.error.code == "NEAR_CONTIG_END"
    r2 = _engine(world, annotation=str(tmp_path / "genes.txt"), pad_edges=True).score([v])[0]
    assert r2.ok and r2.scores[0].scored


def test_mnv_placeholder_and_opt_in_complex(world):
    seq = world["seq"]
    ref = seq[1399:1401]
    alt = "".join("A" if b != "A" else "C" for b in ref)
    v = Variant("chr1", 1400, ref, alt)
    r = _engine(world).score([v])[0]
    assert r.ok and r.scores and all(not s.scored for s in r.scores)
    r2 = _engine(world, score_complex=True).score([v])[0]
    assert all(s.scored for s in r2.scores)


def test_config_is_validated(world):
    with pytest.raises(ConfigError, match="distance"):
        EngineConfig(reference=world["ref"], distance=5000)
    with pytest.raises(ConfigError, match="batch_size"):
        EngineConfig(reference=world["ref"], batch_size=0)
    with pytest.raises(ConfigError, match="distance"):
        _engine(world).score([], distance=-1)


def test_engine_pickles_without_open_handles(world):
    import pickle

    eng = _engine(world)
    eng.warm_up()
    clone = pickle.loads(pickle.dumps(eng))
    assert clone.config == eng.config and clone._genome is None


def test_tiled_strategy_equals_per_variant_windows(world):
    """Many variants of both strands, near transcript ends (masked windows) and in the
    overlap of the two genes: REF tiles give the same scores as one window per variant."""
    seq = world["seq"]
    positions = list(range(505, 2895, 37))
    vs = [Variant("chr1", p, seq[p - 1], other_base(seq[p - 1])) for p in positions]
    vs += [Variant("chr1", 1450, seq[1449:1453], seq[1449]),
           Variant("chr1", 2700, seq[2699], seq[2699] + "TTAG")]
    tiled = _engine(world, strategy="tiled").score(vs)
    plain = _engine(world, strategy="window").score(vs)
    n = 0
    for a, b in zip(tiled, plain):
        assert a.error == b.error and len(a.scores) == len(b.scores)
        for sa, sb in zip(a.scores, b.scores):
            np.testing.assert_allclose([sa.ds_ag, sa.ds_al, sa.ds_dg, sa.ds_dl],
                                       [sb.ds_ag, sb.ds_al, sb.ds_dg, sb.ds_dl], atol=1e-6)
            assert (sa.dp_ag, sa.dp_al, sa.dp_dg, sa.dp_dl) == (sb.dp_ag, sb.dp_al, sb.dp_dg, sb.dp_dl)
            n += 1
    assert n > 60


def test_over_long_alleles_are_refused_per_variant(world):
    """Bounded work per variant: a REF or ALT longer than the cap (default: the model's context,
    100 bp for the toy model) gets ALLELE_TOO_LONG with a short message; the others score."""
    seq = world["seq"]
    eng = _engine(world)
    good = Variant("chr1", 1000, seq[999], other_base(seq[999]))
    long_ins = Variant("chr1", 1000, seq[999], seq[999] + "A" * 150)
    huge_ins = Variant("chr1", 1000, seq[999], seq[999] + "ACGT" * 25_000)    # 100 kb
    at_cap = Variant("chr1", 1000, seq[999], seq[999] + "A" * 99)             # ALT = 100 bp
    res = eng.score([good, long_ins, huge_ins, at_cap])
    assert [r.error.code if r.error else None for r in res] == [
        None, "ALLELE_TOO_LONG", "ALLELE_TOO_LONG", None]
    assert res[0].scores and res[3].scores
    msg = res[2].error.message
    assert len(msg) < 200 and "100,001 bp" in msg and "cap of 100 bp" in msg
    raised = _engine(world, max_allele_length=200).score([long_ins])[0]
    assert raised.ok and raised.scores and raised.scores[0].scored


@pytest.mark.parametrize("bad", [0, -5, True, 2.5])
def test_max_allele_length_is_checked(world, bad):
    with pytest.raises(ConfigError, match="max_allele_length"):
        _engine(world, max_allele_length=bad)


def test_non_finite_model_output_is_a_per_variant_error(world, tmp_path):
    """A model giving NaN never writes 'nan' into a VCF, JSON or Hail table: the variant gets
    an INTERNAL error; a variant outside genes (no model call) is unaffected."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(world["model"])
    for init in m.graph.initializer:
        if init.name == "b2":
            init.CopyFrom(numpy_helper.from_array(np.array([np.nan, -1, -1], np.float32), "b2"))
    path = tmp_path / "nan.onnx"
    onnx.save(m, str(path))
    seq = world["seq"]
    eng = _engine(world, model=str(path))
    res = eng.score([Variant("chr1", 1000, seq[999], other_base(seq[999])),
                     Variant("chr1", 60, seq[59], other_base(seq[59]))])
    assert res[0].error is not None and res[0].error.code == "INTERNAL"
    assert "non-finite" in res[0].error.message
    assert res[1].ok and res[1].scores == ()
