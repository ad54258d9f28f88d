"""Every number in the configuration has an upper bound: a value that passes validation never
overflows a date, a duration or a database integer later."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_testkit import MINIMAL, MINIMAL_ENVIRON, WriteConfig

from monitor import cli
from monitor.config.problems import KeyPath
from monitor.config.schema import (
    ArrayOfTables,
    Context,
    ListOf,
    NamedTables,
    Table,
    ValueType,
)
from monitor.config.sections import ROOT
from monitor.exits import EXIT_CONFIG


def numeric_paths(node: ValueType, path: KeyPath = ()) -> list[tuple[KeyPath, ValueType]]:
    """Return the path of every value of the schema that takes a number (NAME for named
    tables, 0 for array items)."""
    if isinstance(node, Table):
        return [
            found
            for key, field in node.fields.items()
            for found in numeric_paths(field.type, (*path, key))
        ]
    if isinstance(node, NamedTables):
        return numeric_paths(node.table, (*path, "NAME"))
    if isinstance(node, ArrayOfTables):
        return numeric_paths(node.table, (*path, 0))
    if isinstance(node, ListOf):
        return numeric_paths(node.item, (*path, 0))
    context = Context(Path("."))
    for probe in (1, 1.0):
        if node.convert(probe, path, context, "") is not None and not context.problems:
            return [(path, node)]
    if type(node).__name__ == "SkuRequests":
        return [((*path, "CRMPLAN2"), node)]
    return []


PATHS = numeric_paths(ROOT)


def test_the_schema_has_the_numbers_this_test_walks() -> None:
    """The walk finds the numbers of every section (a guard against a vacuous test)."""
    sections = {path[0] for path, _ in PATHS}
    assert {
        "network",
        "probing",
        "schedule",
        "retention",
        "alerts",
        "directory",
        "usage",
    } <= sections
    assert len(PATHS) > 40


@pytest.mark.parametrize(("path", "node"), PATHS, ids=[".".join(map(str, p)) for p, _ in PATHS])
@pytest.mark.parametrize("huge", [1e308, 10**30], ids=["1e308", "10**30"])
def test_no_number_is_unbounded(path: KeyPath, node: ValueType, huge: float) -> None:
    """1e308 and 10**30 are refused wherever the configuration takes a number."""
    context = Context(Path("."))
    value = {"CRMPLAN2": huge} if path[-1] == "CRMPLAN2" else huge
    node.convert(value, path[:-1] if path[-1] == "CRMPLAN2" else path, context, "")
    assert [path] == [problem.key_path for problem in context.problems]


def test_interval_hours_1e308_is_a_configuration_error(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The case that overflowed in `monitor check`: refused at validation, exit 78."""
    path = write_config(f"{MINIMAL}\n[directory]\ninterval_hours = 1e308\n")
    monkeypatch.setattr(cli, "COMMANDS", {"config": "config"})
    for name, value in MINIMAL_ENVIRON.items():
        monkeypatch.setenv(name, value)

    code = cli.main(["--config", str(path), "config", "validate"])

    assert EXIT_CONFIG == code
    assert (
        "  directory.interval_hours: expected a positive number of hours, at most 8,784, found "
        "1e+308; hint: read Graph and Dataverse metadata of each tenant this often; default 6"
    ) in capsys.readouterr().err.splitlines()
