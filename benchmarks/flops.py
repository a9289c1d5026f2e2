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


#: the trunk stages of export/split.py (residual-unit ranges) and the head's first unit
STAGE_UNITS = ((0, 8), (8, 9), (9, 10), (10, 11), (11, 12), (12, 13))
HEAD_FIRST = 13


def _unit_kd(u: int) -> tuple[int, int]:
    return GROUPS[u // UNITS]


def units_flops(n_in: int, a: int, b: int) -> float:
    """Conv FLOPs of residual units ``a``..``b-1`` on ``n_in`` input positions."""
    total, n = 0.0, n_in
    for u in range(a, b):
        k, d = _unit_kd(u)
        for _ in range(2):
            n -= (k - 1) * d
            total += 2 * k * CH * CH * n
    return total


def incremental_alt_flops(distance: int) -> tuple[float, list[tuple[str, float]]]:
    """One member's FLOPs for an SNV's ALT along the growing cone (hail_seqscore/incremental.py):
    each stage only where the ALT differs from the REF, the head only where outputs are kept."""
    parts, cum = [], 0
    for i, (a, b) in enumerate(STAGE_UNITS):
        half = sum((_unit_kd(u)[0] - 1) * _unit_kd(u)[1] for u in range(a, b))
        cum += half
        n_in = 2 * (cum + half) + 1           # outputs q ± cum, inputs q ± (cum + half)
        f = units_flops(n_in, a, b) + (2 * 4 * CH * n_in if i == 0 else 0)
        parts.append((f"stage {i} (units {a}-{b - 1}), {n_in} positions in", f))
    head_half = sum((_unit_kd(u)[0] - 1) * _unit_kd(u)[1] for u in range(HEAD_FIRST, 4 * UNITS))
    n_in = 2 * (distance + head_half) + 1
    parts.append((f"head (units {HEAD_FIRST}-15), {n_in} positions in",
                  units_flops(n_in, HEAD_FIRST, 4 * UNITS) + 2 * CH * 3 * (2 * distance + 1)))
    return sum(f for _, f in parts), parts


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
    inc, parts = incremental_alt_flops(a.distance)
    print(f"incremental SNV ALT, one member: {inc / 1e9:.2f} GFLOP "
          f"({inc / one:.0%} of a full ALT pass)")
    for name, f in parts:
        print(f"  {name:<44}{f / 1e9:>8.3f} GFLOP")
    rows = [
        ("window (REF + ALT per variant)", 2 * one),
        ("tiled, one variant per tile", 2 * one),
        ("incremental SNV, one per tile", one + inc),
        ("tiled, 2 variants per 5 kb tile", one + pass_flops(5_000 + cov) / 2),
        ("incremental SNV, 2 per 5 kb tile", inc + pass_flops(5_000 + cov) / 2),
        ("tiled, dense (all SNVs, 3/base)", one + per_pos / 3),
        ("incremental, dense SNVs (3/base)", inc + per_pos / 3),
    ]
    print(f"{'strategy':<36}{'GFLOP/variant':>15}{'CPU-s at ' + str(a.gflops) + ' GFLOP/s':>24}")
    for name, f in rows:
        f *= a.members
        print(f"{name:<36}{f / 1e9:>15.1f}{f / 1e9 / a.gflops:>24.2f}")


if __name__ == "__main__":
    main()
