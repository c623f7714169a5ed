"""How the Usage chart draws daily limits and the average: pens, brushes, the legend's
symbols, and the items of each entry's limit (`LimitItems`).

Limits are drawn only where they mean something, so that two entries with the same limit
never draw one line on top of the other (`usage_chart` says where); where exactly is pure
arithmetic in `usage_bars`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen

from .formatting import format_duration
from .qt_imports import pg
from .usage_bars import BarGeometry, Mode, limit_ticks, step_edges

OVER_TEXT = "over the daily limit"


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


class LimitItems:
    """The chart's items for daily limits: per entry, the part of its bars over the limit
    (hatched) and its limit (ticks, or one entry alone a line across the chart with
    `label`), made the first time the entry is drawn with a limit (an entry without one
    costs the chart no items) and afterwards only updated."""

    def __init__(self, plot: pg.PlotItem, dark: bool) -> None:
        self._plot = plot
        self._dark = dark
        #: Per entry with a limit: the part of its bars over the limit (hatched).
        self.over_bars: dict[str, pg.BarGraphItem] = {}
        #: Per entry: its limit, as ticks on its bars or (one entry alone) a line.
        self.lines: dict[str, pg.PlotCurveItem] = {}
        #: "daily limit 1 h 00 min" at the right end of one entry's limit line.
        self.label = pg.TextItem("", anchor=(1, 1))
        self.label.setZValue(16)
        self.label.setVisible(False)
        plot.addItem(self.label, ignoreBounds=True)

    def items(self, entry: str, color: str) -> tuple[pg.BarGraphItem, pg.PlotCurveItem]:
        """The entry's over-the-limit bars and limit item (made when first needed)."""
        over = self.over_bars.get(entry)
        if over is None:
            over = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=1.0,
                                   pen=pg.mkPen(limit_color(color), width=1),
                                   brush=over_brush(color))
            over.setZValue(2)
            over.setVisible(False)
            self.over_bars[entry] = over
            self._plot.addItem(over)
            line = pg.PlotCurveItem(pen=limit_pen(color, dark=self._dark), connect="finite")
            line.setZValue(10)
            line.setVisible(False)
            self.lines[entry] = line
            self._plot.addItem(line)
        return over, self.lines[entry]

    def recolor(self, entry: str, color: str) -> None:
        """The entry's bars have a new colour: its hatching follows."""
        if entry in self.over_bars:
            self.over_bars[entry].setOpts(pen=pg.mkPen(limit_color(color), width=1),
                                          brush=over_brush(color))

    def hide(self, entry: str) -> None:
        """The entry is not drawn: neither is its limit."""
        if entry in self.over_bars:
            self.over_bars[entry].setVisible(False)
            self.lines[entry].setVisible(False)

    def place(self, entry: str, color: str, geom: BarGeometry, quota: int | None,
              parts: tuple[np.ndarray, np.ndarray] | None, mode: Mode, day_bars: bool,
              firsts: np.ndarray, lasts: np.ndarray) -> np.ndarray:
        """Hatch the part of the entry's bars beyond its limit (`parts`, from `over_parts`)
        and draw its limit where it means something; the heights it reaches per bar."""
        item, line = self.items(entry, color)
        if parts is None:
            item.setVisible(False)
        else:
            mask, over = parts
            top = geom.y0 + geom.height
            item.setOpts(x=geom.x[mask], width=np.broadcast_to(geom.width, mask.shape)[mask],
                         y0=(top - over)[mask], height=over[mask])
            item.setVisible(True)
        n = len(firsts)
        if not quota or not n:
            line.setVisible(False)
            return np.zeros(n)
        if mode is Mode.SINGLE and day_bars:  # alone: the limit across the chart
            edges = step_edges(firsts, lasts)
            line.setData(x=edges, y=np.full(n, float(quota)), stepMode="center")
            line.setPen(limit_pen(color, 2.0, self._dark))
            line.setVisible(True)
            self.label.setText(f"daily limit {format_duration(quota)}",
                               color=limit_color(color, self._dark))
            self.label.setPos(float(edges[-1]), float(quota))
            self.label.setVisible(True)
            return np.full(n, float(quota) * 1.06)  # room for the label above the line
        ticks = limit_ticks(mode, day_bars, geom, quota, parts)
        if ticks is None:
            line.setVisible(False)
            return np.zeros(n)
        xs, ys, caps = ticks
        line.setData(x=xs, y=ys, stepMode=None, connect="finite")
        line.setPen(limit_pen(color, dark=self._dark))
        line.setVisible(True)
        return caps
