"""The worked example of docs/custom_models.md, exported as the page says and then scored end to
end with `seqscore score` (an any-length model with 4-bp bins): every record comes out with its
`SeqScore_tiny_cnn` entry, whose effects equal those computed here from one REF and one ALT
window per variant through the module itself (torch)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")

from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.encode import one_hot  # noqa: E402
from hail_seqscore.scoring_tracks import bins_near, effects  # noqa: E402
from synthetic import VCF_HEADER, make_world  # noqa: E402
from test_export_custom import run_documented_example, workdir  # noqa: E402,F401 - fixture


def test_the_documented_custom_model_scores_a_vcf(workdir, capsys):
    run_documented_example(workdir, capsys)
    world = make_world(workdir)
    seq = world["seq"]
    vs = [(p, seq[p - 1], "A" if seq[p - 1] != "A" else "C") for p in (400, 1234, 2600)]
    vs.append((1500, seq[1499:1503], seq[1499]))                     # a deletion
    vcf = workdir / "in.vcf"
    vcf.write_text(VCF_HEADER + "".join(f"chr1\t{p}\t.\t{r}\t{a}\t.\t.\t.\n" for p, r, a in vs))
    out = workdir / "out.vcf"
    assert main(["score", "--model", str(workdir / "tiny_cnn.onnx"), "-I", str(vcf), "-O",
                 str(out), "-R", world["ref"], "-D", "12", "--tracks", "all", "-q"]) == 0
    records = [ln for ln in out.read_text().splitlines() if not ln.startswith("#")]
    assert len(records) == len(vs)

    from my_cnn import build

    net = build(16)
    net.load_state_dict(torch.load(workdir / "my_cnn.pt", weights_only=True))
    net.eval()
    context, b, offset, r = 20, 4, 10, 12

    def predict(s: str) -> np.ndarray:
        x = one_hot(s, "ACGT", 0.25)[None]
        with torch.no_grad():
            return net(torch.from_numpy(x).transpose(1, 2)).transpose(1, 2).numpy()[0]

    for line, (p, ref, alt) in zip(records, vs):
        start, end = p - 1, p - 1 + len(ref)
        n = -(-(2 * r + len(ref)) // b) + 2
        length = context + n * b
        ws = start - (offset + r + b)
        ref_s = seq[ws:ws + length]
        cut = start - ws
        alt_s = (ref_s[:cut] + alt + ref_s[cut + len(ref):]
                 + seq[ws + length:ws + length + max(0, len(ref) - len(alt))])[:length]
        i, j = bins_near(ws + offset, b, n, start - r, end + r)
        want = effects(predict(ref_s)[i:j], predict(alt_s)[i:j], "diff")
        entry = line.split("SeqScore_tiny_cnn=", 1)[1].split("|")
        got = [float(x.rsplit(":", 1)[1]) for x in entry[2:]]
        assert entry[0] == alt and len(got) == 2
        assert got == pytest.approx(want, rel=1e-3, abs=1e-6), (p, got, want)
