"""Hail reference genomes made from, or given the sequence of, a FASTA."""

from __future__ import annotations

import os

import hail as hl

from .files import fasta_index

__all__ = ["reference_genome_from_fasta", "attach_sequence"]


def reference_genome_from_fasta(fasta: str, name: str | None = None) -> "hl.ReferenceGenome":
    """A Hail reference genome whose contigs and lengths are the FASTA's (from its ``.fai``,
    made now for a local FASTA that has none), with the sequence attached
    (``hl.get_sequence`` works).  Reuses a genome already registered under ``name`` (default:
    the FASTA's file name without extensions)."""
    fai = fasta_index(fasta)[0]
    if name is None:
        name = os.path.basename(fasta).split(".")[0] or "seqscore_reference"
    try:
        existing = hl.get_reference(name)
    except Exception:  # Hail raises its own error for an unknown name
        existing = None
    if existing is not None:
        return attach_sequence(existing, fasta)
    return hl.ReferenceGenome.from_fasta_file(name, fasta, fai)


def attach_sequence(rg, fasta: str) -> "hl.ReferenceGenome":
    """(Re-)attach ``fasta`` to ``rg`` (a genome or its name).  ``hl.read_table`` registers
    a custom genome from the table's metadata *without* its sequence; score_table does not
    need it, but ``hl.get_sequence`` does."""
    if isinstance(rg, str):
        rg = hl.get_reference(rg)
    if not rg.has_sequence():
        rg.add_sequence(fasta, fasta_index(fasta)[0])
    return rg
