"""Compare the SpliceAI INFO strings of two VCFs (ours vs the original ``spliceai`` CLI).

Records are matched by (CHROM, POS, REF, ALT), never by order.  A string is *equal* when it is
identical; *within tolerance* when it has the same alleles, genes and positions-or-scores
shape and every DS differs by at most the tolerance.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field


@dataclass
class ParityReport:
    records: int = 0
    annotated_a: int = 0
    annotated_b: int = 0
    strings: int = 0            # INFO entries compared (allele x gene)
    equal: int = 0
    max_ds_diff: float = 0.0
    dp_mismatches: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def equal_fraction(self) -> float:
        return self.equal / self.strings if self.strings else 1.0

    def summary(self) -> str:
        return (f"{self.records} records; {self.strings} INFO strings, {self.equal} identical "
                f"({100 * self.equal_fraction:.1f}%); max |dDS| {self.max_ds_diff:.2f}; "
                f"{self.dp_mismatches} DP differences")


def _read(path: str, key: str = "SpliceAI") -> dict[tuple, list[str]]:
    opener = gzip.open if path.endswith((".gz", ".bgz")) else open
    out: dict[tuple, list[str]] = {}
    with opener(path, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            entries: list[str] = []
            for item in f[7].split(";"):
                if item.startswith(key + "="):
                    entries = item[len(key) + 1:].split(",")
            out[(f[0], f[1], f[3], f[4])] = entries
    return out


def compare_vcfs(path_a: str, path_b: str, *, max_listed: int = 50,
                 key: str = "SpliceAI") -> ParityReport:
    """Entry by entry (allele and gene) comparison of the INFO field ``key`` of two VCFs."""
    a, b = _read(path_a, key), _read(path_b, key)
    rep = ParityReport(records=len(a))
    rep.annotated_a = sum(1 for v in a.values() if v)
    rep.annotated_b = sum(1 for v in b.values() if v)
    for key in sorted(set(a) | set(b)):
        ea, eb = a.get(key), b.get(key)
        if ea is None or eb is None:
            rep.differences.append(f"{':'.join(key)}: record only in {'B' if ea is None else 'A'}")
            rep.strings += len(ea or eb or [])
            continue
        ia = {tuple(e.split("|")[:2]): e for e in ea}
        ib = {tuple(e.split("|")[:2]): e for e in eb}
        for ag in sorted(set(ia) | set(ib)):
            rep.strings += 1
            sa, sb = ia.get(ag), ib.get(ag)
            if sa == sb:
                rep.equal += 1
                continue
            if len(rep.differences) < max_listed:
                rep.differences.append(f"{':'.join(key)}: {sa} != {sb}")
            if sa is None or sb is None:
                rep.max_ds_diff = max(rep.max_ds_diff, 1.0)
                continue
            fa, fb = sa.split("|"), sb.split("|")
            for x, y in zip(fa[2:6], fb[2:6]):
                try:
                    rep.max_ds_diff = max(rep.max_ds_diff, abs(float(x) - float(y)))
                except ValueError:
                    if x != y:
                        rep.max_ds_diff = max(rep.max_ds_diff, 1.0)
            if fa[6:] != fb[6:]:
                rep.dp_mismatches += 1
    return rep
