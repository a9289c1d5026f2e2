"""Track tables from files: ours (tab-separated, a ``name`` column) or Basenji's targets files.

A tracks model's output channels are named by a table, one row per channel in channel order.
Two tab-separated layouts with a header row are read:

* ours: a ``name`` column, and any of ``description``, ``assay``, ``cell_type``, ``strand``
  (other columns ignored);
* Basenji/Enformer ``targets_*.txt``: columns ``index``, ``identifier``, ``file``, ``clip``,
  ``scale``, ``sum_stat``, ``description`` (e.g. ``ENCFF833POA`` / ``DNASE:cerebellum male
  adult``): the name is the identifier, the assay the description's part before the first
  ``:`` (``DNASE``, ``CHIP``, ``CAGE``, ``ATAC``); a repeated identifier gets ``_<index>``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from hail_seqscore.errors import ConfigError

FIELDS = ("name", "description", "assay", "cell_type", "strand")


def read_track_table(path: str | Path, expected: int | None = None,
                     label: str = "track table") -> tuple[dict[str, str], ...]:
    """The rows of ``path`` as track dicts; ``expected`` (the model's channel count), when
    given, must equal the number of rows."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{label} {path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{label} {path}: not a tab-separated text table ({exc})") from None
    header = rows[0].keys() if rows else ()
    if "name" in header:
        tracks = [{k: row[k].strip() for k in FIELDS if (row.get(k) or "").strip()}
                  for row in rows]
    elif "identifier" in header:
        tracks = _from_targets(rows)
    else:
        raise ConfigError(f"{label} {path}: expected a tab-separated table whose header names "
                          "a 'name' column (or a Basenji targets file with 'identifier' and "
                          "'description')")
    missing = [i for i, t in enumerate(tracks) if not t.get("name")]
    if missing:
        raise ConfigError(f"{label} {path}: row {missing[0] + 2} has no name")
    if expected is not None and len(tracks) != expected:
        raise ConfigError(f"{label} {path}: {len(tracks)} rows, but the model has {expected} "
                          "output channels")
    return tuple(tracks)


def _from_targets(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[str, int] = {}
    for row in rows:
        ident = (row.get("identifier") or "").strip()
        seen[ident] = seen.get(ident, 0) + 1
    tracks = []
    for i, row in enumerate(rows):
        ident = (row.get("identifier") or "").strip()
        desc = (row.get("description") or "").strip()
        name = ident if seen[ident] == 1 else f"{ident}_{(row.get('index') or i)}".strip()
        entry = {"name": name}
        if desc:
            entry["description"] = desc
            if ":" in desc:
                entry["assay"] = desc.split(":", 1)[0]
        tracks.append(entry)
    return tracks


def numbered(prefix: str, n: int, description: str) -> tuple[dict[str, str], ...]:
    """``prefix_0000`` … for a model whose track names were not given."""
    width = max(4, len(str(n - 1)))
    return tuple({"name": f"{prefix}_{i:0{width}d}",
                  "description": f"{description}, output channel {i}"} for i in range(n))
