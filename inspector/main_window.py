"""The main window: menus, tabs, status bar, drag-and-drop and the messages about the file."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import StoreError
from shepherd_store.paths import candidate_paths
from shepherd_store.policy import load_policy
from shepherd_store.remote import looks_remote

from . import __version__
from .audit_view import AuditTab
from .cooldown_tab import CooldownTab
from .database import Database
from .icons import app_icon
from .lazy_tabs import LazyTabs
from .recovery_tab import RecoveryTab
from .remote_connection import RemoteConnection
from .remote_window import ConnectionBanner, OpenRemoteDialog, remember_remote
from .snapshot_tab import SnapshotTab
from .usage_tab import UsageTab
from .widgets import ask_yes
from .window_parts import Banner, WindowStatus, first_run_page

MAX_RECENT = 8
TAB_USAGE, TAB_COOLDOWNS, TAB_RECOVERY = 1, 2, 3  # the tabs' places (the audit log is 0)
SHORTCUTS = (
    ("Ctrl+O", "Open a database"),
    ("Ctrl+Shift+O", "Open a database on another computer (ssh)"),
    ("F5", "Reload the database from disk"),
    ("Ctrl+F", "Search the audit log"),
    ("Ctrl+E", "Audit log: sessions ⇄ all events; Cooldowns: extend the selected"),
    ("Ctrl+C", "Copy the selected rows"),
    ("Ctrl+1 … Ctrl+4", "Switch tabs"),
    ("Ctrl+Shift+R", "Toggle read-only mode"),
    ("Ctrl+Q", "Quit"),
)


class MainWindow(QMainWindow):
    """The inspector's window over one `Database`."""

    demoRequested = Signal()

    def __init__(self, db: Database | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.db = db or Database(self)
        self.settings = QSettings("Shepherd", "shepherd-inspector")
        self.tabs = LazyTabs(self)
        self.tabs.setObjectName("tabs")
        self.tabs.setDocumentMode(True)
        self.audit = AuditTab(self.db, self.tabs)
        self.tabs.add_page(self.audit, "Audit log", "Every event the service wrote, newest first")
        self._add_tabs()
        self.banner = Banner(self)
        self.banner_text, self.banner_demo = self.banner.text, self.banner.demo
        self.banner.openRequested.connect(self.choose_file)
        self.banner.demoRequested.connect(self.demoRequested.emit)
        main = QWidget(self)
        layout = QVBoxLayout(main)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.banner)
        self.connection_banner = ConnectionBanner(self.db, self)
        layout.addWidget(self.connection_banner)
        layout.addWidget(self.tabs, 1)
        self.pages = QStackedWidget(self)
        self.pages.setObjectName("pages")
        self.first_run = first_run_page(self, self.choose_file, self.demoRequested.emit)
        self.pages.addWidget(main)
        self.pages.addWidget(self.first_run)
        self.setCentralWidget(self.pages)
        self.status = WindowStatus(self.db, self)
        self.setStatusBar(self.status)
        self.status_layout, self.status_access = self.status.layout_label, self.status.access
        self.status_changed, self.status_demo_clock = self.status.changed, self.status.demo_clock
        self._build_menus()
        self.db.opened.connect(self._on_opened)
        self.db.failed.connect(self._on_failed)
        self.db.stateChanged.connect(self._update_status)
        self.db.connectionChanged.connect(self._update_status)
        self._clock = QTimer(self)  # keeps "changed 5 s ago" true without any reads
        self._clock.setInterval(5000)
        self._clock.timeout.connect(self._update_status)
        self._clock.start()
        self._fit_to_screen()
        self.tabs.built.connect(self._restore_views)
        self.restore_settings()
        self._update_status()

    # --- construction ------------------------------------------------------------------

    def _fit_to_screen(self) -> None:
        """1280×800 where it fits; on a small laptop screen, 90 % of it (never off-screen)."""
        screen = self.screen().availableGeometry() if self.screen() else None
        width, height = 1280, 800
        if screen is not None and screen.width() > 0:
            width = min(width, int(screen.width() * 0.92))
            height = min(height, int(screen.height() * 0.9))
        self.resize(width, height)

    def _add_tabs(self) -> None:
        """The other views' tabs, in reading order (each module owns its view), each built
        the first time it is shown or asked for: the window's first page does not wait for
        them."""
        db = self.db
        self.tabs.add_lazy(lambda parent: UsageTab(db, parent), "Usage",
                           "Play time per entry and day, with the daily limits")
        self.tabs.add_lazy(lambda parent: CooldownTab(db, parent), "Cooldowns",
                           "Every entry's cooldown, and manual changes")
        self.tabs.add_lazy(lambda parent: RecoveryTab(db, parent), "Recovery",
                           "The service's runs, the play its crashes lost and its repair, "
                           "and the saved snapshot")

    @property
    def usage(self) -> UsageTab:
        """The Usage tab (built now if it was not yet)."""
        return cast(UsageTab, self.tabs.widget(TAB_USAGE))

    @property
    def cooldowns(self) -> CooldownTab:
        """The Cooldowns tab (built now if it was not yet)."""
        return cast(CooldownTab, self.tabs.widget(TAB_COOLDOWNS))

    @property
    def recovery(self) -> RecoveryTab:
        """The Recovery tab (built now if it was not yet)."""
        return cast(RecoveryTab, self.tabs.widget(TAB_RECOVERY))

    @property
    def snapshot(self) -> SnapshotTab:
        """The snapshot section of the Recovery tab."""
        return self.recovery.snapshot

    def show_first_run(self) -> None:
        """The welcome page instead of empty tabs (no database was found)."""
        self.pages.setCurrentWidget(self.first_run)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.action_open = self._action(file_menu, "&Open…", self.choose_file,
                                        QKeySequence.StandardKey.Open, "actionOpen")
        self._action(file_menu, "Open Re&mote…", self.choose_remote, "Ctrl+Shift+O",
                     "actionOpenRemote")
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.setObjectName("recentMenu")
        file_menu.addMenu(self.recent_menu)
        self.action_reload = self._action(file_menu, "&Reload", self.reload, "F5", "actionReload")
        self.action_read_only = self._action(file_menu, "Read-&only", None, "Ctrl+Shift+R",
                                             "actionReadOnly")
        self.action_read_only.setCheckable(True)
        self.action_read_only.setToolTip("Never write to the database (edits are disabled)")
        self.action_read_only.toggled.connect(self._on_read_only_toggled)
        self._action(file_menu, "Open &Policy File…", self.choose_policy, None, "actionPolicy")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit, "actionQuit")
        view = self.menuBar().addMenu("&View")
        for i in range(self.tabs.count()):
            self._action(view, self.tabs.tabText(i), lambda _c=False, i=i:
                         self.tabs.setCurrentIndex(i), f"Ctrl+{i + 1}", f"actionTab{i + 1}")
        self._action(view, "&Find in Audit Log", self.focus_search, QKeySequence.StandardKey.Find,
                     "actionFind")
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard Shortcuts", self.show_shortcuts, None,
                     "actionShortcuts")
        self._action(help_menu, "&About", self.show_about, None, "actionAbout")
        self._rebuild_recent()

    def _action(self, menu: QMenu, text: str, slot: Any, shortcut: Any,
                name: str) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if slot is not None:
            action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    # --- opening -----------------------------------------------------------------------

    def open_path(self, path: str | Path, *, read_only: bool | None = None) -> bool:
        """Open a database; a failure is shown in the window, never raised. An `ssh://`
        address connects in the background and opens read-only."""
        if isinstance(path, str) and looks_remote(path):
            self.action_read_only.setChecked(True)
            return self.db.open_remote(path, read_only=True)
        if read_only is not None:
            self.action_read_only.setChecked(read_only)
        ok = self.db.open(path, read_only=self.action_read_only.isChecked())
        if ok:
            self._remember(Path(path))
        return ok

    def choose_file(self) -> None:
        start = str(self.db.path.parent) if self.db.path else str(candidate_paths()[-1].parent)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a Shepherd database", start,
            "SQLite databases (*.db *.sqlite *.sqlite3);;All files (*)")
        if path:
            self.open_path(path)

    def choose_remote(self) -> OpenRemoteDialog:
        """File ▸ Open Remote…: the dialog (window-modal); it hands over a connected
        database, or the one open now stays."""
        dialog = OpenRemoteDialog(self.settings, self, options=self.db.remote_options)
        dialog.connectedTo.connect(self.use_remote)
        self.remote_dialog = dialog
        dialog.open()
        return dialog

    def use_remote(self, connection: RemoteConnection) -> None:
        """Show the database of a connected `connection` (read-only until allowed)."""
        self.action_read_only.setChecked(True)
        self.db.use_remote(connection, read_only=True)

    def _on_read_only_toggled(self, checked: bool) -> None:
        """File ▸ Read-only; unchecked on a remote database, edits are allowed only after a
        confirmation, by reconnecting with write access."""
        db = self.db
        if checked or db.remote is None or not db.user_read_only:
            db.set_user_read_only(checked)
        elif self.confirm_remote_edits(db.remote.host):
            db.allow_remote_edits()
        else:
            self.action_read_only.blockSignals(True)
            self.action_read_only.setChecked(True)
            self.action_read_only.blockSignals(False)

    def confirm_remote_edits(self, host: str) -> bool:
        return ask_yes(self, "Allow edits", f"Allow edits on {host}?\n\nChanges you make are "
                       f"written to the service's database on {host} (each one confirmed, "
                       "and recorded with your name and computer).")

    def choose_policy(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open the service's policy file", "",
                                              "TOML files (*.toml);;All files (*)")
        if path:
            self.load_policy(path)

    def load_policy(self, path: str | Path) -> bool:
        """Use a policy file for labels, quotas and cooldown lengths; errors are shown."""
        try:
            self.db.set_policy(load_policy(path))
        except StoreError as exc:
            self.statusBar().showMessage(str(exc), 15000)
            QMessageBox.warning(self, "Policy file not used", str(exc))
            return False
        return True

    def reload(self) -> None:
        if self.db.location is not None:
            self.db.reload()

    def focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.audit)
        self.audit.focus_search()

    def show_message(self, text: str, *, offer_demo: bool = False) -> None:
        """Say what is wrong (plain text) above the tabs; the rest keeps working."""
        self.banner.say(text, offer_demo=offer_demo)

    def _on_opened(self) -> None:
        if self.db.url is not None:
            self._remember(self.db.url)
            remember_remote(self.settings, self.db.url)
        self.status.forget_journal()
        self.pages.setCurrentIndex(0)
        self.banner.setVisible(False)
        self._update_status()

    def _on_failed(self, message: str) -> None:
        self.pages.setCurrentIndex(0)
        if self.db.remote is None or self.db.remote.state != "failed":
            self.show_message(message)  # (a connection's failure: its own banner says it)
        self._update_status()

    # --- recent files --------------------------------------------------------------------

    def _recent(self) -> list[str]:
        value = self.settings.value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def _remember(self, path: Path | str) -> None:
        remote = isinstance(path, str) and looks_remote(path)
        text = str(path) if remote else str(Path(path).expanduser().absolute())
        recent = [text] + [p for p in self._recent() if p != text]
        self.settings.setValue("recentFiles", recent[:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        recent = self._recent()
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _c=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(recent))

    # --- status ----------------------------------------------------------------------------

    def _update_status(self) -> None:
        db = self.db
        title = "Shepherd Inspector"
        if db.remote is not None:
            title = f"{db.remote.url.path.rpartition('/')[2]} on {db.remote.host} — {title}"
        elif db.path is not None:
            title = f"{db.path.name} — {title}"
        self.setWindowTitle(title)
        self.status.refresh()

    # --- help ----------------------------------------------------------------------------

    def show_shortcuts(self) -> None:
        text = "\n".join(f"{keys:<18} {what}" for keys, what in SHORTCUTS)
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts", text,
                          QMessageBox.StandardButton.Close, self)
        box.setObjectName("shortcutsDialog")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setStyleSheet("QLabel { font-family: monospace; }")
        box.exec()

    def about_text(self) -> str:
        """The versions shown in Help ▸ About (plain text)."""
        import sqlite3

        import pyqtgraph
        import PySide6
        from PySide6.QtCore import qVersion

        layout = self.db.store.layout.value if self.db.store else "no database open"
        return (f"Shepherd Inspector {__version__}\n\n"
                f"Qt {qVersion()} · PySide6 {PySide6.__version__} · pyqtgraph "
                f"{pyqtgraph.__version__} · SQLite {sqlite3.sqlite_version}\n"
                f"Open database layout: {layout}")

    def show_about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About Shepherd Inspector",
                          self.about_text(), QMessageBox.StandardButton.Close, self)
        box.setObjectName("aboutDialog")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()

    # --- drag and drop -------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.open_path(urls[0].toLocalFile())
            event.acceptProposedAction()

    # --- settings --------------------------------------------------------------------------

    def save_settings(self) -> None:
        """Remember geometry, tab, splitters, column widths and the views' own state (of the
        tabs built in this window; the others' stored state stays as it was)."""
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/tab", self.tabs.currentIndex())
        for splitter in self.findChildren(QSplitter):
            if splitter.objectName():
                s.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        for view in self.findChildren(QTableView):
            if view.objectName():
                s.setValue(f"columns/{view.objectName()}", view.horizontalHeader().saveState())
        for tab in self.tabs.built_pages():
            if hasattr(tab, "save_settings"):
                tab.save_settings(s)
        s.sync()

    def restore_settings(self) -> None:
        """Bring back what `save_settings` stored, keeping the window on a visible screen."""
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
            screen = self.screen().availableGeometry() if self.screen() else None
            smallest = self.minimumSizeHint()
            if screen is not None and screen.width() >= smallest.width() and (
                    self.width() > screen.width() or self.height() > screen.height()):
                self._fit_to_screen()  # saved on a bigger screen: fit this one
        self._restore_views(self.audit)
        tab = s.value("window/tab", 0)
        with contextlib.suppress(TypeError, ValueError):
            self.tabs.setCurrentIndex(min(max(int(tab), 0), self.tabs.count() - 1))  # type: ignore[arg-type]
        self._pending_splitters = True  # restored once laid out (see showEvent)

    def _restore_views(self, page: QWidget) -> None:
        """A tab's stored column widths, splitters and own state, once it is built."""
        s = self.settings
        for view in page.findChildren(QTableView):
            state = s.value(f"columns/{view.objectName()}")
            if view.objectName() and isinstance(state, QByteArray):
                view.horizontalHeader().restoreState(state)
        if hasattr(page, "restore_settings"):
            page.restore_settings(s)
        if not getattr(self, "_pending_splitters", True):  # built after the window was shown
            self._restore_splitters(page)

    def _restore_splitters(self, root: QWidget) -> None:
        for splitter in root.findChildren(QSplitter):
            state = self.settings.value(f"splitters/{splitter.objectName()}")
            if splitter.objectName() and isinstance(state, QByteArray):
                splitter.restoreState(state)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if getattr(self, "_pending_splitters", False):
            # Splitter sizes only mean something once the window has its real size.
            self._pending_splitters = False
            self.layout().activate()
            self._restore_splitters(self)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.db.close()
        super().closeEvent(event)
