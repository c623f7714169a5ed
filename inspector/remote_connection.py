"""A database on another computer as the window keeps it (issue #17): connecting off the GUI
thread, the store's notices handed to the GUI thread, and reconnecting with backoff.

`RemoteConnection` owns one `RemoteStore`. Everything that may wait for the network (the
first connect, each reconnect, allowing edits, closing) runs on a short-lived thread of its
own; what it learns reaches the GUI thread through a queued signal, as do the store's own
callbacks (which arrive on its callback thread). The GUI thread never waits for the link.

States: `connecting` (the first connect), `connected`, `reconnecting` (the link dropped:
the next attempt is at `retry_at`, after a backoff of 1, 2, 4 ... 30 s, or at once with
`reconnect_now`), `failed` (the first connect failed, or a reconnect met something a person
must fix) and `closed`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from shepherd_store import StoreError
from shepherd_store.errors import ConnectionLostError, RemoteSetupError
from shepherd_store.remote import RemoteStore, RemoteUrl, parse_url
from shepherd_store.remote.connection import is_retryable
from shepherd_store.store import ChangeToken

__all__ = ["BACKOFF_S", "RemoteConnection", "needs_library"]

#: Seconds before each reconnect attempt after a drop (the last one repeats).
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def needs_library(message: str) -> bool:
    """Whether a setup error says the library is missing there (copying it over helps)."""
    return "shepherd_store library" in message or "bootstrap=True" in message


class RemoteConnection(QObject):
    """One `RemoteStore` and its connection's life, told on the GUI thread (see module)."""

    #: The first connect succeeded: `store` is ready.
    connected = Signal()
    #: The first connect failed (message, whether copying the library there may help).
    connectFailed = Signal(str, bool)
    #: A reconnect (or the reconnect that allowed edits) succeeded.
    reconnected = Signal()
    #: The link dropped (its message); reconnecting is scheduled.
    lost = Signal(str)
    #: A reconnect met what a person must fix (its message); no more attempts.
    failed = Signal(str)
    #: The remote side committed (`token` is the newest change token).
    changed = Signal()
    #: The file there was deleted or moved.
    gone = Signal()
    #: `state` or `retry_at` changed.
    stateChanged = Signal()

    _finished = Signal(int, str, object)  # (attempt, kind, error or None): from threads
    _notice = Signal(str, object)  # (kind, payload): from the store's callback thread

    def __init__(self, url: str | RemoteUrl, *, write: bool = False, bootstrap: bool = False,
                 options: dict[str, Any] | None = None, parent: QObject | None = None,
                 backoff: tuple[float, ...] = BACKOFF_S) -> None:
        super().__init__(parent)
        self.url = url if isinstance(url, RemoteUrl) else parse_url(url)
        self.state = "connecting"
        self.error: str | None = None
        #: When the next reconnect attempt starts (time.monotonic()), while reconnecting.
        self.retry_at: float | None = None
        #: The newest change token (from the connect, then from every notice).
        self.token: ChangeToken | None = None
        self._backoff = backoff
        self._failures = 0
        self._ever = False  # connected at least once (then a failure is a reconnect's)
        self._attempt = 0
        self._threads: list[threading.Thread] = []
        self.store = RemoteStore(self.url, write=write, bootstrap=bootstrap,
                                 on_change=self._on_change_cb,
                                 on_disconnect=self._on_disconnect_cb,
                                 on_gone=self._on_gone_cb, **(options or {}))
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.reconnect_now)
        self._finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        self._notice.connect(self._on_notice, Qt.ConnectionType.QueuedConnection)
        self._run("first", self.store.connect)

    @property
    def host(self) -> str:
        return self.url.host

    @property
    def connected_now(self) -> bool:
        return self.state == "connected"

    @property
    def busy(self) -> bool:
        """Whether a connect, reconnect or close thread is running."""
        return any(t.is_alive() for t in self._threads)

    def seconds_to_retry(self) -> int | None:
        """Whole seconds until the next attempt (None when none is scheduled)."""
        if self.retry_at is None:
            return None
        return max(0, round(self.retry_at - time.monotonic()))

    # --- threads ---------------------------------------------------------------------------

    def _run(self, kind: str, connect: Callable[[], None]) -> None:
        """Run `connect` (and a change-token read) on a thread; report on the GUI thread."""
        self._attempt += 1
        attempt, store = self._attempt, self.store

        def work() -> None:
            error: StoreError | None = None
            try:
                connect()
                token = store.change_token()
                self.token = token
            except StoreError as exc:
                error = exc
            except Exception as exc:  # a bug: say it rather than hang in "connecting"
                error = StoreError(f"Internal error while connecting: {exc!r}")
            with contextlib.suppress(RuntimeError):  # (the window was destroyed)
                self._finished.emit(attempt, kind, error)

        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=work, name=f"remote-{kind}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _on_finished(self, attempt: int, kind: str, error: object) -> None:
        if attempt != self._attempt or self.state == "closed":
            return
        if error is None:
            first, self._ever = not self._ever, True
            self.state, self.error, self.retry_at, self._failures = "connected", None, None, 0
            self.stateChanged.emit()
            (self.connected if first else self.reconnected).emit()
            return
        message = str(error)
        if not self._ever:
            self.state, self.error = "failed", message
            self.stateChanged.emit()
            self.connectFailed.emit(message, isinstance(error, RemoteSetupError)
                                    and needs_library(message))
        elif isinstance(error, StoreError) and is_retryable(error):
            self.error = message
            self._schedule()
        else:
            self.state, self.error, self.retry_at = "failed", message, None
            self.stateChanged.emit()
            self.failed.emit(message)

    def _schedule(self) -> None:
        delay = self._backoff[min(self._failures, len(self._backoff) - 1)]
        self._failures += 1
        self.state = "reconnecting"
        self.retry_at = time.monotonic() + delay
        self._timer.start(round(delay * 1000))
        self.stateChanged.emit()

    # --- what the window asks -----------------------------------------------------------------

    def reconnect_now(self) -> None:
        """Try to connect again at once (the banner's Reconnect now)."""
        if self.state not in ("reconnecting", "failed") or self.busy:
            return
        self._timer.stop()
        self.retry_at = None
        self.state = "reconnecting"
        self.stateChanged.emit()
        self._run("again", self.store.connect)

    def allow_edits(self, write: bool) -> None:
        """Connect again asking for (or giving up) write access; `reconnected` follows."""
        if self.state == "closed":
            return
        self.store.read_only = not write
        self._timer.stop()
        self.retry_at = None
        self.state = "reconnecting"
        self.stateChanged.emit()
        self._run("again", self.store.connect)

    def drop(self) -> None:
        """Cut the link as a network failure would (tests, and the demo of a drop)."""
        self.store.drop_connection()

    def close(self) -> None:
        """Stop reconnecting and close the store on a thread (never waits for the link)."""
        if self.state == "closed":
            return
        self.state = "closed"
        self._attempt += 1  # a connect still running is closed with the store
        self._timer.stop()
        self.retry_at = None
        store = self.store
        thread = threading.Thread(target=store.close, name="remote-close", daemon=True)
        self._threads.append(thread)
        thread.start()

    def wait_closed(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the threads (tests, quitting)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.busy

    # --- the store's callbacks (its callback thread) -----------------------------------------

    def _on_change_cb(self, token: ChangeToken) -> None:
        self.token = token
        with contextlib.suppress(RuntimeError):
            self._notice.emit("changed", token)

    def _on_disconnect_cb(self, error: ConnectionLostError) -> None:
        with contextlib.suppress(RuntimeError):
            self._notice.emit("lost", str(error))

    def _on_gone_cb(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._notice.emit("gone", None)

    def _on_notice(self, kind: str, payload: object) -> None:
        if self.state == "closed":
            return
        if kind == "changed":
            self.changed.emit()
        elif kind == "gone":
            self.gone.emit()
        elif kind == "lost" and self.state == "connected":
            self.error = str(payload)
            self._failures = 0
            self._schedule()
            self.lost.emit(str(payload))
