"""Tests that keep the README honest about the CLI and CI."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from monitor.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()


def _quick_start(tag: str) -> str:
    match = re.search(rf"<!-- {tag} -->\n```sh\n(.+)\n```", README)
    assert match is not None, f"README has no {tag} block"
    return match.group(1)


def _subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Return the parser's one sub-command action."""
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action


def _help_lines(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Return each sub-command's (or action's) help line, by name, as argparse registered it."""
    return {choice.dest: choice.help or "" for choice in _subcommands(parser)._choices_actions}


def _help_output(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Return what ``monitor ARGV... --help`` prints, with its line wrapping undone."""
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert 0 == exited.value.code
    return " ".join(capsys.readouterr().out.split())


def _command_rows(name: str) -> list[str]:
    """Return the first cell of every README table row that documents ``monitor NAME``."""
    return [
        line.split(" | ", 1)[0]
        for line in README.splitlines()
        if re.match(rf"\| `monitor {name}[ `]", line)
    ]


def test_every_subcommand_is_documented_in_the_readme() -> None:
    """Each registered subcommand has a row in the README's commands table."""
    commands = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    documented = {
        match.group(1) for match in re.finditer(r"^\| `monitor ([a-z]+)", commands, re.MULTILINE)
    }
    assert [] == [name for name in COMMANDS if name not in documented]


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Every subcommand registers a non-empty help line, and `monitor --help` prints it next to
    the subcommand's name, in the order of the registry."""
    helps = _help_lines(build_parser())
    output = _help_output(capsys)

    assert list(COMMANDS) == list(helps)
    assert [] == [name for name, text in helps.items() if not text.strip()]
    assert [] == [name for name, text in helps.items() if f"{name} {text}" not in output]


def test_every_subcommand_action_has_help_and_a_readme_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Actions and views (``config validate``, ``report history`` ...) each have a non-empty help
    line that ``monitor COMMAND --help`` prints, and are named in the README row of their
    command."""
    subparsers = _subcommands(build_parser()).choices
    nested = {
        name: _help_lines(parser)
        for name, parser in subparsers.items()
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
    }
    assert nested, "no subcommand has actions"

    for name, helps in nested.items():
        output = _help_output(capsys, name)
        rows = " ".join(_command_rows(name))
        for action, text in helps.items():
            assert text.strip(), f"monitor {name} {action} has no help"
            assert f"{action} {text}" in output, f"monitor {name} --help lacks {action}"
            assert re.search(rf"\b{action}\b", rows), f"README has no row for {name} {action}"


def test_quick_start_has_exactly_the_two_commands_ci_runs() -> None:
    """One command runs the demo, one the tests, and .ci/run takes both from the README."""
    demo = _quick_start("quick-start-demo")
    tests = _quick_start("quick-start-test")
    ci = (ROOT / ".ci" / "run").read_text()

    assert demo.endswith("monitor demo")
    assert "pytest" in tests
    assert "'.[test]'" in tests
    assert "readme_command quick-start-test" in ci
    assert "readme_command quick-start-demo" in ci
    assert 2 == README.count("<!-- quick-start-")


def test_layout_map_names_only_paths_that_exist() -> None:
    """Every path in the README's layout table exists in the repository."""
    layout = README.split("### Layout", 1)[1]
    paths = re.findall(r"^\| `([^`]+)`", layout, flags=re.MULTILINE)
    assert paths
    for entry in paths:
        for path in entry.split("`, `"):
            assert (ROOT / path.rstrip("/")).exists(), path


def test_the_outcome_table_lists_every_class_with_its_codes() -> None:
    """Each outcome class has a row in the README's outcome table, and every AADSTS and
    Dataverse code the classifier knows appears in it."""
    from monitor.model.outcomes import Outcome
    from monitor.probes.classify import AADSTS_OUTCOMES, DATAVERSE_CODES

    table = README.split("| outcome | nature |", 1)[1].split("\n\n", 1)[0]
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `([a-z_]+)` \|[^|]+\|[^|]+\| (.+) \|$", table, re.M)
    }
    assert sorted(o.value for o in Outcome) == sorted(rows)
    for code, outcome in AADSTS_OUTCOMES.items():
        assert re.search(rf"\b{code}\b", rows[outcome.value]), (code, outcome)
    for code, outcome in DATAVERSE_CODES.items():
        assert code.lower() in rows[outcome.value].lower(), (code, outcome)


def test_platform_page_lists_every_code_the_classifier_knows() -> None:
    """docs/platform.md gives every AADSTS code its class, and lists every Dataverse code."""
    from monitor.probes.classify import AADSTS_OUTCOMES, DATAVERSE_CODES

    page = (ROOT / "docs" / "platform.md").read_text()
    table = page.split("| class | AADSTS codes |", 1)[1].split("\n\n", 1)[0]
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `([a-z_]+)` \| (.+) \|$", table, re.M)
    }
    for code, outcome in AADSTS_OUTCOMES.items():
        assert re.search(rf"\b{code}\b", rows[outcome.value]), (code, outcome)
    dataverse = page.split("## Dataverse answers", 1)[1].split("\n## ", 1)[0].lower()
    for code in DATAVERSE_CODES:
        assert f"`{code.lower()}`" in dataverse, code
