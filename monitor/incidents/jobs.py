"""The alerting steps as scheduled jobs of the daemon (see :mod:`monitor.jobs`).

``run_evaluate`` (every ~60 s, or after each probe batch) turns the stored observations into
incident transitions and outbox rows, then pings the heartbeat URL; ``run_dispatch`` (every
~30 s) delivers what is due. Both are short and never hold a write transaction across network
I/O. Register them in :data:`monitor.jobs.JOBS` with ``scope="global"`` and
``executor="control"``; findings of other producers go in through *extra* / *sources*.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.model.findings import Finding

if TYPE_CHECKING:
    from monitor.config.model import Config
    from monitor.jobs import JobContext
    from monitor.store import Store

ExtraFindings = Callable[["Store", "Config", datetime], Sequence[Finding]]


def run_evaluate(
    ctx: JobContext,
    *,
    extra: Sequence[ExtraFindings] = (),
    sources: Collection[str] = (),
) -> None:
    """Evaluate the probe findings plus those of *extra* producers (complete for *sources*)
    and ping the heartbeat URL; delivery is left to :func:`run_dispatch`."""
    from monitor.incidents.cycle import alert_cycle

    now = ctx.clock()
    findings = [f for produce in extra for f in produce(ctx.store, ctx.config, now)]
    alert_cycle(
        ctx.store,
        ctx.config,
        now,
        findings=findings,
        sources=sources,
        deliver=False,
        heartbeat=True,
    )


def run_dispatch(ctx: JobContext) -> None:
    """Deliver the outbox rows that are due (retries, dead letters and fallbacks included)."""
    from monitor.notify.dispatch import dispatch

    dispatch(ctx.store, ctx.config, ctx.clock())
