"""`seqscore models`: what is known, what is exported, where it came from."""

from __future__ import annotations

import json

import pytest

from hail_seqscore.cli import main


def test_models_lists_known_models_when_nothing_is_exported(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQSCORE_HOME", str(tmp_path))
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"spliceai", "cispliceai", "openspliceai", "pangolin", "puffin",
                         "enformer", "basenji2", "aitac"}
    assert not rows["spliceai"]["exported"]
    assert rows["spliceai"]["licence"] == "CC BY-NC 4.0"
    assert rows["cispliceai"]["source"] == "cispliceai==1.2.2"
    assert rows["pangolin"]["source"] == "github.com/tkzeng/Pangolin@5cf94b8d"
    assert rows["openspliceai"]["licence"] == "GPL-3.0"
    assert not rows["openspliceai"]["redistributable"]
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "seqscore export spliceai\n" in text
    assert "seqscore export pangolin --from DIR" in text


def test_models_shows_an_exported_model(tmp_path, monkeypatch, capsys, model_weights):
    pytest.importorskip("torch", reason="needs the export extra")
    (pb,) = model_weights("cispliceai")
    monkeypatch.setenv("SEQSCORE_HOME", str(tmp_path))
    assert main(["export", "cispliceai", "--from", str(pb)]) == 0
    capsys.readouterr()
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    cis = rows["cispliceai"]
    assert cis["exported"] and cis["path"] == str(tmp_path / "models" / "cispliceai.onnx")
    assert len(cis["sha256"]) == 64 and cis["members"] == 5 and cis["context"] == 10_000
    assert cis["licence"] == "CC BY 4.0" and cis["source"] == "cispliceai==1.2.2"
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "cispliceai\texported" in text and cis["sha256"] in text


def test_models_help(capsys):
    with pytest.raises(SystemExit):
        main(["models", "--help"])
    assert "--json" in capsys.readouterr().out


@pytest.mark.parametrize("name,how", [
    ("spliceai", "`seqscore export spliceai`"),
    ("pangolin", "`git clone https://github.com/tkzeng/Pangolin` and `seqscore export pangolin "
                 "--from Pangolin`"),
    ("openspliceai", "`git clone https://github.com/Kuanhao-Chao/OpenSpliceAI` and `seqscore "
                     "export openspliceai --from OpenSpliceAI`"),
])
def test_a_model_not_exported_says_how_to_get_it(tmp_path, monkeypatch, capsys, name, how):
    monkeypatch.setenv("SEQSCORE_HOME", str(tmp_path))
    monkeypatch.setenv("SEQSCORE_OFFLINE", "1")      # no export on first use (see test_cli_autoexport)
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    assert main(["score", "-I", str(vcf), "-R", "ref.fa", "--model", name]) == 69
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and how in err
