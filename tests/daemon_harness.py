"""Start and stop a real ``seqscore serve`` process on a free loopback port (tests, benchmarks).

Also writes a tiny reference and gene table so the daemon tests need no shared data:
contig ``1`` of 6 kb random sequence with one plus-strand gene ``TOY1`` (exons at 1.5–2 kb,
3–3.5 kb and 4.5–5 kb).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hail_seqscore.client import Client  # noqa: E402
from hail_seqscore.records import Variant  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
TOY_CONTIG_LEN = 6000


def write_toy_genome(directory: Path) -> tuple[Path, Path, str]:
    """(fasta, gene table, sequence) of a 6-kb contig ``1`` with one gene."""
    directory.mkdir(parents=True, exist_ok=True)
    seq = "".join(np.random.default_rng(7).choice(list("ACGT"), TOY_CONTIG_LEN))
    fasta = directory / "toy.fa"
    fasta.write_text(">1\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
    genes = directory / "toy_genes.txt"
    genes.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
                     "TOY1\t1\t+\t1500\t5000\t1500,3000,4500,\t2000,3500,5000,\n")
    return fasta, genes, seq


def toy_world(directory: Path) -> dict:
    """The toy model and genome of the daemon tests: ``{model, fasta, genes, seq, dir}``."""
    from toy_models import build_toy_model  # noqa: PLC0415

    model = build_toy_model(directory / "toy.onnx")
    fasta, genes, seq = write_toy_genome(directory)
    return {"model": model, "fasta": fasta, "genes": genes, "seq": seq, "dir": directory}


def toy_variants(seq: str, n: int, start: int = 1600, step: int = 7) -> list[Variant]:
    """``n`` distinct SNVs inside TOY1 with the right REF."""
    out = []
    for i in range(n):
        pos = start + (i * step) % 3300
        ref = seq[pos - 1]
        alt = "ACGT"[("ACGT".index(ref) + 1 + i // 3300) % 4]
        out.append(Variant("1", pos, ref, alt))
    return out


class Daemon:
    """``with Daemon([...serve args...]) as d: d.client().score(...)``."""

    def __init__(self, args: list[str], *, env: dict | None = None, wait_ready: bool = True,
                 startup_timeout: float = 120.0):
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.wait = wait_ready
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.stderr: list[str] = []
        self.url = ""

    def start(self) -> "Daemon":
        cmd = [sys.executable, "-m", "hail_seqscore", "serve", "--port", "0", *self.args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        listening = threading.Event()

        def drain():
            for line in self.proc.stderr:  # type: ignore[union-attr]
                self.stderr.append(line)
                if "listening on " in line:
                    self.url = line.split("listening on ", 1)[1].split()[0]
                    listening.set()
            listening.set()

        threading.Thread(target=drain, daemon=True).start()
        if not listening.wait(self.startup_timeout) or not self.url:
            self.stop()
            raise RuntimeError("daemon did not start:\n" + "".join(self.stderr))
        if self.wait:
            self.client().wait_ready(self.startup_timeout)
        return self

    def client(self, **kw) -> Client:
        return Client(self.url, **kw)

    def signal(self, sig=signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def __enter__(self) -> "Daemon":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
