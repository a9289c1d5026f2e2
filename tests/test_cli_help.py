"""Every subcommand has help that runs, and the README documents every subcommand."""

from pathlib import Path

import pytest

from hail_seqscore.cli import build_parser, main


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_core_subcommands_exist():
    assert {"score", "export", "models", "annotation"} <= set(_subcommands())


@pytest.mark.parametrize("name", _subcommands())
def test_help_runs(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: seqscore " + name)
    assert len(out.splitlines()) > 3


@pytest.mark.parametrize("name", _subcommands())
def test_readme_mentions_subcommand(name):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"seqscore {name}" in readme


def test_no_subcommand_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err
