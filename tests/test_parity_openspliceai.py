"""Issue #12, item 2 for OpenSpliceAI: `seqscore score --model openspliceai` writes what
`openspliceai variant` 0.0.7 writes (INFO key ``OpenSpliceAI``, its header, its strings).

On ../shared/data/grch38_chr21 with the reference outputs of the original tool
(``reference_outputs/openspliceai``: -f 10000 -D 50 -M 0, the SpliceAI-format gene table of
the region): >= 99% of INFO strings identical, no score off by more than 0.01, every record in
input order.  The model is exported from ../shared/weights (GPL-3.0: into $SEQSCORE_HOME, never
into the repository); skips with a message where the weights or the data are absent.
"""

from pathlib import Path

import pytest

from hail_seqscore.cli import main
from hail_seqscore.compare import compare_vcfs
from hail_seqscore.kinds.splice import OPENSPLICEAI

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data" / "grch38_chr21"
REFERENCE = DATA / "reference_outputs" / "openspliceai"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(openspliceai_model):
    if not REFERENCE.is_dir():
        pytest.skip(f"OpenSpliceAI reference outputs not found at {REFERENCE}")
    return openspliceai_model


@pytest.mark.parametrize("name", ["dbsnp_snvs", "indels"])
def test_matches_original_openspliceai(model, tmp_path, name, capsys):
    out = tmp_path / f"{name}.vcf"
    rc = main(["score", "-I", str(DATA / f"{name}.vcf"), "-O", str(out),
               "-R", str(DATA / "chr21.fa.gz"), "-A", str(DATA / "genes.grch38.spliceai.txt"),
               "--model", "openspliceai", "-D", "50", "-M", "0"])
    assert rc == 0
    theirs = REFERENCE / f"{name}.openspliceai-0.0.7.D50.M0.vcf"
    rep = compare_vcfs(str(out), str(theirs), key="OpenSpliceAI")
    print(rep.summary())
    assert rep.strings >= 70
    assert rep.equal_fraction >= 0.99, "\n".join(rep.differences)
    assert rep.max_ds_diff <= 0.01 + 1e-9, "\n".join(rep.differences)
    assert rep.annotated_a == rep.annotated_b
    text = out.read_text()
    assert OPENSPLICEAI.header + "\n" in text and "##INFO=<ID=SpliceAI," not in text
    records = [l.split("\t") for l in text.splitlines() if not l.startswith("#")]
    keys = {e.split("=", 1)[0] for r in records for e in r[7].split(";")}
    assert "OpenSpliceAI" in keys and "SpliceAI" not in keys
    ours = [r[:5] for r in records]
    inputs = [l.split("\t")[:5] for l in (DATA / f"{name}.vcf").read_text().splitlines()
              if not l.startswith("#")]
    assert ours == inputs
