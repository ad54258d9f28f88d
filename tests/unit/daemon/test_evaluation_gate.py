"""When the daemon's evaluate job runs the full evaluation, and when a tick may skip it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.daemon.evaluation import EvaluationGate, resolve_after
from monitor.model.outcomes import Outcome
from monitor.model.probes import IdentityState, ProbeResult

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def result(identity: str, outcome: Outcome = Outcome.OK, seconds: float = 0) -> ProbeResult:
    return ProbeResult(
        identity=identity,
        environment="prod",
        tenant="contoso",
        credential_type="client_secret",
        started_at=T0 + timedelta(seconds=seconds),
        duration_ms=40,
        outcome=outcome,
        stage="dataverse",
    )


def state(identity: str, successes: int) -> IdentityState:
    return IdentityState(
        identity=identity,
        environment="prod",
        tenant="contoso",
        credential_type="client_secret",
        outcome=Outcome.OK,
        since=T0,
        last_probe_at=T0,
        last_attempt_at=T0,
        last_success_at=T0,
        consecutive_failures=0,
        consecutive_successes=successes,
        credential_fingerprint=None,
        last_result_id=None,
    )


def evaluated(gate: EvaluationGate) -> str | None:
    """Run the evaluate job's protocol once; return why it ran (None: skipped)."""
    reason = gate.due()
    if reason is not None:
        gate.done(gate.begin())
    return reason


def gate(clock: Clock, full: float = 300) -> EvaluationGate:
    g = EvaluationGate(resolve_after_successes=2, full_interval_seconds=full, monotonic=clock)
    g.seed([state("settled", 40), state("recovering", 1)])
    return g


def test_the_first_tick_evaluates_then_quiet_ticks_are_skipped_until_the_interval() -> None:
    clock = Clock()
    g = gate(clock)
    assert "start" == evaluated(g)
    g.observe([result("settled", seconds=1)])  # ok after a long streak: nothing to do
    clock.now += 60
    assert evaluated(g) is None
    clock.now += 239
    assert evaluated(g) is None
    clock.now += 1
    assert "interval" == evaluated(g)
    assert evaluated(g) is None


def test_a_failure_a_recovery_and_a_new_pair_make_the_next_tick_run() -> None:
    """Any non-ok outcome, and an ok within resolve_after_successes of its streak (an
    incident may resolve), is notable; a pair never seen starts at no streak."""
    clock = Clock()
    g = gate(clock)
    evaluated(g)
    g.observe([result("recovering")])  # its 2nd success in a row: may resolve an incident
    assert "change" == evaluated(g)
    g.observe([result("recovering", seconds=1)])  # 3rd: settled
    assert evaluated(g) is None
    g.observe([result("settled", Outcome.THROTTLED, seconds=2)])
    assert "change" == evaluated(g)
    for n in (1, 2):
        g.observe([result("settled", seconds=2 + n)])
        assert "change" == evaluated(g)  # 1st and 2nd ok after the failure
    g.observe([result("settled", seconds=5)])
    assert evaluated(g) is None
    g.observe([result("brand-new")])
    assert "change" == evaluated(g)


def test_a_result_committed_during_an_evaluation_keeps_the_next_tick_due() -> None:
    clock = Clock()
    g = gate(clock)
    token = g.begin()
    g.observe([result("settled", Outcome.CREDENTIAL_INVALID)])  # committed meanwhile
    g.done(token)
    assert "change" == g.due()


def test_refreshes_elsewhere_and_reloads_mark_the_gate() -> None:
    clock = Clock()
    g = gate(clock)
    evaluated(g)
    g.mark()
    assert "change" == evaluated(g)
    g.configure(resolve_after_successes=50, full_interval_seconds=60)
    g.observe([result("settled")])  # its 41st success: within 50
    assert "change" == evaluated(g)
    clock.now += 60
    assert "interval" == evaluated(g)


def test_a_failed_evaluation_is_tried_again_at_the_next_tick() -> None:
    clock = Clock()
    g = gate(clock)
    g.begin()  # raised before done()
    assert "start" == g.due()


def test_resolve_after_takes_the_largest_rule() -> None:
    from monitor.config.model import AlertRules, AlertsConfig

    class Config:
        alerts = AlertsConfig(
            rules=AlertRules(resolve_after_successes=2),
            identity_rules={"a": {"resolve_after_successes": 5}},
            tag_rules={"t": {"resolve_after_successes": 3}, "u": {"critical_reminder_hours": 1}},
        )

    assert 5 == resolve_after(Config())  # type: ignore[arg-type]
