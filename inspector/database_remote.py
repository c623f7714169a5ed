"""The remote half of `Database` (database.py): a database on another computer (issue #17).

`RemoteDatabase` is a base of `Database`: opening an `ssh://` address (connecting on a
thread of `RemoteConnection`, remote_connection.py), what its connection's signals do to the
window's state, allowing edits (a reconnect with write access), and edits sent with an edit
id that a retry after a dropped connection reuses (`store_edits.RemoteEdit`). It uses the
attributes and signals `Database` defines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QEventLoop, QTimer

from shepherd_store import StoreError
from shepherd_store.errors import ConnectionLostError, RemoteTimeoutError
from shepherd_store.remote import RemoteStore, new_edit_id, parse_url
from shepherd_store.store import ChangeToken

from . import workers
from .remote_connection import RemoteConnection
from .store_edits import RemoteEdit

if TYPE_CHECKING:
    from .database import Database

__all__ = ["EDIT_RECONNECT_S", "RemoteDatabase"]

#: How long an edit whose connection dropped waits for the reconnect before it is sent
#: again with its edit id (never applied twice) or reported.
EDIT_RECONNECT_S = 45.0

T = TypeVar("T")


class RemoteDatabase:
    """`Database`'s remote database (see the module); not used on its own."""

    remote: RemoteConnection | None
    remote_options: dict[str, Any]
    url: str | None
    path: Path | None
    error: str | None
    _writing: bool

    def open_remote(self: Database, url: str, *, read_only: bool | None = None,
                    bootstrap: bool = False) -> bool:
        """Start connecting to the database at `url` (read-only: edits need
        `allow_remote_edits`); `opened` or `failed` and `connectFailed` follow. False when
        `url` is not an address (`failed` says why)."""
        try:
            parsed = parse_url(url)
        except StoreError as exc:
            self._retry.stop()
            self._close_store()
            self.url = self.path = None
            self._fail(str(exc), retry=False)
            return False
        self.use_remote(RemoteConnection(parsed, bootstrap=bootstrap, parent=self,
                                         options=dict(self.remote_options)),
                        read_only=read_only)
        return True

    def use_remote(self: Database, remote: RemoteConnection, *,
                   read_only: bool | None = None) -> None:
        """Show the database of `remote` (connecting, or connected by File ▸ Open Remote's
        dialog), closing the one open now."""
        self._retry.stop()
        self._close_store()
        self.path = None
        if read_only is not None:
            self.user_read_only = read_only
        self.url, self.error = str(remote.url), None
        self.last_change = None
        remote.setParent(self)
        remote.connected.connect(self._on_remote_connected)
        remote.connectFailed.connect(self._on_remote_failed)
        remote.reconnected.connect(self._on_reconnected)
        remote.failed.connect(lambda message: self._on_remote_failed(message, False))
        remote.changed.connect(self._on_changed)
        remote.gone.connect(self._on_remote_gone)
        remote.lost.connect(lambda _message: self.stateChanged.emit())
        remote.stateChanged.connect(self.connectionChanged.emit)
        self.remote = remote
        self.connectionChanged.emit()
        if remote.state == "connected":
            self._on_remote_connected()
        else:
            self.stateChanged.emit()

    # --- a remote database's connection (remote_connection.py) ----------------------------

    def _on_remote_connected(self: Database) -> None:
        assert self.remote is not None
        self.store = self.remote.store
        self.error = None
        self._log_labels = {}
        self.last_change = None
        self.opened.emit()
        self.stateChanged.emit()
        self.refresh_labels()

    def _on_remote_failed(self: Database, message: str, can_copy: bool) -> None:
        self.error = message
        self.failed.emit(message)
        self.stateChanged.emit()
        self.connectFailed.emit(message, can_copy)

    def _on_reconnected(self: Database) -> None:
        # The views kept what they showed: refresh it incrementally, as after a commit.
        self.error = None
        self._emit_changed()

    def _on_remote_gone(self: Database) -> None:
        assert self.remote is not None
        self._fail(f"{self.remote.url.path} was deleted or moved on {self.remote.host} while "
                   "open. Reload (F5) once it is back.", retry=False, keep=True)

    @property
    def reads_in_workers(self) -> bool:
        """Whether every read must run in the worker pool (a remote database: each read
        waits for the link); a local one reads small things inline as before."""
        return self.remote is not None

    @property
    def known_token(self) -> ChangeToken | None:
        """The newest change token a remote database sent (None: read it from the store)."""
        return self.remote.token if self.remote is not None else None

    @property
    def host(self) -> str | None:
        """The remote computer, for a remote database."""
        return self.remote.host if self.remote is not None else None

    def allow_remote_edits(self: Database) -> None:
        """Allow edits of the remote database: reconnect with write access (File ▸
        Read-only unchecked and confirmed); `stateChanged` follows when it is there."""
        self.user_read_only = False
        if self.remote is not None and self.remote.store.read_only:
            self.remote.allow_edits(True)
        self.stateChanged.emit()


    def _write_remote(self: Database, store: RemoteStore, edit: Callable[[RemoteEdit], T]) -> T:
        target = RemoteEdit(store, new_edit_id())
        deadline = time.monotonic() + EDIT_RECONNECT_S
        self._writing = True
        try:
            while True:
                try:
                    return workers.run_waiting(lambda: edit(target))
                except (ConnectionLostError, RemoteTimeoutError) as exc:
                    # Sent again with the same edit id (applied at most once) once the
                    # connection is back; until then the window goes on.
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._wait_connected(left):
                        raise StoreError(
                            f"The connection to {self.host} dropped while the change was "
                            "being sent, and it is not back: it may or may not have been "
                            "written. Look at the values once it is back before changing "
                            "them again.", path=store.path) from exc
        finally:
            self._writing = False

    def _wait_connected(self: Database, timeout: float) -> bool:
        """Let the window run until the remote connection is back (True) or `timeout`."""
        remote = self.remote
        deadline = time.monotonic() + timeout
        loop = QEventLoop()
        tick = QTimer()
        tick.timeout.connect(loop.quit)
        tick.start(50)
        while remote is not None and remote is self.remote and time.monotonic() < deadline:
            loop.exec()  # (first a tick: a connection just killed may not know it yet)
            if remote.store.connected and remote.connected_now:
                return True
            if remote.state == "reconnecting" and remote.retry_at is not None:
                remote.reconnect_now()  # an edit is waiting: no backoff
            if remote.state in ("failed", "closed"):
                return False
        return False
