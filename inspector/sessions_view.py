"""The Sessions view of the Audit tab: the switch, the session table and its detail pane.

`AuditTab` (audit_view.py) hosts them beside the event log: one row per session is what a
parent lands on, the raw event log is one click (or Ctrl+E) away, and double-clicking a
session shows its events there. The words come from `shepherd_store.sessions`.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from shepherd_store.describe import format_local, format_local_time
from shepherd_store.sessions import Session, interruption_note, session_fields
from shepherd_store.timefmt import local_now

from .sessions_model import (
    COL_ENDED,
    COL_ENTRY,
    COL_EXTENDED,
    COL_LENGTH,
    COL_STARTED,
    COL_WARNINGS,
    SessionsModel,
)
from .widgets import log_table, set_control

SESSIONS, EVENTS = "sessions", "events"
SWITCH_KEY = "Ctrl+E"


class ViewSwitch(QWidget):
    """A segmented "Sessions | All events" switch."""

    changed = Signal(str)  # SESSIONS or EVENTS, when the person switches

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditViewSwitch")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        for key, text, name, tip in (
                (SESSIONS, "Sessions", "auditShowSessions",
                 f"Sessions: one row per session, how long and how it ended ({SWITCH_KEY} "
                 "switches)"),
                (EVENTS, "All events", "auditShowEvents",
                 f"All events: every row the service wrote, as stored ({SWITCH_KEY} "
                 "switches)")):
            button = QToolButton(self)
            button.setText(text)
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            set_control(button, name, tip, accessible=f"Show {text.lower()}")
            self.group.addButton(button)
            layout.addWidget(button)
            self.buttons[key] = button
            button.clicked.connect(lambda _c=False, k=key: self.changed.emit(k))
        self.buttons[SESSIONS].setChecked(True)
        self._style()

    def _style(self) -> None:
        # One control in two halves: the chosen half is filled with the highlight colour.
        self.setStyleSheet(
            "QToolButton { padding: 3px 12px; border: 1px solid palette(mid); "
            "background: palette(button); color: palette(button-text); }"
            "QToolButton:checked { background: palette(highlight); "
            "color: palette(highlighted-text); border-color: palette(highlight); }"
            "QToolButton#auditShowSessions { border-top-left-radius: 4px; "
            "border-bottom-left-radius: 4px; border-right: none; }"
            "QToolButton#auditShowEvents { border-top-right-radius: 4px; "
            "border-bottom-right-radius: 4px; }")

    @property
    def current(self) -> str:
        return SESSIONS if self.buttons[SESSIONS].isChecked() else EVENTS

    def set_current(self, key: str) -> None:
        """Show `key` as chosen (without emitting `changed`)."""
        self.buttons[key].setChecked(True)


def make_sessions_table(parent: QWidget, model: SessionsModel) -> QTableView:
    """The session table, its columns sized to fit a 1280×800 window."""
    table = log_table(parent, model, "sessionsTable", "Sessions")
    table.setToolTip("One row per session, newest first. Double-click (or Enter) to see its "
                     "events.")
    fm = parent.fontMetrics()
    late = datetime(2026, 12, 28, 23, 58)  # the widest clock of the locale's style
    for col, sample in ((COL_STARTED, format_local(late.astimezone(), seconds=False)),
                        (COL_ENDED, f"{format_local_time(late.astimezone())} +1 d"),
                        (COL_ENTRY, "SuperTuxKart 2"), (COL_LENGTH, "≥ 1 h 00 min"),
                        (COL_WARNINGS, "5 min, 1 min"), (COL_EXTENDED, "Extended")):
        table.setColumnWidth(col, fm.horizontalAdvance(sample) + 18)
    return table


class SessionDetail(QWidget):
    """The detail pane of the selected session, with a button to its events."""

    showEvents = Signal(str)  # the session id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionDetail")
        self.session: Session | None = None
        title = QLabel("Session", self)
        title.setStyleSheet("font-weight: bold;")
        self.fields = QTableWidget(0, 2, self)
        self.fields.setObjectName("sessionDetailFields")
        self.fields.setAccessibleName("Session details")
        self.fields.setHorizontalHeaderLabels(["Field", "Value"])
        self.fields.verticalHeader().setVisible(False)
        self.fields.horizontalHeader().setStretchLastSection(True)
        self.fields.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.fields.setWordWrap(True)
        # Long values (the session id) wrap: fit the rows again whenever the width changes.
        self.fields.horizontalHeader().sectionResized.connect(
            lambda *_a: self.fields.resizeRowsToContents())
        self.note = QLabel(self)
        self.note.setObjectName("sessionDetailNote")
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.setStyleSheet(
            "QLabel { background: #FFF3E0; color: #5D4037; padding: 6px; border-radius: 4px; }")
        self.placeholder = QLabel("Select a session to see its details.", self)
        self.placeholder.setObjectName("sessionDetailEmpty")
        self.placeholder.setTextFormat(Qt.TextFormat.PlainText)
        self.placeholder.setWordWrap(True)
        self.events_button = QPushButton("Show its events", self)
        set_control(self.events_button, "sessionShowEvents",
                    "Show this session's events in the event log (double-click does the same)")
        self.events_button.clicked.connect(self._on_events)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.fields, 1)
        layout.addWidget(self.note)
        layout.addWidget(self.events_button)
        self.show_session(None)

    def show_session(self, session: Session | None, now: datetime | None = None) -> None:
        """Describe `session` (None: nothing selected)."""
        self.session = session
        self.fields.setRowCount(0)
        self.placeholder.setVisible(session is None)
        self.fields.setVisible(session is not None)
        self.events_button.setEnabled(session is not None)
        note = interruption_note(session) if session is not None else ""
        self.note.setText(f"What the log shows: {note}" if note else "")
        self.note.setVisible(bool(note))
        if session is None:
            return
        rows = session_fields(session, now or local_now())
        self.fields.setRowCount(len(rows))
        for i, (name, value) in enumerate(rows):
            self.fields.setItem(i, 0, QTableWidgetItem(name))
            self.fields.setItem(i, 1, QTableWidgetItem(value))
        self.fields.resizeColumnToContents(0)
        self.fields.resizeRowsToContents()

    def value(self, name: str) -> str | None:
        """The shown value of the field `name` (tests, accessibility)."""
        for i in range(self.fields.rowCount()):
            item = self.fields.item(i, 0)
            if item is not None and item.text() == name:
                value = self.fields.item(i, 1)
                return value.text() if value is not None else None
        return None

    def _on_events(self) -> None:
        if self.session is not None:
            self.showEvents.emit(self.session.session_id)


def session_count_text(model: SessionsModel, *, filtered: bool, has_store: bool) -> str:
    """The count line of the Sessions view: exact once every match is loaded."""
    if not has_store:
        return "No database open"
    n = model.rowCount()
    if not model.loaded:
        return "Reading sessions…"
    more = "" if model.complete else "+"
    noun = "session" if n == 1 and not more else "sessions"
    text = f"{n:,}{more} {'matching ' if filtered else ''}{noun}"
    if model.loading:
        text += " — searching…"
    if model.unreadable:
        text += f" ({model.unreadable} unreadable start row{'s' if model.unreadable > 1 else ''}:"
        text += " see All events)"
    return text
