"""The Audit tab's filter bar: event types, entry, session, time range and search, and the
`AuditFilter` they describe.

`AuditTab` (audit_view.py) decides what a change does (which view, which model); the bar
only says that the person changed something (`edited`, typing debounced) and what the
controls now describe.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from PySide6.QtCore import QDateTime, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QWidget,
)

from shepherd_store import AuditFilter

from .formatting import EVENT_NAMES
from .widgets import set_control

TIME_RANGES = ("All time", "Today", "Last 7 days", "Last 30 days", "Custom…")
CUSTOM = TIME_RANGES.index("Custom…")
SEARCH_DELAY_MS = 250  # typing in the search box applies once it pauses this long


class AuditFilterBar(QWidget):
    """The filter controls of the Sessions view and the event log (one row)."""

    edited = Signal()  # entry, session (when done), time range, dates, or search changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditFilterBar")
        self.type_button = QToolButton(self)
        self.type_button.setText("All types")  # (not "All events": the switch's words)
        self.type_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        set_control(self.type_button, "auditTypeFilter",
                    "Event types to show. None ticked shows all.")
        menu = QMenu(self.type_button)
        self.type_actions: dict[str, QAction] = {}
        for tag, name in EVENT_NAMES.items():
            action = menu.addAction(name)
            action.setCheckable(True)
            self.type_actions[tag] = action
        self.type_button.setMenu(menu)

        self.entry_combo = QComboBox(self)
        self.entry_combo.setEditable(False)
        self.entry_combo.setMinimumContentsLength(14)
        self.entry_combo.addItem("All entries", None)
        set_control(self.entry_combo, "auditEntryFilter", "Show only events of this application.")
        self.entry_combo.currentIndexChanged.connect(self.edited)

        self.session_edit = QLineEdit(self)
        self.session_edit.setPlaceholderText("Session id")
        self.session_edit.setClearButtonEnabled(True)
        set_control(self.session_edit, "auditSessionFilter",
             "Show one session's whole story. Double-click a session in the table to fill this.")
        self.session_edit.editingFinished.connect(self.edited)

        self.time_combo = QComboBox(self)
        self.time_combo.addItems(TIME_RANGES)
        set_control(self.time_combo, "auditTimeFilter", "Time range to show, in local time.")
        self.time_combo.currentIndexChanged.connect(self._on_time_range)
        now = QDateTime.currentDateTime()
        self.since_edit = QDateTimeEdit(now.addDays(-1), self)
        self.until_edit = QDateTimeEdit(now, self)
        for edit, name, tip in ((self.since_edit, "auditSince", "From (local time)."),
                                (self.until_edit, "auditUntil", "Until (local time).")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setVisible(False)
            set_control(edit, name, tip)
            edit.dateTimeChanged.connect(self.edited)

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        set_control(self.search, "auditSearch", "Find events containing this text (any field).")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.edited)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())

        self.clear_button = QPushButton("Clear filters", self)
        set_control(self.clear_button, "auditClearFilters", "Show every event again.")

        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self.type_button, self.entry_combo, self.session_edit, self.time_combo,
                  self.since_edit, self.until_edit):
            bar.addWidget(w)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.clear_button)

    def current_filter(self) -> AuditFilter:
        """The filter the controls describe."""
        types = frozenset(t for t, a in self.type_actions.items() if a.isChecked())
        entry = self.entry_combo.currentData()
        session = self.session_edit.text().strip() or None
        since: datetime | None = None
        until: datetime | None = None
        now = datetime.now().astimezone()
        choice = self.time_combo.currentIndex()
        if choice == 1:
            since = datetime.combine(now.date(), time()).astimezone()
        elif choice == 2:
            since = now - timedelta(days=7)
        elif choice == 3:
            since = now - timedelta(days=30)
        elif choice == CUSTOM:
            since = self.since_edit.dateTime().toPython().astimezone()
            until = self.until_edit.dateTime().toPython().astimezone()
        text = self.search.text().strip() or None
        return AuditFilter(event_types=types, entry_id=entry, session_id=session, since=since,
                           until=until, text=text)

    def filter_to_apply(self) -> AuditFilter:
        """`current_filter`, as it is applied now: a search still waiting for the typing to
        pause goes with it, and the type button names the ticked types."""
        self._search_timer.stop()
        types = [EVENT_NAMES[t] for t, a in self.type_actions.items() if a.isChecked()]
        self.type_button.setText(
            "All types" if not types else types[0] if len(types) == 1 else f"{len(types)} types")
        return self.current_filter()

    def _on_time_range(self, index: int) -> None:
        custom = index == CUSTOM
        self.since_edit.setVisible(custom)
        self.until_edit.setVisible(custom)
        self.edited.emit()

    def clear(self) -> None:
        """Every control back to showing everything, without a word (`edited`)."""
        for widget in (self.entry_combo, self.time_combo, self.session_edit, self.search):
            widget.blockSignals(True)
        for action in self.type_actions.values():
            action.blockSignals(True)
            action.setChecked(False)
            action.blockSignals(False)
        self.entry_combo.setCurrentIndex(0)
        self.time_combo.setCurrentIndex(0)
        self.since_edit.setVisible(False)
        self.until_edit.setVisible(False)
        self.session_edit.clear()
        self.search.clear()
        for widget in (self.entry_combo, self.time_combo, self.session_edit, self.search):
            widget.blockSignals(False)

    def refresh_entries(self, labels: dict[str, str]) -> None:
        """Keep the entry list in step with what the database and policy know."""
        current = self.entry_combo.currentData()
        wanted = sorted(labels, key=lambda e: (labels[e].lower(), e))
        have = [self.entry_combo.itemData(i) for i in range(1, self.entry_combo.count())]
        if have == wanted:
            return
        self.entry_combo.blockSignals(True)
        self.entry_combo.clear()
        self.entry_combo.addItem("All entries", None)
        for entry in wanted:
            self.entry_combo.addItem(f"{labels[entry]} ({entry})", entry)
        if current is not None and current not in wanted:
            self.entry_combo.addItem(current, current)
        idx = self.entry_combo.findData(current)
        self.entry_combo.setCurrentIndex(max(idx, 0))
        self.entry_combo.blockSignals(False)

    def set_view(self, sessions: bool) -> None:
        """Say what the type filter and the search do in the view shown."""
        self.type_button.setToolTip(
            "Event types to show in All events (choosing one switches there)." if sessions
            else "Event types to show. None ticked shows all.")
        self.search.setToolTip(
            "Find sessions whose application, label or session id contains this text."
            if sessions else "Find events containing this text (any field).")
