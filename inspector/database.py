"""The open database as the window sees it: one read path, one write path, live changes.

`Database` owns a read-only `SqliteStore` (every view reads through it, one short statement
at a time) and the watcher. Edits go through `write()`: a short-lived read-write store used
in a worker while the window stays responsive, closed right after its one transaction.
Views connect to the signals:

- `opened`: a database was (re)opened; reload everything.
- `changed`: another connection committed; refresh incrementally, keeping the user's place.
- `failed(message)`: the file cannot be read; show the message (the window stays usable).
- `stateChanged`: read-only state, labels or policy changed (status bar, enabled actions).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from shepherd_store import ReadOnlyError, SqliteStore, StoreError
from shepherd_store.policy import Policy
from shepherd_store.store import file_read_only_reason

from . import workers
from .watcher import DbWatcher
from .watcher_logic import ChangePacer, file_identity

RETRY_MS = 1000  # how often a missing or broken file is tried again
# The window's reads wait at most this long for a writer's lock: a read the service blocks
# for longer is retried later rather than freezing the window for the daemon's full 5 s.
READ_BUSY_TIMEOUT_S = 0.75
# The GUI thread's own reads (change token, the rows being painted) never wait for a
# writer's lock; they try again a moment later. A service writing flat out in rollback-journal
# mode holds its lock most of the time, and even 20 ms per read added up to 60 % of the GUI
# thread (the watcher alone reads the token ~100 times a second then).
GUI_BUSY_TIMEOUT_S = 0.0
# Background reads (workers) may wait as long as the daemon's own: the window stays
# responsive meanwhile, and a service writing flat out shuts readers out for most of the
# time (an fsync can hold its commit for a second), so 0.75 s failed loads now and then.
WORKER_BUSY_TIMEOUT_S = 5.0
# How often views hear of commits (at most a share of the GUI thread): watcher_logic.py's
# `ChangePacer`.

T = TypeVar("T")


class Database(QObject):
    """The database the window shows (or the reason it cannot show one)."""

    opened = Signal()
    changed = Signal()
    failed = Signal(str)
    stateChanged = Signal()

    def __init__(self, parent: QObject | None = None, *, poll_ms: int | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.store: SqliteStore | None = None
        self.error: str | None = None
        self.user_read_only = False
        self.policy: Policy | None = None
        self.last_change: datetime | None = None
        self._log_labels: dict[str, str] = {}
        self._writing = False
        self._pacer = ChangePacer()
        self._immediate = False
        self._change_timer = QTimer(self)
        self._change_timer.setSingleShot(True)
        self._change_timer.timeout.connect(self._emit_changed)
        self._watcher: DbWatcher | None = None
        self._poll_ms = poll_ms
        self._retry = QTimer(self)
        self._retry.setInterval(RETRY_MS)
        self._retry.timeout.connect(self._try_reopen)

    # --- opening -------------------------------------------------------------------------

    def open(self, path: str | Path, *, read_only: bool | None = None) -> bool:
        """Open `path` for reading; on failure keep the message in `error` and emit `failed`."""
        self._close_store()
        self.path = Path(path).expanduser().absolute()
        if read_only is not None:
            self.user_read_only = read_only
        return self._open_current()

    def reload(self) -> bool:
        """Close and reopen the current file (File ▸ Reload)."""
        if self.path is None:
            return False
        self._close_store()
        return self._open_current()

    def close(self) -> None:
        """Stop watching and close the read connection."""
        self._retry.stop()
        self._close_store()

    def _open_current(self) -> bool:
        assert self.path is not None
        try:
            store = SqliteStore.open(self.path, read_only=True,
                                     busy_timeout=READ_BUSY_TIMEOUT_S)
            store.set_busy_timeout(GUI_BUSY_TIMEOUT_S)
            store.set_busy_timeout(WORKER_BUSY_TIMEOUT_S, other_threads=True)
        except StoreError as exc:
            self._fail(str(exc), retry=True)
            return False
        self.store = store
        self.error = None
        self._retry.stop()
        self._log_labels = {}
        self.last_change = None
        kwargs = {} if self._poll_ms is None else {"poll_ms": self._poll_ms}
        # Owned by Python, not parented: dropping the last reference deletes it, which is
        # safe even from inside its own signal (the emitting frame still holds it), whereas a
        # deleteLater() could race with the Database's own destruction.
        self._watcher = DbWatcher(self.path, store.change_token, None, **kwargs)
        self._watcher.changed.connect(self._on_changed)
        self._watcher.gone.connect(self._on_gone)
        self._watcher.failed.connect(lambda msg: self._fail(msg, retry=True))
        self.opened.emit()
        self.stateChanged.emit()
        self.refresh_labels()
        return True

    def _close_store(self) -> None:
        self._change_timer.stop()
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def _fail(self, message: str, *, retry: bool) -> None:
        self._close_store()
        self.error = message
        self.failed.emit(message)
        self.stateChanged.emit()
        if retry and self.path is not None:
            self._retry.start()

    def _on_gone(self) -> None:
        assert self.path is not None
        if file_identity(self.path) is None:
            self._fail(f"{self.path} was deleted or moved while open. The inspector will "
                       "reopen it as soon as it is back.", retry=True)
        else:  # replaced (restored from a backup, atomic rename): show the new file
            self.reload()

    def _try_reopen(self) -> None:
        if self.path is not None and self.path.exists() and os.access(self.path, os.R_OK):
            self._retry.stop()
            self._close_store()
            if not self._open_current():
                return

    def _on_changed(self) -> None:
        # (A pass already pending sees this commit too.)
        wait = self._pacer.commit(time.monotonic(), immediate=self._immediate,
                                  pending=self._change_timer.isActive())
        if wait is None:
            self._emit_changed()
        elif wait >= 0:
            self._change_timer.start(wait)

    def _emit_changed(self) -> None:
        self._change_timer.stop()
        store = self.store
        lockouts = store.lockouts if store is not None else 0
        started = time.monotonic()
        if not self._pacer.only_retry:
            self.last_change = datetime.now().astimezone()
        self._pacer.only_retry = False
        self.changed.emit()
        self.stateChanged.emit()
        ended = time.monotonic()
        self._pacer.passed_on(ended - started, ended)
        if store is not None and store is self.store and store.lockouts > lockouts:
            # A view's read gave up on the service's lock: tell the views again shortly,
            # or the last commit of a burst could stay unseen until the next one.
            self._change_timer.start(self._pacer.locked_out(time.monotonic()))

    def check_now(self) -> None:
        """Look for changes immediately (tests, and after the inspector's own writes)."""
        if self._watcher is not None:
            self._immediate = True
            try:
                self._watcher.check()
            finally:
                self._immediate = False

    # --- state ---------------------------------------------------------------------------

    @property
    def read_only_reason(self) -> str | None:
        """Why edits are disabled, or None when they are allowed."""
        if self.store is None:
            return "no database is open"
        if self.user_read_only:
            return "read-only mode is on (File ▸ Read-only)"
        # The read store is read-only on purpose: ask about the file itself.
        return file_read_only_reason(self.store.path)

    @property
    def writable(self) -> bool:
        return self.read_only_reason is None

    def set_user_read_only(self, value: bool) -> None:
        if value != self.user_read_only:
            self.user_read_only = value
            self.stateChanged.emit()

    def set_policy(self, policy: Policy | None) -> None:
        self.policy = policy
        self.stateChanged.emit()

    def write(self, edit: Callable[[SqliteStore], T]) -> T:
        """Run `edit` on a short-lived read-write store, off the GUI thread; its result.

        The service may hold the write lock for a while (up to the 5 s busy timeout): the
        edit waits for it in a worker while the window keeps painting and reacting, and the
        call returns `edit`'s result, or raises its exception, as a plain call would. One
        edit at a time: another one asked for meanwhile is refused with a `StoreError`.
        """
        path = self._writable_path()
        if self._writing:
            raise StoreError("Another change is still being written. Try again in a moment.",
                             path=str(path))

        def run() -> T:
            with SqliteStore.open(path) as store:
                return edit(store)

        self._writing = True
        try:
            return workers.run_waiting(run)
        finally:
            self._writing = False
            self.check_now()

    def _writable_path(self) -> Path:
        reason = self.read_only_reason
        if reason is not None or self.path is None:
            raise ReadOnlyError(f"Cannot edit {self.path}: {reason}.", path=str(self.path))
        return self.path

    @contextlib.contextmanager
    def writer(self) -> Iterator[SqliteStore]:
        """A short-lived read-write store for one edit, on the calling thread; closed when
        the block ends. The window's own edits use `write`, which never blocks it."""
        store = SqliteStore.open(self._writable_path())
        try:
            yield store
        finally:
            store.close()
        self.check_now()

    # --- labels ----------------------------------------------------------------------------

    @property
    def labels(self) -> dict[str, str]:
        """Entry id → label: the policy's where given, else the newest label in the log."""
        merged = dict(self._log_labels)
        if self.policy is not None:
            merged.update({e.id: e.label for e in self.policy.entries.values()})
        return merged

    def note_label(self, entry_id: str, label: str) -> None:
        """Learn a label from an event a view just read (keeps labels live without a scan)."""
        if label and self._log_labels.get(entry_id) != label:
            self._log_labels[entry_id] = label

    def refresh_labels(self) -> None:
        """Re-read every label from the log, off the GUI thread."""
        store = self.store
        if store is None:
            return

        def done(result: object) -> None:
            if self.store is store and isinstance(result, dict):
                self._log_labels.update(result)
                self.stateChanged.emit()

        workers.start(lambda _report: store.entry_labels(), done, lambda _msg: None)
