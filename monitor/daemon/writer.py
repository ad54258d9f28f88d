"""Write-behind for the daemon's probe results: one transaction per window, not per probe.

A scheduled probe job hands its pass over with :meth:`ResultWriter.submit` and returns; one
thread commits everything handed over in the last ``window_seconds`` with the store's
``probes.record_batch``. At the default schedule 1,000 identities finish within a few minutes of
each quarter hour, so a window holds dozens of passes and the daemon pays for one fsync'd commit
instead of dozens (``bench/daemon_cost.py`` measures the difference). What this changes and what
it does not: :class:`ResultWriter`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from monitor.logsetup import get_logger
from monitor.model.probes import ProbeResult, RunRecord
from monitor.pipeline.probing import log_pass
from monitor.store import Store, StoreError
from monitor.store.probes import check_results

log = get_logger("monitor.daemon.writer")

# How long a result may wait before it is committed.
DEFAULT_WINDOW_SECONDS = 5.0
# Results held while the database refuses writes, before the oldest are dropped.
DEFAULT_MAX_PENDING = 20_000

Batch = tuple[RunRecord, Sequence[ProbeResult]]


class ResultWriter:
    """Collects passes from job threads and commits them in windows from its own thread.

    * A result reaches the database (and so ``monitor report`` and the evaluation job) at most
      one window after its probe; alerts are evaluated once a minute anyway. The canonical
      ``probe`` log line is written after the commit, so a ``run_id`` in the log is always in
      the database.
    * The lockout guard is not deferred: the probe pass writes it at once, in its own
      transaction, before the pass returns, so a password that failed is never tried again
      because its result was still waiting here.
    * Results are checked (:func:`monitor.store.probes.check_results`) when they are handed
      over, so one bad result fails its own job, not a whole window.
    * If a commit fails (disk full, the database locked by another process past the busy
      timeout) the batch stays queued and is tried again next window; nothing is dropped until
      more than ``max_pending`` results wait, and then the oldest go, with an error line saying
      how many.
    * On stop, :meth:`close` commits what is queued. A ``kill -9`` loses at most the results of
      the last window, never a committed row, and never a half-written one (each window is one
      transaction).
    """

    def __init__(
        self,
        store: Store,
        *,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        max_pending: int = DEFAULT_MAX_PENDING,
        on_commit: Callable[[Sequence[ProbeResult]], None] | None = None,
    ) -> None:
        self._store = store
        self._on_commit = on_commit
        self._window = window_seconds
        self._max_pending = max_pending
        self._pending: deque[Batch] = deque()
        self._pending_results = 0
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._failing = False
        self._thread = threading.Thread(target=self._loop, name="result-writer", daemon=True)

    @property
    def failing(self) -> bool:
        """Whether the newest commit failed (results are waiting to be tried again)."""
        return self._failing

    def start(self) -> None:
        """Start committing a window at a time (until :meth:`close`)."""
        self._thread.start()

    @property
    def pending(self) -> int:
        """Results handed over and not yet committed."""
        with self._lock:
            return self._pending_results

    def submit(self, run: RunRecord, results: Sequence[ProbeResult]) -> None:
        """Queue one pass for the next commit; raise ValueError at once if it cannot be
        stored (unknown run kind or outcome, naive time)."""
        checked = check_results(run, results)
        if not checked:
            return
        with self._lock:
            self._pending.append((run, checked))
            self._pending_results += len(checked)
            dropped = self._trim()
        if dropped:
            log.error(
                "result writer: the database has refused writes for too long; oldest results "
                "dropped",
                dropped=dropped,
                max_pending=self._max_pending,
            )

    def _trim(self) -> int:
        dropped = 0
        while self._pending_results > self._max_pending and len(self._pending) > 1:
            _, results = self._pending.popleft()
            self._pending_results -= len(results)
            dropped += len(results)
        return dropped

    def flush(self) -> bool:
        """Commit everything queued now; return whether the queue is empty afterwards."""
        with self._commit_lock:
            with self._lock:
                batch = list(self._pending)
            if not batch:
                return True
            try:
                self._store.probes.record_batch(batch)
            except StoreError as error:
                if not self._failing:
                    log.error(
                        "result writer: commit failed; the results stay queued and are tried again",
                        error=str(error),
                        pending=sum(len(results) for _, results in batch),
                    )
                self._failing = True
                return False
            except Exception as exc:  # a bug in one pass's rows: keep the others
                handled = self._store_one_by_one(batch, type(exc).__name__)
                batch = batch[:handled]
                if not batch:
                    return False
            else:
                for run, results in batch:
                    log_pass(run.run_id, results)
                self._committed(batch)
            count = sum(len(results) for _, results in batch)
            with self._lock:
                for _ in batch:
                    self._pending.popleft()
                self._pending_results -= count
                empty = not self._pending
            if self._failing:
                log.info("result writer: commits succeed again", committed=count)
                self._failing = False
            return empty

    def _store_one_by_one(self, batch: Sequence[Batch], error: str) -> int:
        """Commit each pass of *batch* alone after the whole batch failed with something other
        than a database refusal; a pass that fails alone is dropped with an error line (it
        would fail every retry). Stop at a database refusal; return how many passes, from the
        first, were committed or dropped."""
        log.error("result writer: batch refused; storing its passes one by one", error=error)
        for handled, (run, results) in enumerate(batch):
            try:
                self._store.probes.record_batch([(run, results)])
            except StoreError:
                return handled
            except Exception as exc:
                log.error(
                    "result writer: a pass could not be stored and is dropped",
                    run_id=run.run_id,
                    results=len(results),
                    error=type(exc).__name__,
                )
            else:
                log_pass(run.run_id, results)
                self._committed([(run, results)])
        return len(batch)

    def _committed(self, batch: Sequence[Batch]) -> None:
        """Tell the ``on_commit`` hook which results are now stored, in start order."""
        if self._on_commit is None:
            return
        results = sorted(
            (result for _, results in batch for result in results), key=lambda r: r.started_at
        )
        try:
            self._on_commit(results)
        except Exception as exc:  # a hook must not make committed results look uncommitted
            log.error("result writer: commit hook failed", error=type(exc).__name__)

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self._window)
            self._wake.clear()
            if self._closed.is_set():
                break
            try:
                self.flush()
            except Exception as exc:  # the writer must outlive any one bad batch
                log.error("result writer: unexpected failure", error=type(exc).__name__)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop the thread and commit what is queued (trying until *timeout*); return whether
        nothing was left uncommitted."""
        self._closed.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        while True:
            if self.flush():
                return True
            if time.monotonic() >= deadline:
                log.error("result writer: results not committed at stop", lost=self.pending)
                return False
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
