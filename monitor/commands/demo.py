"""``monitor demo``: the whole pipeline against the built-in simulator, in a throwaway folder.

The demo starts the simulator with the shipped demo scenario, writes a configuration (secrets in a
private credentials folder, exactly as under systemd) and a database into a temporary folder, runs
a check pass, shows what it found and what it would alert, runs a second pass to show the lockout
guard at work, and says how to go on. It exits 0 only when every identity showed the outcome the
scenario sets up for it, so it doubles as a self-test of an installation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import stat
import sys
import tempfile
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The demo tenant: which identity uses which simulator identity, and what the check must find.
CONTOSO_ID = "efb02f8b-3371-4071-a355-58597cfd899d"
FABRIKAM_ID = "10cb29f8-09ab-41e9-a1f1-9f70778d929c"
ERP_CLIENT_ID = "035699a2-f73a-4597-9d2c-b5817904b915"
PUBLIC_CLIENT_ID = "af13dc0e-5050-42a8-a6ba-9ad3c7506950"
# The monitor's own read-only app registration per tenant (Graph and Dataverse metadata).
OBSERVERS = {
    "contoso": "b8845d34-7b8e-4049-91f6-becf3ed9e8c6",
    "fabrikam": "ebf0d89b-cf15-4b48-9f13-2ea432f12f9d",
}


@dataclass(frozen=True)
class DemoIdentity:
    name: str
    tenant: str
    kind: str  # application | user
    client_id: str
    environments: tuple[str, ...]
    expected: str  # the outcome class the scenario sets up
    story: str
    causes: tuple[str, ...]  # the root causes it sets up (kinds of monitor.incidents.causes)
    username: str | None = None
    certificate: bool = False
    stale_password: bool = False  # configure a password the directory no longer accepts
    owner: str = "crm-team@contoso.com"


IDENTITIES: tuple[DemoIdentity, ...] = (
    DemoIdentity(
        "sales-sync",
        "contoso",
        "application",
        "ff7191fb-4358-43e1-b0ef-1c88798389f8",
        ("contoso-prod", "contoso-test"),
        "ok",
        "application user, client secret, two environments",
        ("privilege",),
    ),
    DemoIdentity(
        "erp-connector",
        "contoso",
        "application",
        ERP_CLIENT_ID,
        ("contoso-prod",),
        "ok",
        "application user, certificate (created for this demo)",
        ("privilege",),
        certificate=True,
    ),
    DemoIdentity(
        "invoice-export",
        "contoso",
        "application",
        "f62658e9-aba3-4e1e-b088-235f770dff0a",
        ("contoso-prod",),
        "ok",
        "application user whose secret expires in 9 days (signs in fine today)",
        ("credential",),
    ),
    DemoIdentity(
        "legacy-connector",
        "contoso",
        "application",
        "d097d339-5aa8-4382-be66-a443a7c0bd46",
        ("contoso-prod",),
        "credential_expired",
        "application user whose only secret has expired",
        ("credential",),
    ),
    DemoIdentity(
        "reporting",
        "contoso",
        "application",
        "97790aa3-2deb-4ad5-8adc-51207dfc547a",
        ("contoso-prod",),
        "account_disabled",
        "application user disabled in the Dataverse environment",
        ("account",),
    ),
    DemoIdentity(
        "archive-job",
        "contoso",
        "application",
        "7edc8f0b-d31f-4219-b66a-93d5ebfc2969",
        ("contoso-prod",),
        "not_in_environment",
        "application user that was never added to contoso-prod",
        ("access",),
    ),
    DemoIdentity(
        "fabrikam-integration",
        "fabrikam",
        "application",
        "32ba20f5-45df-432e-8afe-5038ca1a2400",
        ("fabrikam-prod",),
        "ok",
        "application user in a second tenant, close to its service protection limit",
        ("usage",),
        owner="fabrikam-ops@contoso.com",
    ),
    DemoIdentity(
        "dataverse-sync",
        "contoso",
        "user",
        PUBLIC_CLIENT_ID,
        ("contoso-prod",),
        "ok",
        "non-interactive user, password",
        ("advice",),
        username="svc-dataverse-sync@contoso.com",
    ),
    DemoIdentity(
        "reporting-service",
        "contoso",
        "user",
        PUBLIC_CLIENT_ID,
        ("contoso-prod",),
        "password_expired",
        "service account whose password expired",
        ("credential", "advice"),
        username="svc-reporting@contoso.com",
    ),
    DemoIdentity(
        "legacy-import",
        "contoso",
        "user",
        PUBLIC_CLIENT_ID,
        ("contoso-prod",),
        "policy_blocked",
        "service account caught by an MFA policy",
        ("account",),
        username="svc-legacy-import@contoso.com",
    ),
    DemoIdentity(
        "finance-export",
        "contoso",
        "user",
        PUBLIC_CLIENT_ID,
        ("contoso-prod",),
        "account_disabled",
        "service account disabled in Entra ID (its owner left)",
        ("account", "advice"),
        username="svc-finance-export@contoso.com",
    ),
    DemoIdentity(
        "crm-import",
        "contoso",
        "user",
        PUBLIC_CLIENT_ID,
        ("contoso-prod",),
        "credential_invalid",
        "named user's account; the person changed their password last week",
        ("credential", "advice"),
        username="j.doe@contoso.com",
        stale_password=True,
        owner="j.doe@contoso.com",
    ),
)


# The root causes of the demo tenants themselves: contoso uses all seven non-interactive users
# and has no spare licence to create one; fabrikam's observer lacks two Graph permissions.
TENANT_CAUSES: dict[str, tuple[str, ...]] = {
    "contoso": ("capacity", "licences"),
    "fabrikam": ("observer",),
}

HELP = "run a check against the built-in simulator with a demo tenant"
DESCRIPTION = (
    "Start the built-in Entra ID / Dataverse simulator with a demo tenant in which some "
    "integration identities are healthy and some are broken, run a check against it in a "
    "throwaway folder, and show what the monitor found and would alert. Needs no network. Exits "
    "0 when every demo identity showed the outcome its scenario sets up."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        metavar="DIR",
        type=Path,
        help="write the demo configuration, secrets and database to DIR and keep them",
    )


class UnsafePath(Exception):
    """A path the demo would write through is a link or not what it should be."""


def run(args: argparse.Namespace) -> int:
    try:
        if args.keep is not None:
            args.keep.mkdir(mode=0o700, parents=True, exist_ok=True)
            _require_directory(args.keep)
            return _run_in(args.keep.resolve(), args)
        with tempfile.TemporaryDirectory(prefix="monitor-demo-") as folder:
            return _run_in(Path(folder), args)
    except UnsafePath as error:
        print(f"monitor demo: {error}", file=sys.stderr)
        return 2


def _require_directory(path: Path) -> None:
    """Refuse a symbolic link or anything but a directory where the demo writes (as root, a
    link planted there would send secrets, or a chmod, elsewhere)."""
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePath(f"refusing to write into {path}: it is not a directory (or is a link)")
    if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o022:
        raise UnsafePath(
            f"refusing to write into {path}: it belongs to another user or others may write to it"
        )


def _run_in(folder: Path, args: argparse.Namespace) -> int:
    from monitor.commands._common import configure_logging_for
    from monitor.config import load_config
    from monitor.output.posture import render_posture_text
    from monitor.output.probes import render_table
    from monitor.pipeline.steps import CycleContext, probe, run_cycle
    from monitor.simulator import Simulator, demo_scenario_path, load_scenario
    from monitor.store import Store, fingerprint_key

    configure_logging_for(args, None)
    begun = time.monotonic()
    os.chmod(folder, 0o700)
    credentials = folder / "credentials"
    credentials.mkdir(mode=0o700, exist_ok=True)
    _require_directory(credentials)
    certificate_pem, certificate = _demo_certificate()

    with Simulator(load_scenario(demo_scenario_path()), state_dir=folder / "simulator") as sim:
        sim.add_certificate(ERP_CLIENT_ID, certificate)
        secrets = _write_credentials(credentials, certificate_pem, sim.scenario)
        config_path = _write_config(folder, sim.authority_host, sim.ca_path, sim, secrets)
        config = load_config(config_path, credentials_directory=credentials)
        print(_intro(folder, sim.authority_host))
        with Store.open(config.database.path) as store:
            key = fingerprint_key(config.database.path)
            context = CycleContext.build(config, store, fingerprint_key=key)
            cycle = run_cycle(context, list(config.identities.values()), notify=False, kind="demo")
            first = cycle.probes
            print(render_table(first.results))
            print()
            if cycle.directory is not None:
                print(render_posture_text(cycle.directory.posture, config, first.finished_at))
                print()
            print(_alerts(cycle))
            causes = _cause_mismatches(cycle)
            wrong_before = sim.failed_password_attempts("j.doe@contoso.com")
            second = probe(context, [config.identities["crm-import"]], kind="demo")
            wrong_after = sim.failed_password_attempts("j.doe@contoso.com")
        print(_lockout_story(second.results, wrong_before, wrong_after))
    mismatches = _mismatches(first.results) + causes
    if wrong_after != 1:
        mismatches.append(
            f"crm-import: the simulator saw {wrong_after} failed sign-ins, expected exactly 1"
        )
    elapsed = time.monotonic() - begun
    print(_next_steps(folder if args.keep else None, elapsed))
    if mismatches:
        print("\nThe demo did not go as its scenario sets up:", file=sys.stderr)
        for line in mismatches:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def _demo_certificate() -> tuple[bytes, Any]:
    """Return (PEM with private key and certificate, the certificate) for the ERP connector."""
    from monitor.simulator.ca import make_client_certificate

    return make_client_certificate("erp-connector (monitor demo)")


def _write_private(path: Path, data: bytes) -> None:
    """Write *data* to the file *path* (mode 0600), never through a link or into anything but
    a regular file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as error:
        raise UnsafePath(f"refusing to write {path}: {error.strerror}") from None
    with os.fdopen(fd, "wb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePath(f"refusing to write {path}: it is not a regular file")
        os.fchmod(fd, 0o600)
        file.truncate(0)
        file.write(data)


def _credential_value(identity: DemoIdentity, scenario: Any) -> str:
    """Return the secret or password the demo configures for *identity*, from the scenario."""
    if identity.kind == "user":
        password: str = scenario.user(identity.username).password
        return f"{password}-before-it-was-changed" if identity.stale_password else password
    # The secret that lasts longest: the current one (or the expired one, if that is all).
    secrets = scenario.application(identity.client_id).secrets
    newest = max(secrets, key=lambda s: s.end or dt.datetime.max.replace(tzinfo=dt.UTC))
    value: str = newest.value
    return value


def _write_credentials(
    credentials: Path, certificate_pem: bytes, scenario: Any
) -> Mapping[str, str]:
    """Write every identity's secret into the credentials folder; return identity -> file name."""
    names: dict[str, str] = {}
    for identity in IDENTITIES:
        name = f"{identity.name}.secret"
        if identity.certificate:
            data = certificate_pem
            name = f"{identity.name}.pem"
        else:
            data = _credential_value(identity, scenario).encode()
        _write_private(credentials / name, data)
        names[identity.name] = name
    for tenant, client_id in OBSERVERS.items():
        value: str = scenario.application(client_id).secrets[0].value
        _write_private(credentials / f"{tenant}-observer.secret", value.encode())
    return names


def _write_config(
    folder: Path, authority_host: str, ca_path: Path, sim: Any, secrets: Mapping[str, str]
) -> Path:
    tenant_ids = {"contoso": CONTOSO_ID, "fabrikam": FABRIKAM_ID}
    lines = [
        "# Written by `monitor demo`: the simulator's endpoints and CA, secrets in ./credentials.",
        "[network]",
        f'ca_bundle = "{ca_path}"',
        "probe_deadline_seconds = 10",
        "",
        "[database]",
        f'path = "{folder / "monitor.db"}"',
        "",
    ]
    for tenant, tenant_id in tenant_ids.items():
        lines += [
            f"[tenants.{tenant}]",
            f'tenant_id = "{tenant_id}"',
            'cloud = "custom"',
            f'authority_host = "{authority_host}"',
            f'graph_url = "{sim.graph_url}"',
            f'observer = {{ client_id = "{OBSERVERS[tenant]}", '
            f'secret = {{ credential = "{tenant}-observer.secret" }} }}',
            "",
        ]
    environments = {
        "contoso-prod": "contoso",
        "contoso-test": "contoso",
        "fabrikam-prod": "fabrikam",
    }
    for environment, tenant in environments.items():
        lines += [
            f"[environments.{environment}]",
            f'tenant = "{tenant}"',
            f'url = "{sim.environment_url(environment)}"',
            "",
        ]
    for identity in IDENTITIES:
        lines += [
            f"[identities.{identity.name}]",
            f'kind = "{identity.kind}"',
            f'tenant = "{identity.tenant}"',
            f'client_id = "{identity.client_id}"',
            "environments = [" + ", ".join(f'"{e}"' for e in identity.environments) + "]",
            f'owner = "{identity.owner}"',
        ]
        reference = f'{{ credential = "{secrets[identity.name]}" }}'
        if identity.certificate:
            lines.append(f"certificate = {reference}")
        elif identity.kind == "user":
            lines += [f'username = "{identity.username}"', f"password = {reference}"]
        else:
            lines.append(f"secret = {reference}")
        lines.append("")
    path = folder / "monitor.toml"
    _write_private(path, "\n".join(lines).encode())
    return path


def _intro(folder: Path, authority_host: str) -> str:
    return textwrap.dedent(
        f"""\
        monitor demo
        ============
        A simulated Entra ID and Dataverse is running at {authority_host} (loopback only, its own
        CA). Its demo tenant has {len(IDENTITIES)} integration identities: some healthy, some
        broken the way integrations break in real life. The monitor signs in as each of them for
        real and calls Dataverse WhoAmI with the token it gets.
        """
    )


def _alerts(cycle: Any) -> str:
    """Return the incidents the pass opened, one per root cause: what would go to Teams and
    e-mail."""
    from monitor.incidents.causes import CAUSE_WORDS, cause_kind

    opened = [t for t in cycle.transitions if t.event == "opened"]
    expected = len(_expected_causes())
    lines = [
        f"Incidents: {len(opened)} opened, one per root cause (the demo tenants set up "
        f"{expected}). With channels configured ([[channels]]: a Teams Workflows URL, an e-mail "
        "address) the critical and warning ones would be sent now, grouped into one message per "
        "channel; expiring credentials would be re-notified at 60/30/14/7/3/1 days:"
    ]
    stories = {identity.name: identity.story for identity in IDENTITIES}
    for transition in sorted(opened, key=lambda t: (t.level != "critical", t.incident_id)):
        who = transition.identity or f"tenant {transition.tenant}"
        story = f"  ({stories[transition.identity]})" if transition.identity in stories else ""
        kind = cause_kind(transition.incident.key) or transition.kind
        cause = CAUSE_WORDS.get(kind, kind)
        lines.append(f"  {transition.label} [{transition.level.upper()}] {who}: {cause}{story}")
    return "\n".join(lines)


def _expected_causes() -> set[tuple[str, str]]:
    """(who, cause kind) of every root cause the demo tenants set up."""
    expected = {(identity.name, cause) for identity in IDENTITIES for cause in identity.causes}
    expected |= {(f"tenant {t}", cause) for t, causes in TENANT_CAUSES.items() for cause in causes}
    return expected


def _cause_mismatches(cycle: Any) -> list[str]:
    """Return what differs between the incidents the pass opened and the root causes the demo
    sets up: a cause without its incident, a cause with two, an incident no cause explains."""
    from monitor.incidents.causes import cause_kind

    seen: dict[tuple[str, str], list[str]] = {}
    for transition in cycle.transitions:
        if transition.event != "opened":
            continue
        who = transition.identity or f"tenant {transition.tenant}"
        cause = cause_kind(transition.incident.key) or transition.kind
        seen.setdefault((who, cause), []).append(transition.label)
    expected = _expected_causes()
    problems = [
        f"{who}: no incident for its {cause} problem" for who, cause in expected - set(seen)
    ]
    for (who, cause), labels in sorted(seen.items()):
        if (who, cause) not in expected:
            problems.append(f"{who}: unexpected incident {', '.join(labels)} ({cause})")
        elif len(labels) > 1:
            problems.append(f"{who}: {len(labels)} incidents for one {cause} problem")
    return sorted(problems)


def _lockout_story(results: Any, before: int, after: int) -> str:
    held = all(not result.attempted for result in results)
    verdict = "held back, no sign-in attempted" if held else "tried again (unexpected)"
    return textwrap.dedent(
        f"""
        Lockout safety: a second pass over crm-import (wrong password) was {verdict}.
        The simulated directory counted {after} failed sign-in(s) for that account in total
        ({after - before} from the second pass): the monitor never adds to an account's
        lockout counter with a password it already knows is wrong."""
    )


def _next_steps(kept: Path | None, elapsed: float) -> str:
    where = (
        f"The demo configuration, secrets and database are in {kept}."
        if kept
        else "Everything was written to a temporary folder and has been removed "
        "(run `monitor demo --keep DIR` to keep it)."
    )
    return textwrap.dedent(
        f"""
        Finished in {elapsed:.1f} s. {where}

        Next steps:
          - copy config.example.toml to /etc/monitor/monitor.toml and describe your identities;
          - `monitor config validate` checks it without signing in anywhere;
          - `monitor check` runs one pass (exit codes follow the Nagios plugin convention);
          - `monitor simulator` serves this simulator on its own, to try a configuration safely."""
    )


def _mismatches(results: Any) -> list[str]:
    expected = {identity.name: identity.expected for identity in IDENTITIES}
    problems = []
    for result in results:
        if str(result.outcome) != expected[result.identity]:
            problems.append(
                f"{result.identity} ({result.environment}): expected {expected[result.identity]}, "
                f"got {result.outcome}: {result.message}"
            )
    return problems
