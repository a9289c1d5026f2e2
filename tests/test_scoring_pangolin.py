"""Pangolin's scoring rules (hail_seqscore.scoring_pangolin) on small arrays, one rule each;
then parity with the Pangolin CLI's own outputs on the 40 shared chr21 SNVs with both of its
annotations (the exported ONNX's replicate outputs, windows from the real chr21), and on real
indels whose expected blocks the Pangolin CLI itself wrote.  The real-data tests skip where
``../shared/weights`` or ``../shared/data`` is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hail_seqscore.encode import one_hot_oriented
from hail_seqscore.genome import Genome
from hail_seqscore.models.registry import default_model_path
from hail_seqscore.models.session import get_session
from hail_seqscore.pangolin_genes import DEFAULT_FILTER, read_pangolin_gtf
from hail_seqscore.scoring_pangolin import (
    NO_SITES_WARNING, SKIP_DELETION, SKIP_FORMAT, TISSUES, GeneScore, align_alt, format_gene,
    format_pangolin, gain_loss, score_genes, skip_reason, tissue_deltas, variant_offset,
    window_bounds)

D = 3            # distance: 2d + 1 = 7 positions for an SNV; index i ↔ pos - 3 + i
POS = 1000


def _loss_gain(values_gain, values_loss):
    return (np.array(values_loss, dtype=np.float32), np.array(values_gain, dtype=np.float32))


def test_window_is_10000_plus_2d_plus_ref_len_with_the_ref_at_5000_plus_d():
    for ref_len in (1, 4):
        start, end = window_bounds(POS, ref_len, 50)
        assert end - start == 10_000 + 100 + ref_len
        assert start + variant_offset(50) == POS - 1        # the REF's first base, 0-based
    assert window_bounds(5_101, 1, 50) == (50, 10_151)


def test_skip_reasons_are_the_clis():
    assert skip_reason("A", "G", 50) is None
    assert skip_reason("A", "AT", 50) is None and skip_reason("AT", "GC", 50) is None
    for ref, alt in (("N", "A"), ("A", "*"), ("A", "<DEL>"), ("AT", "GCA")):
        assert skip_reason(ref, alt, 50) == SKIP_FORMAT, (ref, alt)
    assert skip_reason("A" * 100, "A", 50) is None
    assert skip_reason("A" * 101, "A", 50) == SKIP_DELETION


def test_deletion_is_zero_padded_after_d_plus_1_in_float64():
    alt = np.arange(1, 2 * D + 2, dtype=np.float32)[:, None]     # ALT of a 3-base REF, 1 ALT
    out = align_alt(alt, 3, 1, D)
    assert out.dtype == np.float64 and out.shape == (2 * D + 3, 1)
    assert out[:, 0].tolist() == [1, 2, 3, 4, 0, 0, 5, 6, 7]


def test_insertion_takes_the_max_over_the_anchor_and_inserted_bases():
    alt = np.array([1, 2, 3, 9, 4, 8, 5, 6, 7], dtype=np.float32)[:, None]   # 1 → 3 bases
    out = align_alt(alt, 1, 3, D)
    assert out.dtype == np.float32
    assert out[:, 0].tolist() == [1, 2, 3, 9, 5, 6, 7]
    alt[3] = 0                                       # the max comes from an inserted base
    assert align_alt(alt, 1, 3, D)[:, 0].tolist() == [1, 2, 3, 8, 5, 6, 7]
    with pytest.raises(ValueError, match="expected"):
        align_alt(alt[:-1], 1, 3, D)


def test_insertion_max_is_taken_per_replicate_before_the_mean():
    ref = np.zeros((2 * D + 1, 12), dtype=np.float32)
    alt = np.zeros((2 * D + 2, 12), dtype=np.float32)
    alt[3, 0], alt[4, 1] = 0.6, 0.6       # heart r1 peaks at the anchor, r2 at the new base
    tissue = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    per_member = tissue_deltas(ref, alt, 1, 2, D, member_tissue=tissue)
    assert np.isclose(per_member[3, 0], 0.4)               # (0.6 + 0.6 + 0) / 3
    means = np.stack([alt[:, 3 * t:3 * t + 3].mean(1) for t in range(4)], 1)
    of_means = tissue_deltas(ref[:, :4], means, 1, 2, D)
    assert np.isclose(of_means[3, 0], 0.2)                 # what the means alone would give


def test_loss_is_min_and_gain_max_over_tissues():
    ref = np.full((2 * D + 1, 4), 0.5, dtype=np.float32)
    alt = ref.copy()
    alt[2] = [0.9, 0.1, 0.5, 0.6]
    loss, gain = gain_loss(tissue_deltas(ref, alt, 1, 1, D))
    assert np.isclose(gain[2], 0.4) and np.isclose(loss[2], -0.4)
    assert gain[0] == 0 and loss[0] == 0


def test_tissue_deltas_check_shapes():
    ref = np.zeros((2 * D + 1, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="expected"):
        tissue_deltas(ref[:-1], ref, 1, 1, D)
    with pytest.raises(ValueError, match="member_tissue"):
        tissue_deltas(np.zeros((7, 12)), np.zeros((7, 12)), 1, 1, D, member_tissue=[0] * 12)


def test_mask_clips_gains_at_sites_and_losses_elsewhere():
    loss, gain = _loss_gain([0.1, 0.2, 0.9, 0.0, 0.0, 0.3, 0.0],
                            [-0.1, -0.5, 0.0, 0.0, -0.2, 0.0, 0.0])
    site = POS - D + 2                       # index 2: its gain 0.9 and its loss stay/go
    (s,) = score_genes(loss.copy(), gain.copy(), [("G", np.array([site, site + 2]))], POS, D)
    assert (s.gain_pos, s.gain) == (2, 0.3)              # 0.9 at the site is clipped to 0
    assert (s.loss_pos, s.loss) == (1, -0.2)             # the site at index 4: -0.2 kept
    (u,) = score_genes(loss, gain, [("G", np.array([site, site + 2]))], POS, D, mask=False)
    assert (u.gain_pos, u.gain, u.loss_pos, u.loss) == (-1, 0.9, -2, -0.5)


def test_fully_masked_loss_reports_the_first_position_and_no_sites_warns():
    loss, gain = _loss_gain([0.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
                            [-0.3, -0.1, 0.0, 0.0, 0.0, 0.0, -0.2])
    (s,) = score_genes(loss, gain, [("G", np.array([], dtype=np.int64))], POS, D)
    assert (s.loss_pos, s.loss) == (-D, 0.0) and s.warnings == NO_SITES_WARNING
    assert (s.gain_pos, s.gain) == (-2, 0.1)              # gains are not masked then
    assert format_gene(s) == f"G|-2:0.1|-3:0.0|Warnings:{NO_SITES_WARNING}"


def test_sites_outside_the_range_mask_every_loss_but_no_gain():
    loss, gain = _loss_gain([0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0], [-0.4] * 7)
    (s,) = score_genes(loss, gain, [("G", np.array([POS + 500, POS + 600]))], POS, D)
    assert (s.gain_pos, s.gain, s.loss, s.warnings) == (-1, 0.5, 0.0, "")


def test_mask_carries_over_to_the_next_gene_on_the_strand():
    loss, gain = _loss_gain([0.0, 0.0, 0.0, 0.0, 0.0, 0.7, 0.0],
                            [0.0, -0.6, 0.0, 0.0, 0.0, 0.0, 0.0])
    a = ("A", np.array([POS + 2, POS + 3]))          # index 5 (the gain) is A's site
    b = ("B", np.array([POS - 2, POS + 3]))          # index 1 (the loss) is B's site
    sa, sb = score_genes(loss.copy(), gain.copy(), [a, b], POS, D)
    assert (sa.gain, sa.loss) == (0.0, 0.0)
    assert (sb.gain, sb.loss) == (0.0, 0.0)          # A's clipping carried into B
    fa, fb = score_genes(loss.copy(), gain.copy(), [a, b], POS, D, carry_over=False)
    assert (fa.gain, fa.loss) == (0.0, 0.0)
    assert (fb.gain, fb.gain_pos, fb.loss, fb.loss_pos) == (0.7, 2, -0.6, -2)
    kept_loss, kept_gain = loss.copy(), gain.copy()
    score_genes(kept_loss, kept_gain, [a, b], POS, D, carry_over=False)
    assert (kept_loss == loss).all() and (kept_gain == gain).all()


def test_ties_take_the_first_index_and_values_round_as_float32():
    loss, gain = _loss_gain([0.0, 0.3, 0.1, 0.3, 0.0, 0.0, 0.0],
                            [0.0, 0.0, -0.004, 0.0, 0.0, -0.004, 0.0])
    (s,) = score_genes(loss, gain, [("G", np.array([]))], POS, D, mask=False)
    assert (s.gain_pos, s.loss_pos) == (-2, -1)
    assert str(s.loss) == "-0.0"                         # round(float32(-0.004), 2)
    assert format_gene(s) == "G|-2:0.3|-1:-0.0|Warnings:"
    # rounded in the arrays' precision: float32(0.28500000000000003) is 0.28499999…
    v = 0.28500000000000003
    (r,) = score_genes(*_loss_gain([v] * 7, [0.0] * 7), [("G", [])], POS, D, mask=False)
    assert r.gain == 0.28
    (q,) = score_genes(np.zeros(7), np.full(7, v), [("G", [])], POS, D, mask=False)
    assert q.gain == 0.29


def test_cutoff_lists_gains_then_losses_in_position_order():
    loss, gain = _loss_gain([0.0, 0.25, 0.0, 0.0, 0.2, 0.0, 0.1],
                            [-0.3, 0.0, 0.0, -0.2, 0.0, 0.0, -0.19])
    (s,) = score_genes(loss, gain, [("G", np.array([]))], POS, D, mask=False, cutoff=0.2)
    assert s.cutoff_sites == ((-2, 0.25), (1, 0.2), (-3, -0.3), (0, -0.2))
    assert format_gene(s) == "G|-2:0.25|1:0.2|-3:-0.3|0:-0.2|Warnings:"
    (n,) = score_genes(loss, gain, [("G", np.array([]))], POS, D, mask=False, cutoff=0.5)
    assert format_gene(n) == "G|Warnings:"


def test_score_exons_lists_both_sites_of_each_exon_in_range():
    loss, gain = _loss_gain([0.0, 0.0, 0.4, 0.0, 0.0, 0.0, 0.0],
                            [0.0, 0.0, -0.1, 0.0, -0.5, 0.0, 0.0])
    sites = np.array([POS - 1, POS + 1,       # exon 1: indices 2 and 4, both in range
                      POS + 3, POS + 40,      # exon 2: index 6 in range, the end is not
                      POS + 50, POS + 60])    # exon 3: out of range, left out
    (s,) = score_genes(loss, gain, [("G", sites)], POS, D, mask=False, score_exons=True)
    assert s.exon_sites == (((-1, 0.4), (1, -0.5)), ((3, 0.0), (40, None)))
    assert format_gene(s) == "G_sites1|-1:0.4|3:0.0|G_sites2|1:-0.5|40:NA|Warnings:"


def test_blocks_are_joined_by_commas():
    a = GeneScore("ENSG1", 1, 0.0, -49, 0.0)
    b = GeneScore("ENSG2", 19, 0.0, 49, -0.15, NO_SITES_WARNING)
    assert format_pangolin([a, b]) == (
        "ENSG1|1:0.0|-49:0.0|Warnings:,"
        f"ENSG2|19:0.0|49:-0.15|Warnings:{NO_SITES_WARNING}")
    assert format_pangolin([]) == ""


# ---- parity with the Pangolin CLI on real chr21 SNVs ---------------------------------------
REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO.parent / "shared" / "weights" / "pangolin"
REF_OUT = Path("grch38_chr21") / "reference_outputs" / "pangolin"
RUNS = {   # reference output → (annotation, create_db.py --filter)
    "chr21_dbsnp_snvs.subset40.pangolin.csv": (Path("grch38_chr21") / "custom_test.gtf.gz",
                                               None),
    "chr21_dbsnp_snvs.subset40.genes_table_db.pangolin.csv": (
        REF_OUT / "annotation" / "chr21_genes_table.gtf", DEFAULT_FILTER),
}
TILE_SPAN = 2_000    # variants this close share one REF tile (the engine shares REF tiles too)


@pytest.fixture(scope="module")
def pangolin_session():
    if not WEIGHTS.is_dir():
        pytest.skip(f"Pangolin weights not found at {WEIGHTS} (the shared weights folder; see "
                    "its README)")
    path = default_model_path("pangolin")
    try:
        from export.onnx_export import export_model   # a no-op when the export is up to date
    except ImportError:
        if not path.is_file():
            pytest.skip(f"{path} not exported and the export extra is not installed")
    else:
        path = export_model("pangolin", source=WEIGHTS, split=False).path
    return get_session(path, providers=["CPUExecutionProvider"])


def _members(sess, genome, snvs, strand, d=50):
    """(pos → (REF, ALT) replicate P(splice) ``[2d + 1, 12]``, forward order) for SNVs."""
    def run(x):
        y = sess.run(["y_members"], {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]
        return y[:, ::-1] if strand == "-" else y

    out: dict[int, list] = {}
    groups: list[list[int]] = []
    for pos in sorted({p for p, _, _ in snvs}):
        if groups and pos - groups[-1][0] <= TILE_SPAN:
            groups[-1].append(pos)
        else:
            groups.append([pos])
    for g in groups:                          # REF: one tile per group
        start, _ = window_bounds(g[0], 1, d)
        _, end = window_bounds(g[-1], 1, d)
        (y,) = run(one_hot_oriented(genome.fetch("21", start, end), strand)[None])
        for pos in g:
            out[pos] = [y[pos - g[0]:pos - g[0] + 2 * d + 1]]
    alts = []
    for pos, ref, alt in snvs:
        start, end = window_bounds(pos, 1, d)
        seq = genome.fetch("21", start, end)
        assert seq[variant_offset(d)] == ref, (pos, ref)
        alts.append(one_hot_oriented(seq[:variant_offset(d)] + alt + seq[variant_offset(d) + 1:],
                              strand))
    for i in range(0, len(alts), 8):
        for (pos, _, _), y in zip(snvs[i:i + 8], run(np.stack(alts[i:i + 8]))):
            out[pos].append(y)
    return out


#: rs71649640 (GABPA +, ATP5J -) with custom_test.gtf.gz under the CLI's other options, as the
#: Pangolin CLI wrote it (set up as for INDELS below): -s 0.02, --score_exons True, -m False
OPTIONS = (
    ({"cutoff": 0.02},
     "ENSG00000154727|Warnings:,ENSG00000154723|49:-0.15000000596046448|Warnings:"),
    ({"score_exons": True},
     "ENSG00000154727_sites1|ENSG00000154727_sites2|Warnings:,ENSG00000154723_sites1|-87:NA|"
     "-87:NA|-87:NA|-1:0.07000000029802322|49:-0.15000000596046448|49:-0.15000000596046448|"
     "ENSG00000154723_sites2|-36:-0.0|-36:-0.0|32:-0.0|93:NA|87:NA|733:NA|Warnings:"),
    ({"mask": False},
     "ENSG00000154727|1:0.0|34:-0.019999999552965164|Warnings:,"
     "ENSG00000154723|-1:0.14000000059604645|49:-0.15000000596046448|Warnings:"),
)


def _matches(got: str, want: str) -> bool:
    g, w = got.replace(",", "|").split("|"), want.replace(",", "|").split("|")
    return len(g) == len(w) and all(_same(a, b)[0] for a, b in zip(g, w))


def _fields(text: str) -> list[list[str]]:
    return [block.split("|") for block in text.split(",")] if text else []


def _same(a: str, b: str) -> tuple[bool, float]:
    """Two ``pos:value`` (or name / Warnings) fields: equal, and |Δ value|."""
    if ":" in a and ":" in b and not a.startswith("Warnings") and "NA" not in (a + b):
        (pa, va), (pb, vb) = a.split(":"), b.split(":")
        delta = abs(round(float(va), 2) - round(float(vb), 2))
        return pa == pb and delta < 1e-9, delta
    return a == b, 0.0


@pytest.mark.slow
def test_the_40_snvs_score_as_the_pangolin_cli_with_both_annotations(shared_data,
                                                                      pangolin_session):
    d = 50
    sess = pangolin_session
    tissue = [TISSUES.index(c.split("_")[2]) for c in sess.spec.member_channels]
    annotations = {name: read_pangolin_gtf(shared_data / gtf, tags=tags)
                   for name, (gtf, tags) in RUNS.items()}
    rows = [line.split(",")[:5] for line in
            (shared_data / REF_OUT / "chr21_dbsnp_snvs.subset40.csv").read_text().splitlines()[1:]]
    assert len(rows) == 40
    by_strand: dict[str, list] = {"+": [], "-": []}
    for _, pos, ref, alt, _ in rows:
        for genes in annotations.values():
            for strand, hits in zip("+-", genes.at("21", int(pos))):
                if hits and (int(pos), ref, alt) not in by_strand[strand]:
                    by_strand[strand].append((int(pos), ref, alt))
    genome = Genome(shared_data / "grch38_chr21" / "chr21.fa.gz")
    preds = {s: _members(sess, genome, v, s, d) for s, v in by_strand.items() if v}
    for name, genes in annotations.items():
        expected = {r[4]: r[5] for r in (line.split(",", 5) for line in
                    (shared_data / REF_OUT / name).read_text().splitlines()[1:])}
        same_records = n_fields = same_fields = 0
        worst, diffs = 0.0, []
        for _, pos, ref, alt, rid in rows:
            pos = int(pos)
            def score(**options):
                blocks = []
                for strand, hits in zip("+-", genes.at("21", pos)):
                    if hits:
                        r, a = preds[strand][pos]
                        loss, gain = gain_loss(
                            tissue_deltas(r, a, 1, 1, d, member_tissue=tissue))
                        blocks += score_genes(loss, gain, [g.sites() for g in hits], pos, d,
                                              **options)
                return blocks

            blocks = score()
            if rid == "rs71649640" and genes.tags is None:
                for options, want in OPTIONS:
                    assert _matches(format_pangolin(score(**options)), want), options
            got, want = _fields(format_pangolin(blocks)), _fields(expected[rid])
            assert [len(b) for b in got] == [len(b) for b in want], (rid, got, want)
            ok = True
            for gb, wb in zip(got, want):
                for gf, wf in zip(gb, wb):
                    same, delta = _same(gf, wf)
                    n_fields += 1
                    same_fields += same
                    worst = max(worst, delta)
                    ok &= same
            same_records += ok
            if not ok:
                diffs.append((rid, format_pangolin(blocks), expected[rid]))
        print(f"\n{name}: {same_records}/40 records identical, {same_fields}/{n_fields} "
              f"fields, max |Δ| {worst:.2f}; differing: {diffs}")
        assert same_records >= 0.99 * 40 and worst <= 0.01 + 1e-9, diffs


#: Real indels of shared/data/grch38_chr21/indels.vcf, scored by the Pangolin CLI itself
#: (tkzeng/Pangolin @ 5cf94b8, the 12 shared weight files, CSV mode, default flags, the
#: gffutils db of custom_test.gtf.gz built by create_db.py --filter None), values as it wrote
#: them under numpy 2 (float32 as double expansions; the deletions' float64 as is).
INDELS = {
    "ins2_MRPL39": (25585776, "T", "TCG",
                    "ENSG00000154719|29:0.0|-22:-0.3700000047683716|Warnings:"),
    "ins12_MRPL39": (25593957, "A", "ATGTGATGCATAC",
                     "ENSG00000154719|0:0.009999999776482582|1:-0.029999999329447746|Warnings:"),
    "del15_MRPL39": (25597389, "TCTTTTGTGAAGGAAC", "T",
                     "ENSG00000154719|-24:0.26|25:-0.28|Warnings:"),
    "mnv2_MRPL39": (25601427, "AT", "TA",
                    "ENSG00000154719|3:0.009999999776482582|40:-0.09000000357627869|Warnings:"),
    "del1_MRPL39": (25601456, "AC", "A", "ENSG00000154719|-15:0.0|11:-0.05|Warnings:"),
    "ins12_JAM2": (25639893, "G", "GCGCCCTCCTGAA",
                   "ENSG00000154721|0:0.0|-5:-0.3700000047683716|Warnings:"),
    "del8_JAM2": (25698858, "GAATACAAA", "G", "ENSG00000154721|-37:0.0|-50:0.0|Warnings:"),
    "ins3_JAM2": (25712300, "G", "GCTG",
                  "ENSG00000154721|-9:0.009999999776482582|40:-0.019999999552965164|Warnings:"),
}
#: run here (time): an insertion (each replicate's max) and a deletion (float64 zeros), both on
#: the minus strand; all 8 matched when checked by hand
INDELS_RUN = ("ins2_MRPL39", "del15_MRPL39")


#: two + genes, AP000235.2 then AP000235.3; the CLI carries the first one's masking into the
#: second (masked on its own, AP000235.3 would report the loss -2:-0.41 at its own exon start)
CARRY = (25055586, "T", "A", "ENSG00000226983|-22:0.0|-49:0.0|Warnings:,"
                             "ENSG00000244278|-22:0.0|-49:0.0|Warnings:")


def score_variant(sess, genome, genes, pos, ref, alt, d=50, options=({},)):
    """The CLI's Pangolin value for one variant, from real windows (both strands), under each
    of ``options`` (score_genes keywords)."""
    tissue = [TISSUES.index(c.split("_")[2]) for c in sess.spec.member_channels]
    start, end = window_bounds(pos, len(ref), d)
    seq = genome.fetch("21", start, end)
    assert seq[variant_offset(d):variant_offset(d) + len(ref)] == ref
    alt_seq = seq[:variant_offset(d)] + alt + seq[variant_offset(d) + len(ref):]
    blocks: list[list] = [[] for _ in options]
    for strand, hits in zip("+-", genes.at("21", pos)):
        if not hits:
            continue
        r, a = (sess.run(["y_members"], {"x": one_hot_oriented(s, strand)[None]})[0][0]
                for s in (seq, alt_seq))
        if strand == "-":
            r, a = r[::-1], a[::-1]
        deltas = tissue_deltas(r, a, len(ref), len(alt), d, member_tissue=tissue)
        for out, kw in zip(blocks, options):
            out += score_genes(*gain_loss(deltas), [g.sites() for g in hits], pos, d, **kw)
    return [format_pangolin(b) for b in blocks]


@pytest.mark.slow
def test_real_indels_and_carried_masking_score_as_the_pangolin_cli(shared_data,
                                                                    pangolin_session):
    data = shared_data / "grch38_chr21"
    genes = read_pangolin_gtf(data / "custom_test.gtf.gz", tags=None)
    genome = Genome(data / "chr21.fa.gz")
    for rid in INDELS_RUN:
        pos, ref, alt, want = INDELS[rid]
        (got,) = score_variant(pangolin_session, genome, genes, pos, ref, alt)
        assert _matches(got, want), (rid, got, want)
    pos, ref, alt, want = CARRY
    got, own = score_variant(pangolin_session, genome, genes, pos, ref, alt,
                             options=({}, {"carry_over": False}))
    assert _matches(got, want), (got, want)
    assert own.split(",")[1] == "ENSG00000244278|-22:0.0|-2:-0.41|Warnings:", own
