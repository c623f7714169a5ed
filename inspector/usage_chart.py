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

Where bars, ticks and the average go is pure arithmetic (`usage_bars`); the axes are
`usage_axes`, the limits' items and look `usage_limits`, the exported picture `usage_export`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from shepherd_store.usage import Bucket, BucketedUsage, DayRange, Span, span_index
from shepherd_store.usage_compare import average_per_day

from .formatting import entry_display, format_duration
from .qt_imports import pg
from .usage_axes import DayAxis, DurationAxis
from .usage_bars import (
    BarGeometry,
    Mode,
    averaged_entries,
    bar_at,
    limit_state,
    over_parts,
    place_bars,
    span_text,
    step_edges,
    visible_days,
    x_bounds,
)
from .usage_limits import OVER_TEXT, LimitItems, average_pen
from .usage_view_state import OTHER_COLOR


class UsageChart(pg.PlotWidget):  # type: ignore[misc]
    """One bar per day (or week, month), entries stacked, side by side, or one alone.

    Feed it with `set_data`; choose the look with `set_mode` and `set_hidden`. The x range
    is the user's (mouse pan and zoom) until `fit` is called; the y range always fits the
    bars, limits and the average in view, so zooming in on a quiet month shows its bars.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        pal = (QApplication.instance().palette()  # type: ignore[union-attr]
               if QApplication.instance() else QPalette())
        #: The text colour, and whether the background is dark (exports draw with them).
        self.fg = pal.color(QPalette.ColorRole.Text)
        bg = pal.color(QPalette.ColorRole.Base)
        self.dark = bg.lightness() < 128
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
            axis.setPen(pg.mkPen(self.fg))
            axis.setTextPen(pg.mkPen(self.fg))
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
        self.average_line = pg.PlotCurveItem(pen=average_pen(self.fg))
        self.average_line.setZValue(15)
        self.average_line.setVisible(False)
        plot.addItem(self.average_line)
        #: Seconds per day of what is drawn, over the range (None: no average line).
        self.average: float | None = None
        self.limits = LimitItems(plot, self.dark)
        #: Per entry with a limit: the part of its bars over the limit (hatched).
        self.over_bars = self.limits.over_bars
        #: Per entry: its limit, as ticks on its bars or (one entry alone) a line.
        self.quota_lines = self.limits.lines
        #: "daily limit 1 h 00 min" at the right end of one entry's limit line.
        self.limit_label = self.limits.label
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
        self._geom: dict[str | None, BarGeometry] = {}
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
            if key is not None:
                self.limits.recolor(key, color)
        return bar

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
        order: list[str | None]
        if self.mode is Mode.SINGLE:
            order = [self.single] if self.single in data.seconds else []
        else:
            order = [e for e in self._drawn if e not in self.hidden]
            if self._other is not None and None not in self.hidden:
                order.append(None)  # on top: the named entries keep the baseline
        self._order = order
        self.limit_label.setVisible(False)
        layers = []
        for entry in order:
            values = self._other if entry is None else np.asarray(data.seconds[entry],
                                                                  dtype=float)
            assert values is not None
            layers.append(values)
        geoms, tops = place_bars(self.mode, layers, self._firsts, self._lasts)
        self._geom = dict(zip(order, geoms, strict=True))
        caps = np.zeros(n)
        day_bars = self.bucket is Bucket.DAY
        for entry, geom in self._geom.items():
            bar = self._item(entry)
            bar.setOpts(x=geom.x, width=geom.width, y0=geom.y0, height=geom.height)
            bar.setVisible(True)
            if entry is not None and (entry in self._quotas or entry in self.over_bars):
                hits = self._hit_arrays.get(entry) if entry in self._quotas else None
                parts = over_parts(hits, self._over.get(entry), geom.height)
                caps = np.maximum(caps, self.limits.place(
                    entry, self.color(entry), geom, self._quotas.get(entry), parts, self.mode,
                    day_bars, self._firsts, self._lasts))
        for entry, bar in self.bars.items():
            if entry not in self._geom:
                bar.setVisible(False)
                self.limits.hide(entry)
        if self.other_bar is not None and None not in self._geom:
            self.other_bar.setVisible(False)
        caps = np.maximum(caps, self._place_average(self._lasts - self._firsts + 1))
        self._tops, self._caps = tops, caps
        self._fit_y()

    def _place_average(self, days: np.ndarray) -> np.ndarray:
        """The dashed average per day of what is drawn (not side by side: no bar is the sum)."""
        data = self._data
        n = len(self._spans)
        entries = averaged_entries(self.mode, self._order, self._drawn,
                                   data.seconds) if data is not None else []
        average = average_per_day(data, entries) if data is not None and entries else 0.0
        if average <= 0 or not n:
            self.average = None
            self.average_line.setVisible(False)
            return np.zeros(n)
        self.average = average
        heights = days * average  # a week bar's average is seven days' worth
        self.average_line.setData(x=step_edges(self._firsts, self._lasts), y=heights,
                                  stepMode="center")
        self.average_line.setVisible(True)
        return np.asarray(heights, dtype=float)

    # --- view ---------------------------------------------------------------------------------

    def fit(self) -> None:
        """Show the whole range again (and forget the user's zoom)."""
        if self._range is None:
            return
        lo, hi, pad = x_bounds(self._range)
        self.vb.setLimits(xMin=lo - pad, xMax=hi + pad, minXRange=min(3.0, hi - lo),
                          maxXRange=hi - lo + 2 * pad)
        self.vb.setXRange(lo, hi, padding=0.01)
        self.user_zoomed = False
        self._fit_y()

    def update_limits(self) -> None:
        """Let the user pan over the (possibly grown) range without moving their view."""
        if self._range is not None:
            lo, hi, pad = x_bounds(self._range)
            self.vb.setLimits(xMin=lo - pad, xMax=hi + pad, maxXRange=hi - lo + 2 * pad)

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
        return visible_days(rng, *self.x_range())

    def _update_year_label(self) -> None:
        days = self.visible_days()
        if days is None:
            return
        lo, hi = days.start.year, days.end.year
        text = str(lo) if lo == hi else f"{lo} – {hi}"
        axis = self.getPlotItem().getAxis("bottom")
        if axis.labelText != text:
            axis.setLabel(text, color=self.fg.name())

    # --- hover ----------------------------------------------------------------------------------

    def hover_text(self, x: float, y: float) -> str | None:
        """What hovering at view position (x, y) shows: entry, day(s) and the time."""
        i = span_index(self._spans, x)
        if i is None or self._data is None:
            return None
        k = bar_at([self._geom[entry] for entry in self._order], i, x, y)
        return self._describe(self._order[k], i) if k is not None else None

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

    # --- legend -----------------------------------------------------------------------------------

    def legend_rows(self) -> list[tuple[str, str, str]]:
        """(kind, text, colour) of the legend: each drawn entry ("entry"), then "over" when
        a drawn entry has a limit, then the "average" line when it is drawn."""
        rows = [("entry", self.label(e), self.color(e)) for e in self._order]
        if any(e in self._quotas for e in self._order if e is not None):
            rows.append(("over", OVER_TEXT, "#8C8C8C"))
        if self.average is not None:
            rows.append(("average", self.average_text(), self.fg.name()))
        return rows

    def average_text(self) -> str:
        """The legend's text for the average line ("" when there is none)."""
        if self.average is None:
            return ""
        return f"average {format_duration(round(self.average))} a day"
