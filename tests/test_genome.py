import pickle

import pytest

from hail_seqscore.errors import ContigNotFoundError, ReferenceUnavailableError
from hail_seqscore.genome import Genome, contig_aliases



def test_aliases():
    assert contig_aliases("chr1") == ["chr1", "1"]
    assert contig_aliases("X") == ["X", "chrX"]
    assert set(contig_aliases("MT")) == {"MT", "chrM", "chrMT", "M"}


def test_plain_fasta_with_aliases_and_errors(tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(">chr2\nACGTNacgtn\n>chrM\nGATTACA\n")
    g = Genome(fa)
    assert g.fetch("2", 0, 4) == "ACGT"
    assert g.fetch("chr2", 5, 9) == "ACGT"          # upper-cased
    assert g.fetch("MT", 0, 7) == "GATTACA" and g.length("chrM") == 7
    with pytest.raises(ContigNotFoundError, match="'7' is not in the reference g.fa"):
        g.resolve("7")
    clone = pickle.loads(pickle.dumps(g))
    assert clone._fasta is None and clone.fetch("2", 0, 2) == "AC"


def test_missing_reference_is_clear(tmp_path):
    with pytest.raises(ReferenceUnavailableError, match="does not exist"):
        Genome(tmp_path / "none.fa").contigs


def test_real_bgzip_and_prefixed_contigs(shared_data):
    chr21 = shared_data / "grch38_chr21" / "chr21.fa.gz"
    tubb8 = shared_data / "grch37_chr10_tubb8" / "chr10_1-110000.fa"
    g = Genome(chr21)
    assert g.length("chr21") == 46_709_983
    # dbsnp_snvs.vcf: rs142513484 at 21:25585733 has REF C
    assert g.fetch("chr21", 25_585_732, 25_585_733) == "C"
    t = Genome(tubb8)
    assert t.resolve("10") == "chr10"
    assert set(t.fetch("10", 0, 60_000)) == {"N"}   # the reference's own N gap
