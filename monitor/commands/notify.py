"""``monitor notify``: test channels, deliver the outbox now, inspect and requeue it.

* ``monitor notify test [CHANNEL...]`` sends a test notice straight to every URL of the channels
  (all of them if none is named) and prints the result per URL. Exit 0 when every URL accepted
  it, 1 otherwise, 2 for an unknown channel.
* ``monitor notify flush`` delivers what is due in the outbox now (what the daemon does every
  ~30 s, and ``monitor check`` after its evaluation). Exit 0, or 1 if something failed.
* ``monitor notify outbox [--status S] [--channel C]`` lists outbox rows. Exit 1 if any row is
  dead (a failing channel), so it works as a check.
* ``monitor notify requeue [--channel C]`` sends dead notices again (after fixing a channel).

URLs are shown as ``scheme://host:port`` only: they are secrets.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from monitor.commands._args import Action, add_actions, argument, bounded_int
from monitor.exits import EXIT_USAGE
from monitor.model.clock import utcnow

if TYPE_CHECKING:
    from monitor.config.model import Config
    from monitor.store import Store


HELP = "test notification channels, deliver or inspect the outbox"
DESCRIPTION = (
    "Send a test notice to the configured channels, deliver what is due in the outbox, list it, "
    "or requeue dead notices."
)


def _outbox_arguments(outbox: argparse.ArgumentParser) -> None:
    outbox.add_argument(
        "--status", choices=("pending", "sending", "sent", "dead", "superseded"), default=None
    )
    outbox.add_argument("--channel", default=None)
    outbox.add_argument("--limit", type=bounded_int(1, 1_000_000), default=200)


ACTIONS = (
    Action(
        "test",
        "send a test notice and report delivery per URL",
        "Send a test notice to every URL of the named channels (default: all).",
        argument("channels", nargs="*", metavar="CHANNEL"),
    ),
    Action(
        "flush",
        "deliver what is due in the outbox now",
        "Deliver due notices: retries, dead letters and fallback notices included.",
    ),
    Action(
        "outbox",
        "list outbox rows (exit 1 if any is dead)",
        "List the outbox: pending, sending, sent, dead and superseded notices.",
        _outbox_arguments,
    ),
    Action(
        "requeue",
        "send dead notices again",
        "Put dead notices back in the queue with a fresh delivery window.",
        argument("--channel", default=None),
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_actions(parser, "notify_action", ACTIONS)


def run(args: argparse.Namespace) -> int:
    from monitor.commands._common import open_store

    action = args.notify_action
    if action == "test":
        return _test(args)
    # Only flush sends (and needs the channels' URLs, which are secrets).
    opened = open_store(args, secrets=action == "flush")
    if isinstance(opened, int):
        return opened
    config, store = opened
    with store:
        if action == "flush":
            return _flush(config, store)
        if action == "outbox":
            return _outbox(store, args)
        return _requeue(store, args)


def _test(args: argparse.Namespace) -> int:
    from monitor.commands._common import configure_logging_for, load_or_report
    from monitor.notify.testsend import send_test

    config = load_or_report(args)
    if isinstance(config, int):
        return config
    configure_logging_for(args, config)
    if not config.channels:
        print("monitor notify test: no [[channels]] configured", file=sys.stderr)
        return EXIT_USAGE
    try:
        results = send_test(config, args.channels, utcnow())
    except KeyError as exc:
        known = ", ".join(channel.name for channel in config.channels)
        print(
            f"monitor notify test: unknown channel: {exc.args[0]} (known: {known})", file=sys.stderr
        )
        return EXIT_USAGE
    width = max(len(result.channel) for result in results)
    for result in results:
        state = (
            f"delivered in {result.duration_ms} ms"
            if result.delivered
            else f"FAILED: {result.error}"
        )
        print(f"{result.channel:<{width}}  url {result.url_index + 1}  {result.url}  {state}")
    return 0 if all(result.delivered for result in results) else 1


def _flush(config: Config, store: Store) -> int:
    from monitor.notify.dispatch import dispatch

    report = dispatch(store, config, utcnow())
    for delivery in report.deliveries:
        state = "delivered" if delivery.delivered else "not delivered"
        errors = "; ".join(sorted({a.error for a in delivery.attempts if a.error}))
        labels = ", ".join(delivery.labels) or "-"
        line = f"{delivery.channel}: {state} ({delivery.rows} notices: {labels})"
        if errors:
            line += f": {errors}"
        if delivery.retry_at is not None:
            line += f"; next try {delivery.retry_at:%Y-%m-%d %H:%M:%S} UTC"
        print(line)
    if report.recovered:
        print(f"{report.recovered} notices recovered from a sender that stopped")
    if report.dead:
        print(f"{report.dead} notices dead-lettered (the fallback channel was told)")
    if not report.deliveries and not report.dead:
        print("nothing due")
    return 0 if report.failed_rows == 0 and report.dead == 0 else 1


def _outbox(store: Store, args: argparse.Namespace) -> int:
    from monitor.notify.notice import Notice

    rows = store.alerting.outbox(status=args.status, channel=args.channel, limit=args.limit)
    for row in rows:
        try:
            title = Notice.from_json(row.notice).title
        except (ValueError, TypeError, KeyError):
            title = "(unreadable notice)"
        error = f"  last error: {row.last_error}" if row.last_error and row.status != "sent" else ""
        print(
            f"{row.id:>6}  {row.status:<10} {row.channel:<16} attempts {row.attempts:<3} "
            f"{row.created_at:%Y-%m-%d %H:%M} UTC  {title}{error}"
        )
    counts = store.alerting.outbox_counts()
    dead = sum(count for (_, status), count in counts.items() if status == "dead")
    summary = ", ".join(
        f"{channel} {status} {count}" for (channel, status), count in sorted(counts.items())
    )
    print(f"outbox: {summary or 'empty'}")
    return 1 if dead else 0


def _requeue(store: Store, args: argparse.Namespace) -> int:
    count = store.alerting.requeue_dead(utcnow(), channel=args.channel)
    print(f"{count} dead notices queued again")
    return 0
