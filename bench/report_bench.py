"""Measure `monitor report` on a synthetic year (see make_history.py): prints figures.

    python bench/report_bench.py PATH [--identities 300 --days 365] [--repeat 5]

PATH is built first if it does not exist (a few minutes for the full year on 2 cores) and kept
for the next run. Measured, each as the best and the median of --repeat runs:

* in-process: opening the read-only snapshot, building the view and rendering it as text,
  for the status board (30 days), one identity's 30-day history and the 90-day expiry
  calendar (the figures the targets are about: 0.5 s, 0.3 s, 0.3 s);
* the whole command in a fresh interpreter (Python start-up and imports included) for the
  same three, with ``--database`` only and with the synthetic configuration PATH.toml
  (loading a configuration validates every certificate's private key: ~80 ms each here),
  and `monitor --help` (target 0.3 s);
* `monitor check --stored` (the read-only Nagios/Icinga check of every identity) in process and
  as a whole command with PATH.toml (target 0.3 s: it reads no secret, so no private key is
  validated);
* that the report process imported neither msal nor apprise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import make_history  # noqa: E402

# The synthetic configuration reads its secrets from here (see make_history.write_config).
ENVIRONMENT = {"BENCH_SECRET": "bench-secret-value"}
TARGETS = {"board": 0.5, "history": 0.3, "expiring": 0.3, "help": 0.3, "stored": 0.3}


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Return (best, median) seconds of *repeat* runs of *action*."""
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return min(seconds), statistics.median(seconds)


def load_config(path: Path) -> Any:
    """Return the synthetic install's configuration (PATH.toml), or None if there is none."""
    from monitor.config import load_config as load

    config_path = path.with_name(path.name + ".toml")
    if not config_path.exists():
        return None
    return load(config_path, environ={**os.environ, **ENVIRONMENT})


def in_process(path: Path, view_name: str, identity: str | None, config: Any) -> Callable[[], str]:
    from datetime import timedelta

    from monitor.report.context import ReportContext, Selection, identities_from_config
    from monitor.report.database import open_database
    from monitor.report.render import text
    from monitor.report.views import board, expiring, history
    from monitor.report.views.common import Options

    view: ModuleType = {"board": board, "history": history, "expiring": expiring}[view_name]

    def run() -> str:
        now = datetime.now(UTC)
        selection = Selection(identities=frozenset({identity}) if identity else None)
        context = ReportContext(
            now=now,
            since=now - view.DEFAULT_SINCE,
            until=now,
            zone=None,
            selection=selection,
            configured={} if config is None else identities_from_config(config),
            has_config=config is not None,
            config=config,
        )
        with open_database(path) as database:
            result = view.build(database, context, Options(within=timedelta(days=90)))
        return text.render(result, zone=None)

    return run


def stored_check(path: Path, config_path: Path) -> Callable[[], str]:
    """`monitor check --stored` in process: the configuration without secrets, the read-only
    snapshot, the state of every identity, rendered."""
    from monitor.config import load_config
    from monitor.report.database import open_database
    from monitor.report.stored import render_text, stored_check

    def run() -> str:
        config = load_config(config_path, secrets=False)
        with open_database(path) as database:
            check = stored_check(
                database, config, datetime.now(UTC), identities=list(config.identities)
            )
        return render_text(check)

    return run


def command(config: Path, *args: str, nagios: bool = False) -> Callable[[], None]:
    def run() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **ENVIRONMENT},
        )
        if done.returncode != 0 and not (nagios and done.returncode <= 3):
            raise SystemExit(f"monitor {' '.join(args)} failed: {done.stderr.strip()}")

    return run


def heavy_imports(path: Path) -> list[str]:
    code = (
        "import sys\nfrom monitor.cli import main\n"
        f"main(['--config', '/nonexistent', 'report', '--database', {str(path)!r}, '--json'])\n"
        "print([m for m in ('msal', 'apprise', 'sqlalchemy') if m in sys.modules], file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(eval(done.stderr.strip().splitlines()[-1]))  # noqa: S307 - our own output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="the synthetic database (built if missing)")
    make_history.add_size_options(parser)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    make_history.ensure(args.path, force=False, **make_history.sizes(args))
    size = sum(part.stat().st_size for part in make_history.iter_files(args.path))
    import sqlite3

    connection = sqlite3.connect(f"file:{args.path}?mode=ro", uri=True)
    results = connection.execute("SELECT count(*) FROM probe_result").fetchone()[0]
    identity = connection.execute(
        "SELECT identity FROM identity_state WHERE outcome != 'ok' ORDER BY identity LIMIT 1"
    ).fetchone()
    identity = identity[0] if identity else "integration-000"
    connection.close()
    print(f"database {args.path}: {size / 2**20:,.0f} MiB, {results:,} probe results")
    print(f"history identity: {identity}")

    config = load_config(args.path)
    config_path = args.path.with_name(args.path.name + ".toml")
    if config is None:
        config_path = Path("/nonexistent/monitor.toml")
    print(f"configuration: {config_path if config is not None else 'none (--database only)'}")
    rows: list[tuple[str, float, float, float | None]] = []
    for name, ident in (("board", None), ("history", identity), ("expiring", None)):
        best, median = timed(in_process(args.path, name, ident, config), args.repeat)
        rows.append((f"{name} (in process)", best, median, TARGETS[name]))
    database = ("--database", str(args.path))
    variants = [(Path("/nonexistent/monitor.toml"), "--database only")]
    if config is not None:
        variants.append((config_path, "with --config"))
    for path_of_config, how in variants:
        for name, cli_args in (
            ("board", ("report", *database)),
            ("history", ("report", "history", "--identity", identity, *database)),
            ("expiring", ("report", "expiring", *database)),
        ):
            best, median = timed(command(path_of_config, *cli_args), args.repeat)
            rows.append((f"`monitor report {name}`, {how}", best, median, None))
    best, median = timed(command(config_path, "--help"), args.repeat)
    rows.append(("`monitor --help`", best, median, TARGETS["help"]))
    if config is not None:
        best, median = timed(stored_check(args.path, config_path), args.repeat)
        rows.append(("check --stored (in process)", best, median, TARGETS["stored"]))
        stored = command(config_path, "check", "--stored", nagios=True)
        best, median = timed(stored, args.repeat)
        rows.append(("`monitor check --stored`, with --config", best, median, TARGETS["stored"]))

    print(f"{'measure':<46} {'best':>8} {'median':>8} {'target':>8}")
    for label, best, median, target in rows:
        verdict = (
            "" if target is None else f"{target:>7.1f}s {'ok' if median <= target else 'OVER'}"
        )
        print(f"{label:<46} {best:>7.3f}s {median:>7.3f}s {verdict}")
    print(f"imported by a report: {heavy_imports(args.path) or 'nothing heavy'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
