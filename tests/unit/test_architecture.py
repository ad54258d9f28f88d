"""The import rules of docs/architecture.md: floors, no loops, a leaf model, a light store,
findings, incident machine and report, and a simulator only the commands use."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "monitor"

# docs/architecture.md, "Floors": a room may import its own floor or the ones below.
FLOORS: dict[str, int] = {
    "model": 0,
    "__init__": 0,
    "secrets": 1,
    "journal": 1,
    "cloud": 1,
    "exits": 1,
    "damage": 1,
    "reloads": 1,
    "logsetup": 2,
    "config": 3,
    "http": 4,
    "store": 5,
    "probes": 6,
    "directory": 6,
    "usage": 6,
    "findings": 7,
    "notify": 8,
    "incidents": 9,
    "pipeline": 10,
    "daemon": 11,
    "output": 11,
    "metrics": 11,
    "report": 12,
    "commands": 13,
    "cli": 13,
    "__main__": 13,
}
HEAVY = ("msal", "requests", "apprise")


def room(module: str) -> str:
    """Return the room of ``monitor.x.y`` (``x``), or ``__init__`` for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imports(path: Path) -> Iterator[str]:
    """Yield every ``monitor`` module *path* imports, at any depth (function bodies and
    ``TYPE_CHECKING`` blocks included: an upward import there still ties the floors)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "monitor" or node.module.startswith("monitor."):
                yield node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "monitor" or alias.name.startswith("monitor."):
                    yield alias.name


def edges() -> list[tuple[str, str, Path]]:
    """Return (importing module, imported module, file) for every import in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        found.extend((source, target, path) for target in imports(path))
    return found


def test_every_room_has_a_floor() -> None:
    """A new top-level module or package gets a floor in docs/architecture.md and here."""
    rooms = {room(module_name(path)) for path in PACKAGE.rglob("*.py")} - {"simulator"}
    assert rooms <= set(FLOORS), sorted(rooms - set(FLOORS))


def test_nothing_imports_upwards() -> None:
    """No module imports a room on a higher floor (docs/architecture.md, "Floors")."""
    upward = [
        f"{path.relative_to(PACKAGE.parent)}: {source} -> {target}"
        for source, target, path in edges()
        if room(source) in FLOORS
        and room(target) in FLOORS
        and FLOORS[room(target)] > FLOORS[room(source)]
    ]
    assert [] == upward


def test_no_two_rooms_import_each_other() -> None:
    """The rooms form no loop, also among rooms of one floor."""
    graph: dict[str, set[str]] = {}
    for source, target, _ in edges():
        if room(source) != room(target):
            graph.setdefault(room(source), set()).add(room(target))
    visiting: set[str] = set()
    done: set[str] = set()
    loops: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        if node in done:
            return
        if node in visiting:
            loops.append(" -> ".join([*trail[trail.index(node) :], node]))
            return
        visiting.add(node)
        for neighbour in sorted(graph.get(node, ())):
            visit(neighbour, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    assert [] == loops


def test_the_model_imports_nothing_of_the_project() -> None:
    """monitor.model is the ground floor: the standard library and itself only."""
    outside = [
        f"{source} -> {target}"
        for source, target, _ in edges()
        if room(source) == "model" and room(target) not in ("model", "__init__")
    ]
    assert [] == outside


def test_the_store_imports_no_probe_directory_or_delivery_code() -> None:
    """The store knows records, not the code that makes or sends them."""
    allowed = {"model", "store", "logsetup", "exits", "__init__"}
    outside = [
        f"{source} -> {target}"
        for source, target, _ in edges()
        if room(source) == "store" and room(target) not in allowed
    ]
    assert [] == outside


def test_only_the_commands_import_the_simulator() -> None:
    """Production code never imports the simulator (only `monitor demo`, `monitor simulator`
    and the tests do), and the simulator imports nothing of the monitor but exit codes."""
    all_edges = edges()
    importers = {
        source
        for source, target, _ in all_edges
        if room(target) == "simulator" and room(source) != "simulator"
    }
    assert all(room(name) == "commands" for name in importers), sorted(importers)
    used_by_simulator = {
        target
        for source, target, _ in all_edges
        if room(source) == "simulator" and room(target) != "simulator"
    }
    assert used_by_simulator <= {"monitor.exits"}


@pytest.mark.parametrize(
    "module",
    [
        "monitor.store",
        "monitor.store.store",
        "monitor.findings.posture",
        "monitor.findings.probes",
        "monitor.findings.usage",
        "monitor.incidents.machine",
        "monitor.report.views",
        "monitor.commands.report",
    ],
)
def test_light_rooms_load_no_network_or_delivery_library(module: str) -> None:
    """Imported in a fresh interpreter, the store, the finding rules, the incident state
    machine and the report load neither msal, requests nor apprise."""
    program = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [] == loaded


@pytest.mark.parametrize(
    "module", ["monitor.findings.posture", "monitor.incidents.machine", "monitor.commands.report"]
)
def test_rules_and_report_load_no_database_library(module: str) -> None:
    """The pure rules and the report's start do not even load SQLAlchemy."""
    program = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "print('sqlalchemy' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert "False" == loaded
