"""Parity of the OpenSpliceAI and Pangolin exports with the independent numpy forward pass.

``python -m export.parity_torch [--models openspliceai,pangolin] [--lengths 10001,10101,15000]``
exports each model (all members, into a temporary folder unless ``--out``), runs the ONNX graph
and the chained split graphs (``NAME.trunk0..5.onnx`` → ``NAME.head.onnx``) on real chr21
windows — centred on a real acceptor, and reverse-complemented around a real donor — and
compares them with :mod:`export.reference_torch` (float64, the originals' same-padded form, the
original state dicts under their own names).  It prints export time, ONNX size and max |Δ|
per length (Pangolin: over ``y`` and over each member's own output ``y_members``).  The tests
(``tests/test_export_openspliceai.py``, ``test_export_pangolin.py``) run the same comparison
on fewer members and lengths.

Measured (2-core shared CPU, torch 2.13, onnxruntime CPU; all members, both windows per length):

=============  =======  =================  ===============================================
model          export   model + split      max |ONNX − ref| at L = 10,001 / 10,101 / 12,001
                                           / 15,000; split chain − single graph
=============  =======  =================  ===============================================
openspliceai   3.1 s    14.2 + 14.2 MB     1.1e-8 / 1.2e-7 / 1.2e-7 / 1.2e-7; 0 (bitwise)
pangolin       10.1 s   34.0 + 34.0 MB     1.3e-7 / 1.5e-7 / 2.1e-7 / 3.3e-7; 0 (bitwise)
=============  =======  =================  ===============================================
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from . import reference_torch
from .torch_state import read_state_dict

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
WEIGHTS = {"openspliceai": SHARED / "weights" / "openspliceai-mane-10000nt",
           "pangolin": SHARED / "weights" / "pangolin"}
FASTA = SHARED / "data" / "grch38_chr21" / "chr21.fa.gz"
#: real chr21 splice sites (0-based): an acceptor (forward windows) and a donor of another gene
#: region (reverse-complemented windows)
SITE_FWD, SITE_RC = 25_705_978, 25_758_203
TOL = 1e-5


def one_hot(seq: str) -> np.ndarray:
    lut = np.zeros((256, 4), dtype=np.float32)
    for i, base in enumerate("ACGT"):
        lut[ord(base)] = lut[ord(base.lower())] = np.eye(4, dtype=np.float32)[i]
    return lut[np.frombuffer(seq.encode(), dtype=np.uint8)]


def real_windows(length: int, fasta: Path = FASTA, both: bool = True) -> np.ndarray:
    """``[2, length, 4]``: chr21 around the acceptor, and the reverse complement around the
    donor (``both``, else only the first); each site is the central output position."""
    from pyfaidx import Fasta  # noqa: PLC0415

    rows = []
    with Fasta(str(fasta)) as fa:
        for site, rc in ((SITE_FWD, False), (SITE_RC, True))[:2 if both else 1]:
            start = site - 5_000 - (length - 10_001) // 2
            x = one_hot(str(fa["21"][start:start + length]))
            rows.append(x[::-1, ::-1].copy() if rc else x)
    return np.stack(rows)


def reference(name: str, files: list[Path], members: list[int],
              x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The numpy reference of the members ``members`` (indices into the pinned ``files``),
    combined as the original CLI combines them; and for Pangolin the members' own values."""
    states = [read_state_dict(files[i]) for i in members]
    if name == "openspliceai":
        return reference_torch.openspliceai_forward(states, x), None
    from .pangolin import member_files  # noqa: PLC0415

    tissues = [member_files()[i][1] for i in members]
    each = reference_torch.pangolin_members(states, tissues, x)
    return reference_torch.pangolin_forward(states, tissues, x, each), each


def run_split(path: Path, x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
    """The chained trunk-stage and head graphs over the whole window (as the engine would on a
    REF tile): ``[N, L, 4]`` → ``outputs`` (``y``: ``[N, L - 10000, C]``, …)."""
    from hail_seqscore.models.registry import split_paths  # noqa: PLC0415
    from hail_seqscore.models.session import ModelSession  # noqa: PLC0415

    from .split import HEAD_HALF, STAGE_UNITS  # noqa: PLC0415

    stages, head = split_paths(path, len(STAGE_UNITS))
    cpu = {"providers": ["CPUExecutionProvider"]}
    h, s = ModelSession(stages[0], **cpu).run(["h", "s"], {"x": x})
    for p in stages[1:]:
        h, s = ModelSession(p, **cpu).run(["h", "s"], {"h_in": h, "s_in": s})
    return ModelSession(head, **cpu).run(outputs, {"h": h,
                                                   "s": s[..., HEAD_HALF:s.shape[-1] - HEAD_HALF]})


def compare(name: str, onnx_path: Path, files: list[Path], members: list[int],
            lengths: list[int], split: bool = True, both: bool = True) -> list[dict]:
    """Max |ONNX − reference| (and |split chain − ONNX|) per length, on both real windows
    (or, without ``both``, the forward one)."""
    from hail_seqscore.models.session import ModelSession  # noqa: PLC0415

    from hail_seqscore.models.spec import MEMBER_OUTPUT  # noqa: PLC0415

    session = ModelSession(onnx_path, providers=["CPUExecutionProvider"])
    outputs = ["y"] + ([MEMBER_OUTPUT] if session.spec.member_channels else [])
    rows = []
    for length in lengths:
        x = real_windows(length, both=both)
        got = session.run(outputs, {"x": x})
        ref, each = reference(name, files, members, x)
        diff = float(np.abs(got[0] - ref).max())
        if each is not None:        # y_members: every member's own P(splice)
            diff = max(diff, float(np.abs(got[1] - each).max()))
        row = {"length": length, "shape": got[0].shape, "max_abs": diff,
               "max_value": float(ref.max())}
        if split:
            chained = run_split(onnx_path, x, outputs)
            row["split_max_abs"] = max(float(np.abs(c - g).max()) for c, g in zip(chained, got))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    from hail_seqscore.models.registry import known_model  # noqa: PLC0415

    from .onnx_export import export_model  # noqa: PLC0415
    from .sources import weight_files  # noqa: PLC0415

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="openspliceai,pangolin")
    ap.add_argument("--lengths", default="10001,10101,15000")
    ap.add_argument("--out", help="folder for the exports (default: a temporary one)")
    args = ap.parse_args(argv)
    lengths = [int(v) for v in args.lengths.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(args.out or tmp)
        for name in args.models.split(","):
            files = weight_files(known_model(name), WEIGHTS[name])
            res = export_model(name, out_dir / f"{name}.onnx", source=WEIGHTS[name], force=True)
            sizes = {p.name: p.stat().st_size for p in out_dir.glob(f"{name}.*onnx")}
            print(f"{name}: exported in {res.seconds:.1f} s; {res.path.name} "
                  f"{sizes[res.path.name] / 1e6:.1f} MB, split graphs "
                  f"{(sum(sizes.values()) - sizes[res.path.name]) / 1e6:.1f} MB")
            start = time.perf_counter()
            rows = compare(name, res.path, files, list(res.members), lengths)
            for r in rows:
                flag = "ok" if r["max_abs"] <= TOL and r["split_max_abs"] <= TOL else "FAIL"
                print(f"  L={r['length']:>6} out {r['shape']}: max|ONNX-ref| {r['max_abs']:.2e}"
                      f"  max|split-ONNX| {r['split_max_abs']:.2e}  (max prob "
                      f"{r['max_value']:.3f}) {flag}")
            print(f"  reference + comparison: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
