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


def test_spliceai_and_openspliceai_served_side_by_side(shared_data, spliceai_model,
                                                      openspliceai_model, tmp_path):
    from hail_seqscore.cli import main
    d = shared_data / "grch38_chr21"
    vs = read_vcf(d / "dbsnp_snvs.vcf", 6) + read_vcf(d / "indels.vcf", 4)
    ref, ann = str(d / "chr21.fa.gz"), str(d / "genes.grch38.spliceai.txt")
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=21,length=46709983>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   + "".join(f"{v.contig}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\t.\t.\n" for v in vs))
    with Daemon(["--model", "spliceai", "--model", "openspliceai", "-R", ref, "-A", ann]) as dm:
        c = dm.client()
        assert [(m["name"], m["scorer"]) for m in c.models()] == [
            ("spliceai", "spliceai"), ("openspliceai", "openspliceai")]
        for name in ("spliceai", "openspliceai"):
            want = Engine(EngineConfig(model=name, reference=ref, annotation=ann)).score(vs)
            assert c.score(vs, model=name) == want
        out = tmp_path / "remote.vcf"
        assert main(["score", "-I", str(vcf), "-O", str(out), "--server", dm.url,
                     "--model", "openspliceai", "-q"]) == 0
    local = tmp_path / "local.vcf"
    assert main(["score", "-I", str(vcf), "-O", str(local), "-R", ref, "-A", ann,
                 "--model", "openspliceai", "-q"]) == 0
    body = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    assert len(body) == len(vs) and all("OpenSpliceAI=" in line for line in body[:6])
    assert body == [line for line in local.read_text().splitlines() if not line.startswith("#")]
