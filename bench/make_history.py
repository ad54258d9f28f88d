"""Build a synthetic year of monitoring history for the report benchmark.

    python bench/make_history.py PATH [--identities 300] [--days 365] [--interval-minutes 15]

The database is created with the real migrations, then filled the way the store would have
filled it: a run per interval, a result per identity per run (300 identities every 15 minutes
for a year: ~10.5M results), state changes, current states, daily rollups, lockout guards, and,
when their tables exist, incidents and pushed usage counts. Failures follow a simple model:
rare transient blips, a few tenant-wide outages, some definitive outages per identity (a secret
rejected for hours), and a few identities broken right now (a locked password account held).

Rows go in with ``executemany`` in large transactions with ``synchronous=OFF`` and the result
indexes dropped and rebuilt afterwards: the generator only, never the daemon. The result is
built under a temporary name and renamed at the end, so an existing PATH is a complete
database: it is kept (a cache) unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from monitor.model.outcomes import Nature, Outcome, info  # noqa: E402

US = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH = 200_000

DEFINITIVE = ("credential_invalid", "credential_expired", "account_disabled", "not_in_environment")
TRANSIENT = ("unreachable", "service_error", "throttled")
MESSAGES = {
    "credential_invalid": ("AADSTS7000215: Invalid client secret provided.", 7000215, 401),
    "credential_expired": (
        "AADSTS7000222: The provided client secret keys are expired.",
        7000222,
        401,
    ),
    "account_disabled": ("AADSTS7000112: Application is disabled.", 7000112, 401),
    "not_in_environment": ("The user is not a member of the organization.", None, 403),
    "account_locked": ("AADSTS50053: The account is locked.", 50053, 400),
    "unreachable": ("connection timed out", None, None),
    "service_error": ("HTTP 503 from Dataverse", None, 503),
    "throttled": ("HTTP 429: too many requests", None, 429),
}


@dataclass
class Identity:
    name: str
    environment: str
    tenant: str
    credential_type: str
    fingerprint: str
    user_id: str
    organization_id: str
    # (start_us, end_us, outcome); the last may end in the future (still broken).
    outages: list[tuple[int, int, str]] = field(default_factory=list)


def us(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


def plan(
    count: int, tenants: int, environments: int, start: int, end: int, seed: int
) -> list[Identity]:
    """Return the identities with their outages (sorted, non-overlapping)."""
    rng = random.Random(seed)
    organisations = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(environments)]
    identities: list[Identity] = []
    tenant_outages: dict[str, list[tuple[int, int, str]]] = {}
    for tenant_index in range(tenants):
        windows = []
        for _ in range(6):
            begin = rng.randrange(start, end - 3 * 3600 * US)
            windows.append((begin, begin + rng.randrange(30, 120) * 60 * US, "unreachable"))
        tenant_outages[f"tenant-{tenant_index:02d}"] = windows
    for index in range(count):
        environment_index = index % environments
        tenant = f"tenant-{environment_index % tenants:02d}"
        roll = rng.random()
        credential_type = (
            "client_secret" if roll < 0.6 else "certificate" if roll < 0.85 else "password"
        )
        identity = Identity(
            name=f"integration-{index:03d}",
            environment=f"env-{environment_index:02d}",
            tenant=tenant,
            credential_type=credential_type,
            fingerprint=f"{rng.getrandbits(256):064x}",
            user_id=str(uuid.UUID(int=rng.getrandbits(128))),
            organization_id=organisations[environment_index],
        )
        outages = list(tenant_outages[tenant])
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            begin = rng.randrange(start, end - 3 * 86400 * US)
            length = rng.randrange(2, 48) * 3600 * US
            outages.append((begin, begin + length, rng.choice(DEFINITIVE)))
        if index % 37 == 5:  # broken right now
            outcome = "account_locked" if credential_type == "password" else "credential_expired"
            begin = end - rng.randrange(2, 72) * 3600 * US
            outages.append((begin, end + 86400 * US, outcome))
        identity.outages = _merge(outages)
        identities.append(identity)
    return identities


def _merge(outages: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    merged: list[tuple[int, int, str]] = []
    for begin, finish, outcome in sorted(outages):
        if merged and begin < merged[-1][1]:
            continue  # overlaps the previous outage: keep the earlier one
        merged.append((begin, finish, outcome))
    return merged


@dataclass
class State:
    outcome: str
    since: int
    last_probe: int
    last_attempt: int | None
    last_success: int | None
    failures: int
    successes: int
    last_result: int


def generate(
    path: Path,
    *,
    identities: int,
    days: int,
    interval_minutes: int,
    tenants: int,
    environments: int,
    seed: int,
    end: datetime | None = None,
) -> dict[str, int]:
    """Write the history into a new database at *path*; return row counts."""
    from monitor.store import migrate

    migrate(path)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=OFF")  # a fresh file: nothing to protect
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-1000000")
    connection.execute("PRAGMA temp_store=MEMORY")
    tables = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    indexes = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name IN "
        "('probe_result', 'state_change') AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        connection.execute(f'DROP INDEX "{name}"')

    finish = end or datetime.now(UTC).replace(second=0, microsecond=0)
    step = interval_minutes * 60 * US
    last_tick = us(finish) - us(finish) % step
    ticks = days * 86400 * US // step
    first_tick = last_tick - (ticks - 1) * step
    people = plan(identities, tenants, environments, first_tick, last_tick + step, seed)
    rng = random.Random(seed + 1)
    counts = {"run": 0, "probe_result": 0, "state_change": 0, "probe_stats_daily": 0}
    states: dict[str, State] = {}
    daily: dict[tuple[str, str], list[int]] = {}
    pointers = [0] * len(people)
    result_id = 0
    change_id = 0
    results: list[tuple[object, ...]] = []
    changes: list[tuple[object, ...]] = []
    runs: list[tuple[object, ...]] = []

    def flush() -> None:
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO run VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
        connection.executemany(
            "INSERT INTO probe_result VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?, ?, ?, ?, ?)",
            results,
        )
        connection.executemany("INSERT INTO state_change VALUES (?, ?, ?, ?, ?, ?, ?)", changes)
        connection.execute("COMMIT")
        counts["run"] += len(runs)
        counts["probe_result"] += len(results)
        counts["state_change"] += len(changes)
        runs.clear()
        results.clear()
        changes.clear()

    natures = {outcome.value: info(outcome).nature for outcome in Outcome}
    for tick in range(ticks):
        at_tick = first_tick + tick * step
        run_id = tick + 1
        ok_count = 0
        day = datetime.fromtimestamp(at_tick / US, UTC).date().isoformat()
        for index, person in enumerate(people):
            at = at_tick + (index * 997_000) % (60 * US)  # spread over the first minute
            outcome = "ok"
            attempted = True
            outages = person.outages
            pointer = pointers[index]
            while pointer < len(outages) and outages[pointer][1] <= at:
                pointer += 1
            pointers[index] = pointer
            if pointer < len(outages) and outages[pointer][0] <= at:
                outcome = outages[pointer][2]
                state = states.get(person.name)
                if outcome == "account_locked" and state is not None and state.outcome == outcome:
                    attempted = False  # the lockout guard holds further sign-ins
            elif rng.random() < 0.002:
                outcome = rng.choice(TRANSIENT)
            result_id += 1
            duration = 180 + rng.randrange(400) if outcome == "ok" else 60 + rng.randrange(3000)
            if outcome == "ok":
                ok_count += 1
                results.append(
                    (
                        result_id,
                        run_id,
                        person.name,
                        person.environment,
                        person.tenant,
                        person.credential_type,
                        at,
                        duration,
                        "ok",
                        "dataverse",
                        1,
                        "",
                        None,
                        None,
                        200,
                        None,
                        str(uuid.UUID(int=rng.getrandbits(128))),
                        None,
                        "identity_provider",
                        5990 + rng.randrange(10),
                        1_190_000 + rng.randrange(10_000),
                        None,
                        person.fingerprint,
                        person.user_id,
                        person.organization_id,
                    )
                )
            else:
                message, aadsts, status = MESSAGES[outcome]
                results.append(
                    (
                        result_id,
                        run_id,
                        person.name,
                        person.environment,
                        person.tenant,
                        person.credential_type,
                        at,
                        duration if attempted else 0,
                        outcome,
                        "token" if attempted else "guard",
                        1 if attempted else 0,
                        message if attempted else "",
                        aadsts,
                        None,
                        status,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        30 if outcome == "throttled" else None,
                        person.fingerprint,
                        None,
                        None,
                    )
                )
            state = states.get(person.name)
            if state is None or state.outcome != outcome:
                change_id += 1
                changes.append(
                    (
                        change_id,
                        person.name,
                        person.environment,
                        at,
                        None if state is None else state.outcome,
                        outcome,
                        result_id,
                    )
                )
                if state is None:
                    state = states[person.name] = State(
                        outcome, at, at, None, None, 0, 0, result_id
                    )
                state.outcome = outcome
                state.since = at
            state.last_probe = at
            state.last_result = result_id
            if attempted:
                state.last_attempt = at
                if outcome == "ok":
                    state.last_success = at
                    state.successes += 1
                    state.failures = 0
                else:
                    state.failures += 1
                    state.successes = 0
            elif outcome != "ok":
                state.successes = 0
            key = (person.name, day)
            bucket = daily.get(key)
            if bucket is None:
                bucket = daily[key] = [0, 0, 0, 0, 0, 0, 0, 0]
            nature = natures[outcome]
            bucket[
                0
                if nature is Nature.HEALTHY
                else 1
                if nature is Nature.DEFINITIVE
                else 2
                if nature is Nature.TRANSIENT
                else 3
            ] += 1
            if not attempted:
                bucket[4] += 1
            bucket[5] += 1
            bucket[6] += duration
            bucket[7] = max(bucket[7], duration)
        runs.append(
            (
                run_id,
                str(uuid.UUID(int=rng.getrandbits(128))),
                "scheduled",
                at_tick,
                at_tick + 60 * US,
                len(people),
                ok_count,
                len(people) - ok_count,
                "bench",
            )
        )
        if len(results) >= BATCH:
            flush()
    flush()

    connection.execute("BEGIN")
    by_name = {person.name: person for person in people}
    connection.executemany(
        "INSERT INTO identity_state VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                name,
                by_name[name].environment,
                by_name[name].tenant,
                by_name[name].credential_type,
                state.outcome,
                state.since,
                state.last_probe,
                state.last_attempt,
                state.last_success,
                state.failures,
                state.successes,
                by_name[name].fingerprint,
                state.last_result,
            )
            for name, state in states.items()
        ],
    )
    rollups = [
        (index + 1, name, by_name[name].environment, day, *bucket)
        for index, ((name, day), bucket) in enumerate(daily.items())
    ]
    connection.executemany(
        "INSERT INTO probe_stats_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rollups
    )
    counts["probe_stats_daily"] = len(rollups)
    for name, state in states.items():
        if state.outcome == "account_locked":
            connection.execute(
                "INSERT INTO lockout_guard VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    by_name[name].fingerprint,
                    "account_locked",
                    50053,
                    state.since,
                    state.since + 3600 * US * 24,
                    86400,
                    3,
                    state.last_probe,
                    None,
                ),
            )
    if "incident" in tables:
        counts["incident"] = _incidents(connection, people, last_tick)
    if "usage_recorded" in tables:
        counts["usage_recorded"] = _usage(connection, people, daily, rng)
    if "usage_daily" in tables:
        counts["usage_daily"] = _usage_daily(connection, people, daily, rng)
    if "posture_fact" in tables:
        counts["posture_fact"] = _posture(connection, people, last_tick, rng)
    connection.execute("COMMIT")
    for _, sql in indexes:
        connection.execute(sql)
    connection.execute("PRAGMA journal_mode=WAL")  # as the daemon leaves it
    connection.close()
    return counts


def _incidents(connection: sqlite3.Connection, people: list[Identity], now: int) -> int:
    """One incident per definitive outage (resolved when it ended), per the alerting table."""
    rows = []
    for person in people:
        for begin, finish, outcome in person.outages:
            if outcome == "unreachable":
                continue
            resolved = finish if finish <= now else None
            kind = "account_locked" if outcome == "account_locked" else "credential_broken"
            key = f"{kind}:{person.tenant}/{person.name}/{person.environment}:"
            if resolved is not None:
                key += f"#{begin}"  # resolved incidents may repeat a key; open ones may not
            rows.append(
                (
                    key,
                    kind,
                    "critical",
                    person.tenant,
                    person.name,
                    person.environment,
                    "credential",
                    f"{outcome.replace('_', ' ')}",
                    "",
                    "probe",
                    "{}",
                    None,
                    begin,
                    finish if resolved else now,
                    resolved,
                )
            )
    connection.executemany(
        "INSERT INTO incident (key, kind, level, tenant, identity, environment, subject, summary,"
        " remedy, source, details, deadline, opened_at, observed_at, resolved_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def _usage(
    connection: sqlite3.Connection,
    people: list[Identity],
    daily: dict[tuple[str, str], list[int]],
    rng: random.Random,
) -> int:
    """A request count per identity and day, as integrations push them."""
    by_name = {person.name: person for person in people}
    base = {person.name: rng.randrange(2_000, 40_000) for person in people}
    rows = []
    for name, day in daily:
        person = by_name[name]
        rows.append(
            (
                name,
                person.environment,
                person.tenant,
                day,
                int(base[name] * rng.uniform(0.7, 1.3)),
                us(datetime.fromisoformat(day).replace(tzinfo=UTC)),
            )
        )
    connection.executemany(
        "INSERT INTO usage_recorded (identity, environment, tenant, day, requests, recorded_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def _usage_daily(
    connection: sqlite3.Connection,
    people: list[Identity],
    daily: dict[tuple[str, str], list[int]],
    rng: random.Random,
) -> int:
    """Usage per identity and day against its allocation, as the usage feature derives it."""
    allocation = {person.name: rng.choice((6_000, 25_000, 40_000)) for person in people}
    rows = [
        (
            name,
            None,
            day,
            int(allocation[name] * rng.uniform(0.2, 1.05)),
            allocation[name],
            "admin center csv",
        )
        for name, day in daily
    ]
    connection.executemany(
        "INSERT INTO usage_daily (identity, environment, day, requests, allocation, source)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def _posture(
    connection: sqlite3.Connection, people: list[Identity], now_us: int, rng: random.Random
) -> int:
    """Directory facts: each application's registered credential in use (ending between 5 days
    ago and 400 days ahead), each user's account (password changed up to 90 days ago) and a
    90-day password policy per tenant domain."""
    from monitor.model.observations import (
        AppCredentials,
        DomainPolicy,
        Fact,
        RegisteredCredential,
        UserAccount,
    )

    now = EPOCH + timedelta(microseconds=now_us)
    facts: list[tuple[str, str | None, str, Fact]] = []
    for person in people:
        if person.credential_type == "password":
            facts.append(
                (
                    person.tenant,
                    person.name,
                    "",
                    UserAccount(
                        found=True,
                        user_principal_name=f"{person.name}@{person.tenant}.example",
                        account_enabled=True,
                        last_password_change=now - timedelta(days=rng.uniform(0, 90)),
                    ),
                )
            )
            continue
        kind: Literal["client_secret", "certificate"] = (
            "certificate" if person.credential_type == "certificate" else "client_secret"
        )
        credential = RegisteredCredential(
            f"key-{person.name}",
            kind,
            f"{person.name}-2026",
            now - timedelta(days=300),
            now + timedelta(days=rng.uniform(-5, 400)),
            True,
        )
        facts.append(
            (
                person.tenant,
                person.name,
                "",
                AppCredentials(
                    client_id=client_id(person.name),
                    display_name=person.name,
                    configured=kind,
                    matched_by="thumbprint" if kind == "certificate" else "hint",
                    credentials=(credential,),
                ),
            )
        )
    for tenant in sorted({person.tenant for person in people}):
        facts.append(
            (
                tenant,
                None,
                f"{tenant}.example",
                DomainPolicy(domain=f"{tenant}.example", password_validity_days=90),
            )
        )
    seen = now_us - 3600 * US
    connection.executemany(
        "INSERT INTO posture_fact (fact_key, kind, tenant, identity, environment, subject,"
        " source, observed, cause, reason, value, since, last_observed_at)"
        " VALUES (?, ?, ?, ?, NULL, ?, 'graph', 1, NULL, NULL, ?, ?, ?)",
        [
            (
                f"{fact.kind}:{tenant}/{identity or '-'}/-:{subject}",
                fact.kind,
                tenant,
                identity,
                subject,
                json.dumps(fact.to_json(), sort_keys=True),
                seen,
                seen,
            )
            for tenant, identity, subject, fact in facts
        ],
    )
    return len(facts)


def client_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.bench.example"))


def write_config(
    path: Path, *, identities: int, tenants: int, environments: int, seed: int, **_: int
) -> Path:
    """Write the configuration of the synthetic install beside the database (``PATH.toml``;
    secrets from ``$BENCH_SECRET``, one shared certificate file) and return its path."""
    people = plan(identities, tenants, environments, 0, 10 * 86400 * US, seed)
    config = path.with_name(path.name + ".toml")
    certificate = path.with_name(path.name + ".pem")
    if not certificate.exists():
        _write_certificate(certificate)
    lines = [f'[database]\npath = "{path}"\n']
    for index in range(tenants):
        lines.append(
            f"[tenants.tenant-{index:02d}]\n"
            f'tenant_id = "{uuid.uuid5(uuid.NAMESPACE_DNS, f"tenant-{index}.bench")}"\n'
        )
    for index in range(environments):
        lines.append(
            f'[environments.env-{index:02d}]\ntenant = "tenant-{index % tenants:02d}"\n'
            f'url = "https://env-{index:02d}.crm.dynamics.com"\n'
        )
    for person in people:
        common = (
            f'[identities.{person.name}]\ntenant = "{person.tenant}"\n'
            f'client_id = "{client_id(person.name)}"\n'
            f'environments = ["{person.environment}"]\ntags = ["{person.tenant}"]\n'
        )
        if person.credential_type == "password":
            lines.append(
                common + 'kind = "user"\n'
                f'username = "{person.name}@{person.tenant}.example"\n'
                'password = { env = "BENCH_SECRET" }\n'
            )
        elif person.credential_type == "certificate":
            lines.append(
                common + f'kind = "application"\ncertificate = {{ file = "{certificate}" }}\n'
            )
        else:
            lines.append(common + 'kind = "application"\nsecret = { env = "BENCH_SECRET" }\n')
    config.write_text("\n".join(lines))
    config.chmod(0o600)
    return config


def _write_certificate(path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=200))
        .sign(key, hashes.SHA256())
    )
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + certificate.public_bytes(serialization.Encoding.PEM)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def add_missing_features(path: Path, **sizes: int) -> dict[str, int]:
    """Fill the posture and usage tables of a database built before those tables existed
    (``monitor db upgrade`` first), from the same plan; return the rows added."""
    connection = sqlite3.connect(path, isolation_level=None)
    tables = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    first, last = connection.execute("SELECT min(started_at), max(started_at) FROM run").fetchone()
    people = plan(
        sizes["identities"], sizes["tenants"], sizes["environments"], first, last, sizes["seed"]
    )
    daily = {
        (name, day): [0]
        for name, day in connection.execute("SELECT identity, day FROM probe_stats_daily")
    }
    rng = random.Random(sizes["seed"] + 2)
    counts: dict[str, int] = {}
    connection.execute("BEGIN")
    fills: tuple[tuple[str, Callable[[], int]], ...] = (
        ("usage_daily", lambda: _usage_daily(connection, people, daily, rng)),
        ("posture_fact", lambda: _posture(connection, people, last, rng)),
    )
    for table, fill in fills:
        empty = f"SELECT 1 FROM {table}"  # noqa: S608 - a table name from the tuple above
        if table in tables and connection.execute(empty).fetchone() is None:
            counts[table] = fill()
    connection.execute("COMMIT")
    connection.close()
    return counts


def ensure(path: Path, *, force: bool = False, **sizes: int) -> bool:
    """Build the database at *path* unless it exists (and not *force*); return whether built."""
    if path.exists() and not force:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(path.name + ".building")
    for leftover in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    counts = generate(building, **sizes)  # type: ignore[arg-type]
    os.replace(building, path)
    for suffix in ("-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    elapsed = time.perf_counter() - started
    print(f"built {path} in {elapsed:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    write_config(path, **sizes)
    return True


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="the database to build (kept if it exists)")
    add_size_options(parser)
    parser.add_argument("--force", action="store_true", help="rebuild even if PATH exists")
    parser.add_argument(
        "--add-features",
        action="store_true",
        help="fill empty posture and usage tables of an existing PATH (after `monitor db upgrade`)"
        " and write its configuration",
    )
    return parser.parse_args(argv)


def add_size_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--identities", type=int, default=300)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--interval-minutes", type=int, default=15)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--environments", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)


def sizes(args: argparse.Namespace) -> dict[str, int]:
    return {
        "identities": args.identities,
        "days": args.days,
        "interval_minutes": args.interval_minutes,
        "tenants": args.tenants,
        "environments": args.environments,
        "seed": args.seed,
    }


def iter_files(path: Path) -> Iterator[Path]:
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            yield candidate


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    if args.add_features:
        print(f"added to {args.path}: {add_missing_features(args.path, **sizes(args))}")
        print(f"configuration: {write_config(args.path, **sizes(args))}")
        return 0
    if not ensure(args.path, force=args.force, **sizes(args)):
        print(f"{args.path} exists; kept (use --force to rebuild)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
