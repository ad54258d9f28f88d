"""The deadline pool: results and errors come back, a call that outlives its deadline is
abandoned (and its key refused until it ends), the threads are daemon threads and bounded."""

from __future__ import annotations

import threading
import time

import pytest

from monitor.notify.deadline import DeadlineExceeded, DeadlinePool, StillRunning


def test_results_and_errors_come_back() -> None:
    """A call that finishes in time returns its value or raises its own exception."""
    pool = DeadlinePool(2, name="test")

    def fail() -> int:
        raise LookupError("bad")

    assert 42 == pool.run("a", lambda: 42, timeout=5)
    with pytest.raises(LookupError, match="bad"):
        pool.run("a", fail, timeout=5)


def test_an_abandoned_call_blocks_its_key_until_it_ends() -> None:
    """The call is abandoned at its deadline; the same key is refused while it runs, another key
    is not; once it ends the key is free again."""
    pool = DeadlinePool(2, name="test")
    release = threading.Event()

    with pytest.raises(DeadlineExceeded) as exceeded:
        pool.run("slow", lambda: release.wait(30), timeout=0.1)
    assert exceeded.value.started
    with pytest.raises(StillRunning):
        pool.run("slow", lambda: True, timeout=5)
    assert "other" == pool.run("fast", lambda: "other", timeout=5)

    release.set()
    deadline = time.monotonic() + 5
    while pool.running_abandoned("slow") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "again" == pool.run("slow", lambda: "again", timeout=5)


def test_a_call_that_never_got_a_thread_is_dropped_unstarted() -> None:
    """With its only thread hanging, a pool of one drops a queued call at its deadline; the
    call never runs, and the pool never grows past its size. Its threads are daemon threads."""
    pool = DeadlinePool(1, name="test")
    release = threading.Event()
    ran: list[str] = []
    with pytest.raises(DeadlineExceeded):
        pool.run("one", lambda: release.wait(30), timeout=0.05)

    with pytest.raises(DeadlineExceeded) as exceeded:
        pool.run("two", lambda: ran.append("two"), timeout=0.1)
    release.set()
    time.sleep(0.2)

    assert not exceeded.value.started
    assert [] == ran
    assert 1 == pool.threads
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("test-"))
