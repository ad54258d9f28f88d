"""Tests that keep the README honest about the CLI and CI."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.cli import COMMANDS, build_parser

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()


def _quick_start(tag: str) -> str:
    match = re.search(rf"<!-- {tag} -->\n```sh\n(.+)\n```", README)
    assert match is not None, f"README has no {tag} block"
    return match.group(1)


def test_every_subcommand_is_documented_in_the_readme() -> None:
    """Each registered subcommand appears in the README's commands table."""
    missing = [name for name in COMMANDS if f"`monitor {name}" not in README]
    assert [] == missing


def test_every_subcommand_has_help() -> None:
    """The parser builds with every command module and each has a help line."""
    parser = build_parser()
    actions = [a for a in parser._actions if a.dest == "command"]
    choices = actions[0].choices  # type: ignore[union-attr]
    assert sorted(COMMANDS) == sorted(choices)


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
    from monitor.outcomes import Outcome
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
