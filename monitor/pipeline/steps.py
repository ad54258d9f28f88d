"""The steps of the monitoring cycle, defined once, over one :class:`CycleContext`.

``monitor check`` runs them in order (:func:`run_cycle`); ``monitor run`` schedules the same
functions as jobs (:data:`monitor.daemon.jobs.JOBS`):

============== ============================================ ================================
step           ``monitor check``                            ``monitor run`` (job)
============== ============================================ ================================
probe          every selected identity, once                ``probe``, per identity
read_directory due tenants (none with ``--no-directory``)   ``directory``, every 5 minutes
refresh_usage  once                                         ``usage``, hourly
evaluate       once, after the steps above                  ``evaluate``, every minute
dispatch       once (not with ``--no-notify``)              ``dispatch``, every 30 seconds
ping_heartbeat once, after the cycle (not with --no-notify) ``evaluate``, on every tick
apply_retention never                                       ``retention``, daily
============== ============================================ ================================

Every step takes ``now`` from the context's clock unless given one, and none holds a database
write transaction across network I/O.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.config.model import Config, IdentityConfig
from monitor.directory.client import ReadPolicy
from monitor.findings.probes import SOURCE as PROBE_SOURCE
from monitor.findings.probes import probe_findings
from monitor.findings.usage import USAGE_SOURCES, usage_findings
from monitor.incidents.evaluate import Transition, evaluate_findings
from monitor.model.clock import Clock, utcnow
from monitor.model.findings import Finding
from monitor.model.observations import Source
from monitor.model.probes import RunKind
from monitor.model.usage import UsageDay
from monitor.notify.dispatch import DispatchResult
from monitor.pipeline.directory import DirectoryPass, DirectoryPassResult
from monitor.pipeline.posture import posture_from_store
from monitor.pipeline.probing import ProbePass, ProbePassResult
from monitor.store import Store
from monitor.usage.gather import gather_usage, refresh_usage_daily


@dataclass(frozen=True)
class CycleContext:
    """What every step works with: the configuration in force, the store, the key of the
    credential fingerprints, the clock, and the probe pass built for that configuration (its
    HTTP sessions and per-tenant limits are shared by every probe of the process)."""

    config: Config
    store: Store
    fingerprint_key: bytes
    prober: ProbePass
    clock: Clock = utcnow

    @classmethod
    def build(
        cls, config: Config, store: Store, *, fingerprint_key: bytes, clock: Clock = utcnow
    ) -> CycleContext:
        """Return a context with a probe pass that records its results at once."""
        prober = ProbePass(config, store, fingerprint_key=fingerprint_key, clock=clock)
        return cls(config, store, fingerprint_key, prober, clock)


def probe(
    ctx: CycleContext,
    identities: Sequence[IdentityConfig],
    *,
    force: bool = False,
    kind: RunKind = "check",
    until: float | None = None,
) -> ProbePassResult:
    """Probe *identities* once: sign in, call Dataverse, apply the lockout guard, record the
    results (or hand them to the daemon's result writer) and log one line per result; what is
    not finished by *until* (monotonic) is not checked."""
    return ctx.prober.run(identities, force=force, kind=kind, until=until)


def read_directory(
    ctx: CycleContext,
    now: datetime | None = None,
    *,
    force: bool = False,
    tenants: Sequence[str] | None = None,
    until: float | None = None,
) -> DirectoryPassResult:
    """Read the Graph / Dataverse metadata of the tenants that are due (every tenant with
    *force*; only *tenants* when given) and record the observations; a tenant that is not due
    costs one database read. *until* (monotonic) ends every request and wait by then: what was
    not read is "not observed", and a tenant not started stays due."""
    policy = ReadPolicy(request_seconds=ctx.config.network.probe_deadline_seconds, until=until)
    directory = DirectoryPass(
        ctx.config, ctx.store, fingerprint_key=ctx.fingerprint_key, clock=ctx.clock, policy=policy
    )
    return directory.run(now, force=force, tenants=tenants)


def refresh_usage(ctx: CycleContext, now: datetime | None = None) -> list[UsageDay]:
    """Rewrite the daily usage table for recent days, so the report sees allocation changes
    (licences, configuration) and new days without an import; return the rows written."""
    return refresh_usage_daily(ctx.config, ctx.store, now or ctx.clock())


def finding_sources() -> frozenset[str]:
    """Return every finding source the evaluation's lists are complete for: probe rules run
    over every identity state, posture rules over every current fact and usage rules over
    every identity, so a problem that disappeared resolves its incident."""
    return frozenset({PROBE_SOURCE, *typing.get_args(Source), *USAGE_SOURCES})


def findings(ctx: CycleContext, now: datetime) -> list[Finding]:
    """Return every finding as of *now*: probe rules over the stored identity states, posture
    rules over the stored facts (with the configuration's own facts fresh), usage rules over
    the stored usage. Reads the store; no network."""
    store, config = ctx.store, ctx.config
    return [
        *probe_findings(store.probes.latest_states(), store.probes.probe_history(), config, now),
        *posture_from_store(store, config, now).findings,
        *usage_findings(gather_usage(config, store, now), config.usage, now),
    ]


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation decided: every finding, and the incident transitions it stored."""

    findings: tuple[Finding, ...]
    transitions: tuple[Transition, ...]


def evaluate(ctx: CycleContext, now: datetime | None = None, *, notify: bool = True) -> Evaluation:
    """Turn every finding into incident transitions and outbox rows, in one transaction.

    When it runs: ``monitor check`` evaluates once, after its probes, directory reads and usage
    refresh. The daemon's ``evaluate`` job ticks every minute but evaluates only when something
    notable happened since the last evaluation (a result that was not ok or that may resolve an
    incident, a directory read, a usage refresh, a reload; see
    :mod:`monitor.daemon.evaluation`) and at least every ``[schedule]
    full_evaluation_interval_seconds``; every evaluation sees every finding, so incidents of a
    source resolve only when its rules ran and no longer find the problem.
    """
    now = now or ctx.clock()
    found = findings(ctx, now)
    transitions = evaluate_findings(
        ctx.store, ctx.config, found, now, sources=finding_sources(), notify=notify
    )
    return Evaluation(tuple(found), tuple(transitions))


def dispatch(ctx: CycleContext, now: datetime | None = None) -> DispatchResult:
    """Deliver the outbox rows that are due: outside any transaction, with leases, retries,
    dead letters and fallbacks (:mod:`monitor.notify.dispatch`)."""
    from monitor.notify.dispatch import dispatch as deliver

    return deliver(ctx.store, ctx.config, now or ctx.clock())


def ping_heartbeat(ctx: CycleContext) -> bool | None:
    """Ping the configured heartbeat URL (a dead man's switch such as healthchecks.io); return
    whether it answered, or None when no URL is configured."""
    from monitor.notify.heartbeat import ping_heartbeat as ping

    return ping(ctx.config)


def apply_retention(ctx: CycleContext, *, should_stop: Callable[[], bool]) -> None:
    """Delete raw history past ``[retention]`` in small batches (probe results, runs, daily
    rollups, then posture observations as old as the oldest raw result kept), then give the
    space back and truncate the write-ahead log. Returns early when *should_stop* turns true."""
    from monitor.store.retention import RetentionPolicy
    from monitor.store.retention import apply_retention as apply

    retention = ctx.config.retention
    policy = RetentionPolicy(
        probe_results_days=retention.probe_results_days,
        daily_stats_days=retention.daily_stats_days,
        batch_rows=retention.batch_rows,
    )
    apply(ctx.store, policy, now=ctx.clock(), should_stop=should_stop)
    cutoff = ctx.clock() - timedelta(days=retention.probe_results_days)
    while not should_stop() and ctx.store.posture.delete_observations_before(
        cutoff, batch_rows=retention.batch_rows
    ):
        pass  # one small transaction per batch, so probes are never held up


@dataclass(frozen=True)
class CycleResult:
    """What one cycle did: the probe pass, the directory pass (None when skipped), the
    evaluation, the delivery (None when not asked) and the heartbeat ping (None when not sent
    or no URL is configured)."""

    probes: ProbePassResult
    directory: DirectoryPassResult | None
    evaluation: Evaluation
    dispatch: DispatchResult | None = None
    heartbeat: bool | None = None
    usage: list[UsageDay] = field(default_factory=list)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The posture and usage findings (probe results speak for themselves)."""
        return tuple(f for f in self.evaluation.findings if f.source != PROBE_SOURCE)

    @property
    def transitions(self) -> tuple[Transition, ...]:
        return self.evaluation.transitions


def run_cycle(
    ctx: CycleContext,
    identities: Sequence[IdentityConfig],
    *,
    force: bool = False,
    notify: bool = True,
    directory: bool = True,
    kind: RunKind = "check",
    timeout: float | None = None,
) -> CycleResult:
    """Run one cycle, as ``monitor check`` does: probe *identities*, read the due directories
    (unless *directory* is false), refresh usage, evaluate and, with *notify*, deliver what is
    due and ping the heartbeat URL.

    With *timeout* (seconds) the network steps end by then: probes not finished are not checked
    (not recorded), directory reads stop ("not observed"), and delivery waits for the next run;
    the local steps (usage, evaluation) always run. The heartbeat URL is pinged only after a
    cycle that checked everything it was asked to.
    """
    until = None if timeout is None else time.monotonic() + timeout
    probes = probe(ctx, identities, force=force, kind=kind, until=until)
    now = probes.finished_at
    directory_report = read_directory(ctx, now, until=until) if directory else None
    usage = refresh_usage(ctx, now)
    evaluation = evaluate(ctx, now, notify=notify)
    if not notify:
        return CycleResult(probes, directory_report, evaluation, usage=usage)
    if until is not None and time.monotonic() >= until:
        return CycleResult(probes, directory_report, evaluation, usage=usage)
    delivered = dispatch(ctx, now)
    pinged = None if probes.not_checked else ping_heartbeat(ctx)
    return CycleResult(probes, directory_report, evaluation, delivered, pinged, usage)
