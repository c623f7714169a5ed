"""The Usage tab: usage per entry per day as a chart, a legend and a summary table.

Reads go through the database's read-only store. A full read (open, range change, and a
reconciling re-read after live changes) runs in the worker pool; a live change first
re-reads only yesterday and today on the GUI thread (a few rows, about a millisecond), so
the chart follows the service at once and never loses the user's range, zoom, selection
or hidden entries. The aggregation itself is `shepherd_store.usage` (pure, tested without
Qt); this module only lays it out, in parts of their own: the reading (`usage_reading`),
the control bar (`usage_controls`), the chart (`usage_chart`) and its legend
(`usage_legend`), the summary pane (`usage_summary_pane`) and the exports (`usage_export`).
What is read and the figures laid out are `usage_data` (pure).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from PySide6.QtCore import QModelIndex, QSettings, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from shepherd_store.usage import Bucket, DayRange, Preset, auto_bucket, preset_range
from shepherd_store.usage_compare import week_window

from .database import Database
from .formatting import entry_display
from .usage_bars import Mode
from .usage_chart import UsageChart
from .usage_controls import ControlBar
from .usage_data import (
    Loaded,
    chart_figures,
    no_usage_text,
    policy_quotas,
    read_usage,
    summary_rows,
    summary_title,
)
from .usage_export import default_path, save_csv, save_png, save_svg
from .usage_legend import Legend
from .usage_reading import UsageReader
from .usage_summary import ENTRY_ROLE
from .usage_summary_pane import SummaryPane
from .usage_view_state import OTHER_COLOR, ColorBook
from .widgets import plain_tip

__all__ = ["Loaded", "UsageTab", "read_usage"]  # the reads: still importable from here

COLORS_KEY = "usage/entryColors"  # QSettings: the colours entries were given (ColorBook)


class UsageTab(UsageReader):
    """Usage per entry per day: range, grouping and mode controls, chart, legend, table."""

    def __init__(self, db: Database, parent: QWidget | None = None, *,
                 today: Callable[[], date] = date.today,
                 settings: QSettings | None = None) -> None:
        super().__init__(db, parent, today)
        self.setObjectName("usageTab")
        self._labels: dict[str, str] = dict(db.labels)
        self._quotas: dict[str, int] = policy_quotas(db.policy)
        self._colors: dict[str, str] = {}
        # colours stay with their entries across live changes and restarts (ColorBook)
        self._settings = settings if settings is not None else QSettings(
            "Shepherd", "shepherd-inspector")
        self._color_book = ColorBook.from_json(self._settings.value(COLORS_KEY, ""))
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
        self.controls = bar = ControlBar(self, lambda: self._today(), (
            ("Chart as PNG…", "usageExportPng", self._ask_png),
            ("Chart as SVG…", "usageExportSvg", self._ask_svg),
            ("Data as CSV…", "usageExportCsv", self._ask_csv)))
        self.range_combo, self.from_edit, self.to_edit = (bar.range_combo, bar.from_edit,
                                                          bar.to_edit)
        self.bucket_combo, self.mode_combo = bar.bucket_combo, bar.mode_combo
        self.entry_combo = bar.entry_combo
        self.fit_button, self.export_button = bar.fit_button, bar.export_button

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
        self.legend.hiddenChanged.connect(self._on_hidden)
        self.chart_pane = QWidget(self)
        self.chart_pane.setObjectName("usageChartPane")
        left = QVBoxLayout(self.chart_pane)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.chart, 1)
        left.addWidget(self.legend)

        self.summary_pane = pane = SummaryPane(self)
        self.model, self.summary = pane.model, pane.summary
        self.summary_title, self.limits_note = pane.title, pane.limits_note
        self.summary.selectionModel().selectionChanged.connect(self._on_row_selected)

        # The table below the chart, the window's whole width: eleven columns of figures
        # do not fit beside a chart at 1280×800 (a horizontal scrollbar hid "Today").
        # A new name: a horizontal splitter's saved state would bring its orientation back.
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("usageChartOverTable")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.chart_pane)
        self.splitter.addWidget(pane)
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

        bar.rangeChosen.connect(lambda: self.reload(keep_view=False))
        self.bucket_combo.currentIndexChanged.connect(lambda _i: self._apply(keep_view=True))
        self.mode_combo.currentIndexChanged.connect(self._on_mode)
        self.entry_combo.currentIndexChanged.connect(self._on_mode)
        self.fit_button.clicked.connect(self.chart.fit)
        self._rebucket = QTimer(self)
        self._rebucket.setSingleShot(True)
        self._rebucket.setInterval(60)
        self._rebucket.timeout.connect(self._check_auto_bucket)
        self.chart.vb.sigXRangeChanged.connect(lambda *_a: self._rebucket.start())
        self._update_limits_note()

    # --- what to read -----------------------------------------------------------------------

    @property
    def preset(self) -> Preset | None:
        """The chosen preset, or None for a custom range."""
        return self.controls.preset

    def custom_range(self) -> DayRange:
        """The days of the From/To fields (capped to `MAX_RANGE_DAYS`)."""
        return self.controls.custom_range()

    # --- database signals -------------------------------------------------------------------

    def _on_opened(self) -> None:
        self.stack.setCurrentIndex(0)
        self._data = None
        self._set_message("")
        self._on_state_changed()
        self.reload(keep_view=False)

    def _show_empty(self, text: str) -> None:
        self.empty.setText(text)
        self.stack.setCurrentIndex(1)

    def _on_state_changed(self) -> None:
        """Labels or the policy may have changed (this also fires with every change)."""
        labels, quotas = dict(self._db.labels), policy_quotas(self._db.policy)
        if labels == self._labels and quotas == self._quotas:
            return
        self._labels, self._quotas = labels, quotas
        self._update_limits_note()
        if self._data is not None:
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
        if self._data is not None and self.bucket is not self.chart.bucket:
            self._apply(keep_view=True)

    def _apply(self, *, keep_view: bool) -> None:
        """Lay the current data out: chart, legend, entry list, table, messages."""
        data = self._data
        if data is None:
            return
        daily = data.daily
        fig = chart_figures(daily, self.bucket, self._quotas)
        # the drawn ones keep the colours they had (ColorBook); the rest are "Other"'s grey
        colors = dict.fromkeys(fig.rest, OTHER_COLOR) | self._color_book.assign(fig.drawn)
        self._save_colors()
        self._colors = colors
        self.chart.set_data(fig.bars, daily.range, colors=colors, labels=self._labels,
                            quotas=self._quotas, hits=fig.hits, drawn=fig.drawn, over=fig.over)
        self.legend.set_entries(fig.drawn, len(fig.rest), self.chart.label(None),
                                self._labels, colors)
        self._update_legend_extras()
        single = self.entry_combo.currentData()
        self._update_entry_combo(fig.drawn + ([single] if single in fig.rest else []))
        self._on_mode()
        today = self._today()
        self.model.weekdays = week_window(today).weekdays
        self.summary_pane.set_rows(summary_rows(data, today, self._quotas), self._labels,
                                   colors, bool(self._quotas))
        if not keep_view or not self.chart.user_zoomed:
            self.chart.fit()
        else:
            self.chart.update_limits()
        self.summary_title.setText(summary_title(daily.range, self.model.weekdays))
        self._set_message(no_usage_text(daily, self.preset))

    def _save_colors(self) -> None:
        """Remember the entries' colours (for the next window and the next run)."""
        if self._color_book.dirty:
            self._color_book.dirty = False
            self._settings.setValue(COLORS_KEY, self._color_book.to_json())

    def _set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _update_limits_note(self) -> None:
        """Where the limits come from, and how the chart draws them (`SummaryPane`)."""
        policy = self._db.policy
        self.summary_pane.set_limits(policy.path if policy is not None else None,
                                     bool(self._quotas))

    # --- legend and the entry shown alone ----------------------------------------------------

    def _update_legend_extras(self) -> None:
        """The legend's last rows: "over the daily limit" when a drawn entry has a limit,
        and the average line with its figure when the chart draws it."""
        texts = {kind: text for kind, text, _c in self.chart.legend_rows() if kind != "entry"}
        self.legend.set_extras(texts, self.palette().color(QPalette.ColorRole.Text))

    def _on_hidden(self) -> None:
        self.chart.set_hidden(self.legend.hidden)
        self._update_legend_extras()

    def set_entry_visible(self, entry: str, visible: bool) -> None:
        """Show or hide one entry (what the legend's check box does)."""
        self.legend.set_entry_visible(entry, visible)

    def _update_entry_combo(self, entries: list[str]) -> None:
        """The "One entry" list: each entry whole ("Label (id)") in its colour."""
        self.entry_combo.set_entries([(entry_display(e, self._labels), e,
                                       self._colors.get(e, OTHER_COLOR)) for e in entries])

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
            self.entry_combo.add_entry(entry_display(entry, self._labels), entry,
                                       self._colors.get(entry, OTHER_COLOR))
            index = self.entry_combo.count() - 1
        if index != self.entry_combo.currentIndex():
            self.entry_combo.setCurrentIndex(index)

    # --- the summary table -------------------------------------------------------------------

    def selected_entry(self) -> str | None:
        """The entry of the selected summary row, if any."""
        return self.summary_pane.selected_entry()

    def select_entry(self, entry: str) -> None:
        """Select the summary row of `entry`."""
        self.summary_pane.select_entry(entry)

    def summary_row(self, entry: str) -> list[str]:
        """The texts of `entry`'s summary row (for tests and the command line's checks)."""
        return self.model.texts(entry)

    def row_index(self, entry: str) -> QModelIndex:
        """The view index of `entry`'s summary row (invalid if none)."""
        return self.summary_pane.row_index(entry)

    # --- controls ---------------------------------------------------------------------------------

    def _show_dates(self, rng: DayRange) -> None:
        self.controls.show_dates(rng)

    def set_range(self, preset: Preset | None, custom: DayRange | None = None) -> None:
        """Choose a preset, or a custom range (read at once; results arrive via the pool)."""
        self.controls.set_range(preset, custom)

    # --- exports ---------------------------------------------------------------------------

    def _ask(self, title: str, suffix: str, filt: str, save: Callable[[Path], None]) -> None:
        rng = self.daily.range if self.daily else preset_range(Preset.MONTH, self._today())
        path, _ = QFileDialog.getSaveFileName(self, title, default_path(rng, suffix), filt)
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
        save_csv(self.daily, self._labels, self._quotas, path)
