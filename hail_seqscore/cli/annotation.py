"""``seqscore annotation``: GTF/GFF3 → SpliceAI's gene table (one transcript per gene)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from ..gtf import TRANSCRIPT_POLICIES, read_gtf, write_spliceai_table

HELP = """\
Convert a GTF or GFF3 annotation (GENCODE, Ensembl, MANE; plain or gzip) into SpliceAI's
gene-table format (#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END), usable with
`seqscore score -A TABLE` and with the original spliceai CLI.  One transcript per gene:

  canonical  the MANE_Select transcript, else Ensembl_canonical, else the longest 'basic'
             transcript, else the longest (default)
  mane       only genes with a MANE_Select transcript
  longest    the longest transcript (spliced length, then genomic span)

Gene names are percent-encoded where VCF INFO cannot carry them (',' '|' ';' '=' and
whitespace: 'A,B' becomes 'A%2CB', as VCF 4.3 encodes), with a warning.  A GFF3 exon or
transcript whose Parent no feature defines is an error naming its line.

exit codes: 0 done; 2 bad command line; 65 malformed annotation (the message names the
line: not UTF-8, truncated gzip, undefined Parent, ...); 66 input file missing, a directory
or unreadable.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("annotation", help="convert GTF/GFF3 to SpliceAI's gene-table format",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--input", required=True, metavar="GTF",
                   help="GTF or GFF3 file, plain or gzip (told by content); '-' = stdin")
    p.add_argument("-o", "--output", default="-", metavar="TABLE",
                   help="output table; '-' or omitted = stdout; a name ending in .gz is "
                        "written gzipped")
    p.add_argument("--transcripts", choices=TRANSCRIPT_POLICIES, default="canonical",
                   help="which transcript represents each gene (default: canonical)")
    p.add_argument("--biotype", action="append", metavar="BIOTYPE",
                   help="keep only genes of this gene biotype (e.g. protein_coding); "
                        "repeat for several")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    table = read_gtf(args.input, transcripts=args.transcripts, biotypes=args.biotype)
    n = write_spliceai_table(table, args.output)
    if not args.quiet:
        how = Counter(getattr(g, "chosen_by", "") for g in table.genes)
        detail = ", ".join(f"{k}: {v}" for k, v in how.most_common())
        print(f"seqscore annotation: {n} genes on {len(table.contigs)} contig(s) "
              f"({detail})", file=sys.stderr)
    return 0
