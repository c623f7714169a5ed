"""Running library calls off the GUI thread with Qt's own pool (QThreadPool)."""

from __future__ import annotations

import contextlib
import itertools
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QObject,
    QThreadPool,
    QTimer,
    Signal,
)

from shepherd_store import StoreError

T = TypeVar("T")


class TaskSignals(QObject):
    """Signals of one task; they live in the GUI thread, so slots run there (queued)."""

    finished = Signal(object)
    failed = Signal(str)
    progress = Signal(int, int)


class Task:
    """Run `fn(report)` in the pool; `report(done, total)` emits `progress`.

    A `StoreError` (or OSError) becomes `failed` with its message; any other exception is a
    bug and is reported with its traceback so it is never lost silently.

    A plain callable, not a QRunnable subclass: PySide takes its reference for a runnable
    handed to the pool after `start` returns, and when the pool had already run and
    deleted it by then, that reference was never dropped (about 3 % of tasks leaked).
    """

    def __init__(self, fn: Callable[[Callable[[int, int], None]], Any]) -> None:
        self.fn = fn
        self.signals = TaskSignals()

    def run(self) -> None:
        try:
            result = self.fn(self._progress)
        except (StoreError, OSError) as exc:
            self._emit(self.signals.failed, str(exc))
        except Exception:  # a bug: show it rather than lose it in a worker thread
            self._emit(self.signals.failed, "Internal error:\n" + traceback.format_exc(limit=8))
        else:
            self._emit(self.signals.finished, result)

    def _progress(self, done: int, total: int) -> None:
        self._emit(self.signals.progress, done, total)

    @staticmethod
    def _emit(signal: Any, *args: Any) -> None:
        # RuntimeError: the receiving window was destroyed meanwhile, so nobody listens.
        with contextlib.suppress(RuntimeError):
            signal.emit(*args)


#: Signals of the tasks that have not reported yet, by a key of their own (see `start`).
_live: dict[int, TaskSignals] = {}
_keys = itertools.count()


def _release(key: int) -> None:
    """Forget a task's signals once its report has been delivered. Deferred to the next
    turn of the event loop: the object must not be deleted inside its own emission."""
    QTimer.singleShot(0, lambda: _live.pop(key, None))


def start(fn: Callable[[Callable[[int, int], None]], Any],
          on_done: Callable[[Any], None] | None = None,
          on_error: Callable[[str], None] | None = None,
          on_progress: Callable[[int, int], None] | None = None, *,
          pool: QThreadPool | None = None) -> TaskSignals:
    """Start `fn` in the global pool (or `pool`) and connect the callbacks; returns the
    task's signals."""
    task = Task(fn)
    sig = task.signals
    key = next(_keys)
    _live[key] = sig  # keep the QObject alive until the task has reported
    if on_done is not None:
        sig.finished.connect(on_done)
    if on_error is not None:
        sig.failed.connect(on_error)
    if on_progress is not None:
        sig.progress.connect(on_progress)
    # The slots name the key, never `sig`: a slot holding its own sender is a cycle through
    # C++ that the garbage collector cannot see, and every task's QObject would leak.
    sig.finished.connect(lambda _r: _release(key))
    sig.failed.connect(lambda _m: _release(key))
    # Start on the next turn of the event loop, so a caller can still connect to the
    # returned signals before a quick task reports.
    target = pool or QThreadPool.globalInstance()
    queue = _queue(target)
    queue.tasks.append(task)
    QTimer.singleShot(0, queue.start_one)
    return sig


class _Queue:
    """The tasks waiting for a thread of one pool.

    The pool and the timer are only ever handed this queue's long-lived bound methods,
    never a callable per task: PySide holds on to the callables it is given for a while
    (the timer's until a deferred delete, now and then the pool's), and a callable per task
    kept its task, closure and signals alive with it.
    """

    def __init__(self, pool: QThreadPool) -> None:
        self.pool = pool
        self.tasks: deque[Task] = deque()  # append and popleft are atomic
        self.start_one = self._start_one
        self.run_one = self._run_one

    def _start_one(self) -> None:
        self.pool.start(self.run_one)

    def _run_one(self) -> None:
        self.tasks.popleft().run()


_queues: dict[int, _Queue] = {}


def _queue(pool: QThreadPool) -> _Queue:
    queue = _queues.get(id(pool))
    if queue is None or queue.pool is not pool:
        queue = _queues[id(pool)] = _Queue(pool)
    return queue


_waiting_pool: QThreadPool | None = None


def run_waiting(fn: Callable[[], T]) -> T:
    """Call `fn()` in a worker thread and wait for it in a nested event loop, as a modal
    dialog waits: the window keeps painting and reacting meanwhile, and the caller gets the
    result, or the exception re-raised, as from a plain call.

    For edits, which may wait seconds for the service's write lock. They run in a pool of
    their own, so a long scan in the global pool never holds one up.
    """
    global _waiting_pool
    if _waiting_pool is None:
        _waiting_pool = QThreadPool(QCoreApplication.instance())
        _waiting_pool.setMaxThreadCount(1)
    outcome: list[tuple[bool, Any]] = []
    loop = QEventLoop()

    def run(_report: Callable[[int, int], None]) -> tuple[bool, Any]:
        try:
            return True, fn()
        except BaseException as exc:  # raised again in the caller's thread, below
            return False, exc

    def done(result: Any) -> None:
        outcome.append(result)
        loop.quit()

    def failed(message: str) -> None:
        outcome.append((False, RuntimeError(message)))
        loop.quit()

    start(run, done, failed, pool=_waiting_pool)
    while not outcome:
        loop.exec()
    # Take the result out of the list the callbacks hold: the task's signals keep those
    # callbacks through a C++ connection the collector cannot see, and an exception held
    # there (with its frames, the task and its signals) would never be freed.
    ok, value = outcome.pop()
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def wait_all(timeout_ms: int = 10_000) -> bool:
    """Start what is queued and wait for every pool task to end (tests and shutdown)."""
    from PySide6.QtCore import QCoreApplication

    QCoreApplication.processEvents()
    return bool(QThreadPool.globalInstance().waitForDone(timeout_ms))


def wait_idle(timeout_ms: int) -> bool:
    """Wait up to `timeout_ms` for the tasks running in the pools, without running the event
    loop (quitting: no slot may run after the window closed); whether they all ended."""
    deadline = time.monotonic() + timeout_ms / 1000
    for pool in (QThreadPool.globalInstance(), _waiting_pool):
        left = max(0, round((deadline - time.monotonic()) * 1000))
        if pool is not None and not pool.waitForDone(left):
            return False
    return True


class Reloader:
    """A view's background read: a burst of requests while one runs costs one more run, not
    many, and the result of a run that `cancel()` superseded is dropped.

    `job()` is called on the GUI thread and returns the function to run in the pool (it
    captures the store and settings of that moment), or None when there is nothing to read.
    """

    def __init__(self, job: Callable[[], Callable[[], Any] | None],
                 on_done: Callable[[Any], None], on_error: Callable[[str], None]) -> None:
        self._job = job
        self._on_done = on_done
        self._on_error = on_error
        self._generation = 0
        self._running = False
        self._again = False

    def request(self) -> None:
        """Read again now, or once more after the read that is running."""
        if self._running:
            self._again = True
            return
        fn = self._job()
        if fn is None:
            return
        self._running, self._again = True, False
        self._generation += 1
        generation = self._generation

        def finish() -> None:
            self._running = False
            if self._again:
                self.request()

        def done(result: Any) -> None:
            if generation == self._generation:
                self._on_done(result)
            finish()

        def failed(message: str) -> None:
            if generation == self._generation:
                self._on_error(message)
            finish()

        start(lambda _report: fn(), done, failed)

    def cancel(self) -> None:
        """Ignore the result of the read that is running (the database went away)."""
        self._generation += 1
