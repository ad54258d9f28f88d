"""Calls bounded by a deadline on a small, fixed pool of daemon threads.

A delivery library call cannot be interrupted from outside (a server answering a byte a minute
resets every per-read timeout), so :class:`DeadlinePool` runs each call on one of its threads
and stops *waiting* at the deadline; the call is abandoned and its thread ends whenever the
server lets go. The threads are daemons, never more than ``size`` of them, and a key (a URL)
whose abandoned call still runs is refused at once (:class:`StillRunning`); why each rule:
docs/notifications.md ("Delivery to a URL").
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

_T = TypeVar("_T")

JobState = Literal["queued", "running", "cancelled", "abandoned", "finished"]


class DeadlineExceeded(Exception):
    """The call did not finish in time. ``started`` says whether it had begun (its thread may
    still be running it) or was dropped from the queue before a thread was free."""

    def __init__(self, *, started: bool) -> None:
        super().__init__("started and abandoned" if started else "never started")
        self.started = started


class StillRunning(Exception):
    """An earlier call for the same key outlived its deadline and has not ended yet."""


@dataclass(eq=False)
class _Job(Generic[_T]):
    key: Hashable
    task: Callable[[], _T]
    done: threading.Event = field(default_factory=threading.Event)
    state: JobState = "queued"
    result: _T | None = None
    error: BaseException | None = None


class DeadlinePool:
    """At most *size* daemon threads (started when needed, then kept) that run calls for
    :meth:`run`, which waits for each until its timeout."""

    def __init__(self, size: int, *, name: str) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one thread")
        self._size = size
        self._name = name
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Job[object]] = queue.SimpleQueue()
        self._threads = 0
        self._idle = 0
        self._queued = 0
        self._abandoned: dict[Hashable, int] = {}

    @property
    def threads(self) -> int:
        """How many threads the pool has started (never more than its size)."""
        with self._lock:
            return self._threads

    def running_abandoned(self, key: Hashable) -> bool:
        """Return whether an abandoned call for *key* is still running."""
        with self._lock:
            return key in self._abandoned

    def run(self, key: Hashable, task: Callable[[], _T], timeout: float) -> _T:
        """Run *task* on a pool thread and return its result, or re-raise its exception.

        Raise :class:`StillRunning` at once if an abandoned call for *key* has not ended, and
        :class:`DeadlineExceeded` when *timeout* seconds pass first (the call is left running if
        it had started, dropped if it was still waiting for a thread).
        """
        job: _Job[_T] = _Job(key, task)
        with self._lock:
            if key in self._abandoned:
                raise StillRunning
            self._queued += 1
            self._queue.put(job)  # type: ignore[arg-type]
            if self._queued > self._idle and self._threads < self._size:
                self._threads += 1
                threading.Thread(
                    target=self._work, name=f"{self._name}-{self._threads}", daemon=True
                ).start()
        if not job.done.wait(max(0.0, timeout)):
            with self._lock:
                if job.state == "queued":
                    job.state = "cancelled"
                    raise DeadlineExceeded(started=False)
                if job.state == "running":
                    job.state = "abandoned"
                    self._abandoned[key] = self._abandoned.get(key, 0) + 1
                    raise DeadlineExceeded(started=True)
            # finished between the wait and the lock: fall through to the result
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._queue.get()
            with self._lock:
                self._idle -= 1
                self._queued -= 1
                if job.state == "cancelled":
                    continue
                job.state = "running"
            try:
                job.result = job.task()
            except BaseException as error:  # handed to the waiting caller, if any
                job.error = error
            with self._lock:
                if _abandoned(job):  # the caller stopped waiting meanwhile
                    left = self._abandoned[job.key] - 1
                    if left:
                        self._abandoned[job.key] = left
                    else:
                        del self._abandoned[job.key]
                job.state = "finished"
            job.done.set()


def _abandoned(job: _Job[object]) -> bool:
    return job.state == "abandoned"
