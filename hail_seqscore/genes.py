"""The gene types every annotation reader builds: a gene (transcript span, exon boundaries,
strand) and a table of genes looked up by 1-based position in table order.

Readers: :mod:`annotation` (SpliceAI's table, the grch37/grch38 tables, dispatch) and :mod:`gtf`
(GTF/GFF3, one transcript per gene).  Gene names go into VCF INFO (``ALLELE|SYMBOL|…`` entries
joined by ``,``), so the characters that would break it are percent-encoded once, as VCF 4.3
does (``A,B`` → ``A%2CB``), with a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

import numpy as np

from .genome import contig_aliases

log = logging.getLogger(__name__)

SPLICEAI_COLUMNS = ("#NAME", "CHROM", "STRAND", "TX_START", "TX_END", "EXON_START", "EXON_END")


@dataclass(frozen=True)
class Gene:
    name: str
    contig: str
    strand: str
    tx_start: int          # 0-based
    tx_end: int            # exclusive (= 1-based inclusive end)
    boundaries: np.ndarray  # sorted 1-based exon boundaries: exon starts + 1 and exon ends

    def distances(self, pos: int) -> tuple[int, int, int]:
        """SpliceAI's ``dist_ann``: to TX start, to TX end, to the nearest exon boundary.

        The nearest boundary is the first of the sorted boundaries with the least |distance|
        (so on a tie the upstream one wins, as ``min(..., key=abs)`` does in SpliceAI)."""
        d = self.boundaries - pos
        return (self.tx_start + 1 - pos, self.tx_end - pos, int(d[np.argmin(np.abs(d))]))


class GeneTable:
    """Genes by contig, with lookup by 1-based position in table order."""

    def __init__(self, genes: list[Gene], *, source: str, sha256: str | None = None):
        genes = _info_safe_names(genes, source)
        if not genes:
            log.warning("gene table %s has no genes: no variant can be scored (every record "
                        "comes out unscored, NO_GENE): is this the right file?", source)
        self.genes = genes
        self.source = source
        self.sha256 = sha256
        by_contig: dict[str, list[int]] = {}
        for i, g in enumerate(genes):
            by_contig.setdefault(g.contig, []).append(i)
        self._index = {
            c: (np.array(ix), np.array([genes[i].tx_start + 1 for i in ix]),
                np.array([genes[i].tx_end for i in ix]))
            for c, ix in by_contig.items()
        }
        self._resolved: dict[str, str | None] = {}

    def __len__(self) -> int:
        return len(self.genes)

    @property
    def contigs(self) -> list[str]:
        return list(self._index)

    def _contig(self, contig: str) -> str | None:
        name = self._resolved.get(contig)
        if name is None:
            name = next((a for a in contig_aliases(contig) if a in self._index), None)
            if name is not None:   # unknown names are not remembered (bounded memory in a
                self._resolved[contig] = name   # long-running daemon)
        return name

    def genes_at(self, contig: str, pos: int) -> list[Gene]:
        name = self._contig(contig)
        if name is None:
            return []
        ix, starts1, ends = self._index[name]
        hit = ix[(starts1 <= pos) & (pos <= ends)]
        return [self.genes[i] for i in hit]


# ---- gene names in VCF INFO ----------------------------------------------------------------
# ',' separates SpliceAI's entries, '|' their fields, ';' and '=' INFO keys, whitespace columns;
# a '%' that does not start an escape is encoded too, so encoding twice changes nothing.
_INFO_UNSAFE = re.compile(r"%(?![0-9A-Fa-f]{2})|[,;=|\s]")


def info_safe_name(name: str) -> str:
    """``name`` with the characters VCF INFO cannot carry percent-encoded (VCF 4.3 style)."""
    return _INFO_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), name)


def _info_safe_names(genes: list[Gene], source: str) -> list[Gene]:
    out, changed = [], []
    for g in genes:
        safe = info_safe_name(g.name)
        if safe != g.name:
            changed.append((g.name, safe))
            g = replace(g, name=safe)
        out.append(g)
    if changed:
        log.warning("gene table %s: %d gene name(s) hold characters that VCF INFO cannot "
                    "carry (, | ; = or whitespace); they are written percent-encoded, e.g. "
                    "%r as %r", source, len(changed), *changed[0])
    return out
