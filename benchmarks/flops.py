"""FLOPs of SpliceAI-10k per scored variant, by engine strategy (pure arithmetic).

Counts multiply-adds x 2 of the convolutions (BatchNorm, ReLU, softmax and the 1x1 skips are
< 1% and left out), per ensemble member, for the valid-convolution graph that `seqscore export`
writes: every layer computes only the positions the kept outputs need.

    python benchmarks/flops.py [--distance 50] [--members 5] [--gflops 78]
"""

from __future__ import annotations

import argparse

GROUPS = ((11, 1), (11, 4), (21, 10), (41, 25))
UNITS, CH = 4, 32
CONTEXT = sum(2 * UNITS * (k - 1) * d for k, d in GROUPS)


def pass_flops(outputs: int) -> float:
    """One member's conv FLOPs for ``outputs`` kept positions (input = outputs + context)."""
    n = outputs + CONTEXT
    total = 2 * 4 * CH * n                      # 1x1 stem
    for k, d in GROUPS:
        for _ in range(2 * UNITS):
            n -= (k - 1) * d
            total += 2 * k * CH * CH * n
    return total + 2 * CH * 3 * outputs        # head


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--distance", type=int, default=50)
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("--gflops", type=float, default=78.0,
                    help="sustained conv GFLOP/s per CPU-second measured here (for the time column)")
    a = ap.parse_args()
    cov = 2 * a.distance + 1
    one = pass_flops(cov)
    per_pos = (pass_flops(cov + 10_000) - one) / 10_000
    print(f"context {CONTEXT}; one member pass at {cov + CONTEXT} bp: {one / 1e9:.2f} GFLOP; "
          f"each extra output position: {per_pos / 1e6:.2f} MFLOP")
    rows = [
        ("window (REF + ALT per variant)", 2 * one),
        ("tiled, 2 variants per 5 kb tile", one + pass_flops(5_000 + cov) / 2),
        ("tiled, dense (all SNVs, 3/base)", one + per_pos / 3),
    ]
    print(f"{'strategy':<36}{'GFLOP/variant':>15}{'CPU-s at ' + str(a.gflops) + ' GFLOP/s':>24}")
    for name, f in rows:
        f *= a.members
        print(f"{name:<36}{f / 1e9:>15.1f}{f / 1e9 / a.gflops:>24.2f}")


if __name__ == "__main__":
    main()
