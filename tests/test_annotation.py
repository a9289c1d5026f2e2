import numpy as np
import pytest

from hail_seqscore.annotation import Gene, load_annotation, read_spliceai_table
from hail_seqscore.errors import AnnotationError

HEAD = "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"


def test_lookup_uses_spliceai_bounds_and_table_order(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text(HEAD + "B\t1\t-\t100\t200\t100,150,\t120,200,\n"
                        "A\t1\t+\t150\t300\t150,\t300,\n")
    t = read_spliceai_table(p)
    assert [g.name for g in t.genes_at("chr1", 101)] == ["B"]       # TX_START < pos
    assert t.genes_at("1", 100) == []
    assert [g.name for g in t.genes_at("1", 200)] == ["B", "A"]     # pos <= TX_END, table order
    assert t.genes_at("1", 201)[0].name == "A"
    assert t.genes_at("2", 150) == []


def test_distances_like_spliceai():
    g = Gene("G", "1", "+", 99, 200, np.union1d(np.array([100, 151]), np.array([120, 200])))
    assert g.distances(110) == (-10, 90, -10)        # tie between 100 and 120: upstream wins
    assert g.distances(150) == (-50, 50, 1)


@pytest.mark.parametrize("body,needle", [
    ("A\t1\t*\t1\t5\t1,\t5,\n", "STRAND"),
    ("A\t1\t+\tx\t5\t1,\t5,\n", "TX_START/TX_END"),
    ("A\t1\t+\t1\t5\t1,2,\t5,\n", "differ in length"),
    ("A\t1\t+\t1\t5\n", "fields"),
])
def test_malformed_rows_name_the_line(tmp_path, body, needle):
    p = tmp_path / "g.txt"
    p.write_text(HEAD + body)
    with pytest.raises(AnnotationError, match=f"line 2: .*{needle}"):
        read_spliceai_table(p)


def test_not_a_table_and_missing(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("hello\n")
    with pytest.raises(AnnotationError, match="missing column"):
        read_spliceai_table(p)
    with pytest.raises(AnnotationError, match="neither grch37/grch38 nor an existing file"):
        load_annotation(str(tmp_path / "none.txt"))


def test_shared_gene_table(shared_data):
    t = load_annotation(str(shared_data / "grch38_chr21" / "genes.grch38.spliceai.txt"))
    names = {g.name for g in t.genes}
    assert {"MRPL39", "JAM2", "ATP5J", "GABPA", "APP"} <= names
    assert t.sha256 and len(t.sha256) == 64
