"""The usage bar chart: pyqtgraph over calendar day numbers, updated in place.

The x axis is in day numbers (`shepherd_store.usage.day_number`), never timestamps, so a
bar can only ever stand on its own calendar day. Each drawn entry has one `BarGraphItem`
(and, with a daily limit, one for the part of its bars over the limit and one limit item),
created the first time the entry is drawn and afterwards only updated with
`setOpts`/`setData`: rebuilding items leaked memory and one item with per-bar brushes was
5-8x slower (DESIGN.md, "Charts"). Only the busiest entries get items of their own
(`split_entries`); the rest share one "Other" layer, since each item costs the GUI thread
about 2 ms to add and 500 of them froze the window.

Limits are drawn only where they mean something, so that two entries with the same limit
never draw one line on top of the other:

- the part of an entry's bar beyond its daily limit is hatched in a darker tone of its
  colour, and a thick tick in that tone marks where the limit lies inside the entry's own
  bar (stacked: inside its segment, wherever that segment sits in the stack); a day exactly
  at the limit has the tick alone;
- side by side, a tick at the limit over each of the entry's own bars that come near it
  (`NEAR_LIMIT`: far above a short bar, thirty days of ticks were only noise);
- one entry alone, its limit as a line across the chart.

A dashed line is the average per day over the range of what is drawn (stacked: the
entries shown together; one entry: that entry).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import numpy as np
import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QWidget

from shepherd_store.timefmt import format_day
from shepherd_store.usage import Bucket, BucketedUsage, DayRange, Span, day_date, span_index
from shepherd_store.usage_compare import average_per_day

from .formatting import entry_display, format_duration
from .usage_view_state import OTHER_COLOR

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July",
               "August", "September", "October", "November", "December")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BAR_FILL = 0.8  # share of its days a bar covers; the rest is the gap between bars
MIN_VISIBLE_DAYS = 7  # a one-day range is shown with some room around it
MAX_DAY = 3_652_059  # 9999-12-31
TICK_OVERHANG = 0.15  # stacked: a limit tick is this much of the bar's width wider each side
NEAR_LIMIT = 0.5  # side by side: a day bar gets its limit tick from this share of the limit
OVER_TEXT = "over the daily limit"


class Mode(StrEnum):
    """How entries share a bar's place."""

    STACKED = "stacked"
    SIDE_BY_SIDE = "side"
    SINGLE = "single"


# --- axes -------------------------------------------------------------------------------------

class DayAxis(pg.AxisItem):  # type: ignore[misc]
    """Bottom axis over day numbers: day, week, month, quarter or year ticks by zoom.

    The level is chosen so labels never crowd: it depends on pixels per day and the width
    of a label in the axis font. Major ticks are labelled, minor ones are short and bare.
    """

    def __init__(self) -> None:
        super().__init__("bottom")
        self._major_spacing = 0.0
        self._day_style = "month"

    def _widths(self) -> tuple[float, float, float, float]:
        fm = QFontMetricsF(self.style["tickFont"] or self.font())
        return (fm.horizontalAdvance("Wed Sep 30") + 14, fm.horizontalAdvance("Sep 30") + 8,
                fm.horizontalAdvance("30") + 10, fm.horizontalAdvance("2026") + 14)

    def tickValues(self, minVal: float, maxVal: float,
                   size: float) -> list[tuple[float, list[float]]]:
        if not (math.isfinite(minVal) and math.isfinite(maxVal)) or maxVal <= minVal or size <= 0:
            return []
        first = max(1, math.ceil(minVal))  # only days in view: the first one is labelled
        last = min(MAX_DAY, math.floor(maxVal))
        if last < first:
            return []
        ppd = size / (maxVal - minVal)
        wide_w, day_w, number_w, month_w = self._widths()
        levels: list[tuple[float, list[float]]]
        if ppd >= number_w:
            self._day_style = ("weekday" if ppd >= wide_w else
                               "month" if ppd >= day_w else "number")
            # the first label carries the month: start where it fits in the axis
            lead = max(first, math.ceil(minVal + day_w / 2 / ppd))
            levels = [(1.0, _days(lead, last))]
        elif ppd * 7 >= day_w:
            levels = [(7.0, _mondays(first, last))]
            if ppd >= 4:
                levels.append((1.0, _days(first, last)))
        elif ppd * 14 >= day_w:  # every other Monday (fixed ones, so panning keeps them)
            levels = [(14.0, [v for v in _mondays(first, last) if (int(v) // 7) % 2 == 0]),
                      (7.0, _mondays(first, last))]
        elif ppd * 30 >= month_w:
            levels = [(30.0, _month_starts(first, last, 1))]
            if ppd * 7 >= 6:
                levels.append((7.0, _mondays(first, last)))
        elif ppd * 91 >= month_w:
            levels = [(91.0, _month_starts(first, last, 3)),
                      (30.0, _month_starts(first, last, 1))]
        else:
            step = next(k for k in (1, 2, 5, 10, 20, 50, 100, 1000) if ppd * 365 * k >= month_w)
            levels = [(365.0 * step, _year_starts(first, last, step))]
            if ppd * 91 >= 5:
                levels.append((91.0, _month_starts(first, last, 3)))
        self._major_spacing = levels[0][0]
        return levels

    def tickStrings(self, values: list[float], scale: float,
                    spacing: float) -> list[str]:
        if spacing != self._major_spacing:
            return [""] * len(values)
        out = []
        for k, v in enumerate(values):
            d = day_date(round(v))
            if spacing <= 1:
                text = f"{MONTHS[d.month - 1]} {d.day}"
                if self._day_style == "weekday":
                    text = f"{WEEKDAYS[d.weekday()]} {text}"
                elif self._day_style == "number" and d.day != 1 and k != 0:
                    text = str(d.day)
                out.append(text)
            elif spacing <= 14:
                out.append(f"{MONTHS[d.month - 1]} {d.day}")
            elif spacing <= 91:
                out.append(str(d.year) if d.month == 1 else MONTHS[d.month - 1])
            else:
                out.append(str(d.year))
        return out


def _days(first: int, last: int) -> list[float]:
    return [float(n) for n in range(first, last + 1)]


def _mondays(first: int, last: int) -> list[float]:
    start = first + (-day_date(first).weekday()) % 7
    return [float(n) for n in range(start, last + 1, 7)]


def _month_starts(first: int, last: int, every: int) -> list[float]:
    d = day_date(first)
    year, month = d.year, d.month
    out = []
    while True:
        if (month - 1) % every == 0:
            n = d.replace(year=year, month=month, day=1).toordinal()
            if n > last:
                break
            if n >= first:
                out.append(float(n))
        elif d.replace(year=year, month=month, day=1).toordinal() > last:
            break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if year > 9999:
            break
    return out


def _year_starts(first: int, last: int, every: int) -> list[float]:
    y0, y1 = day_date(first).year, day_date(last).year
    out = []
    for year in range(y0 - y0 % every, y1 + 1, every):
        if year >= 1:
            n = day_date(first).replace(year=year, month=1, day=1).toordinal()
            if first <= n <= last:
                out.append(float(n))
    return out


#: Tick steps of the duration axis, in seconds: minutes, then hours.
_STEPS = [60 * m for m in (1, 2, 5, 10, 15, 20, 30)] + [
    3600 * h for h in (1, 2, 3, 4, 6, 12, 24, 48, 100, 200, 500, 1000, 2000, 5000, 10_000)]


class DurationAxis(pg.AxisItem):  # type: ignore[misc]
    """Left axis over seconds, labelled in hours and minutes at whole minute/hour steps."""

    def __init__(self) -> None:
        super().__init__("left")

    def tickValues(self, minVal: float, maxVal: float,
                   size: float) -> list[tuple[float, list[float]]]:
        if not (math.isfinite(minVal) and math.isfinite(maxVal)) or maxVal <= minVal or size <= 0:
            return []
        wanted = max(2.0, size / 60)
        raw = (maxVal - minVal) / wanted
        step = next((s for s in _STEPS if s >= raw), _STEPS[-1])
        if raw > step:  # absurd stored values (years of "usage" in a day): whole multiples
            step = math.ceil(raw / step) * step
        start = math.ceil(minVal / step) * step
        # Counted, never materialised: a corrupt 2**62 s row once made numpy build a
        # 415-billion-element range in every paint (MemoryError, the chart never drew).
        count = min(200, max(0, math.floor((maxVal - start) / step + 1e-6) + 1))
        values = [float(start + i * step) for i in range(count)]
        return [(float(step), values)]

    def tickStrings(self, values: list[float], scale: float,
                    spacing: float) -> list[str]:
        return [duration_tick(v) for v in values]


def duration_tick(seconds: float) -> str:
    """An axis label: `0`, `30 min`, `2 h`, `1 h 30 min`."""
    if seconds <= 0:
        return "0"
    return format_duration(round(seconds)).removesuffix(" 00 min")


# --- how limits and the average look -------------------------------------------------------------

def limit_color(color: str, dark: bool = False) -> QColor:
    """The tone of an entry's colour for its limit tick and line: darker on a light
    background, lighter on a dark one (a tick reaches beyond its bar)."""
    return QColor(color).lighter(150) if dark else QColor(color).darker(170)


def over_brush(color: str) -> QBrush:
    """Hatching for the part of a bar over the limit (drawn on top of the entry's colour):
    a pattern, so its lines stay one pixel apart at any zoom."""
    return QBrush(QColor(color).darker(260), Qt.BrushStyle.BDiagPattern)


def limit_pen(color: str, width: float = 3.0, dark: bool = False) -> QPen:
    pen = pg.mkPen(limit_color(color, dark), width=width)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    return pen


def average_pen(fg: QColor) -> QPen:
    pen = pg.mkPen(fg, width=1.5, style=Qt.PenStyle.CustomDashLine)
    pen.setDashPattern([5.0, 3.0])
    return pen


def paint_over_symbol(painter: QPainter, rect: QRectF, color: str = "#8C8C8C",
                      dark: bool = False) -> None:
    """The legend's "over the daily limit": a bar, hatched above a limit tick."""
    painter.save()
    w, h = rect.width(), rect.height()
    bar = QRectF(rect.left() + w * 0.15, rect.top() + h * 0.05, w * 0.7, h * 0.95)
    limit_y = rect.top() + h * 0.6
    painter.fillRect(bar, QColor(color))
    over = QRectF(bar.left(), bar.top(), bar.width(), limit_y - bar.top())
    painter.setClipRect(over)
    painter.setPen(pg.mkPen(QColor(color).darker(260), width=1))
    step = max(3.0, w / 4)
    x = over.left() - over.height()
    while x < over.right():  # the hatching, drawn: a pattern is too coarse for an icon
        painter.drawLine(QPointF(x, over.bottom()), QPointF(x + over.height(), over.top()))
        x += step
    painter.setClipping(False)
    painter.setPen(limit_pen(color, max(2.0, h / 7), dark))
    painter.drawLine(QPointF(rect.left(), limit_y), QPointF(rect.right(), limit_y))
    painter.restore()


def paint_average_symbol(painter: QPainter, rect: QRectF, fg: QColor) -> None:
    """The legend's average line: dashed, in the text colour."""
    painter.save()
    pen = average_pen(fg)
    pen.setWidthF(2.0)
    pen.setDashPattern([2.0, 1.5])
    painter.setPen(pen)
    y = rect.center().y()
    painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
    painter.restore()


def _segments(x0: np.ndarray, x1: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of separate horizontal segments (x0..x1 at y), split by NaNs (connect=finite)."""
    m = len(y)
    xs = np.full(3 * m, np.nan)
    ys = np.full(3 * m, np.nan)
    xs[0::3], xs[1::3] = x0, x1
    ys[0::3], ys[1::3] = y, y
    return xs, ys


# --- the chart ----------------------------------------------------------------------------------

@dataclass
class _Geometry:
    """Where one entry's bars are drawn (arrays per span)."""

    x: np.ndarray
    width: np.ndarray
    y0: np.ndarray
    height: np.ndarray


class UsageChart(pg.PlotWidget):  # type: ignore[misc]
    """One bar per day (or week, month), entries stacked, side by side, or one alone.

    Feed it with `set_data`; choose the look with `set_mode` and `set_hidden`. The x range
    is the user's (mouse pan and zoom) until `fit` is called; the y range always fits the
    bars, limits and the average in view, so zooming in on a quiet month shows its bars.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        pal = (QApplication.instance().palette()  # type: ignore[union-attr]
               if QApplication.instance() else QPalette())
        self._fg = pal.color(QPalette.ColorRole.Text)
        bg = pal.color(QPalette.ColorRole.Base)
        self._dark = bg.lightness() < 128
        super().__init__(parent, background=bg,
                         axisItems={"bottom": DayAxis(), "left": DurationAxis()})
        self.setObjectName("usagePlot")
        self.setAccessibleName("Usage chart")
        self.setToolTip("")
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=False, y=True, alpha=0.25)
        for name in ("bottom", "left"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(self._fg))
            axis.setTextPen(pg.mkPen(self._fg))
        self.vb: pg.ViewBox = plot.getViewBox()
        self.vb.setMouseEnabled(x=True, y=False)
        self.vb.disableAutoRange()
        self.vb.setDefaultPadding(0.0)
        self.vb.sigXRangeChanged.connect(self._on_x_changed)
        self.vb.sigRangeChangedManually.connect(self._on_manual)

        self.mode = Mode.STACKED
        self.single: str | None = None
        self.hidden: set[str | None] = set()
        self.user_zoomed = False
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.other_bar: pg.BarGraphItem | None = None
        #: Per entry with a limit: the part of its bars over the limit (hatched).
        self.over_bars: dict[str, pg.BarGraphItem] = {}
        #: Per entry: its limit, as ticks on its bars or (one entry alone) a line.
        self.quota_lines: dict[str, pg.PlotCurveItem] = {}
        self.average_line = pg.PlotCurveItem(pen=average_pen(self._fg))
        self.average_line.setZValue(15)
        self.average_line.setVisible(False)
        plot.addItem(self.average_line)
        #: Seconds per day of what is drawn, over the range (None: no average line).
        self.average: float | None = None
        #: "daily limit 1 h 00 min" at the right end of one entry's limit line.
        self.limit_label = pg.TextItem("", anchor=(1, 1))
        self.limit_label.setZValue(16)
        self.limit_label.setVisible(False)
        plot.addItem(self.limit_label, ignoreBounds=True)
        self._data: BucketedUsage | None = None
        self._range: DayRange | None = None
        self._spans: list[Span] = []
        self._firsts = np.zeros(0)
        self._lasts = np.zeros(0)
        self._colors: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self._quotas: dict[str, int] = {}
        self._hits: dict[str, list[int]] = {}
        self._hit_arrays: dict[str, np.ndarray] = {}
        self._over: dict[str, np.ndarray] = {}
        self._over_secs: dict[str, list[int]] = {}
        self._geom: dict[str | None, _Geometry] = {}
        self._order: list[str | None] = []
        self._drawn: list[str] = []
        self._other: np.ndarray | None = None
        self._other_count = 0
        self._tops = np.zeros(0)
        self._caps = np.zeros(0)

        self.hover = pg.TextItem("", color=QColor("#202020"), anchor=(0, 1),
                                 fill=pg.mkBrush(255, 255, 240, 235),
                                 border=pg.mkPen("#808080"))
        self.hover.setZValue(100)
        self.hover.setVisible(False)
        plot.addItem(self.hover, ignoreBounds=True)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # --- data ---------------------------------------------------------------------------------

    def set_data(self, data: BucketedUsage, rng: DayRange, *, colors: Mapping[str, str],
                 labels: Mapping[str, str], quotas: Mapping[str, int],
                 hits: Mapping[str, list[int]], drawn: list[str] | None = None,
                 over: Mapping[str, Sequence[int]] | None = None) -> None:
        """Show `data` (bars over `rng`); `hits` are quota-hit counts per span per entry.

        `over` is, per entry with a limit, the seconds of each bar beyond the daily limit
        (`usage_compare.over_limit`, bucketed like `data`): that part of the bar is hatched
        on every bar on which the limit was reached. Only the `drawn` entries (default:
        all) get a layer of their own; the rest are summed in one "Other" layer
        (`split_entries`). Any entry can still be shown alone. Items are updated in place;
        the x range is left alone (call `fit` to reset it).
        """
        self._data = data
        self._range = rng
        self._spans = list(data.spans)
        self._firsts = np.fromiter((s.first for s in data.spans), float, len(data.spans))
        self._lasts = np.fromiter((s.last for s in data.spans), float, len(data.spans))
        self._labels = dict(labels)
        self._quotas = {e: q for e, q in quotas.items() if q}
        self._hits = {e: list(v) for e, v in hits.items()}
        self._hit_arrays = {e: np.asarray(v, dtype=float) for e, v in hits.items()
                            if len(v) == len(data.spans)}
        self._over_secs = {e: list(v) for e, v in (over or {}).items()}
        self._over = {e: np.asarray(v, dtype=float) for e, v in (over or {}).items()
                      if len(v) == len(data.spans)}
        self._colors = dict(colors)
        self._drawn = list(data.seconds) if drawn is None else \
            [e for e in drawn if e in data.seconds]
        if len(self._drawn) < len(data.seconds):
            keep = set(self._drawn)
            rest = [e for e in data.seconds if e not in keep]
            self._other = np.asarray(data.sum_of(rest), dtype=float)
            self._other_count = len(rest)
        else:
            self._other, self._other_count = None, 0
        for entry in self._drawn:
            self._item(entry)
        self._layout()

    def _item(self, key: str | None) -> pg.BarGraphItem:
        """The bar item of an entry (or of "Other"), made when first needed, in its colour."""
        bar = self.bars.get(key) if key is not None else self.other_bar
        color = self.color(key)
        if bar is None:
            bar = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=1.0, pen=None,
                                  brush=pg.mkBrush(color))
            bar.setZValue(1)
            self.getPlotItem().addItem(bar)
            if key is None:
                self.other_bar = bar
            else:
                self.bars[key] = bar
        elif bar.opts["brush"].color().name() != QColor(color).name():
            bar.setOpts(brush=pg.mkBrush(color))
            if key in self.over_bars:
                self.over_bars[key].setOpts(pen=pg.mkPen(limit_color(color), width=1),
                                            brush=over_brush(color))
        return bar

    def _limit_items(self, entry: str) -> tuple[pg.BarGraphItem, pg.PlotCurveItem]:
        """The entry's over-the-limit bars and limit item, made the first time the entry is
        drawn with a limit (an entry without one costs the chart no items)."""
        over = self.over_bars.get(entry)
        if over is None:
            color = self.color(entry)
            over = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=1.0,
                                   pen=pg.mkPen(limit_color(color), width=1),
                                   brush=over_brush(color))
            over.setZValue(2)
            over.setVisible(False)
            self.over_bars[entry] = over
            self.getPlotItem().addItem(over)
            line = pg.PlotCurveItem(pen=limit_pen(color, dark=self._dark), connect="finite")
            line.setZValue(10)
            line.setVisible(False)
            self.quota_lines[entry] = line
            self.getPlotItem().addItem(line)
        return over, self.quota_lines[entry]

    def color(self, key: str | None) -> str:
        """The colour of an entry's bars (None: the "Other" layer)."""
        return OTHER_COLOR if key is None else self._colors.get(key, "#7F7F7F")

    def label(self, key: str | None) -> str:
        """An entry's name in the legend and hover text (None: "Other (N entries)")."""
        if key is None:
            return f"Other ({self._other_count} entries)"
        return self._labels.get(key) or key

    @property
    def bucket(self) -> Bucket | None:
        """The bar length of the data shown (None before any data)."""
        return self._data.bucket if self._data is not None else None

    def set_mode(self, mode: Mode, single: str | None = None) -> None:
        """Stacked, side by side, or only `single`."""
        if (mode, single) != (self.mode, self.single):
            self.mode, self.single = mode, single
            self._layout()

    def set_hidden(self, hidden: set[str | None]) -> None:
        """Entries not to draw (the legend's unchecked ones; None is "Other")."""
        if hidden != self.hidden:
            self.hidden = set(hidden)
            self._layout()

    def visible_entries(self) -> list[str | None]:
        """The entries drawn now, bottom of the stack first (None: the "Other" layer)."""
        return list(self._order)

    @property
    def other_count(self) -> int:
        """How many entries the "Other" layer sums (0: every entry has its own)."""
        return self._other_count

    def geometry_of(self, entry: str | None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x centres, widths, bottoms, heights) of an entry's bars as drawn."""
        g = self._geom[entry]
        return g.x, g.width, g.y0, g.height

    def _layout(self) -> None:
        """Place every entry's bars for the current data, mode and hidden set."""
        data = self._data
        n = len(self._spans)
        if data is None:
            return
        days = self._lasts - self._firsts + 1
        centers = (self._firsts + self._lasts) / 2
        full = days * BAR_FILL
        order: list[str | None]
        if self.mode is Mode.SINGLE:
            order = [self.single] if self.single in data.seconds else []
        else:
            order = [e for e in self._drawn if e not in self.hidden]
            if self._other is not None and None not in self.hidden:
                order.append(None)  # on top: the named entries keep the baseline
        self._order = order
        self._geom = {}
        self.limit_label.setVisible(False)
        base = np.zeros(n)
        tops = np.zeros(n)
        caps = np.zeros(n)
        k = max(1, len(self._order))
        for i, entry in enumerate(self._order):
            values = self._other if entry is None else np.asarray(data.seconds[entry],
                                                                  dtype=float)
            assert values is not None
            if self.mode is Mode.SIDE_BY_SIDE:
                width = full / k
                x = centers - full / 2 + width * (i + 0.5)
                geom = _Geometry(x, width * 0.92, np.zeros(n), values)
                tops = np.maximum(tops, values)
            elif self.mode is Mode.STACKED:
                geom = _Geometry(centers, full, base.copy(), values)
                base += values
                tops = base
            else:
                geom = _Geometry(centers, full, np.zeros(n), values)
                tops = values
            self._geom[entry] = geom
            bar = self._item(entry)
            bar.setOpts(x=geom.x, width=geom.width, y0=geom.y0, height=geom.height)
            bar.setVisible(True)
            if entry is not None and (entry in self._quotas or entry in self.over_bars):
                self._place_over(entry, geom)
                caps = np.maximum(caps, self._place_limit(entry, geom))
        for entry, bar in self.bars.items():
            if entry not in self._geom:
                bar.setVisible(False)
                if entry in self.over_bars:
                    self.over_bars[entry].setVisible(False)
                    self.quota_lines[entry].setVisible(False)
        if self.other_bar is not None and None not in self._geom:
            self.other_bar.setVisible(False)
        caps = np.maximum(caps, self._place_average(days))
        self._tops, self._caps = tops, caps
        self._fit_y()

    def _over_parts(self, entry: str, geom: _Geometry) -> tuple[np.ndarray, np.ndarray] | None:
        """(mask of the bars on which the limit was reached, seconds over on each bar)."""
        hits = self._hit_arrays.get(entry)
        if hits is None or entry not in self._quotas:
            return None
        mask = hits > 0
        if not mask.any():
            return None
        over = self._over.get(entry)
        if over is None:
            over = np.zeros(len(mask))
        return mask, np.minimum(over, geom.height)

    def _place_over(self, entry: str, geom: _Geometry) -> None:
        """Hatch the part of the entry's bars beyond its limit (at the top of its own bar)."""
        item, _line = self._limit_items(entry)
        parts = self._over_parts(entry, geom)
        if parts is None:
            item.setVisible(False)
            return
        mask, over = parts
        top = geom.y0 + geom.height
        item.setOpts(x=geom.x[mask], width=np.broadcast_to(geom.width, mask.shape)[mask],
                     y0=(top - over)[mask], height=over[mask])
        item.setVisible(True)

    def _place_limit(self, entry: str, geom: _Geometry) -> np.ndarray:
        """Draw the entry's limit where it means something; the heights it reaches per bar."""
        _over, line = self._limit_items(entry)
        quota = self._quotas.get(entry)
        n = len(self._spans)
        if not quota or not n:
            line.setVisible(False)
            return np.zeros(n)
        day_bars = self.bucket is Bucket.DAY
        width = np.broadcast_to(geom.width, (n,))
        if self.mode is Mode.SINGLE and day_bars:  # alone: the limit across the chart
            edges = np.append(self._firsts - 0.5, self._lasts[-1] + 0.5)
            line.setData(x=edges, y=np.full(n, float(quota)), stepMode="center")
            line.setPen(limit_pen(self.color(entry), 2.0, self._dark))
            line.setVisible(True)
            self.limit_label.setText(f"daily limit {format_duration(quota)}",
                                     color=limit_color(self.color(entry), self._dark))
            self.limit_label.setPos(float(edges[-1]), float(quota))
            self.limit_label.setVisible(True)
            return np.full(n, float(quota) * 1.06)  # room for the label above the line
        if self.mode is Mode.SIDE_BY_SIDE and day_bars:  # over its own bars near the limit
            mask = geom.height >= quota * NEAR_LIMIT
            y = np.full(n, float(quota))
            half = width / 2
        else:  # in its own bar, where the limit was reached: the hatching starts there
            parts = self._over_parts(entry, geom)
            if parts is None:
                line.setVisible(False)
                return np.zeros(n)
            mask, over = parts
            y = geom.y0 + geom.height - over
            half = width / 2 * (1 + (2 * TICK_OVERHANG if self.mode is Mode.STACKED else 0))
        if not mask.any():
            line.setVisible(False)
            return np.zeros(n)
        xs, ys = _segments((geom.x - half)[mask], (geom.x + half)[mask], y[mask])
        line.setData(x=xs, y=ys, stepMode=None, connect="finite")
        line.setPen(limit_pen(self.color(entry), dark=self._dark))
        line.setVisible(True)
        return np.where(mask, y, 0.0)

    def _place_average(self, days: np.ndarray) -> np.ndarray:
        """The dashed average per day of what is drawn (not side by side: no bar is the sum)."""
        data = self._data
        n = len(self._spans)
        entries: list[str] = []
        if data is not None and self.mode is not Mode.SIDE_BY_SIDE:
            keep = set(self._drawn)
            for entry in self._order:
                entries.extend([e for e in data.seconds if e not in keep]
                               if entry is None else [entry])
        average = average_per_day(data, entries) if data is not None and entries else 0.0
        if average <= 0 or not n:
            self.average = None
            self.average_line.setVisible(False)
            return np.zeros(n)
        self.average = average
        heights = days * average  # a week bar's average is seven days' worth
        edges = np.append(self._firsts - 0.5, self._lasts[-1] + 0.5)
        self.average_line.setData(x=edges, y=heights, stepMode="center")
        self.average_line.setVisible(True)
        return np.asarray(heights, dtype=float)

    # --- view ---------------------------------------------------------------------------------

    def fit(self) -> None:
        """Show the whole range again (and forget the user's zoom)."""
        bounds = self._x_bounds()
        if bounds is None:
            return
        lo, hi, pad = bounds
        self.vb.setLimits(xMin=lo - pad, xMax=hi + pad, minXRange=min(3.0, hi - lo),
                          maxXRange=hi - lo + 2 * pad)
        self.vb.setXRange(lo, hi, padding=0.01)
        self.user_zoomed = False
        self._fit_y()

    def update_limits(self) -> None:
        """Let the user pan over the (possibly grown) range without moving their view."""
        bounds = self._x_bounds()
        if bounds is not None:
            lo, hi, pad = bounds
            self.vb.setLimits(xMin=lo - pad, xMax=hi + pad, maxXRange=hi - lo + 2 * pad)

    def _x_bounds(self) -> tuple[float, float, float] | None:
        """(left, right, padding) of the whole range: at least a week wide, centred."""
        rng = self._range
        if rng is None:
            return None
        lo, hi = rng.first - 0.5, rng.last + 0.5
        if hi - lo < MIN_VISIBLE_DAYS:
            mid = (lo + hi) / 2
            lo, hi = mid - MIN_VISIBLE_DAYS / 2, mid + MIN_VISIBLE_DAYS / 2
        return lo, hi, (hi - lo) * 0.01

    def x_range(self) -> tuple[float, float]:
        (x0, x1), _y = self.vb.viewRange()
        return float(x0), float(x1)

    def _on_manual(self, *_args: object) -> None:
        self.user_zoomed = True

    def _on_x_changed(self, *_args: object) -> None:
        self._fit_y()
        self._update_year_label()

    def _fit_y(self) -> None:
        if not len(self._tops):
            self.vb.setYRange(0, 3600, padding=0)
            return
        x0, x1 = self.x_range()
        mask = (self._lasts + 0.5 >= x0) & (self._firsts - 0.5 <= x1)
        top = float(max(self._tops[mask].max(initial=0), self._caps[mask].max(initial=0)))
        self.vb.setYRange(0, max(top * 1.08, 600.0), padding=0)

    def visible_days(self) -> DayRange | None:
        """The days of the range whose bars are (at least half) in view."""
        rng = self._range
        if rng is None:
            return None
        x0, x1 = self.x_range()
        lo = max(rng.first, math.ceil(x0)) if math.isfinite(x0) else rng.first
        hi = min(rng.last, math.floor(x1)) if math.isfinite(x1) else rng.last
        return DayRange(lo, hi) if lo <= hi else None

    def _update_year_label(self) -> None:
        days = self.visible_days()
        if days is None:
            return
        lo, hi = days.start.year, days.end.year
        text = str(lo) if lo == hi else f"{lo} – {hi}"
        axis = self.getPlotItem().getAxis("bottom")
        if axis.labelText != text:
            axis.setLabel(text, color=self._fg.name())

    # --- hover ----------------------------------------------------------------------------------

    def hover_text(self, x: float, y: float) -> str | None:
        """What hovering at view position (x, y) shows: entry, day(s) and the time."""
        i = span_index(self._spans, x)
        if i is None or self._data is None:
            return None
        for entry in reversed(self._order):
            g = self._geom[entry]
            h = float(g.height[i])
            if h > 0 and abs(x - float(g.x[i])) <= float(g.width[i]) / 2 and \
                    float(g.y0[i]) <= y <= float(g.y0[i]) + h:
                return self._describe(entry, i)
        return None

    def _describe(self, entry: str | None, i: int) -> str:
        assert self._data is not None
        span = self._spans[i]
        if entry is None:
            assert self._other is not None
            return "\n".join((self.label(None), span_text(span, self._data.bucket),
                              format_duration(round(float(self._other[i])))))
        secs = self._data.seconds[entry][i]
        lines = [entry_display(entry, self._labels), span_text(span, self._data.bucket),
                 format_duration(secs)]
        quota = self._quotas.get(entry)
        if quota:
            lines.append(f"Daily limit {format_duration(quota)}: " + limit_state(
                secs, quota, self._hits.get(entry, [0] * len(self._spans))[i],
                self._over_secs.get(entry, [0] * len(self._spans))[i], span.days,
                self._data.bucket))
        return "\n".join(lines)

    def _on_mouse_moved(self, pos: QPointF) -> None:
        if not self.vb.sceneBoundingRect().contains(pos):
            self.hover.setVisible(False)
            return
        p = self.vb.mapSceneToView(pos)
        text = self.hover_text(p.x(), p.y())
        if text is None:
            self.hover.setVisible(False)
            return
        self.hover.setText(text)
        x0, x1 = self.x_range()
        (_, _), (y0, y1) = self.vb.viewRange()
        self.hover.setAnchor((1 if p.x() > (x0 + x1) / 2 else 0,
                              0 if p.y() > (y0 + y1) / 2 else 1))
        self.hover.setPos(p)
        self.hover.setVisible(True)

    def hide_hover(self) -> None:
        self.hover.setVisible(False)

    # --- export -----------------------------------------------------------------------------------

    def legend_rows(self) -> list[tuple[str, str, str]]:
        """(kind, text, colour) of the legend: each drawn entry ("entry"), then "over" when
        a drawn entry has a limit, then the "average" line when it is drawn."""
        rows = [("entry", self.label(e), self.color(e)) for e in self._order]
        if any(e in self._quotas for e in self._order if e is not None):
            rows.append(("over", OVER_TEXT, "#8C8C8C"))
        if self.average is not None:
            rows.append(("average", self.average_text(), self._fg.name()))
        return rows

    def average_text(self) -> str:
        """The legend's text for the average line ("" when there is none)."""
        if self.average is None:
            return ""
        return f"average {format_duration(round(self.average))} a day"

    def _legend_layout(self, width: float
                       ) -> tuple[list[tuple[str, QRectF, QPointF, str, str]], float]:
        """Kind, swatch, text position, label and colour of each legend row; and the height."""
        fm = QFontMetricsF(self.font())
        pad, row_h = 8.0, fm.height() + 6
        x, y = pad, pad
        out = []
        for kind, label, color in self.legend_rows():
            text = fm.elidedText(label, Qt.TextElideMode.ElideRight,
                                 max(60.0, min(280.0, width - 3 * pad - 18)))
            w = 12 + 6 + fm.horizontalAdvance(text) + 18
            if x + w > width - pad and x > pad:
                x, y = pad, y + row_h
            swatch = QRectF(x, y + (row_h - 12) / 2, 12, 12)
            out.append((kind, swatch,
                        QPointF(x + 18, y + (row_h + fm.ascent() - fm.descent()) / 2),
                        text, color))
            x += w
        return out, (y + row_h + pad if out else 0.0)

    def export_size(self) -> QSize:
        """Size of the exported picture: the chart as on screen plus its legend rows."""
        _rows, legend_h = self._legend_layout(self.width())
        return QSize(self.width(), self.height() + round(legend_h))

    def paint_export(self, painter: QPainter) -> None:
        """Draw the chart (vector, via the scene) and its legend (entries, limit, average).

        Labels are drawn with `drawText`, which never interprets markup.
        """
        self.hide_hover()
        size = self.export_size()
        painter.fillRect(QRectF(0, 0, size.width(), size.height()),
                         self.backgroundBrush())
        source = self.mapToScene(self.viewport().rect()).boundingRect()
        self.scene().render(painter, QRectF(0, 0, self.width(), self.height()), source)
        rows, _h = self._legend_layout(self.width())
        painter.save()
        painter.translate(0, self.height())
        painter.setFont(self.font())
        for kind, swatch, pos, text, color in rows:
            if kind == "over":
                paint_over_symbol(painter, swatch, color, self._dark)
            elif kind == "average":
                paint_average_symbol(painter, swatch, self._fg)
            else:
                painter.fillRect(swatch, QColor(color))
            painter.setPen(self._fg)
            painter.drawText(pos, text)
        painter.restore()


def limit_state(secs: int, quota: int, hits: int, over: int, days: int,
                bucket: Bucket) -> str:
    """How a bar stands against the daily limit, in words (after "Daily limit 1 h: ")."""
    if bucket is Bucket.DAY:
        if over > 0:
            return f"{format_duration(over)} over"
        return "reached" if hits else f"{format_duration(quota - secs)} left"
    text = f"reached on {hits} of {days} days"
    return text + (f", {format_duration(over)} over in all" if over > 0 else "")


def span_text(span: Span, bucket: Bucket) -> str:
    """A bar's days in words: `Sun 2026-03-08`, `Week 2026-03-02 – 2026-03-08`, `March 2026`.

    A week or month cut by the range's ends also says which of its days it holds.
    """
    start, end = span.start, span.end
    if bucket is Bucket.DAY:
        return f"{WEEKDAYS[start.weekday()]} {format_day(start)}"
    if bucket is Bucket.WEEK:
        return f"Week {format_day(start)} – {format_day(end)}"
    name = f"{MONTH_NAMES[start.month - 1]} {start.year}"
    whole = start.day == 1 and (end + timedelta(days=1)).day == 1
    return name if whole else f"{name} ({format_day(start)} – {format_day(end)})"
