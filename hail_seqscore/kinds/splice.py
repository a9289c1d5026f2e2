"""The splice kind's VCF output: SpliceAI-format entries under each tool's own INFO key.

SpliceAI 1.3.1 (and CI-SpliceAI, which writes SpliceAI's field) and OpenSpliceAI 0.0.7's
``openspliceai variant`` share one entry format,
``ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL`` with ``{:.2f}`` scores (so a
tiny negative delta prints ``-0.00``, as both tools print it), one entry per gene in table
order, and ``ALLELE|SYMBOL|.|.|.|.|.|.|.|.`` for an allele of a gene that is not scored (MNVs
and complex indels).  They differ in the INFO key and its header description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..records import ScoreResult

ENTRY_FORMAT = "ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL"
_WHAT = ("These include delta scores (DS) and delta positions (DP) for acceptor gain (AG), "
         "acceptor loss (AL), donor gain (DG), and donor loss (DL). Format: " + ENTRY_FORMAT)


def format_ds(value: float) -> str:
    """A delta score as SpliceAI and OpenSpliceAI print it: ``{:.2f}`` (``-0.00`` for a tiny
    negative)."""
    return f"{value:.2f}"


@dataclass(frozen=True)
class InfoFormat:
    """How one scorer's results are written as a VCF INFO field."""

    key: str
    description: str

    @property
    def header(self) -> str:
        """The ``##INFO`` header line (without a line ending)."""
        return (f'##INFO=<ID={self.key},Number=.,Type=String,'
                f'Description="{self.description}">')

    def entries(self, alt: str, result: ScoreResult, n_alts: int = 1) -> list[str]:
        """The INFO entries of one ALT allele: one per gene, in the result's order (each
        entry names its allele, so ``n_alts`` changes nothing)."""
        out = []
        for s in result.scores:
            if not s.scored:
                out.append(f"{alt}|{s.gene}|.|.|.|.|.|.|.|.")
            else:
                out.append("|".join([alt, s.gene, format_ds(s.ds_ag), format_ds(s.ds_al),
                                     format_ds(s.ds_dg), format_ds(s.ds_dl), str(s.dp_ag),
                                     str(s.dp_al), str(s.dp_dg), str(s.dp_dl)]))
        return out


SPLICEAI = InfoFormat("SpliceAI", "SpliceAIv1.3.1 variant annotation. " + _WHAT)
OPENSPLICEAI = InfoFormat("OpenSpliceAI", "OpenSpliceAI variant annotation. " + _WHAT)
#: the scorers whose VCF output is SpliceAI's entry format (what precomputed files hold)
DELTA_FORMATS = {"spliceai": SPLICEAI, "openspliceai": OPENSPLICEAI}


# ---- the kind's result record in JSON: data, shown by the daemon's GET /v1/models -------------
def _field(name: str, type_: str, description: str, nullable: bool = False,
           **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "nullable": nullable, "description": description,
            **extra}


_EVENTS = {"ag": "acceptor gain", "al": "acceptor loss", "dg": "donor gain", "dl": "donor loss"}

#: SpliceAI's per-gene delta scores (SpliceAI, CI-SpliceAI, OpenSpliceAI: ``records.GeneScore``):
#: ``results[i]["scores"]`` holds one object per gene with these fields
SPLICE_DELTAS: dict[str, Any] = {
    "record": "splice_deltas",
    "list": "scores",       # results[i].scores: one object per gene the variant lies in
    "per": "gene",
    "fields": [
        _field("gene", "string", "gene name, as in the gene table"),
        _field("strand", "string", "the gene's strand", enum=["+", "-"]),
        *(_field(f"ds_{k}", "number", f"delta score of {what}, 0 to 1, unrounded (null where "
                 "the tool writes '.': MNVs and complex indels)", nullable=True)
          for k, what in _EVENTS.items()),
        *(_field(f"dp_{k}", "integer", f"position of the {what}, in bp from the variant "
                 "(negative: upstream on the forward strand)", nullable=True)
          for k, what in _EVENTS.items()),
    ],
}
