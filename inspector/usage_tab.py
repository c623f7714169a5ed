"""The Usage tab: usage per entry per day as a chart, a legend and a summary table.

Reads go through the database's read-only store. A full read (open, range change, and a
reconciling re-read after live changes) runs in the worker pool; a live change first
re-reads only yesterday and today on the GUI thread (a few rows, about a millisecond), so
the chart follows the service at once and never loses the user's range, zoom, selection
or hidden entries. The aggregation itself is `shepherd_store.usage` (pure, tested without
Qt); this module only lays it out.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PySide6.QtCore import (
    QDate,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QFontMetrics,
    QPaintEvent,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import SqliteStore, StoreError
from shepherd_store.timefmt import format_day
from shepherd_store.usage import (
    MAX_RANGE_DAYS,
    Bucket,
    DailyUsage,
    DayRange,
    EntrySummary,
    Preset,
    auto_bucket,
    count_per_span,
    csv_rows,
    day_number,
    preset_range,
    quota_hit_days,
    split_entries,
    summarize,
)
from shepherd_store.usage_compare import (
    NO_WEEKS,
    WeekComparison,
    bucket_like,
    compare_weeks,
    over_limit,
    week_window,
)

from . import workers
from .database import Database
from .formatting import entry_display
from .usage_chart import Mode, UsageChart
from .usage_export import save_png, save_svg
from .usage_summary import (
    COLUMNS,
    ENTRY_ROLE,
    LIMIT_COLUMNS,
    SummaryModel,
    SummaryRow,
    swatch,
    symbol_icon,
)
from .usage_view_state import OTHER_COLOR, ColorBook
from .widgets import WhenShown, plain_tip, set_control

RANGES: tuple[tuple[str, Preset | None], ...] = (
    ("Last 7 days", Preset.WEEK), ("Last 30 days", Preset.MONTH),
    ("Last 90 days", Preset.QUARTER), ("Last year", Preset.YEAR),
    ("Everything", Preset.ALL), ("Custom", None))
BUCKETS: tuple[tuple[str, Bucket | None], ...] = (
    ("Auto bars", None), ("Day bars", Bucket.DAY), ("Week bars", Bucket.WEEK),
    ("Month bars", Bucket.MONTH))
MODES: tuple[tuple[str, Mode], ...] = (
    ("Stacked", Mode.STACKED), ("Side by side", Mode.SIDE_BY_SIDE), ("One entry", Mode.SINGLE))
RESIZE_PRECISION = 200  # rows a column's width is measured on (all 50,000 took seconds)
ENTRY_COLUMN_MAX = 260  # px; longer labels are elided (the tooltip has them whole)
ENTRY_COLUMN_MIN = 90  # px; the entry column gives way to the figures down to this
ENTRY_COMBO_MAX = 320  # px; the "One entry" box elides longer labels (the list has them whole)
RECONCILE_MS = 1500  # after live changes settle, re-read the whole range once
COLORS_KEY = "usage/entryColors"  # QSettings: the colours entries were given (ColorBook)
LEGEND_EXTRA_ROLE = Qt.ItemDataRole.UserRole + 3  # legend rows that are not entries


@dataclass
class Loaded:
    """What one full read returns (built in a worker thread, no Qt objects)."""

    daily: DailyUsage
    today_usage: dict[str, int] | None
    known: set[str]
    weeks: DailyUsage | None = None
    """This week and last week (`week_window`) when the range does not hold them."""


def read_usage(store: SqliteStore, preset: Preset | None, custom: DayRange | None,
               today: date) -> Loaded:
    """Read the range's usage, today's (when outside the range) and every known entry."""
    if preset is Preset.ALL:
        records = store.usage_between()
        days = [r.day for r in records]
        rng = preset_range(Preset.ALL, today, min(days, default=None), max(days, default=None))
    else:
        rng = custom if preset is None and custom is not None else preset_range(
            preset or Preset.MONTH, today)
        records = store.usage_between(rng.start, rng.end)
    today_usage = None
    if today not in rng:
        today_usage = {r.entry_id: r.seconds for r in store.usage_between(today, today)}
    daily = DailyUsage.from_records(records, rng)
    known = set(store.known_entries()) | set(daily.entries)
    weeks = week_window(today).span
    return Loaded(daily, today_usage, known, None if rng.intersect(weeks) == weeks else
                  DailyUsage.from_records(store.usage_between(weeks.start, weeks.end), weeks))


class Legend(QListWidget):
    """The legend: one checkable, coloured item per entry, wrapped into rows.

    As tall as its rows need, up to four (then it scrolls), recomputed whenever its width
    changes, so it neither wastes the chart's room nor hides entries.
    """

    MAX_ROWS = 4

    def fit_height(self) -> None:
        """Set the height the wrapped rows need at the current width."""
        count = self.count()
        if not count:
            self.setFixedHeight(0)
            return
        gap = 2 * self.spacing()
        row_h = max(self.sizeHintForRow(0), 16) + gap
        width = max(1, self.width() - 2 * self.frameWidth() - 4)
        used, rows = 0, 1
        for i in range(count):
            w = self.sizeHintForIndex(self.model().index(i, 0)).width() + gap
            if used + w > width and used:
                rows, used = rows + 1, 0
            used += w
        height = min(rows, self.MAX_ROWS) * row_h + 2 * self.frameWidth() + 4
        if self.height() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.fit_height()


def elide_entry(metrics: QFontMetrics, text: str, entry: str, width: int) -> str:
    """`text` ("Label (id)") in `width` pixels: the label shortened and the id kept while the
    id takes at most half the room, else shortened at the end."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    suffix = f" ({entry})"
    suffix_w = metrics.horizontalAdvance(suffix)
    if entry and text.endswith(suffix) and suffix_w <= width / 2:
        label = text[:-len(suffix)]
        return metrics.elidedText(label, Qt.TextElideMode.ElideRight, width - suffix_w) + suffix
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)


class EntryCombo(QComboBox):
    """The "One entry" choice: the list shows every entry whole ("Label (id)"); the box is
    as wide as its longest entry up to `ENTRY_COMBO_MAX` and, when the chosen one is
    longer, shortens its label and keeps the id ("Sudoku for Kids W… (sudoku)"); its
    tooltip has it whole."""

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        room = field.width() - 2  # as the style draws it: 1 px each side, after the icon
        if not opt.currentIcon.isNull():  # type: ignore[attr-defined]
            room -= opt.iconSize.width() + 4  # type: ignore[attr-defined]
        opt.currentText = elide_entry(  # type: ignore[attr-defined]
            self.fontMetrics(), opt.currentText,  # type: ignore[attr-defined]
            str(self.currentData() or ""), max(room, 20))
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)


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


class UsageTab(WhenShown):
    """Usage per entry per day: range, grouping and mode controls, chart, legend, table."""

    #: Emitted after every completed read (full or live) has been laid out.
    dataApplied = Signal()

    def __init__(self, db: Database, parent: QWidget | None = None, *,
                 today: Callable[[], date] = date.today,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("usageTab")
        self._db = db
        self._today = today
        self.daily: DailyUsage | None = None
        self._today_usage: dict[str, int] | None = None
        self._known: set[str] = set()
        self._labels: dict[str, str] = dict(db.labels)
        self._quotas: dict[str, int] = self._policy_quotas()
        self._colors: dict[str, str] = {}
        # colours stay with their entries across live changes and restarts (ColorBook)
        self._settings = settings if settings is not None else QSettings(
            "Shepherd", "shepherd-inspector")
        self._color_book = ColorBook.from_json(self._settings.value(COLORS_KEY, ""))
        self._weeks: DailyUsage | None = None
        self._hidden: set[str | None] = set()  # None: the "Other" layer
        self._gen = 0
        self._loading = False
        self._pending = False
        self._legend_items: dict[str, QListWidgetItem] = {}
        self._other_item: QListWidgetItem | None = None
        self._extra_items: dict[str, QListWidgetItem] = {}  # "over", "average"
        self._combo_items: list[tuple[str, str, str]] = []  # (text, entry, colour)
        self._entry_width = ENTRY_COLUMN_MIN  # what the entry column's texts want
        self._reconcile = QTimer(self)
        self._reconcile.setSingleShot(True)
        self._reconcile.setInterval(RECONCILE_MS)
        self._reconcile.timeout.connect(self._on_reconcile)
        self._custom_timer = QTimer(self)
        self._custom_timer.setSingleShot(True)
        self._custom_timer.setInterval(300)
        self._custom_timer.timeout.connect(self.reload)
        self._build()
        db.opened.connect(self._on_opened)
        db.changed.connect(self._on_changed)
        db.failed.connect(self._on_failed)
        db.stateChanged.connect(self._on_state_changed)
        if db.store is not None:
            self._on_opened()
        else:
            self._show_empty(f"Cannot show usage: {db.error}" if db.error
                             else "Open a database to see usage per entry and day.")

    # --- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.range_combo = QComboBox(self)
        for text, preset in RANGES:
            self.range_combo.addItem(text, preset)
        self.range_combo.setCurrentIndex(1)
        set_control(self.range_combo, "usageRange", "Which days to show, ending today",
                 "Date range")
        self.from_edit = QDateEdit(self)
        self.to_edit = QDateEdit(self)
        for edit, name, tip, acc in (
                (self.from_edit, "usageFrom", "First day of a custom range", "From day"),
                (self.to_edit, "usageTo", "Last day of a custom range", "To day")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setDateRange(QDate(1, 1, 1), QDate(9999, 12, 31))
            set_control(edit, name, tip, acc)
        self.bucket_combo = QComboBox(self)
        for text, bucket in BUCKETS:
            self.bucket_combo.addItem(text, bucket)
        set_control(self.bucket_combo, "usageBucket",
                 "One bar per day, week (Monday to Sunday) or month; Auto picks by the "
                 "range's length", "Bar length")
        self.mode_combo = QComboBox(self)
        for text, mode in MODES:
            self.mode_combo.addItem(text, mode)
        set_control(self.mode_combo, "usageMode",
                 "Stack entries, put them side by side, or show one entry alone", "Chart mode")
        self.entry_combo = EntryCombo(self)
        self.entry_combo.setMinimumContentsLength(10)
        self.entry_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.entry_combo.setMaximumWidth(ENTRY_COMBO_MAX)
        set_control(self.entry_combo, "usageEntry", "The entry shown in “One entry” mode",
                 "Entry shown alone")
        self.entry_combo.setEnabled(False)
        self.fit_button = QToolButton(self)
        self.fit_button.setText("Fit")
        set_control(self.fit_button, "usageFit",
                 "Show the whole range again (drag to pan, scroll to zoom)", "Fit chart")
        self.export_button = QToolButton(self)
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        set_control(self.export_button, "usageExport",
                 "Save the chart as PNG or SVG, or its data as CSV", "Export")
        menu = QMenu(self.export_button)
        for text, name, slot in (("Chart as PNG…", "usageExportPng", self._ask_png),
                                 ("Chart as SVG…", "usageExportSvg", self._ask_svg),
                                 ("Data as CSV…", "usageExportCsv", self._ask_csv)):
            action = QAction(text, menu)
            action.setObjectName(name)
            action.triggered.connect(slot)
            menu.addAction(action)
        self.export_button.setMenu(menu)

        bar = QHBoxLayout()
        bar.setSpacing(6)
        # the combos say what they choose ("Last 30 days", "Week bars", "Stacked"): only the
        # dates need words, which keeps the tab narrow enough for a small window
        bar.addWidget(self.range_combo)
        for label_text, widget in (("from", self.from_edit), ("to", self.to_edit)):
            label = QLabel(label_text, self)
            label.setBuddy(widget)
            bar.addWidget(label)
            bar.addWidget(widget)
        bar.addSpacing(8)
        bar.addWidget(self.bucket_combo)
        bar.addWidget(self.mode_combo)
        bar.addWidget(self.entry_combo)
        bar.addStretch(1)
        bar.addWidget(self.fit_button)
        bar.addWidget(self.export_button)

        self.message = QLabel(self)
        self.message.setObjectName("usageMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(
            "QLabel { background: #FFF3E0; color: #5D4037; padding: 6px; border-radius: 4px; }")
        self.message.setVisible(False)

        self.chart = UsageChart(self)
        self.chart.setMinimumSize(320, 240)
        self.legend = Legend(self)
        set_control(self.legend, "usageLegend",
                 "Entries in the chart: uncheck one to hide it, check it to show it again",
                 "Legend")
        self.legend.setFlow(QListView.Flow.LeftToRight)
        self.legend.setWrapping(True)
        self.legend.setResizeMode(QListView.ResizeMode.Adjust)
        self.legend.setSpacing(2)
        self.legend.setIconSize(QSize(16, 16))
        self.legend.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.legend.setFrameShape(QListWidget.Shape.NoFrame)
        self.legend.itemChanged.connect(self._on_legend_changed)
        self.chart_pane = QWidget(self)
        self.chart_pane.setObjectName("usageChartPane")
        left = QVBoxLayout(self.chart_pane)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.chart, 1)
        left.addWidget(self.legend)

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
        # Sized by `_fit_columns`, not ResizeToContents: that re-measured every row of every
        # column (in Python, through the model) on each live change, 5 ms per commit.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(40)
        header.setResizeContentsPrecision(RESIZE_PRECISION)
        self.summary.selectionModel().selectionChanged.connect(self._on_row_selected)
        self._resize_watch = _ResizeWatch(self.summary.viewport(), self._fit_entry_column)
        self.summary_title = QLabel(self)
        self.summary_title.setObjectName("usageSummaryTitle")
        self.summary_title.setTextFormat(Qt.TextFormat.PlainText)
        self.summary_title.setWordWrap(True)
        self.limits_note = QLabel(self)
        self.limits_note.setObjectName("usageLimits")
        self.limits_note.setTextFormat(Qt.TextFormat.PlainText)
        self.limits_note.setWordWrap(True)
        table_pane = QWidget(self)
        table_col = QVBoxLayout(table_pane)
        table_col.setContentsMargins(0, 0, 0, 0)
        table_col.addWidget(self.summary_title)
        table_col.addWidget(self.summary, 1)
        table_col.addWidget(self.limits_note)

        # The table below the chart, the window's whole width: eleven columns of figures
        # do not fit beside a chart at 1280×800 (a horizontal scrollbar hid "Today").
        # A new name: a horizontal splitter's saved state would bring its orientation back.
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("usageChartOverTable")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.chart_pane)
        self.splitter.addWidget(table_pane)
        self.splitter.setStretchFactor(0, 1)  # a taller window gives the chart the room
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([440, 260])

        content = QWidget(self)
        col = QVBoxLayout(content)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(bar)
        col.addWidget(self.message)
        col.addWidget(self.splitter, 1)
        self.empty = QLabel(self)
        self.empty.setObjectName("usageEmpty")
        self.empty.setTextFormat(Qt.TextFormat.PlainText)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("QLabel { font-size: 14px; padding: 40px; }")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(content)
        self.stack.addWidget(self.empty)
        outer = QVBoxLayout(self)
        outer.addWidget(self.stack)

        self.range_combo.currentIndexChanged.connect(self._on_range_chosen)
        self.from_edit.dateChanged.connect(self._on_custom_dates)
        self.to_edit.dateChanged.connect(self._on_custom_dates)
        self.bucket_combo.currentIndexChanged.connect(lambda _i: self._apply(keep_view=True))
        self.mode_combo.currentIndexChanged.connect(self._on_mode)
        self.entry_combo.currentIndexChanged.connect(self._on_mode)
        self.fit_button.clicked.connect(self.chart.fit)
        self._rebucket = QTimer(self)
        self._rebucket.setSingleShot(True)
        self._rebucket.setInterval(60)
        self._rebucket.timeout.connect(self._check_auto_bucket)
        self.chart.vb.sigXRangeChanged.connect(lambda *_a: self._rebucket.start())
        self._show_dates(preset_range(Preset.MONTH, self._today()))
        self._update_limits_note()

    # --- reading --------------------------------------------------------------------------

    @property
    def preset(self) -> Preset | None:
        """The chosen preset, or None for a custom range."""
        value = self.range_combo.currentData()
        return Preset(value) if value is not None else None

    def custom_range(self) -> DayRange:
        """The days of the From/To fields (capped to `MAX_RANGE_DAYS`)."""
        rng = DayRange.from_dates(self.from_edit.date().toPython(),  # type: ignore[arg-type]
                                  self.to_edit.date().toPython())  # type: ignore[arg-type]
        if rng.days > MAX_RANGE_DAYS:
            rng = DayRange(rng.last - MAX_RANGE_DAYS + 1, rng.last)
        return rng

    def reload(self, *, keep_view: bool = False, wait: bool = False) -> None:
        """Read the whole range again, in the worker pool (or here with `wait`)."""
        store = self._db.store
        if store is None:
            return
        self._gen += 1
        gen = self._gen
        preset, today = self.preset, self._today()
        custom = self.custom_range() if preset is None else None
        self._loading = True
        self._reconcile.stop()

        def load(_report: Callable[[int, int], None]) -> Loaded:
            return read_usage(store, preset, custom, today)

        if wait:
            try:
                result = load(lambda _a, _b: None)
            except StoreError as exc:
                self._on_load_error(gen, str(exc))
                return
            self._on_loaded(gen, keep_view, result)
        else:
            workers.start(load, lambda r: self._on_loaded(gen, keep_view, r),
                          lambda msg: self._on_load_error(gen, msg))

    def _on_loaded(self, gen: int, keep_view: bool, result: object) -> None:
        if gen != self._gen or not isinstance(result, Loaded):
            return
        self._loading = False
        before = (self.daily, self._today_usage, self._known, self._weeks)
        self.daily, self._today_usage, self._known = (result.daily, result.today_usage,
                                                      result.known)
        self._weeks = result.weeks
        store = self._db.store
        if self._pending and store is not None:
            # changes arrived while reading: the newest days win over what was read
            self._overlay_recent(store)
        if self.preset is not None:
            self._show_dates(result.daily.range)
        if before != (self.daily, self._today_usage, self._known, self._weeks):
            self._apply(keep_view=keep_view)
        if self._pending:
            self._pending = False
            self._reconcile.start()
        self.dataApplied.emit()

    def _on_load_error(self, gen: int, message: str) -> None:
        if gen != self._gen:
            return
        self._loading = False
        if self._db.store is not None:  # the database itself reports its own failures
            self._set_message(f"Cannot read usage: {message}")

    # --- database signals -------------------------------------------------------------------

    def _on_opened(self) -> None:
        self.stack.setCurrentIndex(0)
        self.daily = None
        self._set_message("")
        self._on_state_changed()
        self.reload(keep_view=False)

    def _on_failed(self, message: str) -> None:
        self._gen += 1  # drop reads in flight
        self._loading = False
        self._reconcile.stop()
        self._show_empty(f"Cannot show usage: {message}")

    def _show_empty(self, text: str) -> None:
        self.empty.setText(text)
        self.stack.setCurrentIndex(1)

    def _on_changed(self) -> None:
        """Another connection committed: re-read yesterday and today now, the rest later.

        A hidden tab reads once when shown instead (`WhenShown`).
        """
        store = self._db.store
        if store is None:
            return
        if self.later_if_hidden(self._catch_up):
            return
        if self._loading:
            self._pending = True  # the read in flight may predate this commit
        if self.daily is None:
            return
        today = self._today()
        preset = self.preset
        rng = self.daily.range
        if (preset is Preset.ALL and day_number(today) > rng.last) or (
                preset not in (None, Preset.ALL) and preset_range(preset, today) != rng):
            self.reload(keep_view=True)  # the day changed: the range moves with it
            return
        if not self._overlay_recent(store):
            return  # the database reports its own failure
        self._apply(keep_view=True)
        if not self._loading:
            self._reconcile.start()
        self.dataApplied.emit()

    def _catch_up(self) -> None:
        """Read the whole range again, keeping the user's range and zoom."""
        self.reload(keep_view=True)

    def _on_reconcile(self) -> None:
        if not self.later_if_hidden(self._catch_up):
            self._catch_up()

    def _overlay_recent(self, store: SqliteStore) -> bool:
        """Swap a fresh read of yesterday and today into the data (a few rows, ~1 ms).

        The service only ever adds usage to the current day (and the previous one around
        midnight); anything older is caught by the reconciling full read.
        """
        assert self.daily is not None
        today = self._today()
        recent = DayRange(max(1, day_number(today) - 1), day_number(today))
        try:
            records = store.usage_between(recent.start, recent.end)
        except StoreError:
            return False
        self.daily = self.daily.replace_days(records, recent)
        if self._weeks is not None:  # this week's figures follow the service too
            self._weeks = self._weeks.replace_days(records, recent)
        if today not in self.daily.range:
            self._today_usage = {r.entry_id: r.seconds for r in records if r.day == today}
        self._known |= {r.entry_id for r in records}
        return True

    def _policy_quotas(self) -> dict[str, int]:
        policy = self._db.policy
        if policy is None:
            return {}
        return {e.id: e.daily_quota_seconds for e in policy.entries.values()
                if e.daily_quota_seconds}

    def _on_state_changed(self) -> None:
        """Labels or the policy may have changed (this also fires with every change)."""
        labels, quotas = dict(self._db.labels), self._policy_quotas()
        if labels == self._labels and quotas == self._quotas:
            return
        self._labels, self._quotas = labels, quotas
        self._update_limits_note()
        if self.daily is not None:
            self._apply(keep_view=True)

    # --- laying out -----------------------------------------------------------------------------

    @property
    def bucket(self) -> Bucket:
        """The bar length to use: the choice, or Auto's pick for the days in view.

        Auto follows the zoom: a year shows weeks, zoomed in on a month it shows days.
        """
        choice = self.bucket_combo.currentData()
        if choice is not None:
            return Bucket(choice)
        if self.daily is None:
            return Bucket.DAY
        days = self.daily.range.days
        if self.chart.user_zoomed:
            visible = self.chart.visible_days()
            days = visible.days if visible is not None else days
        return auto_bucket(days)

    def _check_auto_bucket(self) -> None:
        """After a zoom, re-group the bars if Auto now picks another bar length."""
        if self.daily is not None and self.bucket is not self.chart.bucket:
            self._apply(keep_view=True)

    def _apply(self, *, keep_view: bool) -> None:
        """Lay the current data out: chart, legend, entry list, table, messages."""
        daily = self.daily
        if daily is None:
            return
        bucket = self.bucket
        bars = daily.bucketed(bucket)
        hit_days = quota_hit_days(daily, self._quotas)
        hits = {e: count_per_span(days, bars.spans) for e, days in hit_days.items()}
        over = (bucket_like(over_limit(daily, self._quotas), bars).seconds if self._quotas
                else {})
        drawn, rest = split_entries(daily)
        # the drawn ones keep the colours they had (ColorBook); the rest are "Other"'s grey
        colors = dict.fromkeys(rest, OTHER_COLOR) | self._color_book.assign(drawn)
        self._save_colors()
        self._colors = colors
        self.chart.set_data(bars, daily.range, colors=colors, labels=self._labels,
                            quotas=self._quotas, hits=hits, drawn=drawn, over=over)
        self._update_legend(drawn, len(rest))
        single = self.entry_combo.currentData()
        self._update_entry_combo(drawn + ([single] if single in rest else []))
        self._on_mode()
        today = self._today()
        summaries = summarize(daily, today, today_usage=self._today_usage,
                              quotas=self._quotas)
        weeks = self._week_figures(today)
        self._update_table([SummaryRow(r, weeks.get(r.entry_id, NO_WEEKS)) for r in summaries])
        if not keep_view or not self.chart.user_zoomed:
            self.chart.fit()
        else:
            self.chart.update_limits()
        rng = daily.range
        self.summary_title.setText(
            f"Totals for {rng} ({rng.days} day{'s' if rng.days != 1 else ''}) · weeks: "
            f"this week ({self.model.weekdays}) against the same days of last week")
        if not any(any(v) for v in daily.seconds.values()):
            text = (f"No usage was recorded from {format_day(rng.start)} to "
                    f"{format_day(rng.end)}." if rng.days > 1 else
                    f"No usage was recorded on {format_day(rng.start)}.")
            if self.preset is not Preset.ALL:
                text += " “Everything” shows every day that has usage."
            self._set_message(text)
        else:
            self._set_message("")

    def _week_figures(self, today: date) -> dict[str, WeekComparison]:
        """This week against last week per entry, from the range or the weeks' own read."""
        self.model.weekdays = week_window(today).weekdays
        for source in (self.daily, self._weeks):
            if source is not None:
                with contextlib.suppress(ValueError):  # does not hold both weeks
                    return compare_weeks(source, today)
        return {}

    def _save_colors(self) -> None:
        """Remember the entries' colours (for the next window and the next run)."""
        if self._color_book.dirty:
            self._color_book.dirty = False
            self._settings.setValue(COLORS_KEY, self._color_book.to_json())

    def _set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _update_limits_note(self) -> None:
        """Where the limits come from (the policy file by name; the full path in the tooltip)
        and how the chart draws them."""
        policy = self._db.policy
        if policy is None:
            text = ("No daily limits shown: open the service's policy file (File ▸ Open "
                    "Policy File… or --config) to draw each entry's limit.")
            tip = ""
        else:
            name = Path(policy.path).name or policy.path
            tip = plain_tip(f"Policy file: {policy.path}")
            text = (f"Daily limits from the policy file {name}: a thick tick in an entry's "
                    "colour marks its limit on its own bar; the hatched part above it is "
                    "time over the limit." if self._quotas else
                    f"The policy file {name} sets no daily limits.")
        self.limits_note.setText(text)
        self.limits_note.setToolTip(tip)
        self._show_columns()
        self._fit_entry_column()

    def _show_columns(self) -> None:
        """Every column, the limit ones only with limits. (Also after the window restored a
        header saved by an older version, whose hidden columns 6 and 7 were the limits.)"""
        for column in range(1, len(COLUMNS)):
            hide = column in LIMIT_COLUMNS and not self._quotas
            if self.summary.isColumnHidden(column) != hide:
                self.summary.setColumnHidden(column, hide)

    def _name(self, entry: str) -> str:
        return self._labels.get(entry) or entry

    def _update_legend(self, entries: list[str], others: int) -> None:
        """One item per drawn entry, by id, then "Other (N entries)" when some are summed."""
        self.legend.blockSignals(True)
        keep = set(entries)
        for entry in list(self._legend_items):
            if entry not in keep:
                item = self._legend_items.pop(entry)
                self.legend.takeItem(self.legend.row(item))
        if others and self._other_item is None:
            self._other_item = QListWidgetItem(swatch(OTHER_COLOR), "")
            self._other_item.setFlags(Qt.ItemFlag.ItemIsEnabled
                                      | Qt.ItemFlag.ItemIsUserCheckable)
            self._other_item.setCheckState(Qt.CheckState.Checked)
            # after the entries, before "over the daily limit" and the average
            self.legend.insertItem(self.legend.count() - len(self._extra_items),
                                   self._other_item)
        elif not others and self._other_item is not None:
            self.legend.takeItem(self.legend.row(self._other_item))
            self._other_item = None
        if self._other_item is not None:
            self._other_item.setText(self.chart.label(None))
            self._other_item.setToolTip(
                f"The {others} entries beyond the {len(entries)} with the most usage, "
                "summed. Select one in the table and choose “One entry” to see it alone.")
            state = Qt.CheckState.Unchecked if None in self._hidden else Qt.CheckState.Checked
            if self._other_item.checkState() != state:
                self._other_item.setCheckState(state)
        for entry in entries:
            found = self._legend_items.get(entry)
            if found is None:
                item = QListWidgetItem()
                item.setData(ENTRY_ROLE, entry)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                self._legend_items[entry] = item
                self.legend.insertItem(sorted(self._legend_items).index(entry), item)
            else:
                item = found
            name, color = self._name(entry), self._colors.get(entry, "#7F7F7F")
            if item.text() != name:
                item.setText(name)
                item.setToolTip(plain_tip(entry_display(entry, self._labels)))
            if item.data(Qt.ItemDataRole.UserRole) != color:
                item.setData(Qt.ItemDataRole.UserRole, color)
                item.setIcon(swatch(color))
            state = Qt.CheckState.Unchecked if entry in self._hidden else Qt.CheckState.Checked
            if item.checkState() != state:
                item.setCheckState(state)
        self.legend.blockSignals(False)
        self._update_legend_extras()

    def _update_legend_extras(self) -> None:
        """The legend's last rows: "over the daily limit" when a drawn entry has a limit,
        and the average line with its figure when the chart draws it."""
        texts = {kind: text for kind, text, _c in self.chart.legend_rows() if kind != "entry"}
        self.legend.blockSignals(True)
        for kind in ("over", "average"):
            item = self._extra_items.get(kind)
            text = texts.get(kind)
            if text is None:
                if item is not None:
                    self.legend.takeItem(self.legend.row(item))
                    del self._extra_items[kind]
                continue
            if item is None:
                fg = self.palette().color(QPalette.ColorRole.Text)
                item = QListWidgetItem(symbol_icon(kind, fg, 16), text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                item.setData(LEGEND_EXTRA_ROLE, kind)
                item.setToolTip(
                    "The part of an entry's bar beyond its daily limit is hatched; the "
                    "thick tick in the entry's colour is its limit, drawn on the bars on "
                    "which it was reached." if kind == "over" else
                    "The dashed line: the average per day over the whole range of what the "
                    "chart stacks (days without usage count); a week or month bar shows "
                    "it for its number of days. Not drawn side by side.")
                row = self.legend.count()
                if kind == "over" and "average" in self._extra_items:
                    row = self.legend.row(self._extra_items["average"])
                self.legend.insertItem(row, item)
                self._extra_items[kind] = item
            elif item.text() != text:
                item.setText(text)
        self.legend.blockSignals(False)
        self._fit_legend_height()

    def _fit_legend_height(self) -> None:
        self.legend.fit_height()

    def _on_legend_changed(self, item: QListWidgetItem) -> None:
        if item.data(LEGEND_EXTRA_ROLE) is not None:
            return  # "over the daily limit" and the average explain; they do not hide
        entry = item.data(ENTRY_ROLE)  # None for the "Other" item
        if item.checkState() == Qt.CheckState.Checked:
            self._hidden.discard(entry)
        else:
            self._hidden.add(entry)
        self.chart.set_hidden(self._hidden)
        self._update_legend_extras()

    def set_entry_visible(self, entry: str, visible: bool) -> None:
        """Show or hide one entry (what the legend's check box does)."""
        item = self._legend_items.get(entry)
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)

    def _update_entry_combo(self, entries: list[str]) -> None:
        """The "One entry" list: each entry whole ("Label (id)") in its colour."""
        combo = self.entry_combo
        wanted = [(entry_display(e, self._labels), e, self._colors.get(e, OTHER_COLOR))
                  for e in entries]
        if wanted == self._combo_items:
            return
        self._combo_items = wanted
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for text, entry, color in wanted:
            self._add_combo_entry(text, entry, color)
        index = combo.findData(current)
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def _add_combo_entry(self, text: str, entry: str, color: str) -> None:
        combo = self.entry_combo
        combo.addItem(swatch(color), text, entry)
        combo.setItemData(combo.count() - 1, plain_tip(text), Qt.ItemDataRole.ToolTipRole)
        # the list opens as wide as its longest entry, even when the box is narrower
        view = combo.view()
        view.setMinimumWidth(min(view.sizeHintForColumn(0) + 24, 4 * ENTRY_COMBO_MAX))

    def _on_mode(self, *_args: object) -> None:
        mode = Mode(self.mode_combo.currentData())
        self.entry_combo.setEnabled(mode is Mode.SINGLE)
        single = self.entry_combo.currentData()
        self.chart.set_mode(mode, single if mode is Mode.SINGLE else None)
        self._update_legend_extras()
        self.entry_combo.setToolTip(plain_tip(
            "The entry shown in “One entry” mode" + (
                f": {entry_display(single, self._labels)}" if single else "")))

    def _on_row_selected(self, *_args: object) -> None:
        rows = self.summary.selectionModel().selectedRows(0)
        if not rows:
            return
        entry = rows[0].data(ENTRY_ROLE)
        index = self.entry_combo.findData(entry)
        if index < 0:  # summed in "Other": the list names only the drawn entries
            self._add_combo_entry(entry_display(entry, self._labels), entry,
                                  self._colors.get(entry, OTHER_COLOR))
            index = self.entry_combo.count() - 1
        if index != self.entry_combo.currentIndex():
            self.entry_combo.setCurrentIndex(index)

    def selected_entry(self) -> str | None:
        """The entry of the selected summary row, if any."""
        rows = self.summary.selectionModel().selectedRows(0)
        return str(rows[0].data(ENTRY_ROLE)) if rows else None

    def select_entry(self, entry: str) -> None:
        """Select the summary row of `entry`."""
        index = self.row_index(entry)
        if not index.isValid():
            return
        self.summary.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.summary.scrollTo(index)

    def _update_table(self, rows: list[EntrySummary]) -> None:
        """New figures for the summary (keeps the sort order, selection and scroll)."""
        self._show_columns()
        selected = self.selected_entry()
        scroll = self.summary.verticalScrollBar().value()
        renamed = self._labels != self.model.labels
        if self.model.set_summaries(rows, self._labels, self._colors):
            self.summary.verticalScrollBar().setValue(scroll)  # after a reset: put them back
            if selected is not None:
                self.select_entry(selected)
        elif not renamed:
            self._widen_for(self.model.changed_ids)  # new figures in a few rows
            return
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Every figure column as wide as its texts, the entry column in the room left."""
        self._entry_width = self.summary.sizeHintForColumn(0)
        for column in range(1, len(COLUMNS)):
            self.summary.resizeColumnToContents(column)
        self._fit_entry_column()

    def _fit_entry_column(self) -> None:
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
            self._fit_entry_column()

    def summary_row(self, entry: str) -> list[str]:
        """The texts of `entry`'s summary row (for tests and the command line's checks)."""
        return self.model.texts(entry)

    # --- controls ---------------------------------------------------------------------------------

    def _show_dates(self, rng: DayRange) -> None:
        for edit, day in ((self.from_edit, rng.start), (self.to_edit, rng.end)):
            edit.blockSignals(True)
            edit.setDate(QDate(day.year, day.month, day.day))
            edit.blockSignals(False)

    def _on_range_chosen(self, _index: int) -> None:
        preset = self.preset
        if preset is not None and preset is not Preset.ALL:
            self._show_dates(preset_range(preset, self._today()))
        self.reload(keep_view=False)

    def _on_custom_dates(self, *_args: object) -> None:
        if self.preset is not None:
            self.range_combo.blockSignals(True)
            self.range_combo.setCurrentIndex(len(RANGES) - 1)
            self.range_combo.blockSignals(False)
        self._custom_timer.start()

    def set_range(self, preset: Preset | None, custom: DayRange | None = None) -> None:
        """Choose a preset, or a custom range (read at once; results arrive via the pool)."""
        if custom is not None:
            self._show_dates(custom)
        index = next(i for i, (_t, p) in enumerate(RANGES) if p == preset)
        if index == self.range_combo.currentIndex():
            self.reload(keep_view=False)
        else:
            self.range_combo.setCurrentIndex(index)

    # --- exports ---------------------------------------------------------------------------

    def _default_name(self, suffix: str) -> str:
        rng = self.daily.range if self.daily else preset_range(Preset.MONTH, self._today())
        return str(Path.home() / f"shepherd-usage-{format_day(rng.start)}-"
                                 f"{format_day(rng.end)}.{suffix}")

    def _ask(self, title: str, suffix: str, filt: str, save: Callable[[Path], None]) -> None:
        path, _ = QFileDialog.getSaveFileName(self, title, self._default_name(suffix), filt)
        if not path:
            return
        try:
            save(Path(path))
        except OSError as exc:
            self._set_message(f"Could not save {path}: {exc.strerror or exc}")

    def _ask_png(self) -> None:
        self._ask("Save the chart as PNG", "png", "PNG images (*.png)", self.export_png)

    def _ask_svg(self) -> None:
        self._ask("Save the chart as SVG", "svg", "SVG images (*.svg)", self.export_svg)

    def _ask_csv(self) -> None:
        self._ask("Save the chart's data as CSV", "csv", "CSV files (*.csv)", self.export_csv)

    def export_png(self, path: str | Path) -> None:
        """Save the chart and a legend of the entries shown as a PNG (at twice the screen
        resolution); raises OSError on failure."""
        save_png(self.chart, path)

    def export_svg(self, path: str | Path) -> None:
        """Save the chart and its legend as an SVG (vector) image; raises OSError on failure."""
        save_svg(self.chart, path, None if self.daily is None
                 else f"Usage per entry, {self.daily.range}")

    def export_csv(self, path: str | Path) -> None:
        """Save the data behind the chart: one row per entry per day of the range."""
        if self.daily is None:
            raise OSError("no usage has been read yet")
        with open(path, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(csv_rows(self.daily, self._labels, self._quotas))

    # --- for tests and tools -----------------------------------------------------------------

    def row_index(self, entry: str) -> QModelIndex:
        """The view index of `entry`'s summary row (invalid if none)."""
        row = self.model.row_of(entry)
        return self.model.index(row, 0) if row is not None else QModelIndex()
