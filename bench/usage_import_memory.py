"""Measure the memory and time of `monitor usage import` on a large report: prints figures.

    python bench/usage_import_memory.py [--rows 1000000] [--keep DIR]

Writes a synthetic Licensed User report (one row per environment, caller and day: --rows rows,
about 170 bytes each) and a one-tenant configuration into a temporary directory, then runs the
real command in a fresh interpreter, three times:

* a 10-row report (the interpreter, the imports and the database: the floor);
* the large report into an empty database (every row new);
* the same rows again in a file with another hash (every row compared with a stored one).

For each run it prints the exit code, the wall time and the child's peak RSS (``ru_maxrss`` from
``wait4``), so the figures before and after a change can be compared on the same machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

TENANT_ID = "3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70"
CLIENT_ID = "5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d"
HEADER = (
    "Environment ID,Environment Name,Caller ID,Caller Type,Usage Datetime (UTC),"
    "Entitled quantity,Total consumed quantity,Dataverse Requests,Power Automate Requests,"
    "Power Apps Requests\n"
)
ENVIRONMENTS = 10
DAYS = 100


def write_config(root: Path) -> Path:
    (root / "credentials").mkdir(mode=0o700)
    secret = root / "credentials" / "secret"
    secret.write_text("bench-secret-value")
    secret.chmod(0o600)
    config = root / "monitor.toml"
    config.write_text(
        f"""
[database]
path = "{root / "monitor.db"}"

[tenants.contoso]
tenant_id = "{TENANT_ID}"

[environments.contoso-prod]
tenant = "contoso"
url = "https://contoso.crm.dynamics.com"

[identities.sales-sync]
kind = "application"
tenant = "contoso"
client_id = "{CLIENT_ID}"
secret = {{ credential = "secret" }}
environments = ["contoso-prod"]
"""
    )
    config.chmod(0o600)
    return config


def write_report(path: Path, rows: int, *, consumed_offset: int = 0) -> int:
    """Write *rows* rows (environments x callers x days); return the file size."""
    callers = max(1, rows // (ENVIRONMENTS * DAYS))
    environments = [str(uuid.uuid5(uuid.NAMESPACE_DNS, f"env-{i}")) for i in range(ENVIRONMENTS)]
    start = date(2026, 1, 1)
    days = [(start + timedelta(days=d)).isoformat() for d in range(DAYS)]
    written = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(HEADER)
        for caller_number in range(callers):
            caller = uuid.uuid5(uuid.NAMESPACE_URL, f"caller-{caller_number}")
            for env_number, environment in enumerate(environments):
                for day in days:
                    if written == rows:
                        return path.stat().st_size
                    consumed = (caller_number * 7 + env_number * 3) % 5000 + consumed_offset
                    file.write(
                        f"{environment},Env {env_number},{caller},User,{day},40000,"
                        f"{consumed},{consumed},0,0\n"
                    )
                    written += 1
    return path.stat().st_size


def run(config: Path, report: Path, credentials: Path) -> tuple[int, float, float]:
    """Run the import in a fresh interpreter; return (exit code, seconds, peak RSS in MiB)."""
    env = dict(os.environ, CREDENTIALS_DIRECTORY=str(credentials))
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "usage", "import", str(report)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    assert process.stderr is not None
    error = process.stderr.read().decode(errors="replace").strip()
    process.stderr.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        print(f"    exit {process.returncode}: {error[-300:]}")
    return process.returncode, elapsed, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="usage-import-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        config = write_config(root)
        credentials = root / "credentials"
        small = root / "small.csv"
        write_report(small, 10)
        large = root / "large.csv"
        size = write_report(large, args.rows)
        again = root / "again.csv"
        write_report(again, args.rows, consumed_offset=1)
        print(f"report: {args.rows:,} rows, {size / 2**20:,.1f} MiB")
        for label, report in (
            ("10 rows (floor)", small),
            (f"{args.rows:,} rows, all new", large),
            (f"{args.rows:,} rows, all replacing stored rows", again),
        ):
            code, seconds, peak = run(config, report, credentials)
            print(f"  {label:<42} exit {code}  {seconds:7.1f} s  peak RSS {peak:8,.0f} MiB")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
