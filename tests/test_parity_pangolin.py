"""``seqscore score --model pangolin`` against the Pangolin CLI's own outputs on real chr21 data.

Reference outputs (../shared/data/grch38_chr21/reference_outputs/pangolin, README there): the 40
dbSNP SNVs with two annotations (custom_test.gtf.gz loaded with ``create_db.py --filter None``;
a GTF of the SpliceAI gene table loaded with the default filter), and — written by the CLI itself
in the same set-up and kept below — 8 real indels of indels.vcf, one SNV whose two ``+`` genes
show the masking carried from one gene to the next, and one variant under the CLI's ``-s``,
``--score_exons`` and ``-m False``.  Values are compared as the CLI prints them under numpy 1
(``0.07``; the reference files hold numpy 2's ``0.07000000029802322``, the same float32).
Skips where ../shared is absent."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.annotation import read_spliceai_table
from hail_seqscore.kinds import info_format
from hail_seqscore.pangolin_genes import read_pangolin_gtf
from hail_seqscore.records import Variant
from hail_seqscore.rules.pangolin import genes_from_table

ROOT = Path(__file__).resolve().parents[1]
REF_OUT = Path("grch38_chr21") / "reference_outputs" / "pangolin"
MAIN = "chr21_dbsnp_snvs.subset40.pangolin.csv"
TABLE_RUN = "chr21_dbsnp_snvs.subset40.genes_table_db.pangolin.csv"

#: Real indels of indels.vcf, scored by the Pangolin CLI (tkzeng/Pangolin @ 5cf94b8, the 12
#: shared weight files, CSV mode, default flags, custom_test.gtf.gz with --filter None)
INDELS = {
    "ins2_MRPL39": (25585776, "T", "TCG",
                    "ENSG00000154719|29:0.0|-22:-0.3700000047683716|Warnings:"),
    "ins12_MRPL39": (25593957, "A", "ATGTGATGCATAC",
                     "ENSG00000154719|0:0.009999999776482582|1:-0.029999999329447746|Warnings:"),
    "del15_MRPL39": (25597389, "TCTTTTGTGAAGGAAC", "T",
                     "ENSG00000154719|-24:0.26|25:-0.28|Warnings:"),
    "mnv2_MRPL39": (25601427, "AT", "TA",
                    "ENSG00000154719|3:0.009999999776482582|40:-0.09000000357627869|Warnings:"),
    "del1_MRPL39": (25601456, "AC", "A", "ENSG00000154719|-15:0.0|11:-0.05|Warnings:"),
    "ins12_JAM2": (25639893, "G", "GCGCCCTCCTGAA",
                   "ENSG00000154721|0:0.0|-5:-0.3700000047683716|Warnings:"),
    "del8_JAM2": (25698858, "GAATACAAA", "G", "ENSG00000154721|-37:0.0|-50:0.0|Warnings:"),
    "ins3_JAM2": (25712300, "G", "GCTG",
                  "ENSG00000154721|-9:0.009999999776482582|40:-0.019999999552965164|Warnings:"),
    #: two + genes, AP000235.2 then AP000235.3; the CLI carries the first one's masking into
    #: the second (masked on its own, AP000235.3 would report -2:-0.41 at its own exon start)
    "carry_AP000235": (25055586, "T", "A", "ENSG00000226983|-22:0.0|-49:0.0|Warnings:,"
                                           "ENSG00000244278|-22:0.0|-49:0.0|Warnings:"),
}

#: rs71649640 (GABPA +, ATP5J -) with custom_test.gtf.gz under the CLI's other options
OPTIONS = (
    ({"score_cutoff": 0.02},
     "ENSG00000154727|Warnings:,ENSG00000154723|49:-0.15000000596046448|Warnings:"),
    ({"score_exons": True},
     "ENSG00000154727_sites1|ENSG00000154727_sites2|Warnings:,ENSG00000154723_sites1|-87:NA|"
     "-87:NA|-87:NA|-1:0.07000000029802322|49:-0.15000000596046448|49:-0.15000000596046448|"
     "ENSG00000154723_sites2|-36:-0.0|-36:-0.0|32:-0.0|93:NA|87:NA|733:NA|Warnings:"),
    ({"mask": False},
     "ENSG00000154727|1:0.0|34:-0.019999999552965164|Warnings:,"
     "ENSG00000154723|-1:0.14000000059604645|49:-0.15000000596046448|Warnings:"),
)


def as_numpy1(text: str) -> str:
    """A CLI value string as numpy 1.x prints it: float32 double expansions shortened."""
    def value(m):
        x = float(m[1])
        return ":" + (str(np.float32(x)) if float(np.float32(x)) == x else repr(x))
    return re.sub(r":(-?\d+\.\d+(?:e-?\d+)?)", value, text)


def compare(got: dict[str, str], want: dict[str, str]) -> tuple[int, float, list]:
    """(records identical as text, largest |difference| of a value, differing records)."""
    same, worst, diffs = 0, 0.0, []
    for rid, w in want.items():
        g, w = got.get(rid, ""), as_numpy1(w)
        if g == w:
            same += 1
            continue
        diffs.append((rid, g, w))
        gf, wf = g.replace(",", "|").split("|"), w.replace(",", "|").split("|")
        if len(gf) != len(wf):
            worst = max(worst, 1.0)
            continue
        for a, b in zip(gf, wf):
            if a != b and ":" in a and ":" in b and "NA" not in a + b:
                worst = max(worst, abs(float(a.split(":")[1]) - float(b.split(":")[1])))
            elif a != b:
                worst = max(worst, 1.0)
    return same, worst, diffs


def reference(shared_data: Path, name: str) -> dict[str, str]:
    rows = (shared_data / REF_OUT / name).read_text().splitlines()[1:]
    return {c[4]: (c[5] if len(c) > 5 else "") for c in (r.split(",", 5) for r in rows)}


def snvs(shared_data: Path) -> list[tuple[str, int, str, str]]:
    rows = (shared_data / REF_OUT / "chr21_dbsnp_snvs.subset40.csv").read_text().splitlines()
    return [(c[4], int(c[1]), c[2], c[3]) for c in (r.split(",") for r in rows[1:])]


def test_cli_scores_snvs_indels_and_carried_masking_as_the_pangolin_cli(
        shared_data, pangolin_model, tmp_path):
    data = shared_data / "grch38_chr21"
    records = snvs(shared_data) + [(rid, p, r, a) for rid, (p, r, a, _) in INDELS.items()]
    records.sort(key=lambda x: x[1])
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(
        f"21\t{p}\t{rid}\t{r}\t{a}\t.\t.\t.\n" for rid, p, r, a in records))
    out = tmp_path / "out.vcf"
    run = subprocess.run(
        [sys.executable, "-m", "hail_seqscore", "score", "--model", "pangolin", "-I", str(vcf),
         "-O", str(out), "-R", str(data / "chr21.fa.gz"), "-A", str(data / "custom_test.gtf.gz"),
         "--gtf-filter", "None"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr
    got = {}
    for line in out.read_text().splitlines():
        if not line.startswith("#"):
            f = line.split("\t")
            m = re.search(r"(?:^|;)Pangolin=([^;]*)", f[7])
            got[f[2]] = m[1] if m else ""
    assert len(got) == len(records)
    want = reference(shared_data, MAIN)
    same, worst, diffs = compare(got, want)
    print(f"\nPangolin, custom_test.gtf.gz --filter None: {same}/{len(want)} SNV records "
          f"identical, max |d| {worst:.2f}; differing: {diffs}")
    assert same >= 0.99 * len(want) and worst <= 0.01 + 1e-9, diffs
    same, worst, diffs = compare(got, {rid: w for rid, (*_, w) in INDELS.items()})
    print(f"indels, MNV and carried masking: {same}/{len(INDELS)} identical; {diffs}")
    assert same == len(INDELS), diffs


def test_canonical_annotation_and_the_cli_options(shared_data, pangolin_model):
    data = shared_data / "grch38_chr21"
    gtf = shared_data / REF_OUT / "annotation" / "chr21_genes_table.gtf"
    fmt = info_format("pangolin")
    vs = {rid: Variant("21", p, r, a) for rid, p, r, a in snvs(shared_data)}
    eng = Engine(EngineConfig(model=str(pangolin_model), reference=str(data / "chr21.fa.gz"),
                              annotation=str(gtf)))
    got = {rid: ",".join(fmt.entries(v.alt, r)) for (rid, v), r in
           zip(vs.items(), eng.score(list(vs.values())))}
    want = reference(shared_data, TABLE_RUN)
    same, worst, diffs = compare(got, want)
    print(f"\nPangolin, the gene table as a canonical GTF: {same}/{len(want)} identical, "
          f"max |d| {worst:.2f}; differing: {diffs}")
    assert same >= 0.99 * len(want) and worst <= 0.01 + 1e-9, diffs
    v = vs["rs71649640"]
    for options, want_text in OPTIONS:
        e = Engine(EngineConfig(model=str(pangolin_model), reference=str(data / "chr21.fa.gz"),
                                annotation=str(data / "custom_test.gtf.gz"),
                                annotation_filter="None", **options))
        (r,) = e.score([v])
        assert ",".join(fmt.entries(v.alt, r)) == as_numpy1(want_text), options


def test_the_gene_table_route_is_the_table_as_a_canonical_gtf(shared_data):
    """``-A genes.txt`` (or grch38) gives Pangolin the same genes and sites as the table's GTF
    that the reference run loaded (so its outputs apply to it too)."""
    table = genes_from_table(read_spliceai_table(shared_data / "grch38_chr21" /
                                                 "genes.grch38.spliceai.txt"))
    gtf = read_pangolin_gtf(shared_data / REF_OUT / "annotation" / "chr21_genes_table.gtf")
    n = 0
    for _, pos, _, _ in snvs(shared_data):
        for a, b in zip(table.at("21", pos), gtf.at("21", pos)):
            assert [g.gene_id for g in a] == [g.gene_id for g in b]
            for ga, gb in zip(a, b):
                assert (ga.start, ga.end) == (gb.start, gb.end)
                assert sorted(ga.site_pos.tolist()) == sorted(gb.site_pos.tolist())
                n += 1
    assert n >= 40
