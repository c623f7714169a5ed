"""The audit log tab: composable filters, the live table, a detail pane and exports."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDateTime, QEvent, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QGuiApplication,
    QHideEvent,
    QKeySequence,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import AuditEvent, AuditFilter, UnknownEvent
from shepherd_store.export_job import export_in_child
from shepherd_store.sessions import SessionFilter

from . import workers
from .audit_model import AuditModel, EventRole, SessionRole
from .database import Database
from .formatting import EVENT_NAMES, event_fields, pretty_json
from .sessions_model import SessionObjectRole, SessionsModel
from .sessions_view import (
    EVENTS,
    SESSIONS,
    SWITCH_KEY,
    SessionDetail,
    ViewSwitch,
    make_sessions_table,
    session_count_text,
)
from .widgets import set_control

TIME_RANGES = ("All time", "Today", "Last 7 days", "Last 30 days", "Custom…")


class _CancelOnClose(QObject):
    """Calls `cancel` when `window` closes: an export's child process must not outlive the
    window (quitting then waits for the pool, so for the child to be killed)."""

    def __init__(self, window: QWidget, cancel: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._cancel = cancel
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            self._cancel()
        return False

    def release(self) -> None:
        """Stop watching (the export has ended)."""
        self._window.removeEventFilter(self)
        self.deleteLater()


class AuditTab(QWidget):
    """Everything about the audit log: filter bar, table, details, export."""

    filterApplied = Signal()

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditTab")
        self._db = db
        self.model = AuditModel(db, self)
        # The Sessions view (the default) beside the event log: sessions_model/_view.py.
        self.sessions = SessionsModel(db, self)
        self._new_count = 0
        self._new_sessions = 0
        # The rows selected by the tab itself (at open) rather than by the person: they
        # follow the newest row while "Follow" is on; a person's choice stays put.
        self._auto_select = {SESSIONS: False, EVENTS: False}
        self._selecting = False
        # The count waits for the end of the model's update (its paging state is set after
        # the rows are inserted: counted at once, a complete result read "2+").
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(0)
        self._count_timer.timeout.connect(self._update_count)
        self._build()
        self.model.loadingChanged.connect(self._on_loading)
        self.model.progress.connect(self._on_progress)
        self.model.error.connect(self._show_error)
        self.model.newRows.connect(self._on_new_rows)
        self.model.modelReset.connect(self._count_later)
        self.model.rowsInserted.connect(self._count_later)
        self.sessions.loadingChanged.connect(self._on_loading)
        self.sessions.error.connect(self._show_error)
        self.sessions.newRows.connect(self._on_new_sessions)
        self.sessions.pageLoaded.connect(self._on_sessions_page)
        self.sessions.modelReset.connect(self._count_later)
        self.sessions.rowsInserted.connect(self._count_later)
        self.sessions.dataChanged.connect(self._on_sessions_changed)
        db.opened.connect(self._on_opened)
        db.changed.connect(self.model.refresh)
        db.changed.connect(self.sessions.refresh)
        db.failed.connect(self._on_failed)
        db.stateChanged.connect(self._refresh_entries)

    # --- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        bar = QHBoxLayout()
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
            action.toggled.connect(self._on_type_toggled)
            self.type_actions[tag] = action
        self.type_button.setMenu(menu)

        self.entry_combo = QComboBox(self)
        self.entry_combo.setEditable(False)
        self.entry_combo.setMinimumContentsLength(14)
        self.entry_combo.addItem("All entries", None)
        set_control(self.entry_combo, "auditEntryFilter", "Show only events of this application.")
        self.entry_combo.currentIndexChanged.connect(self._apply_filter)

        self.session_edit = QLineEdit(self)
        self.session_edit.setPlaceholderText("Session id")
        self.session_edit.setClearButtonEnabled(True)
        set_control(self.session_edit, "auditSessionFilter",
             "Show one session's whole story. Double-click a session in the table to fill this.")
        self.session_edit.editingFinished.connect(self._apply_filter)
        self.session_edit.textChanged.connect(self._session_cleared)

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
            edit.dateTimeChanged.connect(self._apply_filter)

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        set_control(self.search, "auditSearch", "Find events containing this text (any field).")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(250)
        self._search_timer.timeout.connect(self._apply_filter)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())

        self.clear_button = QPushButton("Clear filters", self)
        set_control(self.clear_button, "auditClearFilters", "Show every event again.")
        self.clear_button.clicked.connect(self.clear_filters)

        self.view_switch = ViewSwitch(self)
        self.view_switch.changed.connect(self.set_view)
        bar.addWidget(self.view_switch)
        bar.addSpacing(8)
        for w in (self.type_button, self.entry_combo, self.session_edit, self.time_combo,
                  self.since_edit, self.until_edit):
            bar.addWidget(w)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.clear_button)

        status = QHBoxLayout()
        self.count_label = QLabel(self)
        self.count_label.setObjectName("auditCount")
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("auditProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.progress.setAccessibleName("Search progress")
        self.follow = QCheckBox("Follow new events", self)
        self.follow.setChecked(True)
        set_control(self.follow, "auditFollow",
             "Keep the newest event in view as the service writes. Off: stay where you are.")
        self.new_chip = QPushButton(self)
        set_control(self.new_chip, "auditNewEvents",
                    "New events arrived above. Click to go to them.")
        self.new_chip.setVisible(False)
        self.new_chip.setStyleSheet(
            "QPushButton { background: #1E88E5; color: white; border-radius: 9px; "
            "padding: 2px 10px; font-weight: bold; }")
        self.new_chip.clicked.connect(self.scroll_to_newest)
        self.export_button = QToolButton(self)
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        set_control(self.export_button, "auditExport",
                    "Save the events matching the filters to a file.")
        export_menu = QMenu(self.export_button)
        export_menu.addAction("CSV…", lambda: self._ask_export("csv"))
        export_menu.addAction("JSON…", lambda: self._ask_export("json"))
        self.export_button.setMenu(export_menu)
        status.addWidget(self.count_label)
        status.addWidget(self.progress)
        status.addStretch(1)
        status.addWidget(self.new_chip)
        status.addWidget(self.follow)
        status.addWidget(self.export_button)

        self.table = QTableView(self)
        self.table.setObjectName("auditTable")
        self.table.setAccessibleName("Audit log")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        vh = self.table.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 8)
        hh = self.table.horizontalHeader()
        hh.setStretchLastSection(True)
        hh.setHighlightSections(False)
        fm = self.fontMetrics()
        for col, sample in ((0, "2026-12-31 23:59:59"), (1, "Client disconnected"),
                            (2, "Putt-Putt (scummvm-puttputt)"), (3, "aaaaaaaa")):
            self.table.setColumnWidth(col, fm.horizontalAdvance(sample) + 36)
        self.table.doubleClicked.connect(self._on_double_click)
        self.table.selectionModel().currentRowChanged.connect(self._on_current)
        self.table.verticalScrollBar().valueChanged.connect(self._on_scroll)
        copy = QShortcut(QKeySequence(QKeySequence.StandardKey.Copy), self.table)
        copy.activated.connect(self.copy_selection)

        self.sessions_table = make_sessions_table(self, self.sessions)
        self.sessions_table.activated.connect(self._on_session_activated)  # double-click, Enter
        self.sessions_table.selectionModel().currentRowChanged.connect(self._on_session_current)
        self.sessions_table.verticalScrollBar().valueChanged.connect(self._on_scroll)
        self.session_detail = SessionDetail(self)
        self.session_detail.showEvents.connect(self.show_session_events)
        switch = QShortcut(QKeySequence(SWITCH_KEY), self)
        switch.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        switch.activated.connect(self.toggle_view)

        self.detail_marker = QLabel(self)
        self.detail_marker.setObjectName("auditDetailMarker")
        self.detail_marker.setTextFormat(Qt.TextFormat.PlainText)
        self.detail_marker.setWordWrap(True)
        self.detail_marker.setVisible(False)
        self.detail_marker.setStyleSheet(
            "QLabel { background: #FFEBEE; color: #B71C1C; padding: 6px; border-radius: 4px; }")
        self.detail_fields = QTableWidget(0, 2, self)
        self.detail_fields.setObjectName("auditDetailFields")
        self.detail_fields.setAccessibleName("Event fields")
        self.detail_fields.setHorizontalHeaderLabels(["Field", "Value"])
        self.detail_fields.verticalHeader().setVisible(False)
        self.detail_fields.horizontalHeader().setStretchLastSection(True)
        self.detail_fields.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.detail_fields.setWordWrap(True)
        self.detail_raw = QPlainTextEdit(self)
        self.detail_raw.setObjectName("auditDetailRaw")
        self.detail_raw.setAccessibleName("Raw JSON of the event")
        self.detail_raw.setReadOnly(True)
        self.detail_raw.setToolTip("The event exactly as the service stored it")
        self.detail_raw.setPlaceholderText("Select an event to see its raw JSON")
        self.detail_raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        detail = QWidget(self)
        detail.setObjectName("auditDetail")
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Details", detail)
        title.setStyleSheet("font-weight: bold;")
        dl.addWidget(title)
        dl.addWidget(self.detail_marker)
        dl.addWidget(self.detail_fields, 3)
        raw_title = QLabel("Raw JSON, as stored", detail)
        raw_title.setStyleSheet("font-weight: bold;")
        dl.addWidget(raw_title)
        dl.addWidget(self.detail_raw, 2)

        # Left the table, right its details: the session's or the event's, as switched.
        self.left_stack = QStackedWidget(self)
        self.left_stack.setObjectName("auditViews")
        self.left_stack.addWidget(self.sessions_table)
        self.left_stack.addWidget(self.table)
        self.right_stack = QStackedWidget(self)
        self.right_stack.setObjectName("auditDetails")
        self.right_stack.addWidget(self.session_detail)
        self.right_stack.addWidget(detail)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("auditSplitter")
        self.splitter.addWidget(self.left_stack)
        self.splitter.addWidget(self.right_stack)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([960, 320])

        self.message = QLabel(self)
        self.message.setObjectName("auditMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.message.setStyleSheet(
            "QLabel { background: #FFF3E0; color: #5D4037; padding: 8px; border-radius: 4px; }")

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.message)
        layout.addLayout(status)
        layout.addWidget(self.splitter, 1)
        self._show_details(None)
        self._update_count()
        chain = [*self.view_switch.buttons.values(), self.type_button, self.entry_combo,
                 self.session_edit, self.time_combo, self.since_edit, self.until_edit,
                 self.search, self.clear_button, self.sessions_table, self.table,
                 self.session_detail.fields, self.session_detail.events_button,
                 self.detail_fields, self.detail_raw, self.new_chip, self.follow,
                 self.export_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)
        self.set_view(SESSIONS)

    # --- filters -------------------------------------------------------------------------

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
        elif choice == 4:
            since = self.since_edit.dateTime().toPython().astimezone()
            until = self.until_edit.dateTime().toPython().astimezone()
        text = self.search.text().strip() or None
        return AuditFilter(event_types=types, entry_id=entry, session_id=session, since=since,
                           until=until, text=text)

    def _apply_filter(self, *_args: Any) -> None:
        self._search_timer.stop()
        types = [EVENT_NAMES[t] for t, a in self.type_actions.items() if a.isChecked()]
        self.type_button.setText(
            "All types" if not types else types[0] if len(types) == 1 else f"{len(types)} types")
        flt = self.current_filter()
        self.sessions.set_filter(SessionFilter.from_audit(flt))  # (types: events only)
        if flt == self.model.filter:
            return
        self.model.set_filter(flt)
        self._new_count = 0
        self.new_chip.setVisible(False)
        self.filterApplied.emit()

    def _on_type_toggled(self, checked: bool) -> None:
        if checked and self.view == SESSIONS:
            self.set_view(EVENTS)  # event types are a filter of the event log
        self._apply_filter()

    def _session_cleared(self, text: str) -> None:
        if not text and self.model.filter.session_id:
            self._apply_filter()

    def _on_time_range(self, index: int) -> None:
        custom = index == 4
        self.since_edit.setVisible(custom)
        self.until_edit.setVisible(custom)
        self._apply_filter()

    def set_session_filter(self, session_id: str) -> None:
        """Show one session's whole story."""
        self.session_edit.setText(session_id)
        self._apply_filter()

    def clear_filters(self) -> None:
        """Back to every event."""
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
        self._apply_filter()

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _refresh_entries(self) -> None:
        """Keep the entry list in step with what the database and policy know."""
        labels = self._db.labels
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

    # --- database events ------------------------------------------------------------------

    def _on_opened(self) -> None:
        self.message.setVisible(False)
        self.model.reload()
        self.sessions.reload()  # its first page comes from a worker: `_on_sessions_page`
        self._refresh_entries()
        if self.model.rowCount() and not self.table.currentIndex().isValid():
            self._select(EVENTS, 0)  # the newest event (it follows the newest, see there)

    def _on_failed(self, _message: str) -> None:
        # The window says what is wrong with the file; the tab just empties itself.
        self.message.setVisible(False)
        self.model.reload()
        self.sessions.reload()

    def _show_error(self, message: str) -> None:
        self.message.setText(message)
        self.message.setVisible(True)

    def _on_loading(self, *_args: Any) -> None:
        # The progress of the view shown (both models report theirs).
        if (self.sessions if self.view == SESSIONS else self.model).loading:
            if not self.progress.isVisible():
                self.progress.setRange(0, 0)
                self.progress.setVisible(True)
        else:
            self.progress.setVisible(False)
        self._count_later()

    def _on_progress(self, done: int, total: int) -> None:
        if self.view == EVENTS and self.model.loading and total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(min(1000, int(1000 * done / total)))
            self.progress.setFormat(f"Searching… {100 * done // total}%")

    def _count_later(self, *_args: Any) -> None:
        self._count_timer.start()

    def _update_count(self, *_args: Any) -> None:
        if self.view == SESSIONS:
            self.count_label.setText(session_count_text(
                self.sessions, filtered=not self.sessions.filter.is_empty,
                has_store=self._db.store is not None))
            return
        n = self.model.rowCount()
        if self._db.store is None:
            text = "No database open"
        elif self.model.filtered:
            more = self.model.canFetchMore(QModelIndex()) or self.model.loading
            text = f"{n:,}{'+' if more else ''} matching event{'s' if n != 1 else ''}"
            if self.model.loading:
                text += " — searching…"
        else:
            text = f"{n:,} event{'s' if n != 1 else ''}"
        self.count_label.setText(text)

    # --- live ----------------------------------------------------------------------------

    def _at_top(self) -> bool:
        return self.table.verticalScrollBar().value() == 0

    def _on_new_rows(self, added: int) -> None:
        bar = self.table.verticalScrollBar()
        if self.follow.isChecked() and bar.value() <= added:
            bar.setValue(0)
            if self._auto_select[EVENTS]:
                self._select(EVENTS, 0)  # still the tab's own choice: the newest again
            return
        # Rows were inserted above what the user is looking at: keep the same rows in view.
        bar.setValue(bar.value() + added)
        if self.view == EVENTS:
            self._new_count += added
            plural = "s" if self._new_count > 1 else ""
            self.new_chip.setText(f"↑ {self._new_count:,} new event{plural}")
            self.new_chip.setVisible(True)

    def _on_scroll(self, value: int) -> None:
        if value == 0 and self.new_chip.isVisible() and self.sender() is \
                self._current_table().verticalScrollBar():
            self._new_count = self._new_sessions = 0
            self.new_chip.setVisible(False)

    def scroll_to_newest(self) -> None:
        self._current_table().scrollToTop()
        self._new_count = self._new_sessions = 0
        self.new_chip.setVisible(False)

    # --- the Sessions view ------------------------------------------------------------------

    @property
    def view(self) -> str:
        """The view shown: `sessions` (one row per session) or `events` (the log)."""
        return self.view_switch.current

    def showEvent(self, event: QShowEvent) -> None:
        """Shown again: the Sessions view reads what it missed (if it is the one shown)."""
        super().showEvent(event)
        self.sessions.set_active(self.view == SESSIONS)

    def hideEvent(self, event: QHideEvent) -> None:
        """Another tab is shown: the Sessions view stops reading after each commit (the
        service-latency benchmark saw its reads run 43-109 ms on a million events)."""
        super().hideEvent(event)
        self.sessions.set_active(False)

    def set_view(self, view: str) -> None:
        """Show the Sessions view (`sessions`) or the event log (`events`)."""
        sessions = view == SESSIONS
        self.view_switch.set_current(view)
        self.sessions.set_active(sessions)
        focused = self.left_stack.currentWidget().hasFocus()
        self.left_stack.setCurrentWidget(self.sessions_table if sessions else self.table)
        self.right_stack.setCurrentIndex(0 if sessions else 1)
        if focused:
            self._current_table().setFocus(Qt.FocusReason.OtherFocusReason)
        self.export_button.setVisible(not sessions)
        self.follow.setText("Follow new sessions" if sessions else "Follow new events")
        self.type_button.setToolTip(
            "Event types to show in All events (choosing one switches there)." if sessions
            else "Event types to show. None ticked shows all.")
        self.search.setToolTip(
            "Find sessions whose application, label or session id contains this text."
            if sessions else "Find events containing this text (any field).")
        self._new_count = self._new_sessions = 0
        self.new_chip.setVisible(False)
        self._on_loading()
        self._update_count()

    def show_sessions(self) -> None:
        self.set_view(SESSIONS)

    def show_events(self) -> None:
        self.set_view(EVENTS)

    def toggle_view(self) -> None:
        """Sessions ⇄ All events (Ctrl+E)."""
        self.set_view(EVENTS if self.view == SESSIONS else SESSIONS)

    def show_session_events(self, session_id: str) -> None:
        """The event log with the whole story of one session."""
        self.set_view(EVENTS)
        if session_id != self.model.filter.session_id:
            self.set_session_filter(session_id)

    def _current_table(self) -> QTableView:
        return self.sessions_table if self.view == SESSIONS else self.table

    def _on_session_activated(self, index: QModelIndex) -> None:
        session = index.data(SessionObjectRole)
        if session is not None:
            self.show_session_events(session.session_id)

    def _on_session_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._selecting:
            self._auto_select[SESSIONS] = False
        self.session_detail.show_session(
            current.data(SessionObjectRole) if current.isValid() else None)

    def _on_sessions_changed(self, top_left: QModelIndex, bottom_right: QModelIndex,
                             *_args: Any) -> None:
        current = self.sessions_table.currentIndex()
        if current.isValid() and top_left.row() <= current.row() <= bottom_right.row():
            self.session_detail.show_session(current.data(SessionObjectRole))

    def _on_sessions_page(self) -> None:
        """A page of sessions arrived: at open, select the newest (or nothing)."""
        self._count_later()
        if self.sessions.rowCount() and not self.sessions_table.currentIndex().isValid():
            self._select(SESSIONS, 0)

    def _on_new_sessions(self, added: int) -> None:
        bar = self.sessions_table.verticalScrollBar()
        if self.follow.isChecked() and bar.value() <= added:
            bar.setValue(0)
            if self._auto_select[SESSIONS]:
                self._select(SESSIONS, 0)
            return
        bar.setValue(bar.value() + added)  # keep the same sessions in view
        if self.view == SESSIONS:
            self._new_sessions += added
            plural = "s" if self._new_sessions > 1 else ""
            self.new_chip.setText(f"↑ {self._new_sessions:,} new session{plural}")
            self.new_chip.setVisible(True)

    def _select(self, view: str, row: int) -> None:
        """Select `row` of a view's table as the tab's own choice (not the person's)."""
        table = self.sessions_table if view == SESSIONS else self.table
        self._selecting = True
        try:
            table.selectRow(row)
        finally:
            self._selecting = False
        self._auto_select[view] = True

    def save_settings(self, settings: Any) -> None:
        """Remember the view (the main window calls this when it closes)."""
        settings.setValue("audit/view", self.view)

    def restore_settings(self, settings: Any) -> None:
        view = settings.value("audit/view", SESSIONS)
        self.set_view(EVENTS if view == EVENTS else SESSIONS)

    # --- selection and details -------------------------------------------------------------

    def _on_double_click(self, index: QModelIndex) -> None:
        session = index.data(SessionRole)
        if session and session != self.model.filter.session_id:
            self.set_session_filter(session)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._selecting:
            self._auto_select[EVENTS] = False
        self._show_details(current.data(EventRole) if current.isValid() else None)

    def selected_event(self) -> AuditEvent | None:
        index = self.table.currentIndex()
        event = index.data(EventRole) if index.isValid() else None
        return event if isinstance(event, AuditEvent) else None

    def _show_details(self, event: AuditEvent | None) -> None:
        self.detail_fields.setRowCount(0)
        if event is None:
            self.detail_raw.setPlainText("")
            self.detail_marker.setVisible(False)
            return
        rows = event_fields(event, self._db.labels)
        self.detail_fields.setRowCount(len(rows))
        for i, (name, value) in enumerate(rows):
            self.detail_fields.setItem(i, 0, QTableWidgetItem(name))
            self.detail_fields.setItem(i, 1, QTableWidgetItem(value))
        self.detail_fields.resizeColumnToContents(0)
        self.detail_fields.resizeRowsToContents()
        ev = event.event
        if isinstance(ev, UnknownEvent):
            self.detail_marker.setText(
                f"⚠ Unreadable row: {ev.error}. Shown as stored; the rest of the log is fine."
                if ev.malformed else
                f"⚠ Unknown event type “{ev.type}” (written by a newer service). Shown as stored.")
            self.detail_marker.setVisible(True)
        elif ev.TYPE == "manual_override":
            self.detail_marker.setText("✎ Manual change made with the inspector or the CLI.")
            self.detail_marker.setVisible(True)
        else:
            self.detail_marker.setVisible(False)
        stamp = f"timestamp: {event.raw_timestamp}\n" if event.raw_timestamp else ""
        self.detail_raw.setPlainText(stamp + pretty_json(event.raw_json or ""))

    def copy_selection(self) -> None:
        """Copy the selected rows as tab-separated text (all columns)."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedIndexes()})
        lines = []
        for row in rows[:10_000]:
            cells = [str(self.model.index(row, c).data() or "")
                     for c in range(self.model.columnCount())]
            lines.append("\t".join(cells))
        QGuiApplication.clipboard().setText("\n".join(lines))

    # --- export --------------------------------------------------------------------------

    def _ask_export(self, fmt: str) -> None:
        suffix = "csv" if fmt == "csv" else "json"
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export events as {fmt.upper()}", f"shepherd-audit.{suffix}",
            f"{fmt.upper()} files (*.{suffix});;All files (*)")
        if path:
            self.export(Path(path), fmt)

    def export(self, path: Path, fmt: str, *, show_progress: bool = True) -> workers.TaskSignals:
        """Write every event matching the filters to `path`, off the GUI thread.

        Returns the task's signals (`finished(count)` / `failed(message)`); a progress dialog
        shows the count and can cancel, and closing the window cancels it too.
        """
        store = self._db.store
        flt = self.model.filter
        state = {"cancel": False}
        on_close = _CancelOnClose(self.window(), lambda: state.update(cancel=True))
        dialog = QProgressDialog("Exporting events…", "Cancel", 0, 0, self)
        dialog.setObjectName("auditExportProgress")
        dialog.setWindowTitle("Export")
        dialog.setMinimumDuration(400)
        dialog.canceled.connect(lambda: state.update(cancel=True))

        def run(report: Any) -> int:
            if store is None:
                raise OSError("no database is open")
            tmp = path.with_name(path.name + ".part")
            # In a process of its own: written here, the rows' Python work kept the GUI
            # thread waiting for the GIL (stalls of 100-140 ms in the soak).
            try:
                n = export_in_child(store.path, flt, fmt, tmp,
                                    report=lambda done: report(done, 0),
                                    cancelled=lambda: state["cancel"])
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            if n is None:
                tmp.unlink(missing_ok=True)
                return -1
            tmp.replace(path)
            return n

        def progress(n: int, _total: int) -> None:
            dialog.setLabelText(f"Exporting events… {n:,} written")

        def done(n: object) -> None:
            on_close.release()
            dialog.reset()
            dialog.deleteLater()
            if isinstance(n, int) and n >= 0:
                self.count_label.setText(f"Exported {n:,} events to {path}")

        def failed(message: str) -> None:
            on_close.release()
            dialog.reset()
            dialog.deleteLater()
            if show_progress:
                QMessageBox.warning(self, "Export failed", message)

        if not show_progress:
            dialog.setMinimumDuration(10**9)
        return workers.start(run, done, failed, progress)
