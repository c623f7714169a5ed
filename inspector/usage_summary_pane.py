"""The Usage tab's summary pane: the table of figures per entry (`SummaryModel`) between its
title and the note on where the daily limits come from.

Columns are sized by hand, not ResizeToContents: that re-measured every row of every column
(in Python, through the model) on each live change, 5 ms per commit. Every figure column is
as wide as its texts; the entry column takes the room left, so no horizontal scrollbar
hides a figure.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .usage_data import SummaryRow, limits_text
from .usage_summary import COLUMNS, ENTRY_ROLE, LIMIT_COLUMNS, SummaryModel
from .widgets import plain_tip, set_control

RESIZE_PRECISION = 200  # rows a column's width is measured on (all 50,000 took seconds)
ENTRY_COLUMN_MAX = 260  # px; longer labels are elided (the tooltip has them whole)
ENTRY_COLUMN_MIN = 90  # px; the entry column gives way to the figures down to this


class _ResizeWatch(QObject):
    """Calls `callback` whenever the watched widget (a table's viewport) changes size."""

    def __init__(self, widget: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._callback()
        return False


class SummaryPane(QWidget):
    """The title, the summary table (`summary`, over `model`) and the limits note."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = SummaryModel(self)
        self.summary = QTableView(self)
        self.summary.setAlternatingRowColors(True)
        set_control(self.summary, "usageSummary",
                 "Per entry over the range: total, average per day, busiest day, days used "
                 "and today. Click a header to sort; select a row for “One entry” mode.",
                 "Usage summary")
        self.summary.setModel(self.model)
        self.summary.setSortingEnabled(True)
        self.summary.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.summary.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.summary.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.summary.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.summary.verticalHeader().setVisible(False)
        self.summary.setWordWrap(False)
        self.summary.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.summary.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # see the docstring
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(40)
        header.setResizeContentsPrecision(RESIZE_PRECISION)
        self._entry_width = ENTRY_COLUMN_MIN  # what the entry column's texts want
        self._resize_watch = _ResizeWatch(self.summary.viewport(), self.fit_entry_column)
        self.title = QLabel(self)
        self.title.setObjectName("usageSummaryTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        self.limits_note = QLabel(self)
        self.limits_note.setObjectName("usageLimits")
        self.limits_note.setTextFormat(Qt.TextFormat.PlainText)
        self.limits_note.setWordWrap(True)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.title)
        col.addWidget(self.summary, 1)
        col.addWidget(self.limits_note)

    def set_limits(self, policy_path: str | None, has_limits: bool) -> None:
        """Where the limits come from (the policy file by name; the full path in the
        tooltip); the limit columns only with limits."""
        self.limits_note.setText(limits_text(policy_path, has_limits))
        self.limits_note.setToolTip(
            plain_tip(f"Policy file: {policy_path}") if policy_path is not None else "")
        self.show_columns(has_limits)
        self.fit_entry_column()

    def show_columns(self, has_limits: bool) -> None:
        """Every column, the limit ones only with limits. (Also after the window restored a
        header saved by an older version, whose hidden columns 6 and 7 were the limits.)"""
        for column in range(1, len(COLUMNS)):
            hide = column in LIMIT_COLUMNS and not has_limits
            if self.summary.isColumnHidden(column) != hide:
                self.summary.setColumnHidden(column, hide)

    def set_rows(self, rows: list[SummaryRow], labels: dict[str, str],
                 colors: dict[str, str], has_limits: bool) -> None:
        """New figures (keeps the sort order, selection and scroll)."""
        self.show_columns(has_limits)
        selected = self.selected_entry()
        scroll = self.summary.verticalScrollBar().value()
        renamed = labels != self.model.labels
        if self.model.set_summaries(rows, labels, colors):
            self.summary.verticalScrollBar().setValue(scroll)  # after a reset: put them back
            if selected is not None:
                self.select_entry(selected)
        elif not renamed:
            self._widen_for(self.model.changed_ids)  # new figures in a few rows
            return
        self._fit_columns()

    def selected_entry(self) -> str | None:
        """The entry of the selected row, if any."""
        rows = self.summary.selectionModel().selectedRows(0)
        return str(rows[0].data(ENTRY_ROLE)) if rows else None

    def select_entry(self, entry: str) -> None:
        """Select the row of `entry`."""
        index = self.row_index(entry)
        if not index.isValid():
            return
        self.summary.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.summary.scrollTo(index)

    def row_index(self, entry: str) -> QModelIndex:
        """The view index of `entry`'s row (invalid if none)."""
        row = self.model.row_of(entry)
        return self.model.index(row, 0) if row is not None else QModelIndex()

    def _fit_columns(self) -> None:
        """Every figure column as wide as its texts, the entry column in the room left."""
        self._entry_width = self.summary.sizeHintForColumn(0)
        for column in range(1, len(COLUMNS)):
            self.summary.resizeColumnToContents(column)
        self.fit_entry_column()

    def fit_entry_column(self) -> None:
        """The entry column as wide as its texts want (up to `ENTRY_COLUMN_MAX`) and the
        table's width allows beside the figures (down to `ENTRY_COLUMN_MIN`; labels are
        elided then, whole in their tooltips): no horizontal scrollbar hides a figure."""
        view = self.summary
        figures = sum(view.columnWidth(c) for c in range(1, len(COLUMNS))
                      if not view.isColumnHidden(c))
        room = view.viewport().width() - figures
        width = max(ENTRY_COLUMN_MIN, min(self._entry_width, ENTRY_COLUMN_MAX, room))
        if view.columnWidth(0) != width:
            view.setColumnWidth(0, width)

    def _widen_for(self, entries: list[str]) -> None:
        """Widen the figure columns that the new texts of `entries` no longer fit in.

        The room a text needs is the delegate's: its width and the style's text margin
        each side. (A larger guess re-measured every row of the widest column on every
        live change, 6 ms each time.)"""
        view = self.summary
        metrics = view.fontMetrics()
        pad = 2 * (view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1)
        widened = False
        for entry in entries:
            for column, text in enumerate(self.model.texts(entry)[1:], start=1):
                if view.isColumnHidden(column):  # (0 px wide: it would always "widen")
                    continue
                if metrics.horizontalAdvance(text) + pad > view.columnWidth(column):
                    view.resizeColumnToContents(column)
                    widened = True
        if widened:
            self.fit_entry_column()
