"""The window's parts for a database on another computer (issue #17): File ▸ Open Remote's
dialog, the banner that says a connection is down (and reconnects), and the words the
status bar and the title use.

The dialog connects with a `RemoteConnection` of its own (off the GUI thread, with a busy
bar and Cancel), so the database open now stays open until the new one answers; then the
window takes that connection over (`Database.use_remote`). A failure is shown as the
library words it (what to install there), with "Copy the library there (per-user cache)"
when the library is missing there (`bootstrap=True`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import StoreError
from shepherd_store.remote import RemoteUrl, parse_url

from .database import Database
from .remote_connection import RemoteConnection
from .widgets import plain_label, set_control

__all__ = ["ConnectionBanner", "OpenRemoteDialog", "connection_words", "recent_remotes",
           "remember_remote"]

RECENT_KEY = "recentRemotes"
MAX_RECENT = 8
DEFAULT_REMOTE_PATH = "/var/lib/shepherdd/shepherdd.db"


def recent_remotes(settings: QSettings) -> list[str]:
    """The `ssh://` addresses connected to before, newest first."""
    value = settings.value(RECENT_KEY, [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value or []]


def remember_remote(settings: QSettings, url: str) -> None:
    recent = [url] + [u for u in recent_remotes(settings) if u != url]
    settings.setValue(RECENT_KEY, recent[:MAX_RECENT])


def computer_text(url: RemoteUrl) -> str:
    """`user@host:port` as the dialog's first field shows it."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    port = "" if url.port is None else f":{url.port}"
    return f"{url.user + '@' if url.user else ''}{host}{port}"


def connection_words(db: Database) -> tuple[str, str]:
    """(The status bar's words for a remote connection, its tooltip); ("", "") locally."""
    remote = db.remote
    if remote is None:
        return "", ""
    host, state = remote.host, remote.state
    if state == "connecting":
        return f"connecting to {host}…", f"Starting ssh to {remote.url.destination}"
    if state == "connected":
        return f"connected to {host}", f"Through ssh to {remote.url.destination}"
    if state == "reconnecting":
        wait = remote.seconds_to_retry()
        text = f"reconnecting to {host}" + (f" in {wait} s" if wait else "…")
        return text, remote.error or ""
    if state == "failed":
        return f"not connected to {host}", remote.error or ""
    return f"closed ({host})", ""


class ConnectionBanner(QWidget):
    """"Connection to HOST lost; reconnecting in N s… [Reconnect now]" while a remote
    database's connection is down (the views keep what they showed: stale until it is
    back), and a failed connect with the library copy to offer."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionBanner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)  # (its colour shows)
        self.setStyleSheet(
            "#connectionBanner { background: #FFF8E1; border: 1px solid #FFB300; "
            "border-radius: 4px; } #connectionBanner QLabel { color: #4E342E; }")
        self._db = db
        self.text = plain_label(self, "connectionMessage")
        self.text.setWordWrap(True)
        self.reconnect = QPushButton("Reconnect now", self)
        set_control(self.reconnect, "bannerReconnect", "Try to connect again at once")
        self.reconnect.clicked.connect(self._reconnect_now)
        self.copy_library = QPushButton("Copy the library there (per-user cache)", self)
        set_control(self.copy_library, "bannerCopyLibrary",
                    "Copy this shepherd_store library to ~/.cache/shepherd-store on that "
                    "computer over the same connection and run it from there (no root)")
        self.copy_library.clicked.connect(self._copy_library)
        row = QHBoxLayout(self)
        row.addWidget(self.text, 1)
        row.addWidget(self.reconnect)
        row.addWidget(self.copy_library)
        self._can_copy = False
        self._tick = QTimer(self)  # the countdown
        self._tick.setInterval(500)
        self._tick.timeout.connect(self.refresh)
        db.connectionChanged.connect(self.refresh)
        db.connectFailed.connect(self._on_connect_failed)
        db.opened.connect(self.refresh)
        self.setVisible(False)

    def _on_connect_failed(self, _message: str, can_copy: bool) -> None:
        self._can_copy = can_copy
        self.refresh()

    def refresh(self) -> None:
        remote = self._db.remote
        state = remote.state if remote is not None else "none"
        if remote is None or state in ("connected", "connecting", "closed", "none"):
            self._tick.stop()
            self._can_copy = False
            self.setVisible(False)
            return
        if state == "reconnecting":
            wait = remote.seconds_to_retry()
            when = f"reconnecting in {wait} s…" if wait else "reconnecting…"
            self.text.setText(f"Connection to {remote.host} lost; {when} What is shown is "
                              "what was read before (stale) until the connection is back.")
            self.reconnect.setVisible(True)
            self.copy_library.setVisible(False)
            if not self._tick.isActive():
                self._tick.start()
        else:  # failed: what a person must fix (or the first connect failed)
            self._tick.stop()
            self.text.setText(f"Cannot connect to {remote.host}: {remote.error}")
            self.reconnect.setVisible(True)
            self.copy_library.setVisible(self._can_copy)
        self.setVisible(True)

    def _reconnect_now(self) -> None:
        if self._db.remote is not None:
            self._db.remote.reconnect_now()

    def _copy_library(self) -> None:
        if self._db.url is not None:
            self._db.open_remote(self._db.url, bootstrap=True)


class OpenRemoteDialog(QDialog):
    """File ▸ Open Remote…: the computer (`user@host[:port]`, recent ones offered) and the
    database's path there; Connect connects off the GUI thread (busy bar, Cancel), and
    `connectedTo(connection)` hands the connected `RemoteConnection` to the window."""

    connectedTo = Signal(object)

    def __init__(self, settings: QSettings, parent: QWidget | None = None, *,
                 options: dict[str, object] | None = None,
                 make: Callable[..., RemoteConnection] = RemoteConnection) -> None:
        super().__init__(parent)
        self.setObjectName("openRemoteDialog")
        self.setWindowTitle("Open a database on another computer")
        self.setMinimumWidth(620)
        self._settings = settings
        self._options = dict(options or {})
        self._make = make
        self.connection: RemoteConnection | None = None
        self._closed: list[RemoteConnection] = []  # abandoned connects, closing
        self.computer = QComboBox(self)
        self.computer.setEditable(True)
        set_control(self.computer, "remoteComputer",
                    "user@host or user@host:port (or a Host alias of ~/.ssh/config)",
                    "Computer")
        self.computer.lineEdit().setPlaceholderText("parent@kids-pc")
        self.path = QLineEdit(DEFAULT_REMOTE_PATH, self)
        set_control(self.path, "remotePath", "The database's path on that computer "
                    "(~/ is the remote user's home)", "Database path")
        self._recent = recent_remotes(settings)
        for url in self._recent:
            try:
                self.computer.addItem(computer_text(parse_url(url)), url)
            except StoreError:
                continue
        self.computer.setCurrentIndex(0 if self._recent else -1)
        self.computer.activated.connect(self._on_recent)
        if self._recent:
            self._on_recent(0)
        intro = plain_label(self, "remoteIntro", (
            "The computer where the Shepherd service runs. It is reached with your own ssh "
            "(keys, agent, ~/.ssh/config) and needs Python 3.11 there. The database opens "
            "read-only; File ▸ Read-only allows edits."))
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Computer:", self.computer)
        form.addRow("Database:", self.path)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("remoteProgress")
        self.progress.setRange(0, 0)  # busy: ssh says nothing until it is through
        self.progress.setVisible(False)
        self.status = plain_label(self, "remoteStatus")
        self.status.setWordWrap(True)
        self.copy_library = QPushButton("Copy the library there (per-user cache)", self)
        set_control(self.copy_library, "remoteCopyLibrary",
                    "Copy this shepherd_store library to ~/.cache/shepherd-store on that "
                    "computer over the same connection and run it from there (no root)")
        self.copy_library.setVisible(False)
        self.copy_library.clicked.connect(lambda: self.start(bootstrap=True))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.connect_button = self.buttons.addButton(
            "Connect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.connect_button.setObjectName("remoteConnect")
        self.connect_button.setDefault(True)
        self.buttons.accepted.connect(lambda: self.start())
        self.buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(intro)
        box.addLayout(form)
        box.addWidget(self.progress)
        box.addWidget(self.status)
        box.addWidget(self.copy_library)
        box.addWidget(self.buttons)

    def _on_recent(self, index: int) -> None:
        url = self.computer.itemData(index)
        if isinstance(url, str):
            with contextlib.suppress(StoreError):
                self.path.setText(parse_url(url).path)

    def url_text(self) -> str:
        """The address the fields make: `ssh://COMPUTER/PATH`."""
        computer = self.computer.currentText().strip()
        path = self.path.text().strip()
        if computer.startswith("ssh://"):
            return computer
        return f"ssh://{computer}{'' if path.startswith('/') else '/'}{path}"

    def start(self, *, bootstrap: bool = False) -> None:
        """Connect (off the GUI thread); the dialog closes once connected."""
        self._drop_connection()
        try:
            url = parse_url(self.url_text())
        except StoreError as exc:
            self._show_error(str(exc), False)
            return
        self.status.setText(f"Connecting to {url.host}…"
                            + (" (copying the library there first)" if bootstrap else ""))
        self.progress.setVisible(True)
        self.copy_library.setVisible(False)
        self.connect_button.setEnabled(False)
        connection = self._make(url, bootstrap=bootstrap, options=self._options, parent=self)
        connection.connected.connect(lambda: self._on_connected(connection))
        connection.connectFailed.connect(self._show_error)
        self.connection = connection

    def _on_connected(self, connection: RemoteConnection) -> None:
        if connection is not self.connection:
            return
        self.connection = None
        remember_remote(self._settings, str(connection.url))
        self.progress.setVisible(False)
        self.connectedTo.emit(connection)
        self.accept()

    def _show_error(self, message: str, can_copy: bool) -> None:
        self._drop_connection()
        self.progress.setVisible(False)
        self.connect_button.setEnabled(True)
        if can_copy:  # (the library's words name its argument; here it is a button)
            message = message.replace("connect with bootstrap=True to copy",
                                      "press Copy the library there to copy")
        self.status.setText(message)
        self.copy_library.setVisible(can_copy)

    def _drop_connection(self) -> None:
        if self.connection is not None:
            self.connection.close()  # (on a thread: Cancel never waits for the link)
            self._closed.append(self.connection)
            self.connection = None

    def wait_closed(self, timeout: float) -> bool:
        """Wait for abandoned connects to end (tests)."""
        return all(c.wait_closed(timeout) for c in self._closed)

    def reject(self) -> None:
        """Cancel: a connect under way is abandoned (its ssh closed in the background)."""
        self._drop_connection()
        super().reject()

