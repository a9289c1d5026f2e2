"""Track models' speed (issue #13, item 6): Puffin, and full-size Enformer and Basenji2 with
random weights, each against kipoi-veff-style scoring of the same ONNX graph in the same run.

* **seqscore**: the whole ``seqscore score --model M`` command (start-up included), as a user
  runs it; its start-up alone is the same command on one record whose REF does not match (the
  model is loaded, nothing is predicted).
* **one window** (the baseline, written here with onnxruntime directly and
  :func:`hail_seqscore.encode.one_hot`): what kipoi-veff does with a sequence model — per variant
  one REF and one ALT window (any-length models: the variant ± radius plus the model's context;
  fixed-length ones: the input length with the variant's base at its centre), batch 1, nothing
  shared — and the same reduction, in numpy of its own.  Its cost per variant is constant, so on
  the dense set and for the full-size models it scores a spread subset of the same variants.
  Its effects are compared with those seqscore writes (4 significant digits; ``--tracks all``),
  and for Puffin also with the engine's unrounded ones (≤ 1e-5).

Full-size Enformer (enformer-pytorch's published configuration: 196,608 bp in, 896 bins of
128 bp, 5,313 human tracks) and Basenji2 (basenji2-pytorch's ``basenji2_params``: 131,072 bp,
896 bins of 128 bp, 5,313 tracks) are made with random weights by those ports and saved in their
own formats (``save_pretrained`` folder; state dict), their BatchNorm statistics set from one
random window (see :func:`calibrate`), then exported with ``seqscore export enformer|basenji2
--from … --out …`` (wall time and peak RSS of that command from ``os.wait4``, ONNX size).  Needs
the ``test`` extra (enformer-pytorch, basenji2-pytorch).

FLOPs per window are counted from the exported ONNX graph: onnxruntime's symbolic shape
inference (``onnxruntime.tools.symbolic_shape_infer``) at the window's length, then 2 ×
multiply-adds of every Conv, ConvTranspose, MatMul, Gemm and Einsum node (element-wise ops,
norms and softmax are left out).  The CPU's peak is a 4096² float32 numpy matmul on 2 threads,
best of 5, measured at the start, before each full-size model and at the end (the best is used).
Shares of the peak are printed per wall second and per CPU-second of the scoring process; only
the latter is steady on a shared machine (the tables use it).

Every command and the baseline run as child processes of this one, under ``nice`` (the script
renices itself to 5).  This is a benchmark, not a test (never run it from the test suite): 23.5
min with the load average at 7–10 on 2 cores, most of it Enformer's export (8 min) and windows
(~1.5 min each under that load); ``seqscore score`` with Enformer peaks at ~10 GB of RAM.
Weights and ONNX files go under ``--work`` (default: a new /tmp directory, removed unless
``--keep``); never commit them.

    nice -n 5 .venv/bin/python benchmarks/bench_tracks.py [--parts puffin,basenji2,enformer]
        [--basenji2-n 4] [--enformer-n 2] [--work DIR] [--keep]
    .venv/bin/python benchmarks/bench_tracks.py flops MODEL.onnx LENGTH    # one graph's count
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from realdata import DATA, ROOT, read_vcf

from hail_seqscore.records import Variant  # noqa: E402

FASTA = DATA / "chr21.fa.gz"
PUFFIN_WEIGHTS = ROOT.parent / "shared" / "weights" / "puffin" / "puffin.pth"
#: 1 kb centred on MRPL39's TSS (gene on '-', TX_END 25,607,517 in genes.grch38.spliceai.txt)
DENSE = ("21", 25_607_018, 25_608_017)
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=21,length=46709983>\n" \
         "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
PY = sys.executable
SEQSCORE = str(Path(PY).parent / "seqscore")
ME = str(Path(__file__).resolve())


# ---- child processes, timed with their peak RSS -------------------------------------------

class Ran(NamedTuple):
    wall: float          # seconds
    cpu: float           # user + system CPU seconds of the process (all its threads)
    rss: float           # peak resident set, GB


def run(cmd: list[str], log: Path) -> Ran:
    """Run ``cmd`` (stdout+stderr to ``log``), timed; exits on error."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed ({os.waitstatus_to_exitcode(status)}): {' '.join(cmd)}\n"
                 f"{log.read_text()[-3000:]}")
    return Ran(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024 ** 2)   # KiB


def peak_gflops(threads: int, n: int = 4096, repeats: int = 5) -> tuple[float, float]:
    """(GFLOP/s, GFLOP per CPU-second) of a float32 numpy matmul on ``threads`` threads."""
    code = ("import time, numpy as np\n"
            f"r = np.random.default_rng(0); a = r.random(({n}, {n}), dtype=np.float32); "
            "b = r.random(a.shape, dtype=np.float32); a @ b; w = c = 1e9\n"
            f"for _ in range({repeats}):\n"
            "    t, p = time.perf_counter(), time.process_time(); a @ b\n"
            "    w, c = min(w, time.perf_counter() - t), min(c, time.process_time() - p)\n"
            f"print(2 * {n} ** 3 / w / 1e9, 2 * {n} ** 3 / c / 1e9)")
    env = dict(os.environ, **{k: str(threads) for k in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    out = subprocess.run([PY, "-c", code], env=env, capture_output=True, text=True, check=True)
    wall, cpu = map(float, out.stdout.split())
    return wall, cpu


class Peak:
    """The best of the run's peak measurements (the machine is shared: each is a sample)."""

    def __init__(self, threads: int):
        self.threads, self.wall, self.cpu = threads, 0.0, 0.0

    def measure(self, when: str) -> None:
        wall, cpu = peak_gflops(self.threads)
        self.wall, self.cpu = max(self.wall, wall), max(self.cpu, cpu)
        print(f"CPU peak {when} (float32 4096^2 numpy matmul, {self.threads} threads, best of "
              f"5): {wall:.0f} GFLOP/s, {cpu:.0f} GFLOP per CPU-second; {load_note()}",
              flush=True)

    def share(self, flops: float, wall: float, cpu: float) -> str:
        return (f"{flops / wall / 1e9:.0f} GFLOP/s = {flops / wall / 1e9 / self.wall:.0%} of "
                f"peak; {flops / cpu / 1e9:.0f} GFLOP per CPU-s = "
                f"{flops / cpu / 1e9 / self.cpu:.0%} of peak")


def load_note() -> str:
    one, five, _ = os.getloadavg()
    cores = os.cpu_count() or 1
    note = f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {cores} cores"
    return note + (": HIGH — other jobs share the CPU, times are noisy" if five > cores else "")


# ---- FLOPs from the ONNX graph --------------------------------------------------------------

def graph_flops(path: Path, length: int) -> dict:
    """Conv/ConvTranspose/MatMul/Gemm/Einsum FLOPs of one window of ``length`` bases."""
    import onnx  # noqa: PLC0415
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference  # noqa: PLC0415

    model = onnx.load(str(path))
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    for t in model.graph.initializer:       # keep the dims, drop big weights' bytes
        if len(t.raw_data) > 1 << 16:
            t.ClearField("raw_data")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for d, v in zip(dims, (1, length, 4)):
        d.ClearField("dim_param")
        d.dim_value = v
    model = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    for vi in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        dd = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dd]

    def shape(name):
        s = shapes.get(name)
        return None if s is None or None in s else s

    total, by_op, unknown = 0.0, {}, 0
    for node in model.graph.node:
        op = node.op_type
        if op not in ("Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum"):
            continue
        ins = [shape(i) for i in node.input[:2]]
        out = shape(node.output[0])
        if out is None or None in ins:
            unknown += 1
            continue
        if op == "Conv":
            f = 2 * np.prod(out) * np.prod(ins[1][1:])
        elif op == "ConvTranspose":
            f = 2 * np.prod(ins[0]) * np.prod(ins[1][1:])
        elif op == "MatMul":
            f = 2 * np.prod(out) * ins[0][-1]
        elif op == "Gemm":
            trans_a = any(a.name == "transA" and a.i for a in node.attribute)
            f = 2 * np.prod(out) * ins[0][0 if trans_a else 1]
        else:
            eq = next(a.s.decode() for a in node.attribute if a.name == "equation")
            sizes = {}
            for term, s in zip(eq.split("->")[0].split(","), ins):
                sizes.update(zip(term.strip(), s))
            f = 2 * np.prod(list(sizes.values()))
        total += float(f)
        by_op[op] = by_op.get(op, 0.0) + float(f)
    return {"flops": total, "by_op": by_op, "uncounted_nodes": unknown, "params": params}


# ---- the one-window baseline ----------------------------------------------------------------

def reduce_effects(ref: np.ndarray, alt: np.ndarray, how: str) -> np.ndarray:
    """[bins, T] REF and ALT of an SNV → [T], as kipoi-veff's scores reduce them."""
    r, a = ref.astype(np.float64), alt.astype(np.float64)
    if how == "diff":
        return a.sum(0) - r.sum(0)
    if how == "log2fc":
        return np.log2((a.sum(0) + 1.0) / (r.sum(0) + 1.0))
    d = a - r
    return d[np.argmax(np.abs(d), axis=0), np.arange(d.shape[1])]


def one_window(model: Path, vcf: Path, radius: int, reduction: str | None, threads: int,
               out: Path) -> None:
    """Score ``vcf``'s SNVs one REF + one ALT window each, batch 1; write effects to ``out``."""
    import onnxruntime as ort  # noqa: PLC0415
    import pyfaidx  # noqa: PLC0415

    from hail_seqscore.encode import one_hot  # noqa: PLC0415
    from hail_seqscore.models.spec import ModelSpec  # noqa: PLC0415

    start = time.perf_counter()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    spec = ModelSpec.from_metadata(sess.get_modelmeta().custom_metadata_map, source=str(model))
    genome = pyfaidx.Fasta(str(FASTA), as_raw=True, sequence_always_upper=True)
    how = reduction or spec.default_reduction
    variants = read_vcf(vcf)
    load_s = time.perf_counter() - start

    def fetch(contig: str, a: int, b: int) -> str:
        n = len(genome[contig])
        lo, hi = max(0, a), min(n, b)
        return "N" * (lo - a) + genome[contig][lo:hi] + "N" * (b - hi)

    def predict(seq: str) -> np.ndarray:
        x = one_hot(seq, spec.alphabet, spec.n_value)[None]
        return sess.run([spec.output_name], {spec.input_name: x})[0][0]

    start, cpu = time.perf_counter(), time.process_time()
    effects = []
    for v in variants:
        if len(v.ref) != 1 or len(v.alt) != 1:
            sys.exit(f"{v}: the baseline scores SNVs only")
        if spec.input_length:               # fixed length: centred, every bin reduced
            ws = v.start - spec.input_length // 2
            seq = fetch(v.contig, ws, ws + spec.input_length)
            cut = v.start - ws
        else:                               # any length: ± radius plus the context
            ws = v.start - radius - spec.offset
            seq = fetch(v.contig, ws, v.end + radius + spec.context - spec.offset)
            cut = radius + spec.offset
        alt_seq = seq[:cut] + v.alt.upper() + seq[cut + 1:]
        effects.append(reduce_effects(predict(seq), predict(alt_seq), how))
    run_s, run_cpu = time.perf_counter() - start, time.process_time() - cpu
    np.savez(out, effects=np.array(effects), pos=[v.pos for v in variants],
             alt=[v.alt for v in variants], load_s=load_s, run_s=run_s, run_cpu=run_cpu,
             windows=2 * len(variants))


# ---- seqscore's output ----------------------------------------------------------------------

def read_effects(vcf: Path, key: str) -> dict[tuple[int, str], list[str]]:
    """(pos, ALT) → the effect strings of every track (``--tracks all``), in track order."""
    got = {}
    for line in vcf.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        for entry in f[7].split(";"):
            if entry.startswith(key + "="):
                for item in entry[len(key) + 1:].split(","):
                    parts = item.split("|")
                    got[(int(f[1]), parts[0])] = [p.rsplit(":", 1)[1] for p in parts[2:]]
    return got


def compare(ours: dict, base: Path) -> tuple[str, bool]:
    """Every written value (4 significant digits) against the baseline's unrounded one: equal
    when within half the last digit's step plus 1e-5."""
    b = np.load(base)
    ok = total = 0
    worst = 0.0
    for pos, alt, row in zip(b["pos"], b["alt"], b["effects"]):
        strings = ours.get((int(pos), str(alt)))
        if strings is None or len(strings) != len(row):
            return f"{(int(pos), str(alt))} missing or not every track written", False
        for s, x in zip(strings, row):
            w = float(s)
            step = 10.0 ** (np.floor(np.log10(abs(w))) - 3) if w else 0.0
            total += 1
            ok += abs(w - x) <= 0.5 * step * 1.001 + 1e-5
            worst = max(worst, abs(w - x))
    return f"{ok:,}/{total:,} written values equal (max |diff| {worst:.1e})", ok == total


def write_vcf(path: Path, variants: list[Variant]) -> None:
    path.write_text(HEADER + "".join(f"{v.contig}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\t.\t.\n"
                                     for v in variants))


def dense_variants() -> list[Variant]:
    import pyfaidx  # noqa: PLC0415

    contig, start, end = DENSE
    seq = pyfaidx.Fasta(str(FASTA), as_raw=True, sequence_always_upper=True)[contig][start - 1:end]
    return [Variant(contig, start + i, b, a) for i, b in enumerate(seq) if b in "ACGT"
            for a in "ACGT" if a != b]


def mismatch_vcf(path: Path, pos: int) -> None:
    """One record whose REF does not match chr21 at ``pos``: the start-up time (the model is
    loaded, the record is written unscored)."""
    import pyfaidx  # noqa: PLC0415

    base = pyfaidx.Fasta(str(FASTA), as_raw=True, sequence_always_upper=True)["21"][pos - 1]
    ref = next(b for b in "ACGT" if b != base)
    write_vcf(path, [Variant("21", pos, ref, next(b for b in "ACGT" if b not in (base, ref)))])


# ---- the parts ------------------------------------------------------------------------------

def make_checkpoint(model: str, folder: Path) -> None:
    """A random-weight full-size model, saved by its port in the port's own format."""
    import copy  # noqa: PLC0415

    import torch  # noqa: PLC0415

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    if model == "enformer":
        from enformer_pytorch import Enformer  # noqa: PLC0415

        net = Enformer.from_hparams()              # the published configuration
        with torch.no_grad():                      # the port zero-initialises attention's to_out
            for name, p in net.named_parameters():
                if "to_out" in name:
                    p.normal_(0, 0.02)
    else:
        from basenji2_pytorch import Basenji2, basenji2_params  # noqa: PLC0415

        net = Basenji2(copy.deepcopy(basenji2_params["model"]))
    calibrate(net, model)
    if model == "enformer":
        net.save_pretrained(folder, safe_serialization=False)
    else:
        torch.save(net.state_dict(), folder / "basenji2.pth")
    print(f"{model}: {sum(p.numel() for p in net.parameters()):,} parameters, BatchNorm "
          f"statistics from one random window")


def calibrate(net, model: str) -> None:
    """Set every BatchNorm's running statistics to those of one random window's activations.
    With the ports' default initialisation each convolution shrinks its input's variance
    (about 3x), so the outputs barely depend on the sequence and every effect is float32 noise
    (~1e-6); with calibrated statistics each block passes on unit-scale activations and
    variant effects are of the size real ones are, so comparing them means something."""
    import torch  # noqa: PLC0415

    from export.tracks_onnx import random_one_hot  # noqa: PLC0415

    length = {"enformer": 196_608, "basenji2": 131_072}[model]
    x = torch.from_numpy(random_one_hot(1, length, seed=1))
    net.eval()
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None                          # cumulative: the window's own statistics
        m.train()
    with torch.no_grad():
        net(x, head="human") if model == "enformer" else net(x.transpose(1, 2))
    net.eval()


def child_flops(onnx_path: Path, length: int, work: Path) -> dict:
    log = work / f"{onnx_path.stem}.flops.json"
    run([PY, ME, "flops", str(onnx_path), str(length), "--json", str(log)],
        work / f"{onnx_path.stem}.flops.log")
    return json.loads(log.read_text())


def child_baseline(onnx_path: Path, variants: list[Variant], radius: int, threads: int,
                   work: Path, tag: str) -> dict:
    vcf, out = work / f"{tag}.baseline.vcf", work / f"{tag}.baseline.npz"
    write_vcf(vcf, variants)
    ran = run([PY, ME, "baseline", str(onnx_path), str(vcf), "--radius", str(radius),
               "--threads", str(threads), "--out", str(out)], work / f"{tag}.baseline.log")
    b = np.load(out)
    return {"path": out, "n": len(variants), "ran": ran, "load_s": float(b["load_s"]),
            "run_s": float(b["run_s"]), "run_cpu": float(b["run_cpu"]),
            "windows": int(b["windows"])}


def spread(items: list, n: int) -> list:
    """``n`` items spread evenly over ``items`` (all when n <= 0 or n >= len)."""
    if n <= 0 or n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def score_cmd(onnx_path: Path, vcf: Path, out: Path, a, *extra: str) -> list[str]:
    return [SEQSCORE, "score", "--model", str(onnx_path), "-I", str(vcf), "-O", str(out),
            "-R", str(FASTA), "--threads", str(a.threads), "-q", "--progress", "off", *extra]


def startup(onnx_path: Path, pos: int, a, work: Path, tag: str) -> Ran:
    mm = work / f"{tag}.mismatch.vcf"
    mismatch_vcf(mm, pos)
    return run(score_cmd(onnx_path, mm, work / f"{tag}.mismatch.out.vcf", a),
               work / f"{tag}.mismatch.log")


def puffin_part(a, work: Path, peak: Peak) -> list[str]:
    from hail_seqscore.engine import Engine, EngineConfig  # noqa: PLC0415

    onnx_path = work / "puffin.onnx"
    exp = run([SEQSCORE, "export", "puffin", "--from", str(a.puffin_weights),
               "--accept-licence", "--out", str(onnx_path), "--force"],
              work / "puffin.export.log")
    start = startup(onnx_path, DENSE[1], a, work, "puffin")
    length = 2 * a.distance + 1 + 650
    fl = child_flops(onnx_path, length, work)
    print(f"puffin: exported in {exp.wall:.1f} s; start-up of `seqscore score` "
          f"{start.wall:.1f} s; {fl['flops'] / 1e9:.3f} GFLOP per {length}-bp window "
          f"({fl['params']:,} parameters)", flush=True)
    dense = work / "dense.vcf"
    write_vcf(dense, dense_variants())
    sets = [("chr21 dbSNP SNVs (sparse)", DATA / "dbsnp_snvs.vcf", 0),
            (f"all SNVs of 21:{DENSE[1]:,}-{DENSE[2]:,} (dense, MRPL39 TSS)", dense,
             a.baseline_dense)]
    engine = Engine(EngineConfig(model=str(onnx_path), reference=str(FASTA),
                                 distance=a.distance, threads=a.threads))
    rows = []
    for label, vcf, n_base in sets:
        variants = read_vcf(vcf)
        n = len(variants)
        tag = "puffin." + vcf.stem
        out = work / f"{tag}.seqscore.vcf"
        ours = run(score_cmd(onnx_path, vcf, out, a, "-D", str(a.distance)),
                   work / f"{tag}.seqscore.log")
        picked = spread(variants, n_base)
        base = child_baseline(onnx_path, picked, a.distance, a.threads, work, tag)
        text, _ = compare(read_effects(out, "SeqScore_puffin"), base["path"])
        exact = np.array([r.scores[0].effects for r in engine.score(picked)])
        dmax = float(np.abs(exact - np.load(base["path"])["effects"]).max())
        if vcf == sets[0][1]:     # the same command, one REF window per variant
            win = run(score_cmd(onnx_path, vcf, work / f"{tag}.window.vcf", a, "-D",
                                str(a.distance), "--strategy", "window"),
                      work / f"{tag}.window.log")
            print(f"puffin / {label}: seqscore --strategy window {win.wall:.1f} s, "
                  f"{n / win.wall:.1f} variants/s", flush=True)
            rows.append(f"| puffin | {label}, `--strategy window` | {n:,} | {win.wall:.1f} | "
                        f"{n / win.wall:.1f} | | | | |")
        rate, steady = n / ours.wall, n / max(ours.wall - start.wall, 1e-9)
        b_rate = base["n"] / base["run_s"]
        share = peak.share(base["windows"] * fl["flops"], base["run_s"], base["run_cpu"])
        print(f"puffin / {label}: {n} SNVs\n"
              f"  seqscore   {ours.wall:6.1f} s  {rate:6.1f} variants/s ({steady:.1f} without "
              f"start-up)  peak RSS {ours.rss:.2f} GB\n"
              f"  one window {base['ran'].wall:6.1f} s for {base['n']} SNVs: {b_rate:.1f} "
              f"variants/s scoring ({base['load_s']:.1f} s loading; {base['windows']} windows, "
              f"{share})  peak RSS {base['ran'].rss:.2f} GB\n"
              f"  ratio {rate / b_rate:.2f}x (whole command vs scoring only; steady "
              f"{steady / b_rate:.2f}x); effects as written: {text}; unrounded (engine, "
              f"in-process) max |diff| {dmax:.1e} {'<=' if dmax <= 1e-5 else '>'} 1e-5",
              flush=True)
        rows.append(f"| puffin | {label} | {n:,} | {ours.wall:.1f} | **{rate:.1f}** | "
                    f"{base['n']:,} | {b_rate:.1f} | **{rate / b_rate:.2f}x** | {dmax:.1e}; "
                    f"{text} |")
    return rows


def fixed_part(name: str, a, work: Path, peak: Peak) -> dict:
    ckpt = work / f"{name}.checkpoint"
    made = run([PY, ME, "make", name, str(ckpt)], work / f"{name}.make.log")
    source = ckpt if name == "enformer" else ckpt / "basenji2.pth"
    onnx_path = work / f"{name}.onnx"
    exp = run([SEQSCORE, "export", name, "--from", str(source), "--out", str(onnx_path),
               "--force"], work / f"{name}.export.log")
    mb = onnx_path.stat().st_size / 1e6
    shutil.rmtree(ckpt, ignore_errors=True)
    length = {"enformer": 196_608, "basenji2": 131_072}[name]
    fl = child_flops(onnx_path, length, work)
    ops = ", ".join(f"{k} {v / 1e9:,.1f}" for k, v in fl["by_op"].items())
    print(f"{name}: checkpoint made in {made.wall:.0f} s "
          f"({(work / f'{name}.make.log').read_text().strip()}); export {exp.wall:.0f} s, "
          f"peak RSS {exp.rss:.1f} GB, ONNX {mb:,.0f} MB; {fl['flops'] / 1e9:,.1f} GFLOP per "
          f"{length:,}-bp window ({ops}; {fl['uncounted_nodes']} nodes without shapes)",
          flush=True)
    variants = spread(read_vcf(DATA / "dbsnp_snvs.vcf"), getattr(a, f"{name}_n"))
    n = len(variants)
    vcf = work / f"{name}.variants.vcf"
    write_vcf(vcf, variants)
    start = startup(onnx_path, variants[0].pos, a, work, name)
    out = work / f"{name}.seqscore.vcf"
    ours = run(score_cmd(onnx_path, vcf, out, a, "--tracks", "all"),
               work / f"{name}.seqscore.log")
    picked = spread(variants, max(1, round(n * a.baseline_fixed)))
    base = child_baseline(onnx_path, picked, 0, a.threads, work, name)
    text, _ = compare(read_effects(out, "SeqScore_" + name), base["path"])
    w_ours = n + len({v.pos for v in variants})       # ALT windows + REF windows (per position)
    steady, steady_cpu = ours.wall - start.wall, ours.cpu - start.cpu
    b_per = base["run_s"] / base["n"]
    print(f"{name}: {n} dbSNP SNVs\n"
          f"  seqscore   {ours.wall:6.1f} s = {ours.wall / n:.1f} s/variant ({steady / n:.1f} "
          f"without its {start.wall:.1f} s start-up; {w_ours} windows, "
          f"{peak.share(w_ours * fl['flops'], steady, steady_cpu)})  peak RSS {ours.rss:.1f} GB "
          f"(start-up alone {start.rss:.1f} GB)\n"
          f"  one window {base['ran'].wall:6.1f} s for {base['n']} SNVs: {b_per:.1f} s/variant "
          f"scoring ({base['load_s']:.1f} s loading; {base['windows']} windows, "
          f"{peak.share(base['windows'] * fl['flops'], base['run_s'], base['run_cpu'])})  "
          f"peak RSS {base['ran'].rss:.1f} GB\n"
          f"  ratio {b_per / (ours.wall / n):.2f}x (whole command vs scoring only; steady "
          f"{b_per / (steady / n):.2f}x); effects of all tracks as written: {text}", flush=True)
    return {"name": name, "params": fl["params"], "mb": mb, "exp": exp, "gf": fl["flops"] / 1e9,
            "n": n, "ours": ours, "steady": steady, "b_per": b_per, "text": text,
            "cpu_ours": w_ours * fl["flops"] / 1e9 / steady_cpu,
            "cpu_base": base["windows"] * fl["flops"] / 1e9 / base["run_cpu"],
            "rss_base": base["ran"].rss}


def fixed_row(r: dict, peak: Peak) -> str:
    return (f"| {r['name']} | {r['params'] / 1e6:.1f} M | {r['mb']:,.0f} MB | "
            f"{r['exp'].wall:.0f} s / {r['exp'].rss:.1f} GB | {r['gf']:,.0f} | "
            f"{r['ours'].wall / r['n']:.1f} ({r['steady'] / r['n']:.1f}) | {r['b_per']:.1f} | "
            f"{r['b_per'] / (r['ours'].wall / r['n']):.2f}x | {r['cpu_ours'] / peak.cpu:.0%} / "
            f"{r['cpu_base'] / peak.cpu:.0%} | {r['ours'].rss:.1f} / {r['rss_base']:.1f} GB | "
            f"{r['text']} |")


def bench(a) -> int:
    if os.nice(0) < 5:
        os.nice(5 - os.nice(0))
    if not DATA.is_dir():
        sys.exit(f"shared data not found at {DATA}")
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="bench-tracks-"))
    work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    print(f"niceness {os.nice(0)}; work dir {work}", flush=True)
    peak = Peak(a.threads)
    peak.measure("at the start")
    parts = a.parts.split(",")
    rows = puffin_part(a, work, peak) if "puffin" in parts else []
    fixed = []
    for name in (p for p in parts if p in ("basenji2", "enformer")):
        peak.measure(f"before {name}")
        fixed.append(fixed_part(name, a, work, peak))
    peak.measure("at the end")
    print(f"\ntotal {time.perf_counter() - began:.0f} s; the tables' % of peak use the best "
          f"measurements: {peak.wall:.0f} GFLOP/s, {peak.cpu:.0f} GFLOP per CPU-second\n")
    if rows:
        print("| model | set | variants | seqscore s | variants/s | one window: variants | "
              "variants/s (scoring only) | ratio | effects vs one window: unrounded max "
              "\\|diff\\|; as written |\n|---|---|---:|---:|---:|---:|---:|---:|---|")
        print("\n".join(rows).replace("|diff|", "\\|diff\\|"))
    if fixed:
        print(f"\n| model | parameters | ONNX | export: wall / peak RSS | GFLOP per window "
              f"| seqscore s/variant (steady) | one window s/variant (scoring only) | ratio "
              f"| % of peak per CPU-s ({peak.cpu:.0f} GFLOP): seqscore / one window | peak "
              f"RSS: seqscore / one window | effects vs one window |\n|---|---:|---:|---:|---:|"
              f"---:|---:|---:|---:|---:|---|")
        print("\n".join(fixed_row(r, peak) for r in fixed).replace("|diff|", "\\|diff\\|"))
    if not a.keep and not a.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="step")
    b = sub.add_parser("bench", help="the benchmark (default)")
    f = sub.add_parser("flops", help="FLOPs of one window of an exported tracks graph")
    f.add_argument("onnx", type=Path)
    f.add_argument("length", type=int)
    f.add_argument("--json", type=Path)
    m = sub.add_parser("make", help="a random-weight full-size checkpoint in the port's format")
    m.add_argument("model", choices=("enformer", "basenji2"))
    m.add_argument("folder", type=Path)
    o = sub.add_parser("baseline", help="one-window scoring of a VCF's SNVs")
    o.add_argument("onnx", type=Path)
    o.add_argument("vcf", type=Path)
    o.add_argument("--radius", type=int, default=50)
    o.add_argument("--reduction")
    o.add_argument("--threads", type=int, default=2)
    o.add_argument("--out", type=Path, required=True)
    b.add_argument("--parts", default="puffin,basenji2,enformer")
    b.add_argument("--basenji2-n", type=int, default=4, help="dbSNP SNVs Basenji2 scores")
    b.add_argument("--enformer-n", type=int, default=2,
                   help="dbSNP SNVs Enformer scores (~1.5 min per window on this CPU under load)")
    b.add_argument("--baseline-dense", type=int, default=600,
                   help="dense Puffin SNVs the baseline scores, spread over the set (its cost "
                        "per variant is constant: nothing is shared); 0 = all")
    b.add_argument("--baseline-fixed", type=float, default=0.5,
                   help="the share of Enformer's and Basenji2's SNVs that the baseline scores "
                        "(at least one; its cost per variant is constant: two windows)")
    b.add_argument("--distance", "-D", type=int, default=50, help="Puffin's -D (radius)")
    b.add_argument("--threads", type=int, default=2, help="onnxruntime threads of both sides")
    b.add_argument("--puffin-weights", type=Path, default=PUFFIN_WEIGHTS)
    b.add_argument("--work", help="keep everything in this directory")
    b.add_argument("--keep", action="store_true", help="keep the temporary directory")
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in sub.choices and argv[0] not in ("-h", "--help"):
        argv = ["bench", *argv]
    a = ap.parse_args(argv)
    if a.step == "flops":
        res = graph_flops(a.onnx, a.length)
        print(json.dumps(res))
        if a.json:
            a.json.write_text(json.dumps(res))
    elif a.step == "make":
        make_checkpoint(a.model, a.folder)
    elif a.step == "baseline":
        one_window(a.onnx, a.vcf, a.radius, a.reduction, a.threads, a.out)
    else:
        return bench(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
