"""Full-size Enformer / Basenji2 exports from random weights in the ports' own formats.

    python -m export.fullsize_tracks make enformer|basenji2 DIR     # needs the test extra
    python -m export.fullsize_tracks export enformer|basenji2 DIR OUT.onnx
    python -m export.fullsize_tracks compare enformer|basenji2 DIR OUT.onnx

``make`` writes a random-weight checkpoint of the published architecture as the port writes it
(enformer-pytorch: ``save_pretrained`` folder; basenji2-pytorch: ``basenji2.pth``), ``export``
runs ``seqscore export`` on it (time it with ``/usr/bin/time -v`` for the peak memory), and
``compare`` runs the port's forward pass and the ONNX graph on one random window and prints the
largest difference.  The real weights are not reachable here; these figures are for their
size and cost, which random weights share.

Measured (2-core CPU shared with other jobs, load average ~7; torch 2.13, onnxruntime 1.32;
one run each, random weights of the published architectures):

==========  ===========  ========  =========  ===========  =================  ==============
model       parameters   export    ONNX       export peak  max |ONNX − port|  ONNX, 1 window
                         wall      size       RSS          (one window)       (first run)
==========  ===========  ========  =========  ===========  =================  ==============
enformer    251,221,292  652 s     1,009 MB   7.6 GB       6.0e-7 (max 1.19)  78.7 s
basenji2     30,088,228   50 s       121 MB   1.2 GB       1.2e-7 (max 0.71)   8.7 s
==========  ===========  ========  =========  ===========  =================  ==============

The export time includes its checks — the torch module and the written graph each run a batch
of two full windows (:mod:`export.tracks_onnx`) —, and the machine was busy: Enformer's CPU time
was 256 s user + 59 s system of the 652 s wall.  Enformer's parameters include both heads (human and mouse); its ONNX
file holds the trunk and the human head.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np


def make(model: str, folder: Path) -> None:
    import torch  # noqa: PLC0415

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    if model == "enformer":
        from enformer_pytorch import Enformer  # noqa: PLC0415

        net = Enformer.from_hparams()                 # the published configuration
        with torch.no_grad():                         # the port zero-initialises to_out
            for name, p in net.named_parameters():
                if "to_out" in name:
                    p.normal_(0, 0.02)
        net.save_pretrained(folder, safe_serialization=False)
    else:
        from basenji2_pytorch import Basenji2, basenji2_params  # noqa: PLC0415

        net = Basenji2(copy.deepcopy(basenji2_params["model"]))
        torch.save(net.state_dict(), folder / "basenji2.pth")
    print(f"{model}: {sum(p.numel() for p in net.parameters()):,} parameters → {folder}")


def export(model: str, folder: Path, out: Path) -> None:
    from hail_seqscore.cli import main  # noqa: PLC0415

    source = folder if model == "enformer" else folder / "basenji2.pth"
    start = time.perf_counter()
    code = main(["export", model, "--from", str(source), "--out", str(out), "--force"])
    print(f"{model}: exit {code}, {time.perf_counter() - start:.1f} s, "
          f"{out.stat().st_size / 1e6:.1f} MB")


def compare(model: str, folder: Path, out: Path) -> None:
    import torch  # noqa: PLC0415

    from hail_seqscore.models.session import ModelSession  # noqa: PLC0415

    from .tracks_onnx import random_one_hot  # noqa: PLC0415

    sess = ModelSession(out, providers=["CPUExecutionProvider"])
    x = random_one_hot(1, sess.spec.input_length, seed=11)
    start = time.perf_counter()
    got = sess.predict(x)
    onnx_s = time.perf_counter() - start
    if model == "enformer":
        from enformer_pytorch import Enformer  # noqa: PLC0415

        net = Enformer.from_pretrained(str(folder)).eval()
        with torch.no_grad():
            want = net(torch.from_numpy(x), head="human").numpy()
    else:
        from basenji2_pytorch import Basenji2, basenji2_params  # noqa: PLC0415

        net = Basenji2(copy.deepcopy(basenji2_params["model"]))
        net.load_state_dict(torch.load(folder / "basenji2.pth", weights_only=True))
        with torch.no_grad():
            want = net.eval()(torch.from_numpy(x).transpose(1, 2)).numpy()
    print(f"{model}: ONNX {got.shape} in {onnx_s:.1f} s; max|ONNX-port| "
          f"{float(np.abs(got - want).max()):.2e} (max {float(np.abs(want).max()):.3f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=("make", "export", "compare"))
    ap.add_argument("model", choices=("enformer", "basenji2"))
    ap.add_argument("folder", type=Path)
    ap.add_argument("out", type=Path, nargs="?")
    args = ap.parse_args(argv)
    if args.step == "make":
        make(args.model, args.folder)
    elif args.out is None:
        ap.error(f"{args.step} needs OUT.onnx")
    elif args.step == "export":
        export(args.model, args.folder, args.out)
    else:
        compare(args.model, args.folder, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
