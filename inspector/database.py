"""The open database as the window sees it: one read path, one write path, live changes.

`Database` owns a read-only `SqliteStore` (every view reads through it, one short statement
at a time) and the watcher. Edits go through `write()`: a short-lived read-write store used
in a worker while the window stays responsive, closed right after its one transaction.
Views connect to the signals:

- `opened`: a database was (re)opened; reload everything.
- `changed`: another connection committed; refresh incrementally, keeping the user's place.
- `failed(message)`: the file cannot be read; show the message (the window stays usable).
- `stateChanged`: read-only state, labels or policy changed (status bar, enabled actions).

A database on another computer (`ssh://...`, issue #17) is a `RemoteStore` kept by a
`RemoteConnection` (remote_connection.py): the same signals, no file watcher (the remote
side's own notices drive `changed`), connecting and reconnecting off the GUI thread
(`connectionChanged` says when its state moves), read-only until `allow_remote_edits`, and
edits sent with an edit id that a retry after a drop reuses (`store_edits`). Views ask
`reads_in_workers` whether every read must leave the GUI thread (a remote one: each read is
a round trip over a link that may be slow); `known_token` is the newest change token the
remote side sent, so a refresh can plan without a read.
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
from shepherd_store.remote import RemoteStore, looks_remote, new_edit_id
from shepherd_store.store import file_read_only_reason

from . import workers
from .database_remote import RemoteDatabase
from .remote_connection import RemoteConnection
from .store_edits import RemoteEdit
from .watcher import DbWatcher
from .watcher_logic import ChangePacer, file_identity

RETRY_MS = 1000  # how often a missing or broken file is tried again
# Every label of the log is read this long after a database opens, not with its first page:
# at a million events that read is a scan of the whole log, and in another worker at once it
# took the GIL from the first page's read (23 ms alone, 42-53 ms beside it). The rows carry
# their own labels meanwhile.
LABELS_AFTER_MS = 300
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
#: What the views read through: a local file, or a database on another computer.
AnyStore = SqliteStore | RemoteStore


class Database(RemoteDatabase, QObject):
    """The database the window shows (or the reason it cannot show one)."""

    opened = Signal()
    changed = Signal()
    failed = Signal(str)
    stateChanged = Signal()
    #: A remote database's connection changed state (connecting, lost, reconnecting ...).
    connectionChanged = Signal()
    #: A remote database could not be reached (message, whether copying the library helps).
    connectFailed = Signal(str, bool)

    def __init__(self, parent: QObject | None = None, *, poll_ms: int | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.store: AnyStore | None = None
        #: The `ssh://` address of a remote database (then `path` is None).
        self.url: str | None = None
        #: `RemoteStore` options for every remote open (tests: ssh_config, remote_python).
        self.remote_options: dict[str, object] = {}
        self.remote: RemoteConnection | None = None
        self._closing: list[RemoteConnection] = []
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
        self._labels_timer = QTimer(self)
        self._labels_timer.setSingleShot(True)
        self._labels_timer.setInterval(LABELS_AFTER_MS)
        self._labels_timer.timeout.connect(self.refresh_labels)

    # --- opening -------------------------------------------------------------------------

    def open(self, path: str | Path, *, read_only: bool | None = None) -> bool:
        """Open `path` for reading; on failure keep the message in `error` and emit `failed`.

        An `ssh://` address opens a remote database (`open_remote`)."""
        if isinstance(path, str) and looks_remote(path):
            return self.open_remote(path, read_only=read_only)
        self._close_store()
        self.url = None
        self.path = Path(path).expanduser().absolute()
        if read_only is not None:
            self.user_read_only = read_only
        return self._open_current()

    def reload(self) -> bool:
        """Close and reopen the current file (File ▸ Reload); a remote database is read
        again (or reconnected at once when its connection is down)."""
        if self.remote is not None:
            if self.store is not None and self.remote.connected_now:
                self.opened.emit()
                self.stateChanged.emit()
            elif self.store is not None:
                self.remote.reconnect_now()
            elif self.url is not None:
                return self.open_remote(self.url)
            return True
        if self.path is None:
            return False
        self._close_store()
        return self._open_current()

    def close(self) -> None:
        """Stop watching and close the read connection."""
        self._retry.stop()
        self._close_store()

    def wait_closed(self, timeout: float = 10.0) -> bool:
        """Wait for closed remote connections to end (tests and quitting)."""
        ok = all(r.wait_closed(timeout) for r in self._closing)
        self._closing = [r for r in self._closing if r.busy]
        return ok

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
        self._labels_timer.start()  # (after the first page: `LABELS_AFTER_MS`)
        return True

    def _close_store(self) -> None:
        self._change_timer.stop()
        self._labels_timer.stop()
        if self.remote is not None:
            self.remote.close()  # (on a thread: never waits for the link)
            self._closing = [r for r in self._closing if r.busy] + [self.remote]
            self.remote = None
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if isinstance(self.store, SqliteStore):
            self.store.close()
        self.store = None

    def _fail(self, message: str, *, retry: bool, keep: bool = False) -> None:
        if not keep:
            self._close_store()
        self.error = message
        self.failed.emit(message)
        self.stateChanged.emit()
        if retry and self.path is not None:
            self._retry.start()

    @property
    def location(self) -> str | None:
        """The open database as people read it: a path, or an `ssh://` address."""
        return self.url if self.url is not None else (str(self.path) if self.path else None)

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
        if isinstance(self.store, RemoteStore):
            if self.remote is None or not self.remote.connected_now:
                return f"the connection to {self.host} is down"
            return self.store.read_only_reason
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

        A remote edit gets a `RemoteEdit` (`store_edits`): when its connection drops, it is
        sent again with the same edit id once reconnected (applied at most once), or
        reported when the connection does not come back.
        """
        path = self._writable_path()
        if self._writing:
            raise StoreError("Another change is still being written. Try again in a moment.",
                             path=str(path))
        if isinstance(self.store, RemoteStore):
            return self._write_remote(self.store, edit)  # type: ignore[arg-type]

        def run() -> T:
            with SqliteStore.open(path) as store:
                return edit(store)

        self._writing = True
        try:
            return workers.run_waiting(run)
        finally:
            self._writing = False
            self.check_now()

    def _writable_path(self) -> Path | str:
        reason = self.read_only_reason
        if reason is None and self.url is not None:
            return self.url
        if reason is not None or self.path is None:
            where = self.location
            raise ReadOnlyError(f"Cannot edit {where}: {reason}.", path=str(where))
        return self.path

    @contextlib.contextmanager
    def writer(self) -> Iterator[SqliteStore]:
        """A short-lived read-write store for one edit, on the calling thread; closed when
        the block ends. The window's own edits use `write`, which never blocks it."""
        where = self._writable_path()
        if isinstance(self.store, RemoteStore):
            yield RemoteEdit(self.store, new_edit_id())  # type: ignore[misc]
            return
        store = SqliteStore.open(where)
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
