"""The audit log tab: the Sessions view and the event log, their filters, live rows, details
and exports.

The parts live beside it: the filter bar (audit_filter_bar.py), the status row with the
count, Follow and Export (audit_status.py), the event table and its detail pane
(audit_detail.py), exports (audit_export.py), the Sessions view's switch, table and pane
(sessions_view.py). This tab wires them to the models and the open database, and decides
what follows new rows (`shepherd_store.paging.keep_place`).
"""

from __future__ import annotations

import itertools
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QHideEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import AuditEvent, AuditFilter
from shepherd_store.paging import keep_place
from shepherd_store.sessions import SessionFilter

from . import workers
from .audit_detail import EventDetail, make_events_table, selected_rows_text
from .audit_export import ask_export_path, export_events
from .audit_filter_bar import TIME_RANGES, AuditFilterBar
from .audit_model import AuditModel, EventRole, SessionRole
from .audit_status import AuditStatusRow, event_count_text
from .database import Database
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

__all__ = ["TIME_RANGES", "AuditTab"]  # (TIME_RANGES: the filter bar's, as before)
NOUNS = {SESSIONS: "session", EVENTS: "event"}


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
        self._new = {SESSIONS: 0, EVENTS: 0}  # rows arrived above, told by the chip
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
        self.model.newRows.connect(partial(self._on_new, EVENTS))
        self.model.modelReset.connect(self._count_later)
        self.model.rowsInserted.connect(self._count_later)
        self.sessions.loadingChanged.connect(self._on_loading)
        self.sessions.error.connect(self._show_error)
        self.sessions.newRows.connect(partial(self._on_new, SESSIONS))
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
        self.filter_bar = AuditFilterBar(self)
        bar = self.filter_bar
        # The controls under their old names (tests, scripts and the main window use them).
        self.type_button, self.type_actions = bar.type_button, bar.type_actions
        self.entry_combo, self.session_edit = bar.entry_combo, bar.session_edit
        self.time_combo, self.since_edit, self.until_edit = (bar.time_combo, bar.since_edit,
                                                             bar.until_edit)
        self.search, self.clear_button = bar.search, bar.clear_button
        for action in self.type_actions.values():
            action.toggled.connect(self._on_type_toggled)
        bar.edited.connect(self._apply_filter)
        self.session_edit.textChanged.connect(self._session_cleared)
        self.clear_button.clicked.connect(self.clear_filters)

        self.view_switch = ViewSwitch(self)
        self.view_switch.changed.connect(self.set_view)
        top = QHBoxLayout()
        top.addWidget(self.view_switch)
        top.addSpacing(8)
        top.addWidget(bar, 1)

        self.status = AuditStatusRow(self)
        row = self.status
        self.count_label, self.progress, self.follow = (row.count_label, row.progress,
                                                        row.follow)
        self.new_chip, self.export_button = row.new_chip, row.export_button
        self.new_chip.clicked.connect(self.scroll_to_newest)
        row.exportAsked.connect(self._ask_export)

        self.table = make_events_table(self, self.model)
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

        self.detail = EventDetail(self)
        self.detail_marker, self.detail_fields, self.detail_raw = (
            self.detail.marker, self.detail.fields, self.detail.raw)

        # Left the table, right its details: the session's or the event's, as switched.
        self.left_stack = QStackedWidget(self)
        self.left_stack.setObjectName("auditViews")
        self.left_stack.addWidget(self.sessions_table)
        self.left_stack.addWidget(self.table)
        self.right_stack = QStackedWidget(self)
        self.right_stack.setObjectName("auditDetails")
        self.right_stack.addWidget(self.session_detail)
        self.right_stack.addWidget(self.detail)
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
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.status)
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
        return self.filter_bar.current_filter()

    def _apply_filter(self, *_args: Any) -> None:
        flt = self.filter_bar.filter_to_apply()
        self.sessions.set_filter(SessionFilter.from_audit(flt))  # (types: events only)
        if flt == self.model.filter:
            return
        self.model.set_filter(flt)
        self._new[EVENTS] = 0
        self.new_chip.setVisible(False)
        self.filterApplied.emit()

    def _on_type_toggled(self, checked: bool) -> None:
        if checked and self.view == SESSIONS:
            self.set_view(EVENTS)  # event types are a filter of the event log
        self._apply_filter()

    def _session_cleared(self, text: str) -> None:
        if not text and self.model.filter.session_id:
            self._apply_filter()

    def set_session_filter(self, session_id: str) -> None:
        """Show one session's whole story."""
        self.session_edit.setText(session_id)
        self._apply_filter()

    def clear_filters(self) -> None:
        """Back to every event."""
        self.filter_bar.clear()
        self._apply_filter()

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _refresh_entries(self) -> None:
        """Keep the entry list in step with what the database and policy know."""
        self.filter_bar.refresh_entries(self._db.labels)

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
        self.status.show_loading((self.sessions if self.view == SESSIONS else self.model).loading)
        self._count_later()

    def _on_progress(self, done: int, total: int) -> None:
        if self.view == EVENTS and self.model.loading and total > 0:
            self.status.show_progress(done, total)

    def _count_later(self, *_args: Any) -> None:
        self._count_timer.start()

    def _update_count(self, *_args: Any) -> None:
        has_store = self._db.store is not None
        self.count_label.setText(
            session_count_text(self.sessions, filtered=not self.sessions.filter.is_empty,
                               has_store=has_store) if self.view == SESSIONS
            else event_count_text(self.model, has_store=has_store))

    # --- live ----------------------------------------------------------------------------

    def _on_new(self, view: str, added: int) -> None:
        """`added` rows arrived at the top of `view`'s table: follow them (the newest in view,
        and selected while the selection is still the tab's own) or keep the same rows in
        view and say how many came above."""
        bar = self._table(view).verticalScrollBar()
        value, followed = keep_place(bar.value(), added, follow=self.follow.isChecked())
        bar.setValue(value)
        if followed:
            if self._auto_select[view]:
                self._select(view, 0)  # still the tab's own choice: the newest again
            return
        if self.view == view:
            self._new[view] += added
            self.status.show_new(self._new[view], NOUNS[view])

    def _hide_new_chip(self) -> None:
        self._new = {SESSIONS: 0, EVENTS: 0}
        self.new_chip.setVisible(False)

    def _on_scroll(self, value: int) -> None:
        if value == 0 and self.new_chip.isVisible() and self.sender() is \
                self._current_table().verticalScrollBar():
            self._hide_new_chip()

    def scroll_to_newest(self) -> None:
        self._current_table().scrollToTop()
        self._hide_new_chip()

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
        self.status.set_view(sessions)
        self.filter_bar.set_view(sessions)
        self._hide_new_chip()
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

    def _table(self, view: str) -> QTableView:
        return self.sessions_table if view == SESSIONS else self.table

    def _current_table(self) -> QTableView:
        return self._table(self.view)

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

    def _select(self, view: str, row: int) -> None:
        """Select `row` of a view's table as the tab's own choice (not the person's)."""
        table = self._table(view)
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
        self.detail.show_event(event, self._db.labels)

    def copy_selection(self) -> None:
        """Copy the selected rows as tab-separated text (all columns)."""
        QGuiApplication.clipboard().setText(selected_rows_text(self.table))

    # --- export --------------------------------------------------------------------------

    def _ask_export(self, fmt: str) -> None:
        path = ask_export_path(self, fmt)
        if path is not None:
            self.export(path, fmt)

    def export(self, path: Path, fmt: str, *, show_progress: bool = True) -> workers.TaskSignals:
        """Write every event matching the filters to `path`, off the GUI thread.

        Returns the task's signals (`finished(count)` / `failed(message)`); a progress dialog
        shows the count and can cancel, and closing the window cancels it too.
        """
        def exported(n: int) -> None:
            self.count_label.setText(f"Exported {n:,} events to {path}")

        return export_events(self, self._db.store, self.model.filter, path, fmt,
                             show_progress=show_progress, exported=exported)
