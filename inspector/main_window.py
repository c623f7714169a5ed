"""The main window: menus, tabs, status bar, drag-and-drop and the messages about the file."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

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
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStatusBar,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import SqliteStore, StoreError
from shepherd_store.paths import candidate_paths
from shepherd_store.policy import load_policy

from . import __version__
from .audit_view import AuditTab
from .cooldown_tab import CooldownTab
from .database import Database
from .formatting import format_local
from .icons import app_icon
from .recovery_tab import RecoveryTab
from .usage_tab import UsageTab
from .widgets import plain_label, set_control

MAX_RECENT = 8
SHORTCUTS = (
    ("Ctrl+O", "Open a database"),
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
        # The journal mode of the open store, read once per opened database: the status bar
        # is updated after every commit, and a PRAGMA per commit is a read on the GUI thread.
        self._journal: tuple[SqliteStore, str] | None = None
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("tabs")
        self.tabs.setDocumentMode(True)
        self.audit = AuditTab(self.db, self.tabs)
        self.tabs.setTabToolTip(self.tabs.addTab(self.audit, "Audit log"),
                                "Every event the service wrote, newest first")
        self._add_tabs()
        self._build_banner()
        main = QWidget(self)
        layout = QVBoxLayout(main)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.pages = QStackedWidget(self)
        self.pages.setObjectName("pages")
        self.first_run = self._build_first_run()
        self.pages.addWidget(main)
        self.pages.addWidget(self.first_run)
        self.setCentralWidget(self.pages)
        self._build_status_bar()
        self._build_menus()
        self.db.opened.connect(self._on_opened)
        self.db.failed.connect(self._on_failed)
        self.db.stateChanged.connect(self._update_status)
        self._clock = QTimer(self)  # keeps "changed 5 s ago" true without any reads
        self._clock.setInterval(5000)
        self._clock.timeout.connect(self._update_status)
        self._clock.start()
        self._fit_to_screen()
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
        """The other views' tabs, in reading order (each module owns its view)."""
        self.usage = UsageTab(self.db, self.tabs)
        self.cooldowns = CooldownTab(self.db, self.tabs)
        self.recovery = RecoveryTab(self.db, self.tabs)
        self.snapshot = self.recovery.snapshot  # the snapshot section of the Recovery tab
        for tab, title, tip in (
                (self.usage, "Usage", "Play time per entry and day, with the daily limits"),
                (self.cooldowns, "Cooldowns", "Every entry's cooldown, and manual changes"),
                (self.recovery, "Recovery", "The service's runs, the play its crashes lost "
                                            "and its repair, and the saved snapshot")):
            self.tabs.setTabToolTip(self.tabs.addTab(tab, title), tip)

    def _build_banner(self) -> None:
        self.banner = QWidget(self)
        self.banner.setObjectName("windowBanner")
        self.banner.setStyleSheet(
            "#windowBanner { background: #FFF3E0; border: 1px solid #FFB74D; border-radius: 4px; }"
            "#windowBanner QLabel { color: #4E342E; }")
        self.banner_text = plain_label(self.banner, "windowMessage")
        self.banner_text.setWordWrap(True)
        self.banner_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_button = QPushButton("Open a database…", self.banner)
        open_button.setObjectName("bannerOpen")
        open_button.setToolTip("Choose the service's database file")
        open_button.setAccessibleName("Open a database")
        open_button.clicked.connect(self.choose_file)
        self.banner_demo = QPushButton("Try the demo", self.banner)
        self.banner_demo.setObjectName("bannerDemo")
        self.banner_demo.setToolTip("Open a demo database that a simulated service keeps writing")
        self.banner_demo.setAccessibleName("Try the demo")
        self.banner_demo.clicked.connect(self.demoRequested.emit)
        row = QHBoxLayout(self.banner)
        row.addWidget(self.banner_text, 1)
        row.addWidget(open_button)
        row.addWidget(self.banner_demo)
        self.banner.setVisible(False)

    def _build_first_run(self) -> QWidget:
        """What a person sees when no database was found: where it lives, and two ways on."""
        page = QWidget(self)
        page.setObjectName("firstRunView")
        title = QLabel("No Shepherd database found", page)
        title.setObjectName("firstRunTitle")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        intro = plain_label(page, "firstRunText", (
            "Shepherd keeps a record of every session, warning and limit in one database "
            "file. It was not found in any of the usual places:"))
        places = plain_label(page, "firstRunPlaces",
                             "\n".join(str(p) for p in candidate_paths()))
        places.setContentsMargins(16, 0, 0, 0)
        hint = plain_label(page, "firstRunHint", (
            "The system service uses the first (set SHEPHERD_DB to point elsewhere); a "
            "per-user service uses the last. Open the file, or look around in a demo "
            "database that a simulated service keeps writing while you watch."))
        for label in (intro, hint):
            label.setWordWrap(True)
        open_button = QPushButton(app_icon(), "Open a database…", page)
        set_control(open_button, "firstRunOpen", "Choose the service's database file (Ctrl+O)",
                    "Open a database")
        open_button.clicked.connect(self.choose_file)
        demo_button = QPushButton("Try the demo", page)
        set_control(demo_button, "firstRunDemo",
                    "Open a demo database that a simulated service keeps writing",
                    "Try the demo")
        demo_button.clicked.connect(self.demoRequested.emit)
        for button in (open_button, demo_button):
            button.setMinimumHeight(36)
            button.setMinimumWidth(200)
        buttons = QHBoxLayout()
        buttons.addWidget(open_button)
        buttons.addWidget(demo_button)
        buttons.addStretch(1)
        box = QVBoxLayout()
        box.addWidget(title)
        box.addSpacing(12)
        box.addWidget(intro)
        box.addWidget(places)
        box.addWidget(hint)
        box.addSpacing(18)
        box.addLayout(buttons)
        column = QWidget(page)
        column.setLayout(box)
        # A fixed width lets the word-wrapped text compute its height (Qt cannot otherwise).
        column.setFixedWidth(640)
        row = QHBoxLayout()  # stretches, not an alignment flag: keeps height-for-width
        row.addStretch(1)
        row.addWidget(column)
        row.addStretch(1)
        outer = QVBoxLayout(page)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)
        return page

    def show_first_run(self) -> None:
        """The welcome page instead of empty tabs (no database was found)."""
        self.pages.setCurrentWidget(self.first_run)

    def _build_status_bar(self) -> None:
        bar = QStatusBar(self)
        bar.setObjectName("statusBar")
        self.setStatusBar(bar)
        self.status_path = plain_label(bar, "statusPath")
        self.status_layout = plain_label(bar, "statusLayout")
        self.status_access = plain_label(bar, "statusAccess")
        self.status_changed = plain_label(bar, "statusChanged")
        # The demo's simulated clock (inspector.demo), shown only while a demo writes the file.
        self.status_demo_clock = plain_label(bar, "statusDemoClock")
        self.status_demo_clock.setAccessibleName("Demo clock")
        bar.addWidget(self.status_path, 1)
        for w in (self.status_demo_clock, self.status_layout, self.status_access,
                  self.status_changed):
            w.setContentsMargins(8, 0, 8, 0)
            w.setStyleSheet("QLabel { border-left: 1px solid palette(mid); padding-left: 8px; }")
            bar.addPermanentWidget(w)
        self.status_demo_clock.hide()
        self._demo_tick = QTimer(self)  # the demo clock moves a minute a second at 60x
        self._demo_tick.setInterval(1000)
        self._demo_tick.timeout.connect(self._update_demo_clock)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.action_open = self._action(file_menu, "&Open…", self.choose_file,
                                        QKeySequence.StandardKey.Open, "actionOpen")
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.setObjectName("recentMenu")
        file_menu.addMenu(self.recent_menu)
        self.action_reload = self._action(file_menu, "&Reload", self.reload, "F5", "actionReload")
        self.action_read_only = self._action(file_menu, "Read-&only", None, "Ctrl+Shift+R",
                                             "actionReadOnly")
        self.action_read_only.setCheckable(True)
        self.action_read_only.setToolTip("Never write to the database (edits are disabled)")
        self.action_read_only.toggled.connect(self.db.set_user_read_only)
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
        """Open a database; a failure is shown in the window, never raised."""
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
        if self.db.path is not None:
            self.db.reload()

    def focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.audit)
        self.audit.focus_search()

    def show_message(self, text: str, *, offer_demo: bool = False) -> None:
        """Say what is wrong (plain text) above the tabs; the rest keeps working."""
        self.banner_text.setText(text)
        self.banner_demo.setVisible(offer_demo)
        self.banner.setVisible(True)

    def _on_opened(self) -> None:
        self._journal = None  # (re)opened, perhaps a replaced file: read its mode again
        self.pages.setCurrentIndex(0)
        self.banner.setVisible(False)
        self._update_status()

    def _on_failed(self, message: str) -> None:
        self.pages.setCurrentIndex(0)
        self.show_message(message)
        self._update_status()

    # --- recent files --------------------------------------------------------------------

    def _recent(self) -> list[str]:
        value = self.settings.value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def _remember(self, path: Path) -> None:
        text = str(path.expanduser().absolute())
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

    def _update_demo_clock(self) -> None:
        """The demo clock in the status bar while a demo in this process writes the file."""
        from .demo import demo_clock_for, demo_clock_text

        clock = demo_clock_for(self.db.path)
        if clock is None:
            self._demo_tick.stop()
            self.status_demo_clock.hide()
            return
        text, tip = demo_clock_text(clock)
        self.status_demo_clock.setText(text)
        self.status_demo_clock.setToolTip(tip)
        self.status_demo_clock.show()
        if not self._demo_tick.isActive():
            self._demo_tick.start()

    def _update_status(self) -> None:
        self._update_demo_clock()
        db = self.db
        store = db.store
        title = "Shepherd Inspector"
        if db.path is not None:
            title = f"{db.path.name} — {title}"
        self.setWindowTitle(title)
        self.status_path.setText(str(db.path) if db.path else "No database open")
        self.status_path.setToolTip(str(db.path) if db.path else "")
        if store is None:
            self._journal = None
            self.status_layout.setText("")
            self.status_access.setText("cannot read" if db.error else "")
            self.status_changed.setText("")
            return
        journal = self._journal_mode(store)
        layout = "Rust layout" if store.layout.value == "rust" else "seed layout"
        self.status_layout.setText(f"{layout} · journal {journal}")
        self.status_layout.setToolTip(
            "Table layout: 'Rust' is shepherdd's own; 'seed' is what this library creates.")
        reason = db.read_only_reason
        self.status_access.setText("writable" if reason is None else "read-only")
        self.status_access.setToolTip(reason or "Edits are written in one transaction each")
        changed = db.last_change
        self.status_changed.setText(
            f"last change {format_local(changed)}" if changed else "no changes since opened")

    def _journal_mode(self, store: SqliteStore) -> str:
        """`store`'s journal mode, read the first time it is asked for after the database
        was opened ("?" while a lock keeps it from being read: asked again next time)."""
        if self._journal is None or self._journal[0] is not store:
            try:
                self._journal = (store, store.journal_mode)
            except StoreError:
                return "?"
        return self._journal[1]

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
        """Remember geometry, tab, splitters, column widths and the views' own state."""
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/tab", self.tabs.currentIndex())
        for splitter in self.findChildren(QSplitter):
            if splitter.objectName():
                s.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        for view in self.findChildren(QTableView):
            if view.objectName():
                s.setValue(f"columns/{view.objectName()}", view.horizontalHeader().saveState())
        for i in range(self.tabs.count()):
            tab = self.tabs.widget(i)
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
        tab = s.value("window/tab", 0)
        with contextlib.suppress(TypeError, ValueError):
            self.tabs.setCurrentIndex(min(max(int(tab), 0), self.tabs.count() - 1))  # type: ignore[arg-type]
        self._pending_splitters = True  # restored once laid out (see showEvent)
        for view in self.findChildren(QTableView):
            state = s.value(f"columns/{view.objectName()}")
            if view.objectName() and isinstance(state, QByteArray):
                view.horizontalHeader().restoreState(state)
        for i in range(self.tabs.count()):
            tab_widget = self.tabs.widget(i)
            if hasattr(tab_widget, "restore_settings"):
                tab_widget.restore_settings(s)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if getattr(self, "_pending_splitters", False):
            # Splitter sizes only mean something once the window has its real size.
            self._pending_splitters = False
            self.layout().activate()
            for splitter in self.findChildren(QSplitter):
                state = self.settings.value(f"splitters/{splitter.objectName()}")
                if splitter.objectName() and isinstance(state, QByteArray):
                    splitter.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.db.close()
        super().closeEvent(event)
