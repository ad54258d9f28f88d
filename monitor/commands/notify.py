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
from typing import TYPE_CHECKING, Any

from monitor.commands._args import bounded_int
from monitor.exits import EXIT_SOFTWARE, EXIT_USAGE
from monitor.model.clock import utcnow

if TYPE_CHECKING:
    from monitor.config.model import Config
    from monitor.store import Store


HELP = "test notification channels, deliver or inspect the outbox"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "notify",
        help=HELP,
        description="Send a test notice to the configured channels, deliver what is due in the "
        "outbox, list it, or requeue dead notices.",
    )
    actions = parser.add_subparsers(dest="notify_action", metavar="ACTION")
    actions.required = True
    test = actions.add_parser(
        "test",
        help="send a test notice and report delivery per URL",
        description="Send a test notice to every URL of the named channels (default: all).",
    )
    test.add_argument("channels", nargs="*", metavar="CHANNEL")
    flush = actions.add_parser(
        "flush",
        help="deliver what is due in the outbox now",
        description="Deliver due notices: retries, dead letters and fallback notices included.",
    )
    flush.set_defaults(notify_action="flush")
    outbox = actions.add_parser(
        "outbox",
        help="list outbox rows (exit 1 if any is dead)",
        description="List the outbox: pending, sending, sent, dead and superseded notices.",
    )
    outbox.add_argument(
        "--status", choices=("pending", "sending", "sent", "dead", "superseded"), default=None
    )
    outbox.add_argument("--channel", default=None)
    outbox.add_argument("--limit", type=bounded_int(1, 1_000_000), default=200)
    requeue = actions.add_parser(
        "requeue",
        help="send dead notices again",
        description="Put dead notices back in the queue with a fresh delivery window.",
    )
    requeue.add_argument("--channel", default=None)
    parser.set_defaults(run=run)


def open_store(args: argparse.Namespace) -> tuple[Config, Store] | int:
    """Load the configuration and open the writer store, or print why not and return the exit
    code (78 configuration, 70 database)."""
    from monitor.commands._common import configure_logging_for, load_or_report
    from monitor.damage import report_damage
    from monitor.store import Store, StoreError

    config = load_or_report(args)
    if isinstance(config, int):
        return config
    configure_logging_for(args, config)
    try:
        store = Store.open(config.database.path)
    except (StoreError, OSError) as exc:
        damaged = report_damage(exc, config.database.path, args)
        if damaged is not None:
            return damaged
        print(f"monitor: cannot open the database {config.database.path}: {exc}", file=sys.stderr)
        return EXIT_SOFTWARE
    return config, store


def run(args: argparse.Namespace) -> int:
    action = args.notify_action
    if action == "test":
        return _test(args)
    opened = open_store(args)
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
