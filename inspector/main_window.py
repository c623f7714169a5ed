"""The main window: menus, tabs, status bar, drag-and-drop and the messages about the file.

It holds one database or several side by side (issue #17; `window_databases`): each has
its own tab set (`workspace`), and `db`, `tabs`, `audit`, `usage`, ... are the current
one's, of which the title, status bar and banner speak."""

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
from .cooldown_tab import CooldownTab
from .database import Database
from .database_switcher import DatabaseSwitcher
from .icons import app_icon
from .recovery_tab import RecoveryTab
from .remote_connection import RemoteConnection
from .remote_window import OpenRemoteDialog
from .snapshot_tab import SnapshotTab
from .usage_side_by_side import UsageSideBySide
from .usage_tab import UsageTab
from .widgets import ask_yes
from .window_databases import WindowDatabases
from .window_parts import Banner, WindowStatus, first_run_page
from .workspace import Workspace

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
    ("Ctrl+W", "Close the database shown (when several are open)"),
    ("Alt+1 … Alt+9", "Show the first … ninth open database"),
    ("Ctrl+PgDown/PgUp", "Show the next / previous open database"),
    ("Alt+0", "Usage of every open database side by side"),
    ("Ctrl+Shift+R", "Toggle read-only mode"),
    ("Ctrl+Q", "Quit"),
)


class MainWindow(WindowDatabases, QMainWindow):
    """The inspector's window over one `Database`, or several side by side."""

    demoRequested = Signal()

    def __init__(self, db: Database | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.settings = QSettings("Shepherd", "shepherd-inspector")
        self.side_by_side: UsageSideBySide | None = None
        self._closed_dbs: list[Database] = []  # closed remote ones may still be ending
        self._closed_remotes: list[RemoteConnection] = []
        self.workspace = Workspace(self)
        first = self.workspace.add(db or Database(self))
        self.banner = Banner(self)
        self.banner_text, self.banner_demo = self.banner.text, self.banner.demo
        self.banner.openRequested.connect(self.choose_file)
        self.banner.demoRequested.connect(self.demoRequested.emit)
        self.switcher = DatabaseSwitcher(self)
        self.switcher.setVisible(False)
        self.switcher.chosen.connect(self.show_database)
        self.switcher.sideBySideChosen.connect(self.show_side_by_side)
        self.switcher.closeRequested.connect(self._close_at)
        self.switcher.addRequested.connect(self.choose_add_file)
        self.switcher.addRemoteRequested.connect(self.choose_add_remote)
        main = QWidget(self)
        layout = QVBoxLayout(main)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.switcher)
        layout.addWidget(self.banner)
        layout.addWidget(self.workspace, 1)
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
        self._attach(first)
        self._clock = QTimer(self)  # keeps "changed 5 s ago" true without any reads
        self._clock.setInterval(5000)
        self._clock.timeout.connect(self._update_status)
        self._clock.start()
        self._fit_to_screen()
        self.tabs.built.connect(self._restore_views)
        self.workspace.slotBuilt.connect(self._on_slot_built)
        self.workspace.shown.connect(self._on_shown)
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
        self._action(file_menu, "&Add Database…", self.choose_add_file, None,
                     "actionAddDatabase").setToolTip("Open a database beside the ones open")
        self._action(file_menu, "Add Remote Data&base…", self.choose_add_remote, None,
                     "actionAddRemoteDatabase").setToolTip(
            "Open a database on another computer beside the ones open")
        self.action_close_db = self._action(file_menu, "&Close Database", self.close_database,
                                            "Ctrl+W", "actionCloseDatabase")
        self.action_close_db.setToolTip("Close the database shown (one always stays open)")
        self.action_close_db.setEnabled(False)
        file_menu.addSeparator()
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
                         self.show_tab(i), f"Ctrl+{i + 1}", f"actionTab{i + 1}")
        self._action(view, "&Find in Audit Log", self.focus_search, QKeySequence.StandardKey.Find,
                     "actionFind")
        self._database_actions(view)
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
            if (found := self.workspace.slot_at(path)) not in (None, self.workspace.current):
                self.show_database(found)  # open already, beside this one
                return True
            self.action_read_only.setChecked(True)
            return self.db.open_remote(path, read_only=True)
        if (found := self.workspace.slot_at(str(Path(path).expanduser().absolute()))) not in (
                None, self.workspace.current):
            self.show_database(found)
            return True
        if read_only is not None:
            self.action_read_only.setChecked(read_only)
        ok = self.db.open(path, read_only=self.action_read_only.isChecked())
        if ok:
            self._remember(Path(path))
        return ok

    def ask_database_file(self) -> str:
        """A database file the person chooses ("" when they cancel)."""
        start = str(self.db.path.parent) if self.db.path else str(candidate_paths()[-1].parent)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a Shepherd database", start,
            "SQLite databases (*.db *.sqlite *.sqlite3);;All files (*)")
        return path

    def choose_file(self) -> None:
        path = self.ask_database_file()
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
        self.show_database(self.workspace.current)
        self.tabs.setCurrentWidget(self.audit)
        self.audit.focus_search()

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
        slots = self.workspace.slots
        if len(slots) > 1 and db.location is not None:  # named as the switcher names it
            title = f"{self.database_names()[slots.index(self.workspace.current)]} — " \
                    "Shepherd Inspector"
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
        tabs built in this window; the others' stored state stays as it was), those of the
        database shown, and the databases open together (`save_databases`)."""
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/tab", self.tabs.currentIndex())
        page = self.workspace.current.page
        for splitter in page.findChildren(QSplitter):
            if splitter.objectName():
                s.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        for view in page.findChildren(QTableView):
            if view.objectName():
                s.setValue(f"columns/{view.objectName()}", view.horizontalHeader().saveState())
        for tab in self.tabs.built_pages():
            if hasattr(tab, "save_settings"):
                tab.save_settings(s)
        self.save_databases()
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
        for db in self.all_databases():
            db.close()
        super().closeEvent(event)
