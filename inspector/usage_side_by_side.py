"""Usage side by side (issue #17): every open database's usage in one view, one chart per
database, so a parent compares the children's computers at a glance.

Every chart shows the same days (Today, This week, Last 7 or 30 days) on the same y scale,
so a bar twice as tall is twice the play whichever computer it is on. Each is the Usage
tab's chart (`UsageChart`, stacked, each entry's limit from that database's policy drawn
as in the tab) titled with the database's name and its total. An entry has the same colour
in every chart (the Usage tab's remembered colours first). Each database is read in the
worker pool (a remote one's reads are round trips), again after each of its commits
(`workers.Reloader`: a burst of commits costs one more read), and once when the view is
shown after commits it did not show. What is read and drawn is the Usage tab's
(`usage_data.chart_figures`, `policy_quotas`), so the figures are the tab's figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QPalette, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from shepherd_store import SqliteStore
from shepherd_store.usage import (
    Bucket,
    DailyUsage,
    DayRange,
    Preset,
    auto_bucket,
    preset_range,
    split_entries,
)
from shepherd_store.usage_compare import week_window

from .database import Database
from .formatting import format_duration
from .usage_bars import Mode
from .usage_chart import UsageChart
from .usage_data import chart_figures, policy_quotas
from .usage_legend import Legend
from .usage_tab import COLORS_KEY
from .usage_view_state import OTHER_COLOR, ColorBook
from .widgets import WhenShown, plain_label, plain_tip, set_control
from .workers import Reloader

__all__ = ["RANGES", "SharedScaleChart", "UsagePanel", "UsageSideBySide", "read_range",
           "side_range"]

#: The ranges offered: (text, key).
RANGES = (("Today", "today"), ("This week", "week"), ("Last 7 days", "7d"),
          ("Last 30 days", "30d"))
RANGE_KEY = "usageSideBySide/range"  # QSettings: the range chosen last
DAY_CHECK_MS = 60_000  # how often the view looks whether the day (and its range) moved


def side_range(key: str, today: date) -> DayRange:
    """The days a range choice (`RANGES`) means on `today`."""
    if key == "today":
        return DayRange.from_dates(today, today)
    if key == "week":
        return week_window(today).this
    return preset_range(Preset.MONTH if key == "30d" else Preset.WEEK, today)


def read_range(store: SqliteStore, rng: DayRange) -> DailyUsage:
    """The usage of every entry on the days of `rng` (one bounded read, in a worker)."""
    return DailyUsage.from_records(store.usage_between(rng.start, rng.end), rng)


class SharedScaleChart(UsageChart):
    """The Usage tab's chart with a y scale it is given (`set_shared_top`), so that charts
    side by side compare honestly; no panning or zooming (the days are the view's)."""

    shared_top: float | None = None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sideBySideChart")
        self.vb.setMouseEnabled(x=False, y=False)

    def data_top(self) -> float:
        """The top of the highest bar, limit tick or average drawn now (seconds)."""
        return float(max(self._tops.max(initial=0), self._caps.max(initial=0)))

    def set_shared_top(self, top: float | None) -> None:
        if top != self.shared_top:
            self.shared_top = top
            self._fit_y()

    def _fit_y(self) -> None:
        if self.shared_top is None:
            super()._fit_y()
        else:
            self.vb.setYRange(0, max(self.shared_top * 1.08, 600.0), padding=0)


class UsagePanel(WhenShown):
    """One database's chart in the view: its name and total, the chart, its legend, and
    a line saying why nothing is drawn (connecting, cannot read, no usage)."""

    #: A read arrived (`daily` is new) or the labels or limits changed: lay out again.
    changed = Signal()

    def __init__(self, db: Database, name: str, days: Callable[[], DayRange],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sideBySidePanel")
        self.db = db
        self.name = name
        self._days = days
        #: The usage read last (None before the first read).
        self.daily: DailyUsage | None = None
        self.labels: dict[str, str] = dict(db.labels)
        self.quotas: dict[str, int] = policy_quotas(db.policy)
        self.title = plain_label(self, "sideBySideTitle")
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.total = plain_label(self, "sideBySideTotal")
        self.total.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.message = plain_label(self, "sideBySideMessage")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.chart = SharedScaleChart(self)
        self.chart.setMinimumSize(240, 200)
        self.legend = Legend(self)
        self.legend.hiddenChanged.connect(self._on_hidden)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.total)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(head)
        box.addWidget(self.message)
        box.addWidget(self.chart, 1)
        box.addWidget(self.legend)
        self._reader = Reloader(self._job, self._on_read, self._on_error)
        #: Why the chart may be missing or stale (connecting, cannot read), if anything.
        self._problem: str | None = None
        db.opened.connect(self._on_opened)
        db.changed.connect(self.request)
        db.failed.connect(self._on_failed)
        db.stateChanged.connect(self._on_state)
        db.connectionChanged.connect(self._on_connection)
        self.set_name(name)
        if db.store is None:
            self._problem = (f"Cannot read this database: {db.error}" if db.error else
                             None if db.remote is not None else "No database is open here.")
        self._on_connection()

    def set_name(self, name: str) -> None:
        self.name = name
        self.title.setText(name)
        self.title.setToolTip(plain_tip(self.db.location or name))

    # --- reading ------------------------------------------------------------------------------

    def request(self) -> None:
        """Read the view's days again (once shown, when hidden now)."""
        if not self.later_if_hidden(self.request):
            self._reader.request()

    def _job(self) -> Callable[[], object] | None:
        store = self.db.store
        if store is None:
            return None
        days = self._days()
        return lambda: read_range(store, days)  # type: ignore[arg-type]

    def _on_opened(self) -> None:
        self._set_problem(None)
        self.request()

    def _on_read(self, result: object) -> None:
        if isinstance(result, DailyUsage):
            self.daily = result
            self._set_problem(None)
            self.changed.emit()

    def _on_error(self, message: str) -> None:
        if self.db.store is not None:  # (the database reports its own failures)
            self._set_problem(f"Cannot read usage: {message}")

    def _on_failed(self, message: str) -> None:
        self._reader.cancel()
        self._set_problem(f"Cannot read this database: {message}")

    def _on_state(self) -> None:
        labels, quotas = dict(self.db.labels), policy_quotas(self.db.policy)
        if (labels, quotas) != (self.labels, self.quotas):
            self.labels, self.quotas = labels, quotas
            self.changed.emit()

    def _on_connection(self) -> None:
        remote = self.db.remote
        if remote is None:
            self._set_problem(self._problem)
        elif remote.state == "connecting":
            self._set_problem(f"Connecting to {remote.host}…")
        elif remote.state in ("reconnecting", "failed"):
            self._set_problem(f"Not connected to {remote.host}: " + (
                "the chart shows what was read last." if self.daily is not None
                else "nothing could be read yet."))
        elif self._problem is not None and self._problem.startswith(("Connecting",
                                                                       "Not connected")):
            self._set_problem(None)

    def _set_problem(self, problem: str | None) -> None:
        """Say `problem`, or that the days hold no usage, or nothing."""
        self._problem = problem
        text = problem or ""
        if not text and self.daily is not None and not any(
                any(v) for v in self.daily.seconds.values()):
            text = "No usage was recorded on these days."
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # --- laying out ---------------------------------------------------------------------------

    def apply(self, colors: dict[str, str], bucket: Bucket) -> None:
        """Draw what was read, each entry in `colors`, with bars of `bucket`."""
        daily = self.daily
        if daily is None:
            return
        fig = chart_figures(daily, bucket, self.quotas)
        shown = dict.fromkeys(fig.rest, OTHER_COLOR) | {e: colors[e] for e in fig.drawn}
        self.chart.set_data(fig.bars, daily.range, colors=shown, labels=self.labels,
                            quotas=self.quotas, hits=fig.hits, drawn=fig.drawn,
                            over=fig.over)
        self.chart.set_mode(Mode.STACKED)
        self.chart.fit()
        self.legend.set_entries(fig.drawn, len(fig.rest), self.chart.label(None),
                                self.labels, shown)
        self._update_extras()
        total = sum(sum(v) for v in daily.seconds.values())
        self.total.setText(f"{format_duration(total)} in all")
        self._set_problem(self._problem)

    def _on_hidden(self) -> None:
        self.chart.set_hidden(self.legend.hidden)
        self._update_extras()
        self.changed.emit()  # the highest bar may have changed: the shared scale too

    def _update_extras(self) -> None:
        texts = {kind: text for kind, text, _c in self.chart.legend_rows() if kind != "entry"}
        self.legend.set_extras(texts, self.palette().color(QPalette.ColorRole.Text))

    def drawn(self) -> list[str]:
        """The entries this panel draws on their own (not summed into "Other")."""
        return split_entries(self.daily)[0] if self.daily is not None else []


class UsageSideBySide(QWidget):
    """Every open database's usage over the same days on the same scale (see module)."""

    def __init__(self, parent: QWidget | None = None, *,
                 today: Callable[[], date] = date.today,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("usageSideBySide")
        self._today = today
        self._settings = settings if settings is not None else QSettings(
            "Shepherd", "shepherd-inspector")
        self.panels: list[UsagePanel] = []
        heading = QLabel("Usage side by side", self)
        heading.setObjectName("sideBySideHeading")
        font = heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.3)
        heading.setFont(font)
        self.range_combo = QComboBox(self)
        for text, key in RANGES:
            self.range_combo.addItem(text, key)
        chosen = self.range_combo.findData(self._settings.value(RANGE_KEY, "7d"))
        self.range_combo.setCurrentIndex(chosen if chosen >= 0 else 2)
        set_control(self.range_combo, "sideBySideRange",
                    "The days every chart shows, ending today", "Days shown")
        self.note = plain_label(self, "sideBySideNote")
        self.note.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(heading)
        head.addSpacing(12)
        head.addWidget(self.range_combo)
        head.addSpacing(12)
        head.addWidget(self.note, 1)
        self.grid_widget = QWidget(self)
        self.grid = QGridLayout(self.grid_widget)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(10)
        scroll = QScrollArea(self)
        scroll.setObjectName("sideBySideScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.grid_widget)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 6, 6, 0)
        box.addLayout(head)
        box.addWidget(scroll, 1)
        self._days = self.days()
        self._day_timer = QTimer(self)  # the range moves with the day
        self._day_timer.setInterval(DAY_CHECK_MS)
        self._day_timer.timeout.connect(self._check_day)
        self._day_timer.start()
        self.range_combo.currentIndexChanged.connect(self._on_range)
        self._update_note()

    def days(self) -> DayRange:
        """The days every chart shows (the range chosen, ending today)."""
        return side_range(str(self.range_combo.currentData()), self._today())

    def set_range(self, key: str) -> None:
        """Choose a range by its key (`RANGES`): every database is read again."""
        self.range_combo.setCurrentIndex(self.range_combo.findData(key))

    def set_databases(self, databases: Sequence[tuple[str, Database]]) -> None:
        """The databases to show, with their names, in order (panels are kept for the
        databases still there, with what they read)."""
        old = {id(p.db): p for p in self.panels}
        panels = []
        for name, db in databases:
            panel = old.pop(id(db), None)
            if panel is None:
                panel = UsagePanel(db, name, lambda: self._days, self.grid_widget)
                panel.changed.connect(self._apply_all)
                panel.request()
            panel.set_name(name)
            panels.append(panel)
        for panel in old.values():
            panel.deleteLater()
        self.panels = panels
        self._lay_out()
        self._apply_all()

    def panel_of(self, db: Database) -> UsagePanel | None:
        return next((p for p in self.panels if p.db is db), None)

    def _lay_out(self) -> None:
        """Two or three databases in one row; four in two; more in rows of three."""
        for panel in self.panels:
            self.grid.removeWidget(panel)
        n = len(self.panels)
        columns = n if n <= 3 else (2 if n == 4 else 3)
        for i, panel in enumerate(self.panels):
            self.grid.addWidget(panel, i // max(columns, 1), i % max(columns, 1))
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        rows = -(-n // max(columns, 1))
        for r in range(self.grid.rowCount()):
            self.grid.setRowStretch(r, 1 if r < rows else 0)
        for panel in self.panels:
            panel.setMinimumHeight(300 if rows > 1 else 0)
        self._update_note()

    def _update_note(self) -> None:
        self.note.setText(f"{self._days}: the same days on the same scale in every chart; "
                          "each entry's daily limit from its database's policy file")

    # --- reading and drawing ---------------------------------------------------------------

    def _on_range(self, _index: int) -> None:
        self._settings.setValue(RANGE_KEY, self.range_combo.currentData())
        self.reload()

    def reload(self) -> None:
        """Read every database again (the range or the day changed)."""
        self._days = self.days()
        self._update_note()
        for panel in self.panels:
            panel.daily = None
            panel.request()

    def _check_day(self) -> None:
        if self.days() != self._days:
            self.reload()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._check_day()

    def _apply_all(self) -> None:
        """Lay every panel out with the same colours per entry and the same y scale."""
        loaded = [p for p in self.panels if p.daily is not None and p.daily.range == self._days]
        if not loaded:
            return
        shown = sorted({e for p in loaded for e in p.drawn()})
        book = ColorBook.from_json(self._settings.value(COLORS_KEY, ""))
        colors = book.assign(shown)  # (the Usage tab's colours, not saved from here)
        bucket = auto_bucket(self._days.days)
        for panel in loaded:
            panel.apply(colors, bucket)
        top = max(p.chart.data_top() for p in loaded)
        for panel in loaded:
            panel.chart.set_shared_top(top)

    @property
    def shared_top(self) -> float | None:
        """The y scale's top every chart shares (seconds; None before any read)."""
        return self.panels[0].chart.shared_top if self.panels else None
