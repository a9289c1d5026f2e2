"""score_table at table scale: 10⁵ → 10⁶ → 10⁷ rows, time per stage, memory and shuffle.

    nice -n 19 .venv/bin/python benchmarks/bench_hail_scale.py --n 100000 1000000 [10000000]

Rows: every SNV, 1-base insertion and 1–4-base deletion (11 per base) walking the real sequence
of the shared GRCh38 chr21 region (``chr21.covered.bed``), the first N of them, written as a VCF
with two samples and imported with ``hl.import_vcf`` (a MatrixTable: mostly rows).  A score
cache is prepared beforehand holding all but the variants at positions divisible by ``--miss``
(default 100: 1% misses); its rows carry one synthetic gene record each, its provenance is that
of the run (taken from a 50-row seed run), so ``score_table`` looks 99% up and scores 1% with the
toy model (tests/toy_models.py, 100-bp context): the plumbing is measured, not the model.

Each N runs in a fresh process (a fresh JVM: peak memory belongs to that N only).  Stages are
timed by wrapping (not changing) the functions score_table calls:

* ``import``        ``hl.import_vcf`` + write the MatrixTable;
* ``setup``         score_table on the driver before Spark work (model, provenance, cache check);
* ``dedupe+lookup`` distinct keys, anti-join with the cache, materialised for Python workers
                    (``hail.spark.materialise``);
* ``score``         the misses through ``mapInArrow`` (toy model), persisted and counted;
* ``to_hail``       ``Table.from_spark`` + key_by + checkpoint of the new scores;
* ``cache_add``     ``ScoreCache.add`` (append the new scores to the cache as one part);
* ``join+write``    the scores joined back by key and the MatrixTable written.

Memory: peak RSS of the driver's Python process, of the JVM (driver = executor on
``local[N]``; ``VmHWM`` from /proc) and of all Python workers together (sampled every 0.25 s),
and Spark's own figures from its REST API (``/api/v1/applications/<id>/executors``
``peakMemoryMetrics``: JVM heap, process-tree RSS); shuffle read/write summed over the stages
(``/stages``).  Prints one JSON line per N and a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

DATA = REPO.parent / "shared" / "data" / "grch38_chr21"
#: --cluster: each worker 1 core and this much memory; each executor this heap
CLUSTER_WORKER, CLUSTER_EXECUTOR = "3g", "2g"
STAGES = ("import", "setup", "dedupe+lookup", "score", "to_hail", "cache_add", "join+write")


def covered() -> list[tuple[int, int]]:
    out = []
    with open(DATA / "chr21.covered.bed") as f:
        for line in f:
            c, a, b = line.split("\t")[:3]
            out.append((int(a), int(b)))
    return sorted(out)


def write_vcf(n: int, path: Path) -> int:
    """The first ``n`` variants (11 per A/C/G/T base, sorted by alleles) as a 2-sample VCF."""
    from hail_seqscore.genome import Genome
    from hail_seqscore.precompute import position_alleles

    genome = Genome(str(DATA / "chr21.fa.gz"))
    written = 0
    with open(path, "w") as f:
        f.write("##fileformat=VCFv4.2\n##contig=<ID=chr21,length=46709983>\n"
                '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n")
        for a, b in covered():
            seq = genome.fetch("21", a, min(b + 4, genome.length("21")))
            lines = []
            for i in range(b - a):
                for ref, alt in sorted(position_alleles(seq, i, True, True)):
                    lines.append(f"chr21\t{a + i + 1}\t.\t{ref}\t{alt}\t.\t.\t.\tGT\t0/1\t0/0\n")
                    written += 1
                    if written == n:
                        f.write("".join(lines))
                        return written
            f.write("".join(lines))
    return written


class Sampler(threading.Thread):
    """Peak RSS of this process, the JVM and the sum of the Python workers, every 0.25 s; with
    ``worker_dirs`` (a standalone cluster) also of the executor JVMs under those work dirs and
    of their Python workers (summed)."""

    def __init__(self, worker_dirs: list[Path] | None = None):
        super().__init__(daemon=True)
        self.peak = {"driver_python": 0, "jvm": 0, "python_workers": 0, "python_worker_max": 0,
                     "executor_jvms": 0, "executor_jvm_max": 0}
        self.stop = threading.Event()
        self.jvm_pid = None
        self.biggest = ""
        self.worker_dirs = worker_dirs or []

    def executors(self, psutil) -> int:
        """Sum of the executor JVMs' RSS now; their Python workers go into the worker peak."""
        from spark_cluster import executor_pids

        jvms = workers = 0
        for d in self.worker_dirs:
            for pid in executor_pids(d):
                try:
                    p = psutil.Process(pid)
                    rss = p.memory_info().rss
                    kids = sum(k.memory_info().rss for k in p.children(recursive=True))
                except psutil.Error:
                    continue
                jvms += rss
                workers += kids
                self.peak["executor_jvm_max"] = max(self.peak["executor_jvm_max"], rss)
        self.peak["executor_jvms"] = max(self.peak["executor_jvms"], jvms)
        return workers

    def run(self):
        import psutil

        me = psutil.Process()
        while not self.stop.wait(0.25):
            try:
                kids = me.children(recursive=True)
            except psutil.Error:
                continue
            workers = self.executors(psutil) if self.worker_dirs else 0
            for p in kids:
                try:
                    name, rss = p.name(), p.memory_info().rss
                    cmd = " ".join(p.cmdline())
                except psutil.Error:
                    continue
                if name == "java":
                    self.jvm_pid = p.pid
                    self.peak["jvm"] = max(self.peak["jvm"], rss)
                elif "pyspark" in cmd or "daemon" in cmd or "worker" in cmd:
                    workers += rss
                    if rss > self.peak["python_worker_max"]:
                        self.peak["python_worker_max"] = rss
                        self.biggest = cmd[:120]
            self.peak["python_workers"] = max(self.peak["python_workers"], workers)
            self.peak["driver_python"] = max(self.peak["driver_python"], me.memory_info().rss)


def vm_hwm(pid) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rest(sc, what: str):
    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/{what}"
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def _epoch(stamp: str) -> float:
    """Spark's ``2026-11-30T11:33:57.885GMT`` → seconds since the epoch."""
    import calendar

    t = time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) + float("0" + stamp[19:23])


def instrument(marks: dict) -> None:
    """Record when score_table's steps start and end (wrappers; nothing is changed)."""
    import hail as hl

    import hail_seqscore
    from hail_seqscore.hail import spark as hspark

    table_mod = sys.modules[hail_seqscore.score_table.__module__]

    def wrap(owner, attr, name):
        fn = getattr(owner, attr)

        def timed(*a, **k):
            marks.setdefault(name + ".start", time.time())
            try:
                return fn(*a, **k)
            finally:
                marks[name + ".end"] = time.time()
        setattr(owner, attr, timed)

    wrap(hspark, "materialise", "materialise")
    wrap(table_mod, "score_keys", "score_keys")
    wrap(hl.Table, "from_spark", "from_spark")
    wrap(hail_seqscore.ScoreCache, "add", "cache_add")


def one(n: int, miss: int, master: str, tmp: Path,
        worker_dirs: list[Path] | None = None) -> dict:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    import hail as hl

    from hail_seqscore import ScoreCache, score_table
    from toy_models import build_toy_model

    sampler = Sampler(worker_dirs)
    sampler.start()
    model = str(build_toy_model(tmp / "toy.onnx"))
    cfg = dict(model=model, reference=str(DATA / "chr21.fa.gz"),
               annotation=str(DATA / "genes.grch38.spliceai.txt"), distance=50, mask=False)
    t = time.perf_counter()
    rows = write_vcf(n, tmp / "in.vcf")
    t_vcf = time.perf_counter() - t
    conf = {"spark.driver.memory": "6g", "spark.ui.port": "4340",
            "spark.executor.processTreeMetrics.enabled": "true",
            "spark.ui.retainedJobs": "100000", "spark.ui.retainedStages": "100000"}
    if worker_dirs:                  # a standalone cluster on this machine (--cluster)
        conf.update({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
                     "spark.driver.memory": "2g", "spark.executor.memory": CLUSTER_EXECUTOR,
                     "spark.cores.max": str(len(worker_dirs))})
    hl.init(master=master, quiet=True, tmp_dir=str(tmp / "hail"), log=str(tmp / "hail.log"),
            local_tmpdir=str(tmp / "local"), spark_conf=conf)
    sc = hl.spark_context()
    # the cache: a seed run gives the provenance; every row but the misses gets a synthetic
    # record (prepared, not timed as score_table)
    t = time.perf_counter()
    seed = hl.import_vcf(str(tmp / "in.vcf"), reference_genome="GRCh38").rows().select().head(50)
    seed_cache = ScoreCache(str(tmp / "seed_cache.ht"))
    score_table(seed, **cfg, cache=seed_cache)._force_count()
    prov = seed_cache.provenance()
    marks: dict = {}
    instrument(marks)
    stages_before = {(s["stageId"], s["attemptId"]) for s in rest(sc, "stages")}
    t0 = time.time()
    mt = hl.import_vcf(str(tmp / "in.vcf"), reference_genome="GRCh38")
    mt = mt.checkpoint(str(tmp / "in.mt"))
    t_import = time.time() - t0
    import_stages = [s for s in rest(sc, "stages")
                     if (s["stageId"], s["attemptId"]) not in stages_before]
    keys = mt.rows().select()
    hits = keys.filter(keys.locus.position % miss != 0)
    gene = hl.struct(allele=hits.alleles[1], gene="SYNTH", strand="+", ds_ag=0.01, ds_al=0.0,
                     ds_dg=0.02, ds_dl=0.0, dp_ag=-3, dp_al=4, dp_dg=12, dp_dl=-40)
    hits = hits.annotate(scores=[gene], max_ds=0.02, reason_code=hl.missing(hl.tstr),
                         reason=hl.missing(hl.tstr),
                         skipped=hl.empty_array(hl.tstruct(allele=hl.tstr, code=hl.tstr)))
    hits = hits.annotate_globals(provenance=hl.struct(**prov))
    hits.write(str(tmp / "cache.ht"))
    n_cached = hl.read_table(str(tmp / "cache.ht")).count()
    t_cache = time.perf_counter() - t
    jobs_before = {j["jobId"] for j in rest(sc, "jobs")}
    stages_before = {(s["stageId"], s["attemptId"]) for s in rest(sc, "stages")}

    t1 = time.time()
    out = score_table(mt, **cfg, cache=ScoreCache(str(tmp / "cache.ht")))
    out.write(str(tmp / "out.mt"))
    t3 = time.time()
    m = marks
    bounds = {"setup": (t1, m["materialise.start"]),
              "dedupe+lookup": (m["materialise.start"], m["materialise.end"]),
              "score": (m["materialise.end"], m["from_spark.start"]),
              "to_hail": (m["from_spark.start"], m["score_keys.end"]),
              "cache_add": (m["cache_add.start"], m["cache_add.end"]),
              "join+write": (m["cache_add.end"], t3)}
    stage_s = {"import": t_import, **{k: b - a for k, (a, b) in bounds.items()}}
    # checks: every row out once, the misses scored
    res = hl.read_matrix_table(str(tmp / "out.mt")).rows()
    check = res.aggregate(hl.struct(n=hl.agg.count(),
                                    synth=hl.agg.count_where(res.seqscore.scores.any(
                                        lambda s: s.gene == "SYNTH")),
                                    with_reason=hl.agg.count_where(
                                        hl.is_defined(res.seqscore.reason_code))))
    stages = [s for s in rest(sc, "stages") if (s["stageId"], s["attemptId"]) not in stages_before]
    # executor CPU seconds of the Spark stages submitted in each step (load-independent)
    cpu_s = {"import": sum(s.get("executorCpuTime", 0) for s in import_stages) / 1e9}
    for k, (a, b) in bounds.items():
        cpu_s[k] = sum(s.get("executorCpuTime", 0) for s in stages
                       if "submissionTime" in s and a <= _epoch(s["submissionTime"]) < b) / 1e9
    jobs = [j for j in rest(sc, "jobs") if j["jobId"] not in jobs_before]
    execs = rest(sc, "allexecutors")
    peak_metrics = {}
    for e in execs:
        for k, v in (e.get("peakMemoryMetrics") or {}).items():
            peak_metrics[k] = max(peak_metrics.get(k, 0), v)
    sampler.stop.set()
    sampler.join()
    result = {
        "rows": rows, "cached": n_cached, "misses": rows - n_cached, "master": master,
        "stage_s": {k: round(v, 2) for k, v in stage_s.items()},
        "stage_executor_cpu_s": {k: round(v, 2) for k, v in cpu_s.items()},
        "score_table_total_s": round(t3 - t1, 2), "write_vcf_s": round(t_vcf, 2),
        "prepare_cache_s": round(t_cache - t_import, 2),
        "out_rows": check.n, "out_rows_from_cache": check.synth,
        "out_rows_with_reason": check.with_reason,
        "spark_jobs": len(jobs), "spark_stages": len(stages),
        "shuffle_write_bytes": sum(s.get("shuffleWriteBytes", 0) for s in stages),
        "shuffle_read_bytes": sum(s.get("shuffleReadBytes", 0) for s in stages),
        "shuffle_stages": [{"stage": s["stageId"], "name": s["name"][:60],
                            "write": s.get("shuffleWriteBytes", 0),
                            "read": s.get("shuffleReadBytes", 0)}
                           for s in stages if s.get("shuffleWriteBytes") or
                           s.get("shuffleReadBytes")],
        "peak_rss_bytes": {**sampler.peak, "jvm_vmhwm": vm_hwm(sampler.jvm_pid)},
        "biggest_python_worker": sampler.biggest,
        "spark_peak_memory": {k: peak_metrics.get(k) for k in (
            "JVMHeapMemory", "JVMOffHeapMemory", "ProcessTreeJVMRSS", "ProcessTreePythonRSS",
            "OnHeapExecutionMemory", "OnHeapStorageMemory")},
        "executor_memory_used": sum(e.get("memoryUsed", 0) for e in execs),
        "load_avg": os.getloadavg(),
    }
    hl.stop()
    return result


def table(results: list[dict]) -> str:
    mib = 1 << 20
    head = ("| rows | " + " | ".join(STAGES) + " | score_table + write | driver Python | JVM "
            "(driver = executor) | Python workers | JVM heap (Spark) | shuffle write / read |")
    lines = [head, "|" + "---:|" * (len(STAGES) + 7)]
    for r in results:
        p, s = r["peak_rss_bytes"], r["spark_peak_memory"]
        lines.append(
            f"| {r['rows']:,} | " + " | ".join(f"{r['stage_s'][k]:.1f}" for k in STAGES)
            + f" | {r['score_table_total_s']:.1f} | {p['driver_python'] / mib:,.0f} MiB"
            f" | {max(p['jvm'], p['jvm_vmhwm']) / mib:,.0f} MiB"
            f" | {p['python_workers'] / mib:,.0f} MiB"
            f" | {(s['JVMHeapMemory'] or 0) / mib:,.0f} MiB"
            f" | {r['shuffle_write_bytes'] / mib:,.1f} / {r['shuffle_read_bytes'] / mib:,.1f} MiB |")
    lines += ["", "executor CPU seconds of the Spark stages of each step:", "",
              "| rows | " + " | ".join(STAGES) + " | total |", "|" + "---:|" * (len(STAGES) + 2)]
    for r in results:
        c = r["stage_executor_cpu_s"]
        lines.append(f"| {r['rows']:,} | " + " | ".join(f"{c[k]:.1f}" for k in STAGES)
                     + f" | {sum(c.values()):.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--miss", type=int, default=100, help="positions divisible by this are "
                    "cache misses (default 100: 1%%)")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--cluster", type=int, default=None, metavar="WORKERS",
                    help="start a standalone Spark cluster on 127.0.0.1 with this many 1-core "
                    "workers (tests/spark_cluster.py) and run on it instead of --master")
    ap.add_argument("--worker-dirs", nargs="*", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--work", default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--json", default=None, help="append each result here as a JSON line")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one is not None:
        tmp = Path(a.work)
        dirs = [Path(d) for d in a.worker_dirs] if a.worker_dirs else None
        print("RESULT " + json.dumps(one(a.one, a.miss, a.master, tmp, dirs)), flush=True)
        return
    base = Path(a.work or tempfile.mkdtemp(prefix="bench_hail_scale_"))
    with contextlib.ExitStack() as stack:
        extra = []
        if a.cluster:
            from spark_cluster import SparkCluster

            cluster = stack.enter_context(SparkCluster(base / "cluster", workers=a.cluster,
                                                       memory=CLUSTER_WORKER))
            a.master = cluster.master_url
            extra = ["--worker-dirs", *map(str, cluster.worker_dirs)]
            os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
        results = run_all(a, base, extra)
    print(table(results))


def run_all(a, base: Path, extra: list[str]) -> list[dict]:
    results = []
    for n in a.n:
        work = base / f"n{n}"
        work.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        p = subprocess.run([sys.executable, __file__, "--one", str(n), "--miss", str(a.miss),
                            "--master", a.master, "--work", str(work), *extra],
                           capture_output=True, text=True)
        line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"n={n} failed (exit {p.returncode}):\n{p.stderr[-3000:]}", file=sys.stderr)
            break
        r = json.loads(line[7:])
        r["process_wall_s"] = round(time.perf_counter() - t, 1)
        results.append(r)
        print(json.dumps(r), flush=True)
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(r) + "\n")
        subprocess.run(["rm", "-rf", str(work)])
    return results


if __name__ == "__main__":
    main()
