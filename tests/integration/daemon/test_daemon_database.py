"""The daemon writing while others read, and kill -9 at random moments."""

from __future__ import annotations

import random
import signal
import threading
import time

from support.daemon import DaemonProcess, check_consistency, probe_events
from support.deployment import Deployment

from monitor.store import Store, StoreError


def test_reads_in_parallel_with_the_daemon_never_see_a_lock(deployment: Deployment) -> None:
    """Two readers loop over the report queries for 5 s while the daemon records every second:
    no "database is locked" anywhere, and the readers see the history grow."""
    errors: list[str] = []
    reads = [0, 0]
    stop = threading.Event()

    def read(slot: int) -> None:
        while not stop.is_set():
            try:
                with Store.open_readonly(deployment.database) as reader:
                    reader.probes.latest_states()
                    reader.probes.recent_results(limit=50)
                    reader.probes.state_changes()
                    reader.probes.daily_stats()
                reads[slot] += 1
            except StoreError as error:
                errors.append(str(error))

    with DaemonProcess(deployment) as daemon:
        daemon.wait_for_event("probe")
        threads = [threading.Thread(target=read, args=(slot,)) for slot in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(5)
        stop.set()
        for thread in threads:
            thread.join()
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()
        log = daemon.text()

    assert [] == errors
    assert "database is locked" not in log
    assert min(reads) > 10
    assert len(probe_events(daemon.events())) > 10


def test_repeated_kill_9_loses_no_committed_run(deployment: Deployment) -> None:
    """Killed with SIGKILL at random moments five times: integrity holds, and every run whose
    probe line was logged (the engine logs after the commit) is in the database."""
    rng = random.Random(20261126)
    logged: set[str] = set()
    for _ in range(5):
        daemon = DaemonProcess(deployment)
        try:
            daemon.wait_for_event("probe")
            time.sleep(rng.uniform(0.1, 1.5))
            daemon.signal(signal.SIGKILL)
            daemon.wait()
        finally:
            daemon.kill()
        logged |= {event["run_id"] for event in probe_events(daemon.events())}
        check_consistency(deployment.database)

    import sqlite3

    with sqlite3.connect(deployment.database) as connection:
        stored = {row[0] for row in connection.execute("SELECT run_id FROM run")}
    assert logged
    assert logged <= stored
