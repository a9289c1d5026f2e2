import pytest

from hail_seqscore.errors import InvalidVariantError
from hail_seqscore.records import Variant
from hail_seqscore.variants import VariantKind, classify, from_mapping, parse, validate


@pytest.mark.parametrize("ref,alt,kind", [
    ("A", "G", VariantKind.SNV), ("A", "AT", VariantKind.INSERTION),
    ("AT", "A", VariantKind.DELETION), ("AT", "GC", VariantKind.MNV),
    ("ATG", "GC", VariantKind.COMPLEX), ("A", "<DEL>", VariantKind.SYMBOLIC),
    ("A", "*", VariantKind.SYMBOLIC), ("A", ".", VariantKind.SYMBOLIC),
    ("A", "A]1:100]", VariantKind.SYMBOLIC),
])
def test_classify(ref, alt, kind):
    assert classify(ref, alt) is kind


def test_validate_uppercases_and_rejects_bad_fields():
    assert validate(Variant("1", 10, "a", "g")) == Variant("1", 10, "A", "G")
    with pytest.raises(InvalidVariantError, match="pos must be an integer >= 1"):
        validate(Variant("1", 0, "A", "G"))
    with pytest.raises(InvalidVariantError, match="ref must be bases"):
        validate(Variant("1", 5, "AXZ", "G"))
    with pytest.raises(InvalidVariantError, match="alt must be bases"):
        validate(Variant("1", 5, "A", "QQ"))


def test_from_mapping_names_the_field():
    v = from_mapping({"chrom": 17, "pos": 43045615, "ref": "G", "alt": "A"})
    assert v == Variant("17", 43045615, "G", "A")
    with pytest.raises(InvalidVariantError, match=r"variants\[3\]: missing field\(s\) alt"):
        from_mapping({"chrom": "1", "pos": 1, "ref": "A"}, where="variants[3]")
    with pytest.raises(InvalidVariantError, match=r"\.pos: expected an integer"):
        from_mapping({"chrom": "1", "pos": "12", "ref": "A", "alt": "C"})


def test_parse_text_forms():
    assert parse("chr1:100:A:G") == Variant("chr1", 100, "A", "G")
    assert parse("1-100-A-G") == Variant("1", 100, "A", "G")
    with pytest.raises(InvalidVariantError):
        parse("1:abc:A:G")
