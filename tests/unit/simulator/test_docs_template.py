"""The scenario template in docs/simulator.md: valid, and naming every key the loader reads."""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from importlib import resources
from pathlib import Path

import pytest

from monitor.simulator import FAULT_MODES, load_scenario
from monitor.simulator import scenario as scenario_module
from monitor.simulator.ca import make_client_certificate

PAGE = Path(__file__).parents[3] / "docs" / "simulator.md"
CLIENT_ID = "5c1e8b3a-7d2f-4e6a-9b1c-0d3e5f7a9b2c"
# Keys the template shows in a comment only (an alternative to a key it uses).
IN_COMMENTS = {"apps.certificates": {"path", "pem", "end", "name"}}


def _template() -> str:
    """Return the TOML block of the page's "Scenario file" section."""
    section = PAGE.read_text().split("## Scenario file", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```toml\n(.+?)```", section, re.DOTALL)
    assert match is not None, "docs/simulator.md has no scenario template"
    return match.group(1)


def _keys_present(value: object, path: str, found: dict[str, set[str]]) -> None:
    """Collect the keys of every table in *value* by their path without indexes."""
    if isinstance(value, dict):
        found[path] |= set(value)
        for key, item in value.items():
            _keys_present(item, f"{path}.{key}" if path else key, found)
    elif isinstance(value, list):
        for item in value:
            _keys_present(item, path, found)


def test_the_template_loads_and_names_every_key_the_loader_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the template succeeds, and every key the loader asks each table for (its
    readers record them) is in the template, or in its comments where noted."""
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "erp.pem").write_bytes(make_client_certificate("erp")[0])
    path = tmp_path / "template.toml"
    path.write_text(_template())
    read: dict[str, set[str]] = defaultdict(set)
    finish = scenario_module._Fields.finish

    def recording_finish(fields: scenario_module._Fields) -> None:
        read[re.sub(r"\[\d+\]", "", fields._path)] |= fields._used
        finish(fields)

    monkeypatch.setattr(scenario_module._Fields, "finish", recording_finish)

    scenario = load_scenario(path)

    present: dict[str, set[str]] = defaultdict(set)
    _keys_present(tomllib.loads(_template()), "", present)
    for table, keys in IN_COMMENTS.items():
        present[table] |= keys
    missing = {table: sorted(keys - present[table]) for table, keys in read.items()}
    assert {} == {table: keys for table, keys in missing.items() if keys}
    application = scenario.application(CLIENT_ID)
    assert (["contoso", "fabrikam"], 4, 0, 2, 1) == (
        sorted(scenario.tenants),
        len(application.secrets),
        len(application.certificates),
        len(scenario.environment("contoso-prod").members),
        len(scenario.faults),
    )


def test_the_page_lists_every_fault_mode() -> None:
    """Each fault mode the simulator knows has a row in the page's table (the 502 and 503
    pages share the row of ``http_500``)."""
    page = PAGE.read_text()
    rows = {mode for mode in FAULT_MODES if f"| `{mode}` |" in page}
    assert sorted(set(FAULT_MODES) - {"http_502", "http_503"}) == sorted(rows)


def test_the_shipped_template_is_the_documented_one_and_loads_on_its_own(tmp_path: Path) -> None:
    """``monitor simulator --print-template`` prints a file equal to the page's template, and
    a copy of it loads in an empty directory (no certificate file to provide)."""
    shipped = resources.files("monitor.simulator").joinpath("scenarios", "template.toml")
    assert _template() == shipped.read_text()
    copy = tmp_path / "copy.toml"
    copy.write_text(shipped.read_text())
    assert "template" == load_scenario(copy).name
