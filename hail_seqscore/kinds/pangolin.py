"""Pangolin's output, as its CLI writes it: the VCF INFO key ``Pangolin`` and its JSON record.

``Pangolin=gene|pos:gain|pos:loss|Warnings:…`` with one block per gene (``+``-strand genes
first), blocks joined by ``,``; the ``-s`` and ``--score_exons`` forms where those options are
set (:func:`scoring_pangolin.format_gene`).  Values print as numpy 1.x prints the CLI's
rounded float32 (``0.07``, ``-0.0``).

The CLI's VCF mode scores only the first ALT of a record.  Here every ALT is scored: a record
with one ALT gets exactly the CLI's value; in a record with several ALTs each block starts
with its allele (``ALT|gene|pos:gain|pos:loss|Warnings:``) so that the blocks of different
ALTs can be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..records import ScoreResult
from .splice import _field

INFO_ID = "Pangolin"
INFO_HEADER = ('##INFO=<ID=Pangolin,Number=.,Type=String,Description="Pangolin splice scores. '
               'Format: gene|pos:score_change|pos:score_change|warnings,...">')


@dataclass(frozen=True)
class PangolinFormat:
    """The ``Pangolin`` INFO field (the same interface as :class:`kinds.splice.InfoFormat`)."""

    key: str = INFO_ID
    header: str = INFO_HEADER
    description: str = ("Pangolin splice scores. Format: gene|pos:score_change|"
                        "pos:score_change|warnings,...")

    def entries(self, alt: str, result: ScoreResult, n_alts: int = 1) -> list[str]:
        """The blocks of one ALT allele: one per gene, in the result's order (each prefixed
        with the allele when the record has ``n_alts`` > 1)."""
        from ..scoring_pangolin import format_gene  # noqa: PLC0415 - numpy only when writing

        prefix = f"{alt}|" if n_alts > 1 else ""
        return [prefix + format_gene(s) for s in result.scores]  # type: ignore[arg-type]


PANGOLIN = PangolinFormat()

#: Pangolin's per-gene record (``records.PangolinScore``): ``results[i]["scores"]`` holds one
#: object per gene with these fields
PANGOLIN_GAIN_LOSS: dict[str, Any] = {
    "record": "pangolin_gain_loss",
    "list": "scores",
    "per": "gene",
    "fields": [
        _field("gene", "string", "gene_id of the GTF gene (or the gene table's name)"),
        _field("strand", "string", "the gene's strand", enum=["+", "-"]),
        _field("gain", "number", "largest increase in splice-site usage over the tissues "
               "within the distance, after masking (unrounded; the CLI prints it rounded to 2 "
               "decimals)"),
        _field("gain_pos", "integer", "its position in bp from the variant"),
        _field("loss", "number", "largest decrease (a value <= 0 when masked), unrounded"),
        _field("loss_pos", "integer", "its position in bp from the variant"),
        _field("warnings", "string", "'' or NoAnnotatedSitesToMaskForThisGene"),
        _field("cutoff_sites", "array", "with the -s CUTOFF setting: [pos, value] of every gain "
               ">= cutoff then every loss <= -cutoff (absent otherwise)", nullable=True),
        _field("exon_sites", "array", "with --score_exons: per exon [[pos1, value1], [pos2, "
               "value2]], a value null out of range (absent otherwise)", nullable=True),
    ],
}
