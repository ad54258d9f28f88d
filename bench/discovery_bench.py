"""What discovery costs on a large tenant: requests sent and wall time.

Run from the repository root::

    .venv/bin/python bench/discovery_bench.py                 # 5,000 system users, 2,000 apps
    .venv/bin/python bench/discovery_bench.py --json
    .venv/bin/python bench/discovery_bench.py --app-users 500 --system-users 1000 \
        --app-registrations 800 --latency-ms 50

The simulator (``monitor.simulator``, loopback HTTPS with its own CA) serves one tenant with one
environment of ``--system-users`` systemusers: ``--app-users`` application users (each with its
own app registration and one client secret), five non-interactive users with Entra accounts and
interactive users for the rest; the tenant has ``--app-registrations`` app registrations. A
``slow`` fault delays every answer by ``--latency-ms`` (default 100). :class:`Discovery` runs
once, as ``monitor discover`` does; the figures are the requests the simulator received (by
endpoint family) and the wall time. Targets: under 400 requests and under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from monitor.config import load_config
from monitor.pipeline.discovery import Discovery
from monitor.simulator import Simulator, scenario_from_dict
from monitor.simulator.scenario import Scenario, add_scale, stable_id

TENANT = "bench"
TENANT_ID = "5f0c2d1e-7a3b-4c5d-9e8f-0a1b2c3d4e5f"
OBSERVER = "0e1d2c3b-4a59-4687-9a8b-7c6d5e4f3a2b"
OBSERVER_SECRET = "bEnch8Q~discovery-observer-secret-000"
ENVIRONMENT = "prod"
NON_INTERACTIVE = 5
# The secret add_scale gives the first generated app (the one configured identity).
SCALE_SECRET = f"sc00001~{stable_id('scale-secret', '1')}"
TARGET_REQUESTS = 400
TARGET_SECONDS = 60.0


def build_scenario(system_users: int, app_users: int, registrations: int) -> Scenario:
    users = [
        {
            "upn": f"svc-{index}@bench.example",
            "password": f"Bench-password-{index:04d}-xY7",
            "password_changed": "-20d",
        }
        for index in range(1, NON_INTERACTIVE + 1)
    ]
    scenario = scenario_from_dict(
        {
            "name": "discovery-bench",
            "tenants": [
                {
                    "name": TENANT,
                    "id": TENANT_ID,
                    "domain": "bench.example",
                    "password_validity_days": 90,
                }
            ],
            "apps": [
                {
                    "client_id": OBSERVER,
                    "tenant": TENANT,
                    "name": "Monitor observer",
                    "graph_permissions": [
                        "Application.Read.All",
                        "User.Read.All",
                        "Domain.Read.All",
                        "Organization.Read.All",
                    ],
                    "secrets": [{"value": OBSERVER_SECRET, "end": "+400d"}],
                }
            ],
            "users": users,
            "environments": [
                {
                    "name": ENVIRONMENT,
                    "tenant": TENANT,
                    "members": [{"app": OBSERVER, "roles": ["Monitor reader"]}]
                    + [
                        {"user": user["upn"], "access_mode": 4, "roles": ["Export"]}
                        for user in users
                    ],
                }
            ],
        }
    )
    other = max(0, system_users - app_users - NON_INTERACTIVE - 1)
    add_scale(
        scenario,
        ENVIRONMENT,
        app_users=app_users,
        app_registrations=registrations,
        other_users=other,
    )
    return scenario


def write_config(root: Path, sim: Simulator) -> Path:
    path = root / "monitor.toml"
    text = f"""
[network]
ca_bundle = "{sim.ca_path}"
probe_deadline_seconds = 60

[database]
path = "{root / "monitor.db"}"

[tenants.{TENANT}]
tenant_id = "{TENANT_ID}"
cloud = "custom"
authority_host = "{sim.authority_host}"
graph_url = "{sim.graph_url}"
observer = {{ client_id = "{OBSERVER}", secret = "{OBSERVER_SECRET}" }}

[environments.{ENVIRONMENT}]
tenant = "{TENANT}"
url = "{sim.environment_url(ENVIRONMENT)}"

[identities.scale-0001]
kind = "application"
tenant = "{TENANT}"
client_id = "{stable_id("scale-app", ENVIRONMENT, "1")}"
secret = "{SCALE_SECRET}"
environments = ["{ENVIRONMENT}"]
"""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--system-users", type=int, default=5000)
    parser.add_argument("--app-users", type=int, default=2000)
    parser.add_argument("--app-registrations", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scenario = build_scenario(args.system_users, args.app_users, args.app_registrations)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        with Simulator(scenario, state_dir=root / "simulator") as sim:
            config = load_config(write_config(root, sim), environ={})
            if args.latency_ms > 0:
                sim.set_fault("*", "slow", seconds=args.latency_ms / 1000)
            sim.reset_counters()
            started = time.monotonic()
            result = Discovery(config).run(datetime.now(UTC))
            wall = time.monotonic() - started
            families = {
                family: sim.request_count(family)
                for family in ("discovery", "token", "graph", "dataverse")
            }
            errors = len(sim.internal_errors)
    identities = result.identities
    figures = {
        "system_users": args.system_users,
        "app_users": args.app_users,
        "app_registrations": args.app_registrations,
        "latency_ms": args.latency_ms,
        "identities_found": len(identities),
        "application_users_found": sum(1 for i in identities if i.kind == "application user"),
        "identities_with_facts_not_observed": sum(1 for i in identities if i.not_observed),
        "requests": sum(families.values()),
        "requests_by_family": families,
        "wall_seconds": round(wall, 2),
        "simulator_errors": errors,
        "within_targets": sum(families.values()) < TARGET_REQUESTS and wall < TARGET_SECONDS,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"discovery of {args.system_users:,} system users ({args.app_users:,} application "
            f"users) and {args.app_registrations:,} app registrations, "
            f"{args.latency_ms:g} ms latency per request"
        )
        print(
            f"  identities found: {figures['identities_found']:,} "
            f"({figures['application_users_found']:,} application users), "
            f"{figures['identities_with_facts_not_observed']} with facts not observed"
        )
        by_family = ", ".join(f"{name} {count}" for name, count in families.items())
        print(f"  requests: {figures['requests']} ({by_family}); target < {TARGET_REQUESTS}")
        print(f"  wall time: {wall:.1f} s; target < {TARGET_SECONDS:g} s")
        print(f"  simulator internal errors: {errors}")
    return 0 if figures["within_targets"] and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
