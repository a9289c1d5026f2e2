import hashlib
import zipfile

import pytest

from hail_seqscore.errors import WeightChecksumError
from hail_seqscore.models.registry import WeightFile
from hail_seqscore.wheels import extract_checked, find_wheel


def _wheel(path, name, data):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, data)
    return path


def test_extract_checks_sha256_and_is_idempotent(tmp_path):
    data = b"#NAME\tCHROM\n"
    pin = WeightFile("pkg/annotations/t.txt", hashlib.sha256(data).hexdigest())
    whl = _wheel(tmp_path / "pkg-1.0-py3-none-any.whl", pin.path_in_wheel, data)
    out = extract_checked(whl, pin, tmp_path / "out" / "t.txt")
    assert out.read_bytes() == data
    assert extract_checked(whl, pin, out) == out
    assert find_wheel("pkg", "1.0", tmp_path) == whl


def test_wrong_content_names_file_and_expected_sha(tmp_path):
    pin = WeightFile("pkg/t.txt", "0" * 64)
    whl = _wheel(tmp_path / "pkg-1.0-py3-none-any.whl", pin.path_in_wheel, b"tampered")
    with pytest.raises(WeightChecksumError) as e:
        extract_checked(whl, pin, tmp_path / "t.txt", expected="pkg==1.0")
    assert "pkg/t.txt" in e.value.message and "0" * 64 in e.value.message
    assert not (tmp_path / "t.txt").exists()
    assert not list(tmp_path.glob(".part-*"))


def test_missing_member_and_bad_zip(tmp_path):
    pin = WeightFile("pkg/t.txt", "0" * 64)
    whl = _wheel(tmp_path / "a.whl", "other.txt", b"x")
    with pytest.raises(WeightChecksumError, match="has no pkg/t.txt"):
        extract_checked(whl, pin, tmp_path / "t.txt")
    bad = tmp_path / "b.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(WeightChecksumError, match="not a readable wheel"):
        extract_checked(bad, pin, tmp_path / "t.txt")
