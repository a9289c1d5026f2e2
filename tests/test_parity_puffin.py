"""``seqscore score --model puffin`` on the 20 real chr21 SNVs near TSSs whose REF and ALT
predictions the original Puffin code made (../shared/data/grch38_chr21/reference_outputs/puffin,
README there): the effects written equal those reduced from the original's own predictions.
The original ran FFT convolutions (up to 1.4e-5 from direct ones per position), so effects are
compared to 1e-3 + 1e-3 relative (a diff sums up to 1,001 positions).  Skips where ../shared is
absent."""

from __future__ import annotations

import numpy as np
import pytest

from hail_seqscore.cli import main
from hail_seqscore.scoring_tracks import effects

REF_OUT = ("grch38_chr21", "reference_outputs", "puffin", "chr21_dbsnp_near_tss.puffin.npz")


@pytest.mark.parametrize("reduction,radius", [("diff", 500), ("max_abs_diff", 50),
                                              ("log2fc", 0)])
def test_effects_equal_those_of_the_original_predictions(shared_data, puffin_model, tmp_path,
                                                         reduction, radius):
    z = np.load(shared_data.joinpath(*REF_OUT))
    names = [str(n) for n in z["track_names"]]
    rows = sorted(zip(z["pos"].tolist(), z["ref_allele"].tolist(), z["alt_allele"].tolist(),
                      range(len(z["pos"]))))
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   + "".join(f"21\t{p}\tv{i}\t{r}\t{a}\t.\t.\t.\n" for p, r, a, i in rows))
    out = tmp_path / "out.vcf"
    assert main(["score", "--model", "puffin", "-I", str(vcf), "-O", str(out), "-R",
                 str(shared_data / "grch38_chr21" / "chr21.fa.gz"), "--reduction", reduction,
                 "--radius", str(radius), "-q"]) == 0
    n = worst = 0
    for line in out.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        i = int(f[2][1:])
        fields = f[7].split("SeqScore_puffin=", 1)[1].split("|")[2:]
        got = {k: float(v) for k, v in (x.rsplit(":", 1) for x in fields)}
        assert list(got) == names                      # every track, in the model's order
        lo, hi = 500 - radius, 500 + radius + 1       # the variant is output index 500
        want = effects(z["ref"][i].T[lo:hi], z["alt"][i].T[lo:hi], reduction)
        for k, name in enumerate(names):
            assert got[name] == pytest.approx(want[k], abs=1e-3, rel=1e-3), (i, name)
            worst = max(worst, abs(got[name] - want[k]))
        n += 1
    assert n == 20
    print(f"\npuffin {reduction} ±{radius}: 20/20 variants, max |effect − original's| {worst:.1e}")
