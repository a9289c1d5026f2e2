"""Real Ensembl VEP with its own SpliceAI plugin reads our precomputed files (opt-in).

Set ``VEP_DIR`` (the folder with the ``vep`` script; Ensembl API modules on PERL5LIB or beside it,
as for ``vep_plugin/t/90-vep.t``) and ``SPLICEAI_PM`` (a copy of VEP_plugins' ``SpliceAI.pm``, not
part of this project).  On the shared chr21 data, around the 5' end of GABPA (+) inside ATP5J (-),
the toy model's SNV and indel files are read by VEP (``--gtf/--fasta``,
``--plugin SpliceAI,snv=…,indel=…``) for every variant they hold: each VEP line's ``SpliceAI_pred``
is the file's value for that variant and the line's gene, and every (variant, gene) of the files
shows up.  Skipped when VEP, the plugin or the shared data is absent.
"""

import os
import shutil
import subprocess
from glob import glob
from pathlib import Path

import pysam
import pytest

from hail_seqscore.cli import main
from toy_models import build_toy_model

CHR21 = Path(__file__).resolve().parents[2] / "shared" / "data" / "grch38_chr21"
VEP_DIR = os.environ.get("VEP_DIR", "")
SPLICEAI_PM = os.environ.get("SPLICEAI_PM", "")
# 25734561-69: ATP5J only; 25734570-80: ATP5J and GABPA (GABPA's first base is 25734570)
REGION = "21:25734561-25734580"

pytestmark = pytest.mark.skipif(
    not (VEP_DIR and os.path.isfile(os.path.join(VEP_DIR, "vep")) and os.path.isfile(SPLICEAI_PM)
         and CHR21.is_dir() and shutil.which("tabix")),
    reason="set VEP_DIR (ensembl-vep) and SPLICEAI_PM (VEP_plugins' SpliceAI.pm); needs tabix "
           "and ../shared/data/grch38_chr21")


def records(path):
    with pysam.BGZFile(str(path), "rb") as fh:
        for line in fh.read().decode().splitlines():
            if not line.startswith("#"):
                yield line.split("\t")


def test_vep_spliceai_plugin_reads_our_snv_and_indel_files(tmp_path):
    model = build_toy_model(tmp_path / "toy.onnx", context=100)
    snv, indel = tmp_path / "snv.vcf.gz", tmp_path / "indel.vcf.gz"
    assert main(["precompute", "-R", str(CHR21 / "chr21.fa.gz"), "-A",
                 str(CHR21 / "genes.grch38.spliceai.txt"), "--model", str(model),
                 "--region", REGION, "-O", str(snv), "--indels", str(indel)]) == 0
    want, order = {}, []
    for path in (snv, indel):
        for c, p, _, r, a, _, _, info in records(path):
            vid = f"{p}_{r}_{a}"
            if vid not in order:
                order.append(vid)
            allele, rest = info.split("=", 1)[1].split("|", 1)
            want[(vid, rest.split("|", 1)[0])] = rest
    assert len(order) == 20 * 11 and len(want) == 9 * 11 + 11 * 11 * 2
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   + "".join("21\t{0}\t{0}_{1}_{2}\t{1}\t{2}\t.\t.\t.\n".format(*v.split("_"))
                             for v in order))
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(SPLICEAI_PM, plugins / "SpliceAI.pm")
    vep_dir = os.path.abspath(VEP_DIR)
    lib = [d for d in [vep_dir, os.path.join(vep_dir, "modules"),
                       *glob(os.path.join(vep_dir, "..", "ensembl*", "modules"))]
           if os.path.isdir(d)]
    env = dict(os.environ, PERL5LIB=":".join(lib + [os.environ.get("PERL5LIB", "")]))
    out = tmp_path / "out.txt"
    run = subprocess.run(
        ["perl", os.path.join(vep_dir, "vep"), "--gtf", str(CHR21 / "custom_test.gtf.gz"),
         "--fasta", str(CHR21 / "chr21.fa.gz"), "--symbol", "--no_stats", "--force_overwrite",
         "--dir_plugins", str(plugins), "-i", str(vcf), "-o", str(out),
         "--plugin", f"SpliceAI,snv={snv},indel={indel}"],
        env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    seen, lines = set(), 0
    for line in out.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        extra = dict(kv.split("=", 1) for kv in f[-1].split(";") if "=" in kv)
        if "SpliceAI_pred" not in extra:
            continue
        key = (f[0], extra["SYMBOL"])
        assert extra["SpliceAI_pred"] == want[key], (key, extra["SpliceAI_pred"], want[key])
        seen.add(key)
        lines += 1
    assert seen == set(want), sorted(set(want) - seen)[:5]
    assert lines >= len(want)
