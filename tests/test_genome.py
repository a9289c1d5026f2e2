"""Reference FASTA access (hail_seqscore/genome.py): aliases, plain and bgzip, and every kind
of odd reference file or index, each a one-line error naming the file and what to do."""

import bz2
import gzip
import logging
import os
import pickle
import re

import pysam
import pytest

from hail_seqscore.errors import (ContigNotFoundError, ReferenceFormatError,
                                  ReferenceUnavailableError)
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


# ---- odd reference files: one clear error each, exit 65 (malformed) or 66 (unavailable) -----
FASTA = b">chr1 first\n" + b"ACGTACGTAC\n" * 5 + b"ACG\n>chr2\n" + b"GGGGCCCCAA\n" * 3
FAI = "chr1\t53\t12\t10\t11\nchr2\t30\t77\t10\t11\n"      # what samtools faidx writes for it


def bgzip(path, data: bytes):
    """``data`` written bgzip-compressed to ``path`` (pysam's bgzip writer, no samtools)."""
    plain = path.with_name(path.name + ".plain")
    plain.write_bytes(data)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


def _bad_files(d):
    """name → (how to make it, error class, words the message must hold)."""
    return {
        "plain.fa.gz": (lambda p: p.write_bytes(gzip.compress(FASTA)), ReferenceFormatError,
                        "plain gzip.*recompress it with bgzip.*bgzip >.*or decompress it"),
        "bz2.fa": (lambda p: p.write_bytes(bz2.compress(FASTA)), ReferenceFormatError,
                   "bzip2-compressed: decompress it"),
        "not_gzip.fa.gz": (lambda p: p.write_bytes(FASTA), ReferenceFormatError,
                           "named .gz but is not compressed: rename it"),
        "bgzip_no_gz_name.fa": (lambda p: p.write_bytes(bgzip(d / "x.gz", FASTA).read_bytes()),
                                ReferenceFormatError, "bgzip-compressed but its name"),
        "truncated.fa.gz": (lambda p: p.write_bytes(bgzip(d / "t.gz", FASTA).read_bytes()[:-28]),
                            ReferenceFormatError, "truncated"),
        "directory.fa": (lambda p: p.mkdir(), ReferenceUnavailableError,
                         "is a directory, not a file"),
        "calls.vcf": (lambda p: p.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\n"),
                      ReferenceFormatError, "not a FASTA file \\(it looks like a VCF\\): it "
                      "starts with '##fileformat=VCFv4.2'"),
        "empty.fa": (lambda p: p.write_bytes(b""), ReferenceFormatError, "is empty \\(0 bytes\\)"),
        "binary.fa": (lambda p: p.write_bytes(bytes(range(256)) * 4), ReferenceFormatError,
                      "binary file"),
        "headers_only.fa": (lambda p: p.write_bytes(b">a\n>b\n"), ReferenceFormatError,
                            "holds no sequence"),
        "latin1.fa": (lambda p: p.write_bytes(b">chr1\nACGT\n>chr\xe9\nACGT\n"),
                      ReferenceFormatError, "not a text FASTA.*0xe9"),
        "duplicate.fa": (lambda p: p.write_bytes(b">a\nACGT\n>a\nACGT\n"), ReferenceFormatError,
                         'cannot be indexed: Duplicate key "a"'),
        "ragged.fa": (lambda p: p.write_bytes(b">a\nACGT\nAC\nACGT\n"), ReferenceFormatError,
                      "cannot be indexed: Line length.*not consistent"),
        "missing.fa": (lambda p: None, ReferenceUnavailableError, "does not exist"),
    }


BAD_NAMES = list(_bad_files(None))


@pytest.mark.parametrize("name", BAD_NAMES)
def test_odd_reference_files_are_clear_errors(tmp_path, name):
    make, error, words = _bad_files(tmp_path)[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(error, match=f"{re.escape(str(path))}.*{words}") as exc:
        Genome(path).contigs
    assert exc.value.exit_code == (66 if error is ReferenceUnavailableError else 65)
    assert "\n" not in exc.value.message


@pytest.mark.parametrize("fasta, fai, words", [
    (FASTA, FAI.replace("\t77\t", "\t76\t"), "sequence 'chr2' is not where the index puts it"),
    (FASTA, "chrX\t53\t12\t10\t11\n", "sequence 'chrX' is not where"),       # another file's
    (FASTA + b"ACGT\n", FAI, "last sequence 'chr2' does not end where the index says"),
    (FASTA[:-6], FAI, "last sequence 'chr2' does not end where"),            # truncated FASTA
    (FASTA, "chr1\tx\n", "cannot be read"),
    (FASTA, "", "lists no sequence"),
])
def test_index_that_does_not_match_the_fasta_is_an_error(tmp_path, fasta, fai, words):
    path = tmp_path / "g.fa"
    path.write_bytes(fasta)
    (tmp_path / "g.fa.fai").write_text(fai)
    with pytest.raises(ReferenceFormatError, match=re.escape(words) + ".*delete .*g.fa.fai and "
                       "run `samtools faidx"):
        Genome(path).contigs
    assert (tmp_path / "g.fa.fai").read_text() == fai          # the user's file is left alone


def test_older_index_that_matches_is_used_and_blank_tail_is_fine(tmp_path):
    path = tmp_path / "g.fa"
    path.write_bytes(FASTA + b"\n\n")
    (tmp_path / "g.fa.fai").write_text(FAI)
    os.utime(tmp_path / "g.fa.fai", (1, 1))                    # older than the FASTA
    assert Genome(path).fetch("chr2", 25, 30) == "CCCAA"


def test_bgzip_without_gzi_is_indexed_beside_it(tmp_path):
    path = bgzip(tmp_path / "g.fa.gz", FASTA)
    g = Genome(path)
    assert g.fetch("chr1", 48, 53) == "ACACG" and g.fetch("chr2", 0, 4) == "GGGG"
    assert g.index_paths == (f"{path}.fai", f"{path}.gzi")
    assert (tmp_path / "g.fa.gz.fai").read_text() == FAI
    assert (tmp_path / "g.fa.gz.gzi").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.fa.gz", "g.fa.gz.fai", "g.fa.gz.gzi"]


# A folder nobody can write, root included (permission bits do not bind root): /proc/self/fd.
# /proc/self/fd/N names an open FASTA (a real path: it is what `-R /dev/stdin < ref.fa`
# resolves to), and pyfaidx would write /proc/self/fd/N.fai, which the kernel refuses.
def test_fasta_in_a_read_only_folder_is_indexed_in_the_cache(tmp_path, monkeypatch, caplog):
    home = tmp_path / "home"
    monkeypatch.setenv("SEQSCORE_HOME", str(home))
    src = tmp_path / "g.fa"
    src.write_bytes(FASTA)
    with open(src, "rb") as fh:
        path = f"/proc/self/fd/{fh.fileno()}"
        with caplog.at_level(logging.WARNING, logger="hail_seqscore.genome"):
            g = Genome(path)
            assert g.fetch("chr2", 25, 30) == "CCCAA"
        fai, gzi = g.index_paths
        assert fai.startswith(str(home / "faidx")) and gzi is None
        assert open(fai).read() == FAI
        assert "its folder cannot be written: indexing it in" in caplog.text
        caplog.clear()
        again = Genome(path)
        assert again.contigs == ["chr1", "chr2"] and again.index_paths[0] == fai
        assert caplog.text == ""                              # built once, then reused
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.fa", "home"]   # nothing beside


def test_read_only_folder_and_unwritable_cache_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSCORE_HOME", "/proc/self/no-such-folder")
    src = tmp_path / "g.fa"
    src.write_bytes(FASTA)
    with open(src, "rb") as fh:
        with pytest.raises(ReferenceUnavailableError,
                           match=r"has no index \(.fai\) and neither its folder nor the cache "
                                 r"folder .* can be written .*run `samtools faidx` on a writable "
                                 r"copy, or set SEQSCORE_HOME") as exc:
            Genome(f"/proc/self/fd/{fh.fileno()}").contigs
    assert exc.value.exit_code == 66


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into mode-0555 folders; the "
                    "/proc/self/fd test above covers read-only folders for root")
def test_bgzip_in_a_mode_0555_folder_is_indexed_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSCORE_HOME", str(tmp_path / "home"))
    ro = tmp_path / "ro"
    ro.mkdir()
    path = bgzip(ro / "g.fa.gz", FASTA)
    ro.chmod(0o555)
    try:
        g = Genome(path)
        assert g.fetch("chr2", 0, 4) == "GGGG"
        assert all(p.startswith(str(tmp_path / "home")) for p in g.index_paths)
        assert sorted(p.name for p in ro.iterdir()) == ["g.fa.gz"]
    finally:
        ro.chmod(0o755)


def test_pipe_is_refused_before_it_is_read(tmp_path):
    """`-R <(zcat ref.fa.gz)`: a pipe cannot be read by position; refused without blocking."""
    fifo = tmp_path / "ref.fa"
    os.mkfifo(fifo)
    with pytest.raises(ReferenceUnavailableError, match="is not a regular file .*save it to a "
                                                        "file first") as exc:
        Genome(fifo).contigs
    assert exc.value.exit_code == 66


def test_unknown_contig_names_are_not_remembered(tmp_path):
    """A long-running daemon sees contig names from its clients: the unknown ones must not
    accumulate in the resolver's memory (the found ones, and their aliases, may)."""
    from hail_seqscore.annotation import read_spliceai_table
    from hail_seqscore.errors import ContigNotFoundError
    from hail_seqscore.genome import Genome

    fa = tmp_path / "ref.fa"
    fa.write_text(">chr1\nACGTACGTAC\n")
    genes = tmp_path / "genes.txt"
    genes.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
                     "G\tchr1\t+\t0\t10\t0,\t10,\n")
    g, table = Genome(str(fa)), read_spliceai_table(genes)
    for i in range(500):
        with pytest.raises(ContigNotFoundError):
            g.resolve(f"junk{i}")
        assert table.genes_at(f"junk{i}", 5) == []
    assert g.resolve("1") == "chr1" and table.genes_at("1", 5)
    assert len(g._resolved) <= 2 and len(table._resolved) <= 2
