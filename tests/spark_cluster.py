"""A real standalone Spark cluster on 127.0.0.1, for tests and benchmarks.

    with SparkCluster(tmp_path, workers=2) as cluster:
        cluster.master_url            # spark://127.0.0.1:PORT
        cluster.executor_pids(0)      # the executor JVMs worker 0 runs now

A master and ``workers`` workers started from the Spark distribution that pyspark ships
(``pyspark/bin/spark-class``), each in its own process group, bound to 127.0.0.1 on free ports,
each worker with its own work directory (where its executors run and where files shipped with
``SparkContext.addFile`` land) and 1 core.  :meth:`SparkCluster.stop` kills the process groups
(daemons, executors and their Python workers) and is called on exit of the ``with`` block,
also when the body raised.

A Hail driver runs in its own process (:func:`run_driver` → ``python spark_cluster.py
SPEC.json``): one Python process holds one SparkContext, and the other Hail tests hold a
``local[2]`` one.  The driver scores a VCF with ``score_table`` on the cluster and writes what
it saw as JSON; on request it kills one worker's executor JVM by its PID while the scoring
stage runs (after ``after_tasks`` of its tasks finished), or prints ``SCORING`` then so that
the test can kill the driver itself.
"""

from __future__ import annotations

import os
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).parent
STARTUP_LIMIT = 300          # s: a daemon not up by then failed (generous: CI machines are busy)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SparkCluster:
    """A standalone master and its workers (see the module docstring)."""

    def __init__(self, root: Path, *, workers: int = 2, cores: int = 1, memory: str = "1g"):
        self.root = Path(root)
        self.n_workers, self.cores, self.memory = workers, cores, memory
        self.port = free_port()
        self.master_url = f"spark://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self.worker_dirs = [self.root / f"worker{i}" for i in range(workers)]

    def __enter__(self) -> "SparkCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        env = dict(os.environ, SPARK_HOME=str(SPARK_HOME), SPARK_LOCAL_IP="127.0.0.1",
                   SPARK_NO_DAEMONIZE="1", PYSPARK_PYTHON=sys.executable,
                   SPARK_LOG_DIR=str(self.root / "logs"), SPARK_CONF_DIR=str(self.root / "conf"))
        env.pop("PYSPARK_DRIVER_PYTHON", None)
        return env

    def _spawn(self, name: str, cls: str, *args: str) -> None:
        log = self.root / f"{name}.log"
        self.logs.append(log)
        with open(log, "wb") as out:
            self.procs.append(subprocess.Popen(
                [str(SPARK_HOME / "bin" / "spark-class"), cls, *args], stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env(),
                start_new_session=True))      # its own process group: executors too

    def start(self) -> None:
        (self.root / "conf").mkdir(parents=True, exist_ok=True)
        self._spawn("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(self.port), "--webui-port", str(free_port()))
        self._wait(0, "I have been elected leader")
        for i, wdir in enumerate(self.worker_dirs):
            wdir.mkdir(parents=True, exist_ok=True)
            self._spawn(f"worker{i}", "org.apache.spark.deploy.worker.Worker",
                        "--host", "127.0.0.1", "--port", str(free_port()),
                        "--webui-port", str(free_port()), "--cores", str(self.cores),
                        "--memory", self.memory, "--work-dir", str(wdir), self.master_url)
        for i in range(self.n_workers):
            self._wait(i + 1, "Successfully registered with master")

    def _wait(self, index: int, line: str) -> None:
        deadline = time.monotonic() + STARTUP_LIMIT
        while time.monotonic() < deadline:
            if self.procs[index].poll() is not None:
                raise RuntimeError(f"{self.logs[index].name} exited: {self.tail(index)}")
            if line in self.logs[index].read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.logs[index].name} not up after {STARTUP_LIMIT} s: "
                           f"{self.tail(index)}")

    def tail(self, index: int, n: int = 20) -> str:
        return "\n".join(self.logs[index].read_text(errors="replace").splitlines()[-n:])

    def executor_pids(self, worker: int) -> list[int]:
        """PIDs of the executor JVMs (``CoarseGrainedExecutorBackend``) that worker ``worker``
        runs now (their working directory is under its work dir)."""
        return executor_pids(self.worker_dirs[worker])

    def stop(self) -> None:
        """Kill every process group this cluster started (workers first: their executors and
        Python workers are in their group), and wait for them."""
        for p in reversed(self.procs):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    p.wait(timeout=3)
                    break
                except subprocess.TimeoutExpired:
                    continue
            p.wait()
        for wdir in self.worker_dirs:          # an executor that left its worker's group
            for pid in executor_pids(wdir):
                _kill(pid)
        self.procs.clear()


def executor_pids(worker_dir: Path) -> list[int]:
    """Executor JVMs whose working directory lies under ``worker_dir``."""
    out = []
    root = str(Path(worker_dir).resolve())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            if b"CoarseGrainedExecutorBackend" not in cmd:
                continue
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            out.append(int(proc.name))
    return sorted(out)


def executor_id(pid: int) -> str | None:
    """The ``--executor-id`` of an executor JVM."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    for a, b in zip(args, args[1:]):
        if a == b"--executor-id":
            return b.decode()
    return None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def work_dir_of(path: str, worker_dirs: list[Path]) -> int | None:
    """Which worker's work directory ``path`` lies in (None: in none of them)."""
    real = os.path.realpath(path)
    for i, wdir in enumerate(worker_dirs):
        if re.match(re.escape(str(Path(wdir).resolve())) + r"(/|$)", real):
            return i
    return None


# --- the Hail driver (run in its own process) ----------------------------------------------

def run_driver(spec: dict, root: Path, *, wait: bool = True) -> subprocess.Popen | dict:
    """Start the driver on ``spec`` (see :func:`drive`) in its own process group; with
    ``wait``, wait for it and return its JSON result (RuntimeError with its log if it failed)."""
    spec_path = root / f"driver-{spec['name']}.json"
    spec = dict(spec, out=str(root / f"result-{spec['name']}.json"))
    spec_path.write_text(json.dumps(spec))
    log = open(root / f"driver-{spec['name']}.log", "wb")
    proc = subprocess.Popen([sys.executable, __file__, str(spec_path)], stdout=subprocess.PIPE,
                            stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                            env=dict(os.environ, PYSPARK_PYTHON=sys.executable,
                                     SPARK_LOCAL_IP="127.0.0.1"))
    proc.log_path = root / f"driver-{spec['name']}.log"
    proc.out_path = Path(spec["out"])
    if not wait:
        return proc
    try:
        proc.communicate()
    except BaseException:                # a test timeout: the driver and its JVM go too
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"driver {spec['name']} exited {proc.returncode}:\n"
                           + "\n".join(proc.log_path.read_text(errors="replace")
                                       .splitlines()[-40:]))
    return json.loads(proc.out_path.read_text())


def drive(spec: dict) -> None:
    """Run ``spec['jobs']`` in order in one Hail session on ``spec['master']`` (a driver start
    costs tens of seconds on a busy host; the jobs share it).

    Keys of ``spec``: master, tmp_dir, jobs.  A job is a dict with a ``name`` and a ``kind``:

    * ``score`` (default): ``score_table`` over ``vcf`` (rows with ``pos < max_pos`` and every
      ``every``-th row, if given)
      with reference, annotation, model, n_partitions, ship_files, cache (a path or None);
      kill_worker_dirs + kill_worker + after_tasks (kill that worker's executor mid-stage),
      announce (print SCORING mid-stage).  Result: rows, to_score, scored, opened (what the
      executors opened), killed.
    * ``precompute``: ``precompute_table`` over ``region`` into ``output`` and ``vcf_dir``
      (chunk_bp, n_partitions).  Result: variants, scored, partitions, rows, shards, opened.

    Writes ``spec['out']``: app_id, master and each job's result under its name."""
    import hail as hl

    hl.init(master=spec["master"], quiet=True, tmp_dir=spec["tmp_dir"],
            local_tmpdir=spec["tmp_dir"], app_name=f"seqscore-{spec['name']}",
            spark_conf={"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
                        "spark.executor.memory": "768m", "spark.cores.max": "2",
                        "spark.task.maxFailures": "4", "spark.ui.enabled": "false"})
    sc = hl.spark_context()
    result = {"app_id": sc.applicationId, "master": sc.master, "jobs": {}}
    for job in spec["jobs"]:
        run = _precompute if job.get("kind") == "precompute" else _score
        result["jobs"][job["name"]] = run(sc, job)
    Path(spec["out"]).write_text(json.dumps(result))
    # no hl.stop() (~10 s): the driver JVM ends with this process, and the master then
    # releases the application's executors, as when a driver is killed


def _score(sc, job: dict) -> dict:
    import hail as hl

    from hail_seqscore import ScoreCache, ScoreStats, score_table

    mt = hl.import_vcf(job["vcf"], reference_genome="GRCh38",
                       contig_recoding={"21": "chr21"})
    if job.get("max_pos"):
        mt = mt.filter_rows(mt.locus.position < job["max_pos"])
    if job.get("every"):                # every n-th record, from the first
        mt = mt.add_row_index()
        mt = mt.filter_rows(mt.row_idx % job["every"] == 0).drop("row_idx")
    stats = ScoreStats()
    killed: dict = {}
    watcher = threading.Thread(target=_watch, args=(sc, job, killed), daemon=True)
    watcher.start()
    out = score_table(mt, model=job["model"], reference=job["reference"],
                      annotation=job["annotation"], distance=50, mask=False,
                      n_partitions=job["n_partitions"], ship_files=job.get("ship_files"),
                      cache=ScoreCache(job["cache"]) if job.get("cache") else None,
                      stats=stats)
    rows = out.rows().collect()
    killed["done"] = True
    watcher.join()
    if "stage" in killed:              # the worker relaunched an executor
        killed["executors_after"] = [executor_pids(Path(d)) for d in job["kill_worker_dirs"]]
    return {
        "rows": [[r.locus.contig, r.locus.position, list(r.alleles),
                  {"scores": [dict(s) for s in r.seqscore.scores], "max_ds": r.seqscore.max_ds,
                   "reason_code": r.seqscore.reason_code}] for r in rows],
        "to_score": stats.to_score, "scored": stats.scored,
        "opened": sorted(map(list, stats.opened)), "killed": killed,
    }


def _precompute(sc, job: dict) -> dict:
    from hail_seqscore.hail.precompute import PrecomputeTableStats, precompute_table

    stats = PrecomputeTableStats()
    ht = precompute_table([job["region"]], reference=job["reference"],
                          annotation=job["annotation"], model=job["model"], mask=False,
                          output=job["output"], vcf_dir=job["vcf_dir"],
                          chunk_bp=job["chunk_bp"], n_partitions=job["n_partitions"],
                          stats=stats)
    return {"variants": stats.variants, "scored": stats.scored, "partitions": stats.partitions,
            "rows": ht.count(), "shards": stats.shards,
            "opened": sorted(map(list, stats.opened))}


def _watch(sc, spec: dict, state: dict) -> None:
    """Wait for the scoring stage (``n_partitions`` tasks) of job ``spec`` to have finished
    ``after_tasks`` tasks with others still running; then announce it, or kill the executor of
    worker ``kill_worker`` while it runs a task and follow the stage's attempts and failed
    tasks."""
    if not (spec.get("kill_worker_dirs") or spec.get("announce")):
        return
    tracker = sc.statusTracker()
    while not state.get("done"):
        for sid in tracker.getActiveStageIds():
            info = tracker.getStageInfo(sid)
            if (info is None or info.numTasks != spec["n_partitions"]
                    or info.numCompletedTasks < spec.get("after_tasks", 1)
                    or info.numActiveTasks == 0):
                continue
            if spec.get("announce"):
                print("SCORING", sid, info.numCompletedTasks, flush=True)
                return
            wdir = Path(spec["kill_worker_dirs"][spec["kill_worker"]])
            pids = [p for p in executor_pids(wdir) if executor_id(p) in _busy_executors(sc)]
            if not pids:
                continue
            state.update(pid=pids[0], executor_id=executor_id(pids[0]),
                         worker=spec["kill_worker"], stage=sid,
                         tasks_done=info.numCompletedTasks, tasks=info.numTasks)
            _kill(pids[0])
            _follow(tracker, sid, state)
            return
        time.sleep(0.05)


def _busy_executors(sc) -> set[str]:
    """Ids of the executors running a task now (Spark's status store, through py4j)."""
    seq = sc._jsc.sc().statusStore().executorList(True)
    return {str(e.id()) for e in (seq.apply(i) for i in range(seq.size()))
            if e.activeTasks() > 0}


def _follow(tracker, sid: int, state: dict) -> None:
    """Record the stage's failed tasks and attempts until the job is done."""
    state.update(failed_tasks=0, attempts=0)
    while not state.get("done"):
        info = tracker.getStageInfo(sid)
        if info is not None:
            state["attempts"] = max(state["attempts"], info.currentAttemptId + 1)
            if info.currentAttemptId == 0:
                state["failed_tasks"] = max(state["failed_tasks"], info.numFailedTasks)
        time.sleep(0.05)


if __name__ == "__main__":
    drive(json.loads(Path(sys.argv[1]).read_text()))
