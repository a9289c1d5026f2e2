"""The daemon with the real exported SpliceAI model on real chr21 data gives exactly what the
in-process engine gives (slow: skipped without the model or the shared data)."""

import pytest

from daemon_harness import Daemon
from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.models.registry import default_model_path
from hail_seqscore.records import Variant

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def read_vcf(path, limit):
    out = []
    for line in open(path):
        if line.startswith("#"):
            continue
        chrom, pos, _, ref, alts = line.split("\t")[:5]
        out += [Variant(chrom, int(pos), ref, alt) for alt in alts.split(",")]
    return out[:limit]


@pytest.fixture(scope="module")
def spliceai_model():
    path = default_model_path("spliceai")
    if not path.is_file():
        pytest.skip(f"{path} is absent: run `make models` (seqscore export spliceai) first")
    return path


def test_daemon_equals_engine_on_real_variants(shared_data, spliceai_model):
    d = shared_data / "grch38_chr21"
    vs = read_vcf(d / "dbsnp_snvs.vcf", 8) + read_vcf(d / "indels.vcf", 14)
    vs.append(Variant("21", 25585733, "G", "T"))      # REF mismatch (the reference has C)
    cfg = EngineConfig(model="spliceai", reference=str(d / "chr21.fa.gz"),
                       annotation=str(d / "genes.grch38.spliceai.txt"))
    want = Engine(cfg).score(vs)
    with Daemon(["--model", "spliceai", "-R", cfg.reference, "-A", cfg.annotation,
                 "--max-batch", "8"]) as daemon:
        got = daemon.client(chunk_size=16).score(vs)
        masked = daemon.client().score(vs[:4], distance=500, mask=True)
    assert got == want
    assert masked == Engine(cfg).score(vs[:4], distance=500, mask=True)
    assert want[-1].error.code == "REF_MISMATCH"
    assert sum(1 for r in want if r.scores) > 10
