"""Hail/Spark integration, split by concern.

``table``   :func:`score_table` (keys → cache lookup → Spark → joined back), ``ScoreStats``;
``reference`` Hail reference genomes from a FASTA (``reference_genome_from_fasta``);
``worker``  runs inside Spark's Python workers (pyarrow + the engine; no Hail import);
``files``   ships the model, reference and annotation to executors (``SparkContext.addFile``);
``spark``   the Spark route: keys → Arrow batches → scores → a Hail table of scores;
``schema``  the Hail types of the result (chosen by the model's kind) and of the score cache;
``cache``   :class:`ScoreCache`;
``shards``  the route outside Spark: export distinct variants as VCF shards, import scores;
``vcf_import`` a VCF into Hail for ``seqscore hail``: every record, or one clear error;
``vcf_export`` the scored rows as a VCF (the input VCF's own lines, or ``hl.export_vcf``).

The public entry points are :func:`hail_seqscore.score_table` and
:class:`hail_seqscore.ScoreCache` (see :mod:`hail_seqscore.hail.table`).
"""
