"""score_table and precompute_table on a real standalone Spark cluster (a master and two 1-core
workers on 127.0.0.1, started by the test; tests/spark_cluster.py): shipped files, executor
loss, a failed run.

Each Hail driver runs in its own process (the other Hail tests hold a local[2] session in this
one).  Three drivers in all: one runs the identity, precompute, first-cache and executor-kill
jobs in turn (``first`` below: a driver start costs tens of seconds), then the cache test kills
a second driver mid-stage and runs a third.  The real SpliceAI model scores the real chr21 SNVs
in the identity job; the others use the toy model on the same variants so that executor and
driver start-up, not the model, set their time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
from pathlib import Path

import pytest

pytest.importorskip("hail", reason="needs the hail extra: pip install '.[hail]'")
pytest.importorskip("pyarrow", reason="needs the hail extra: pip install '.[hail]'")

from hail_seqscore.engine import Engine, EngineConfig  # noqa: E402
from hail_seqscore.errors import ModelNotInstalledError  # noqa: E402
from hail_seqscore.models.registry import model_path  # noqa: E402
from hail_seqscore.records import Variant  # noqa: E402
from spark_cluster import SparkCluster, run_driver, work_dir_of  # noqa: E402
from test_hail_precompute import read_vcf, seqscore_precompute  # noqa: E402
from toy_models import build_toy_model  # noqa: E402

pytestmark = pytest.mark.timeout(1800)
N_VARIANTS = 132                  # records of dbsnp_snvs.vcf, one ALT each
SUBSET_BELOW = 25_800_000         # the first cached run scores the records before this position
PRECOMPUTE_REGION = "21:25734801-25734900"     # where ATP5J (−) ends and GABPA (+) begins
#: the identity job scores every EVERY-th record with the real SpliceAI (66 SNVs on both
#: strands: the real model costs ~0.4 CPU-s a variant twice, on the cluster and in the engine)
EVERY = 2


@pytest.fixture(scope="module")
def chr21(shared_data):
    return shared_data / "grch38_chr21"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if shutil.which("java") is None:
        pytest.skip("needs a Java runtime (java on PATH) for the Spark cluster")
    root = tmp_path_factory.mktemp("spark")
    with SparkCluster(root, workers=2, cores=1, memory="1g") as c:   # stopped even on failure
        yield c


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return str(build_toy_model(tmp_path_factory.mktemp("toy") / "toy.onnx"))


def vcf_keys(vcf: Path) -> list[tuple[str, int, tuple[str, ...]]]:
    out = []
    for line in vcf.read_text().splitlines():
        if line and not line.startswith("#"):
            f = line.split("\t")
            out.append(("chr21", int(f[1]), (f[3], *f[4].split(","))))
    return out


def engine_rows(model: str, chr21: Path, every: int = 1) -> dict:
    """The engine's scores for every (``every``-th) record, shaped as score_table gives them."""
    keys = vcf_keys(chr21 / "dbsnp_snvs.vcf")[::every]
    cfg = EngineConfig(model=model, reference=str(chr21 / "chr21.fa.gz"),
                       annotation=str(chr21 / "genes.grch38.spliceai.txt"), distance=50,
                       mask=False)
    results = Engine(cfg).score([Variant(c, p, al[0], al[1]) for c, p, al in keys])
    out = {}
    for (c, p, al), r in zip(keys, results):
        scores = [dict(s.to_dict(), allele=al[1]) for s in r.scores]
        out[(c, p, al)] = {"scores": scores, "max_ds": r.max_ds,
                           "reason_code": r.error.code if r.error else None}
    return out


def job(chr21, name, model, **extra) -> dict:
    return {"name": name, "vcf": str(chr21 / "dbsnp_snvs.vcf"),
            "reference": str(chr21 / "chr21.fa.gz"),
            "annotation": str(chr21 / "genes.grch38.spliceai.txt"), "model": model,
            "n_partitions": 2, "ship_files": True, **extra}


def driver(cluster, name, *jobs) -> dict:
    return {"name": name, "master": cluster.master_url, "tmp_dir": str(cluster.root / "tmp"),
            "jobs": list(jobs)}


def spliceai_or_skip() -> str:
    try:
        return str(model_path("spliceai"))
    except ModelNotInstalledError as exc:
        pytest.skip(f"the real SpliceAI model is not exported ({exc.message}); "
                    "run `seqscore export spliceai` with SEQSCORE_HOME set")


@pytest.fixture(scope="module")
def first(cluster, chr21, toy, tmp_path_factory):
    """One driver, four jobs: identity under the real SpliceAI (when exported; every EVERY-th
    record), precompute of
    300 bases, a first cached run over the records before SUBSET_BELOW, and the executor kill
    (last, as it leaves a relaunched executor behind).  Yields the driver's result and the
    paths it wrote."""
    tmp = tmp_path_factory.mktemp("first")
    paths = {"cache": str(tmp / "scores_cache"), "pre": str(tmp / "pre.ht"),
             "shards": str(tmp / "shards"), "tmp": tmp}
    jobs = []
    try:
        jobs.append(job(chr21, "identity", str(model_path("spliceai")), every=EVERY))
    except ModelNotInstalledError:
        pass                                    # test_real_spliceai... skips, saying why
    jobs += [
        {"name": "precompute", "kind": "precompute", "region": PRECOMPUTE_REGION,
         "reference": str(chr21 / "chr21.fa.gz"),
         "annotation": str(chr21 / "genes.grch38.spliceai.txt"), "model": toy,
         "output": paths["pre"], "vcf_dir": paths["shards"], "chunk_bp": 25, "n_partitions": 4},
        job(chr21, "cache1", toy, cache=paths["cache"], max_pos=SUBSET_BELOW),
        job(chr21, "kill", toy, n_partitions=44,
            kill_worker_dirs=[str(d) for d in cluster.worker_dirs], kill_worker=0,
            after_tasks=1),
    ]
    res = run_driver(driver(cluster, "first", *jobs), cluster.root)
    return dict(res, paths=paths)


def rows_of(result) -> dict:
    keys = [(c, p, tuple(al)) for c, p, al, _ in result["rows"]]
    assert len(keys) == len(set(keys))                     # every row once
    return {(c, p, tuple(al)): v for c, p, al, v in result["rows"]}


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_real_spliceai_matches_engine_from_files_shipped_to_each_executor(cluster, chr21, first):
    spliceai = spliceai_or_skip()
    res = first["jobs"]["identity"]
    got = rows_of(res)
    n = len(range(0, N_VARIANTS, EVERY))
    assert len(got) == n
    assert got == engine_rows(spliceai, chr21, EVERY)
    assert res["to_score"] == res["scored"] == n
    driver_copy = {"model": spliceai, "reference": str(chr21 / "chr21.fa.gz"),
                   "annotation": str(chr21 / "genes.grch38.spliceai.txt")}
    workers = set()
    for what, path in res["opened"]:            # what the executors' engines opened
        w = work_dir_of(path, cluster.worker_dirs)
        assert w is not None, f"{what} opened from {path}, outside the workers' work dirs"
        assert Path(path).parent.parent.name == first["app_id"]    # <work>/<app>/<executor>/
        assert os.path.basename(path) == os.path.basename(driver_copy[what])
        assert sha256(path) == sha256(driver_copy[what])
        workers.add(w)
    assert {what for what, _ in res["opened"]} == set(driver_copy)
    assert workers == {0, 1}                     # each worker's executor has its own copy
    assert not set(driver_copy.values()) & {p for _, p in res["opened"]}


def test_precompute_ships_files_and_scores_each_snv_once(cluster, chr21, toy, first):
    """The executors read the shipped copies in their workers' work directories, never the
    driver's paths; every SNV is scored once and the shards equal `seqscore precompute`."""
    got = first["jobs"]["precompute"]
    want_header, want = read_vcf(seqscore_precompute(first["paths"]["tmp"], chr21, toy,
                                                     [PRECOMPUTE_REGION]))
    assert first["master"] == cluster.master_url and got["partitions"] == 4
    assert got["scored"] == got["variants"] == got["rows"] == 300      # each SNV once
    opened = {tuple(x) for x in got["opened"]}
    assert {what for what, _ in opened} == {"model", "reference", "annotation"}
    assert all(work_dir_of(path, cluster.worker_dirs) is not None for _, path in opened), opened
    records = []
    for path in got["shards"]:
        h, recs = read_vcf(path)
        assert h == want_header
        records += recs
    assert records == want


def test_executor_killed_mid_stage_every_row_scored_once(chr21, toy, first):
    """Worker 0's executor JVM is SIGKILLed once a scoring task has finished and others run;
    Spark reruns the lost work on the other executor (and on the one the worker relaunches)."""
    res = first["jobs"]["kill"]
    killed = res["killed"]
    assert killed.get("pid"), f"the executor was not killed during the scoring stage: {killed}"
    assert killed["worker"] == 0 and killed["tasks_done"] < killed["tasks"]
    assert not Path(f"/proc/{killed['pid']}").exists()
    # it was running a task: that task failed, or (its map output lost too) the stage reran
    assert killed["failed_tasks"] > 0 or killed["attempts"] > 1, killed
    got = rows_of(res)
    assert len(got) == N_VARIANTS
    assert got == engine_rows(toy, chr21)
    # each distinct variant once: the accumulator counts the attempts that succeeded
    assert res["to_score"] == res["scored"] == N_VARIANTS
    print(f"killed executor {killed['executor_id']} (pid {killed['pid']}) on worker 0 after "
          f"{killed['tasks_done']}/{killed['tasks']} tasks; failed tasks "
          f"{killed['failed_tasks']}, stage attempts {killed['attempts']}, executors "
          f"after {killed.get('executors_after')}")


def test_cache_after_a_failed_run_scores_only_the_misses(cluster, chr21, toy, first):
    cache = first["paths"]["cache"]
    n_sub = sum(p < SUBSET_BELOW for _, p, _ in vcf_keys(chr21 / "dbsnp_snvs.vcf"))
    assert 0 < n_sub < N_VARIANTS
    assert first["jobs"]["cache1"]["to_score"] == first["jobs"]["cache1"]["scored"] == n_sub
    # a run over every record dies (its driver killed) while its scoring stage runs
    # one key per partition: the scoring stage has as many tasks as misses (score_keys never
    # makes more partitions than keys), which is how the driver recognises it
    misses = N_VARIANTS - n_sub
    proc = run_driver(driver(cluster, "cache2", job(chr21, "cache2", toy, cache=cache,
                                                    n_partitions=misses, announce=True)),
                      cluster.root, wait=False)
    try:
        # the JVM writes here too, its progress bars ending in "\r" rather than a newline, so
        # the driver's SCORING line may follow one on the same line
        lines = (line.decode(errors="replace").split("\r")[-1] for line in proc.stdout)
        assert any(line.startswith("SCORING") for line in lines), \
            proc.log_path.read_text(errors="replace")[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)     # the driver and its JVM
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and not proc.out_path.exists()
    rerun = run_driver(driver(cluster, "cache3", job(chr21, "cache3", toy, cache=cache)),
                       cluster.root)["jobs"]["cache3"]
    assert rerun["to_score"] == rerun["scored"] == N_VARIANTS - n_sub     # only the misses
    got = rows_of(rerun)
    assert len(got) == N_VARIANTS and got == engine_rows(toy, chr21)
