"""The route outside Spark, for GPU machines: export distinct variants as VCF shards, score
each shard with ``seqscore score`` (anywhere: a GPU VM, a batch queue), import the scored
shards and join them back by key.

    shards = export_shards(mt, "gs://bucket/run1/shards", n_shards=200)
    # on GPU machines, per shard:  seqscore score -I part-00000.bgz -O scored/part-00000.vcf.gz \\
    #                                  -R GRCh38.fa -A grch38 --flag-skipped [--model openspliceai]
    scores = import_scored("gs://bucket/run1/scored/*.vcf.gz", reference_genome="GRCh38")
    mt = join_scores(mt, scores)

The VCF carries scores rounded to two decimals (the splice kind's INFO format, under the
scorer's own key: ``SpliceAI`` or ``OpenSpliceAI``) and per-ALT reason codes
(``--flag-skipped``); messages and unrounded scores stay with the in-Spark route.
:func:`import_scored` reads the key the shards' header declares (or ``scorer=``'s).
"""

from __future__ import annotations

import hail as hl

from ..errors import InputFormatError
from ..kinds.splice import DELTA_FORMATS as INFO_FORMATS
from .schema import GENE_SCORE, require_variant_key, result_rows, row_table
from .worker import POS_FIELDS, SCORE_FIELDS


def export_shards(data, path: str, n_shards: int | None = None) -> str:
    """Write the distinct keys of ``data`` as bgzipped VCF shards (one per partition) under
    ``path`` and return ``path``."""
    rows = row_table(data)
    require_variant_key(rows)
    keys = rows.select().select_globals().distinct()
    if n_shards:
        keys = keys.repartition(n_shards)
    hl.export_vcf(keys, path, parallel="header_per_shard")
    return path


def import_scored(paths, reference_genome="GRCh38", contig_recoding=None,
                  scorer: str | None = None) -> "hl.Table":
    """Scored VCF shards → a table keyed by locus/alleles with the fields of RESULT and a
    ``provenance`` global naming the kind and scorer.  The scores are read from the INFO key
    of ``scorer`` (``spliceai``: ``SpliceAI``, ``openspliceai``: ``OpenSpliceAI``), by default
    the one such key the shards' header declares."""
    mt = hl.import_vcf(paths, reference_genome=reference_genome, force_bgz=True,
                       contig_recoding=contig_recoding, drop_samples=True)
    ht = mt.rows()
    info = ht.info
    if scorer is None:
        scorer = _declared_scorer(info, paths)
    if scorer not in INFO_FORMATS:
        raise InputFormatError(f"{paths}: scorer {scorer!r} has no shard format (shards hold "
                               f"{' or '.join(f.key for f in INFO_FORMATS.values())} entries)")
    key = INFO_FORMATS[scorer].key
    if key not in info:
        raise InputFormatError(f"{paths}: the header declares no {key} INFO field (the "
                               f"output of {scorer!r}); were the shards scored with that model?")
    entries = info[key]
    skips = info.SeqScore_skip if "SeqScore_skip" in info else hl.missing(hl.tarray(hl.tstr))

    def parse(entry):
        f = entry.split(r"\|")
        return hl.struct(allele=f[0], gene=f[1], strand=hl.missing(hl.tstr),
                         **{k: hl.or_missing(f[2 + i] != ".", hl.float64(f[2 + i]))
                            for i, k in enumerate(SCORE_FIELDS)},
                         **{k: hl.or_missing(f[6 + i] != ".", hl.int32(f[6 + i]))
                            for i, k in enumerate(POS_FIELDS)})

    scores = hl.or_else(entries.map(parse), hl.empty_array(GENE_SCORE))
    maxes = scores.filter(lambda s: hl.is_defined(s.ds_ag)).map(
        lambda s: hl.max(s.ds_ag, s.ds_al, s.ds_dg, s.ds_dl))
    skipped = hl.or_else(skips, hl.empty_array(hl.tstr)).map(
        lambda e: hl.struct(allele=e.split(r"\|")[0], code=e.split(r"\|")[1]))
    code = hl.or_missing(hl.len(skipped) > 0, skipped[0].code)
    ht = ht.select(scores=scores, max_ds=hl.or_missing(hl.len(maxes) > 0, hl.max(maxes)),
                   reason_code=code, reason=hl.or_missing(hl.is_defined(code),
                                                          hl.delimit(skips, "; ")),
                   skipped=skipped)
    return ht.select_globals(provenance=hl.struct(kind="splice", scorer=scorer)).distinct()


def _declared_scorer(info, paths) -> str:
    """The scorer whose INFO key the shards declare; an error when they declare none or
    several."""
    found = [s for s, fmt in INFO_FORMATS.items() if fmt.key in info]
    if not found:
        keys = " or ".join(fmt.key for fmt in INFO_FORMATS.values())
        raise InputFormatError(
            f"{paths}: the header declares no {keys} INFO field; were the shards scored with "
            "`seqscore score`?")
    if len(found) > 1:
        keys = ", ".join(INFO_FORMATS[s].key for s in found)
        raise InputFormatError(
            f"{paths}: the header declares {keys}; say which scores to read with "
            f"import_scored(..., scorer={found[0]!r}) (one of {', '.join(found)})")
    return found[0]


def join_scores(data, scores: "hl.Table", name: str = "seqscore"):
    """Add ``scores`` (from :func:`import_scored` or a score cache) to ``data`` by key, and
    their ``provenance`` global (when they have one) as ``<name>_provenance``."""
    glob = ({f"{name}_provenance": hl.eval(scores.provenance)}
            if "provenance" in scores.globals else {})
    scores = result_rows(scores).select_globals()
    if isinstance(data, hl.MatrixTable):
        return data.annotate_rows(**{name: scores[data.row_key]}).annotate_globals(**glob)
    return data.annotate(**{name: scores[data.key]}).annotate_globals(**glob)
