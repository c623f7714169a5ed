"""The main window's parts that are not views: the banner above the tabs, the first-run
page, and the status bar that says which file is open, how, and when it last changed."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import SqliteStore, StoreError
from shepherd_store.paths import candidate_paths

from .database import Database
from .formatting import format_local
from .icons import app_icon
from .remote_window import connection_words
from .widgets import plain_label, set_control


class Banner(QWidget):
    """What is wrong with the file (plain text) above the tabs, with two ways on."""

    openRequested = Signal()
    demoRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("windowBanner")
        self.setStyleSheet(
            "#windowBanner { background: #FFF3E0; border: 1px solid #FFB74D; border-radius: 4px; }"
            "#windowBanner QLabel { color: #4E342E; }")
        self.text = plain_label(self, "windowMessage")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_button = QPushButton("Open a database…", self)
        open_button.setObjectName("bannerOpen")
        open_button.setToolTip("Choose the service's database file")
        open_button.setAccessibleName("Open a database")
        open_button.clicked.connect(self.openRequested.emit)
        self.demo = QPushButton("Try the demo", self)
        self.demo.setObjectName("bannerDemo")
        self.demo.setToolTip("Open a demo database that a simulated service keeps writing")
        self.demo.setAccessibleName("Try the demo")
        self.demo.clicked.connect(self.demoRequested.emit)
        row = QHBoxLayout(self)
        row.addWidget(self.text, 1)
        row.addWidget(open_button)
        row.addWidget(self.demo)
        self.setVisible(False)

    def say(self, text: str, *, offer_demo: bool = False) -> None:
        self.text.setText(text)
        self.demo.setVisible(offer_demo)
        self.setVisible(True)


def first_run_page(parent: QWidget, on_open: Callable[[], None],
                   on_demo: Callable[[], None]) -> QWidget:
    """What a person sees when no database was found: where it lives, and two ways on."""
    page = QWidget(parent)
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
    places = plain_label(page, "firstRunPlaces", "\n".join(str(p) for p in candidate_paths()))
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
    open_button.clicked.connect(on_open)
    demo_button = QPushButton("Try the demo", page)
    set_control(demo_button, "firstRunDemo",
                "Open a demo database that a simulated service keeps writing", "Try the demo")
    demo_button.clicked.connect(on_demo)
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


class ElidedLabel(QLabel):
    """A label that gives way when space is short: its text elided in the middle (a path's
    folder goes before its file name), all of it in `text()` and the tooltip."""

    def minimumSizeHint(self) -> QSize:
        return QSize(60, super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideMiddle,
                                              rect.width())
        painter = QPainter(self)
        self.style().drawItemText(painter, rect, int(self.alignment()), self.palette(),
                                  self.isEnabled(), shown, self.foregroundRole())


class WindowStatus(QStatusBar):
    """The file, its layout and journal mode, read-only or writable, the last change, and
    the demo's simulated clock while a demo in this process writes the file. For a database
    on another computer: its address, and whether the connection is up (`connection`).
    With several databases open, it speaks of the one shown (`set_database`)."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self._db = db
        # The journal mode of the open store, read once per opened database: the status bar
        # is updated after every commit, and a PRAGMA per commit is a read on the GUI thread.
        self._journal: tuple[SqliteStore, str] | None = None
        self.path = ElidedLabel(self)  # a long address gives way to the facts beside it
        self.path.setObjectName("statusPath")
        self.path.setTextFormat(Qt.TextFormat.PlainText)
        self.layout_label = plain_label(self, "statusLayout")
        self.access = plain_label(self, "statusAccess")
        self.changed = plain_label(self, "statusChanged")
        self.connection = plain_label(self, "statusConnection")
        self.demo_clock = plain_label(self, "statusDemoClock")
        self.demo_clock.setAccessibleName("Demo clock")
        self.addWidget(self.path, 1)
        for w in (self.demo_clock, self.connection, self.layout_label, self.access,
                  self.changed):
            w.setContentsMargins(8, 0, 8, 0)
            w.setStyleSheet("QLabel { border-left: 1px solid palette(mid); padding-left: 8px; }")
            self.addPermanentWidget(w)
        self.demo_clock.hide()
        self.connection.hide()
        self._demo_tick = QTimer(self)  # the demo clock moves a minute a second at 60x
        self._demo_tick.setInterval(1000)
        self._demo_tick.timeout.connect(self.update_demo_clock)

    def set_database(self, db: Database) -> None:
        """Speak of `db` from now on (another of the window's databases is shown)."""
        if db is not self._db:
            self._db = db
            self._journal = None
            self.refresh()

    def forget_journal(self) -> None:
        """A database was (re)opened, perhaps a replaced file: read its mode again."""
        self._journal = None

    def update_demo_clock(self) -> None:
        from .demo import demo_clock_for, demo_clock_text

        clock = demo_clock_for(self._db.path)
        if clock is None:
            self._demo_tick.stop()
            self.demo_clock.hide()
            return
        text, tip = demo_clock_text(clock)
        self.demo_clock.setText(text)
        self.demo_clock.setToolTip(tip)
        self.demo_clock.show()
        if not self._demo_tick.isActive():
            self._demo_tick.start()

    def refresh(self) -> None:
        """Say again what is true of the open database (no reads but a first journal mode)."""
        self.update_demo_clock()
        db = self._db
        store = db.store
        self.path.setText(db.location or "No database open")
        self.path.setToolTip(db.location or "")
        words, tip = connection_words(db)
        self.connection.setText(words)
        self.connection.setToolTip(tip)
        self.connection.setVisible(bool(words))
        if store is None:
            self._journal = None
            self.layout_label.setText("")
            self.access.setText("cannot read" if db.error else "")
            self.changed.setText("")
            return
        layout = "Rust layout" if store.layout.value == "rust" else "seed layout"
        self.layout_label.setText(f"{layout} · journal {self._journal_mode(store)}")
        self.layout_label.setToolTip(
            "Table layout: 'Rust' is shepherdd's own; 'seed' is what this library creates.")
        reason = db.read_only_reason
        self.access.setText("writable" if reason is None else "read-only")
        self.access.setToolTip(reason or "Edits are written in one transaction each")
        changed = db.last_change
        self.changed.setText(
            f"last change {format_local(changed)}" if changed else "no changes since opened")
        if db.remote is not None and not db.remote.connected_now:
            self.changed.setText("stale (connection down)")

    def _journal_mode(self, store: SqliteStore) -> str:
        """`store`'s journal mode, read the first time it is asked for after the database
        was opened ("?" while a lock keeps it from being read: asked again next time)."""
        if self._journal is None or self._journal[0] is not store:
            try:
                self._journal = (store, store.journal_mode)
            except StoreError:
                return "?"
        return self._journal[1]
