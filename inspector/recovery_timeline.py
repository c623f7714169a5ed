"""The timeline of one run of the service, painted: sessions as bars, the crash, the restart.

Fed a `recovery_models.Timeline` (plain dataclasses). Time runs left to right in the viewer's
local time; one lane per entry under the service's own lane. Solid bars are play the log
proves, hatched ones play it cannot rule out; the red band is when the service died.
Clicking a bar (or Left/Right with the focus here) selects its session.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetrics,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from .formatting import entry_colors, format_clock, format_date, to_local
from .recovery_logic import Timeline, TimelineBar
from .widgets import plain_tip

GUTTER = 118  # lane names
LANE_H = 24
LANE_GAP = 6
MARK_ROW_H = 17
AXIS_H = 34
#: Tick steps in seconds, from a minute to a week.
STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
STATUS_COLORS = {"interrupted": "#D32F2F", "repaired": "#2E7D32", "running": "#1565C0"}
MARK_COLORS = {"start": "#2E7D32", "stop": "#616161", "last_sign": "#EF6C00",
               "restart": "#1565C0", "log_end": "#EF6C00"}
GAP_COLOR = QColor(229, 57, 53, 46)


class RunTimeline(QWidget):
    """The painted timeline of one run; `sessionClicked(session_id)` when a bar is chosen."""

    sessionClicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recoveryTimeline")
        self.setAccessibleName("Timeline of the selected run")
        self.setToolTip("The selected run of the service in local time: sessions as bars "
                        "(hatched: play the log cannot rule out), the crash and the restart")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.timeline: Timeline | None = None
        self.selected: str | None = None
        self.placeholder = "Select a run to see its timeline."
        self._bar_rects: list[tuple[QRectF, TimelineBar]] = []

    # --- data ------------------------------------------------------------------------------

    def set_timeline(self, timeline: Timeline | None, placeholder: str | None = None) -> None:
        self.timeline = timeline
        if placeholder is not None:
            self.placeholder = placeholder
        self.setAccessibleDescription(timeline.summary if timeline else self.placeholder)
        self.update()

    def set_selected(self, session_id: str | None) -> None:
        if session_id != self.selected:
            self.selected = session_id
            self.update()

    def minimumSizeHint(self) -> QSize:
        lanes = len(self.timeline.lanes) if self.timeline else 1
        least = QFontMetrics(self.font()).height() + 2 + LANE_GAP
        return QSize(420, int(2 * MARK_ROW_H + 6 + (lanes + 1) * least + AXIS_H))

    def sizeHint(self) -> QSize:
        lanes = len(self.timeline.lanes) if self.timeline else 1
        return QSize(760, 2 * MARK_ROW_H + 6 + (lanes + 1) * (LANE_H + LANE_GAP) + AXIS_H)

    # --- geometry --------------------------------------------------------------------------

    _dy = 0.0  # the content is centred vertically: the room left over, halved

    def _top(self) -> float:
        return 2 * MARK_ROW_H + 6 + self._dy

    def _x(self, when: datetime) -> float:
        t = self.timeline
        assert t is not None
        span = (t.hi - t.lo).total_seconds() or 1.0
        width = self.width() - GUTTER - 12
        return GUTTER + (when - t.lo).total_seconds() / span * width

    def _lane_h(self, lanes: int) -> float:
        """Lanes share the height, never lower than a line of text nor above LANE_H."""
        room = self.height() - self._top() - AXIS_H
        least = QFontMetrics(self.font()).height() + 2
        return max(min((room - (lanes + 1) * LANE_GAP) / max(lanes + 1, 1), LANE_H), least)

    def _lane_y(self, lane: int, lanes: int) -> float:
        """Top of a lane; lane -1 is the service's own."""
        h = self._lane_h(lanes)
        return self._top() + (lane + 1) * (h + LANE_GAP)

    # --- painting ----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        t = self.timeline
        self._bar_rects = []
        if t is None:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        lanes = len(t.lanes)
        self._dy = 0.0
        h = self._lane_h(lanes)
        bottom = self._lane_y(lanes - 1, lanes) + h + LANE_GAP
        self._dy = max((self.height() - bottom - AXIS_H) / 2, 0.0)
        bottom += self._dy
        self._paint_axis(p, t, bottom, text)
        if t.gap is not None:
            x0, x1 = self._x(t.gap[0]), self._x(t.gap[1])
            band = QRectF(x0, self._top(), max(x1 - x0, 2.0), bottom - self._top())
            p.fillRect(band, GAP_COLOR)
            p.setPen(QColor("#C62828") if not self._dark() else QColor("#FF8A80"))
            fm = QFontMetrics(self.font())
            inner = band.adjusted(4, 0, -4, 0)
            # In the service's own lane, which is empty after its last sign of life.
            for label in ("crashed somewhere in here (not recorded)", "crashed in here",
                          "crash"):
                if fm.horizontalAdvance(label) <= inner.width():
                    y = self._lane_y(-1, lanes)
                    p.drawText(QRectF(inner.left(), y, inner.width(), h),
                               Qt.AlignmentFlag.AlignCenter, label)
                    break
        # lane names and the service's own lane
        p.setPen(text)
        fm = QFontMetrics(self.font())
        names = ["Service", *t.lanes]
        for i, name in enumerate(names):
            y = self._lane_y(i - 1, lanes)
            shown = fm.elidedText(name, Qt.TextElideMode.ElideRight, GUTTER - 12)
            p.drawText(QRectF(4, y, GUTTER - 10, h), Qt.AlignmentFlag.AlignVCenter, shown)
        y = self._lane_y(-1, lanes)
        x0, x1 = self._x(t.alive[0]), self._x(t.alive[1])
        alive = QRectF(x0, y + h * 0.3, max(x1 - x0, 2.0), h * 0.4)
        p.fillRect(alive, QColor("#9E9E9E") if not self._dark() else QColor("#757575"))
        colors = entry_colors(set(t.entries))
        p.save()
        p.setClipRect(QRectF(GUTTER, 0, self.width() - GUTTER, self.height()))
        ends = self._lane_ends(t)
        for bar in t.bars:
            self._paint_bar(p, bar, colors.get(t.entries[bar.lane], "#0072B2"), lanes, h,
                            ends.get(bar.session_id))
        p.restore()
        self._paint_marks(p, t, bottom)

    def _lane_ends(self, t: Timeline) -> dict[str, float]:
        """For each bar, where the next bar of its lane begins (room for an outside label)."""
        out: dict[str, float] = {}
        by_lane: dict[int, list[TimelineBar]] = {}
        for bar in t.bars:
            by_lane.setdefault(bar.lane, []).append(bar)
        for bars in by_lane.values():
            bars.sort(key=lambda b: b.start)
            for a, b in zip(bars, [*bars[1:], None], strict=True):
                out[a.session_id] = self._x(b.start) if b is not None else self.width() - 8
        return out

    def _dark(self) -> bool:
        return self.palette().color(QPalette.ColorRole.Base).lightness() < 128

    def _paint_bar(self, p: QPainter, bar: TimelineBar, color: str, lanes: int,
                   h: float, room_to: float | None) -> None:
        t = self.timeline
        assert t is not None
        y = self._lane_y(bar.lane, lanes)
        x0, x1 = self._x(bar.start), self._x(bar.end)
        solid = QRectF(x0, y, max(x1 - x0, 3.0), h)
        fill = QColor(color)
        p.fillRect(solid, fill)
        whole = QRectF(solid)
        if bar.status in ("interrupted", "repaired", "running"):
            end = bar.possible_end if bar.possible_end is not None else (
                t.hi if bar.unbounded else None)
            if end is not None and end > bar.end:
                x2 = self._x(end)
                maybe = QRectF(solid.right(), y, max(x2 - solid.right(), 2.0), h)
                hatch = QColor(fill)
                hatch.setAlpha(150)
                p.fillRect(maybe, QBrush(hatch, Qt.BrushStyle.BDiagPattern))
                p.setPen(QPen(hatch, 1, Qt.PenStyle.DashLine))
                p.drawRect(maybe.adjusted(0.5, 0.5, -0.5, -0.5))
                whole = whole.united(maybe)
            outline = QColor(STATUS_COLORS[bar.status])
            if self._dark():
                outline = outline.lighter(160)
            p.setPen(QPen(outline, 2))
            p.drawRect(whole.adjusted(1, 1, -1, -1))
        if bar.session_id == self.selected:
            p.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 3))
            p.drawRect(whole.adjusted(-2, -2, 2, 2))
        fm = QFontMetrics(self.font())
        text = bar.text
        width = fm.horizontalAdvance(text)
        inner = whole.adjusted(4, 0, -4, 0)
        if width <= inner.width():  # inside the bar, on its own colour
            p.setPen(QColor("#FFFFFF") if fill.lightness() < 150 else QColor("#000000"))
            p.drawText(inner, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        else:  # beside it, where the lane is free; shortened if need be
            room = (room_to if room_to is not None else self.width() - 8) - whole.right() - 8
            if width > room:
                text = fm.elidedText(text, Qt.TextElideMode.ElideRight, int(max(room, 0)))
            if len(text) > 3:
                p.setPen(self.palette().color(QPalette.ColorRole.WindowText))
                p.drawText(QRectF(whole.right() + 4, whole.top(), room + 4, h),
                           Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        self._bar_rects.append((whole, bar))

    def _paint_marks(self, p: QPainter, t: Timeline, bottom: float) -> None:
        fm = QFontMetrics(self.font())
        used: list[list[tuple[float, float]]] = [[], []]
        right = self.width() - 4
        for mark in sorted(t.marks, key=lambda m: m.at):
            x = self._x(mark.at)
            color = QColor(MARK_COLORS.get(mark.kind, "#616161"))
            if self._dark():
                color = color.lighter(150)
            if mark.kind != "earlier":
                p.setPen(QPen(color, 2, Qt.PenStyle.DashLine if mark.kind in ("last_sign",
                                                                              "log_end")
                              else Qt.PenStyle.SolidLine))
                p.drawLine(QPointF(x, self._top() - 2), QPointF(x, bottom))
            width = fm.horizontalAdvance(mark.text) + 6
            left = x + 3 if x + width <= right else x - width - 3
            row = 0
            while row < len(used) and any(a < left + width and left < b for a, b in used[row]):
                row += 1
            row = min(row, len(used) - 1)
            used[row].append((left, left + width))
            p.setPen(color)
            p.drawText(QRectF(left, self._dy + row * MARK_ROW_H, width, MARK_ROW_H),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, mark.text)

    def _paint_axis(self, p: QPainter, t: Timeline, bottom: float, text: QColor) -> None:
        grid = QColor(text)
        grid.setAlpha(40)
        p.setPen(QPen(text, 1))
        p.drawLine(QPointF(GUTTER, bottom), QPointF(self.width() - 12, bottom))
        fm = QFontMetrics(self.font())
        last_day = None
        ticks, step = axis_ticks(t.lo, t.hi, self.width() - GUTTER - 12)
        for tick in ticks:
            x = self._x(tick)
            p.setPen(QPen(grid, 1))
            p.drawLine(QPointF(x, self._top()), QPointF(x, bottom))
            p.setPen(QPen(text, 1))
            p.drawLine(QPointF(x, bottom), QPointF(x, bottom + 4))
            local = to_local(tick)
            day = f"{local:%a} {format_date(local.date())}"
            if step >= 86400:  # days or months: the date is the label
                p.drawText(QRectF(x - 60, bottom + 4, 120, fm.height()),
                           Qt.AlignmentFlag.AlignHCenter,
                           day if step < 28 * 86400 else format_date(local.date()))
                continue
            p.drawText(QRectF(x - 40, bottom + 4, 80, fm.height()),
                       Qt.AlignmentFlag.AlignHCenter, format_clock(local, seconds=False))
            if local.date() != last_day:
                last_day = local.date()
                p.drawText(QRectF(x - 60, bottom + 4 + fm.height(), 120, fm.height()),
                           Qt.AlignmentFlag.AlignHCenter, day)

    # --- interaction ---------------------------------------------------------------------------

    def bar_at(self, pos: QPointF) -> TimelineBar | None:
        for rect, bar in self._bar_rects:
            if rect.adjusted(-2, -2, 2, 2).contains(pos):
                return bar
        return None

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            bar = self.bar_at(QPointF(event.pos()))
            if bar is not None:
                QToolTip.showText(event.globalPos(), plain_tip(bar.tip), self)
                return True
        return super().event(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        bar = self.bar_at(event.position())
        if bar is not None:
            self.sessionClicked.emit(bar.session_id)
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        t = self.timeline
        if t is None or not t.bars or event.key() not in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            super().keyPressEvent(event)
            return
        ids = [b.session_id for b in sorted(t.bars, key=lambda b: b.start)]
        i = ids.index(self.selected) if self.selected in ids else -1
        i = max(i - 1, 0) if event.key() == Qt.Key.Key_Left else min(i + 1, len(ids) - 1)
        self.sessionClicked.emit(ids[i])


def axis_ticks(lo: datetime, hi: datetime, width: float) -> tuple[list[datetime], int]:
    """Round local times between `lo` and `hi`, about one per 100 px, and the step in
    seconds (from a minute to a week; beyond, the first days of months)."""
    span = (hi - lo).total_seconds()
    if span <= 0 or width <= 0:
        return [], 0
    wanted = max(width / 100, 2)
    step = next((s for s in STEPS if span / s <= wanted), 0)
    if step == 0:
        return _month_ticks(lo, hi, wanted)
    local = to_local(lo)
    offset = local.utcoffset() or timedelta(0)
    wall = lo.timestamp() + offset.total_seconds()
    first = (int(wall // step) + 1) * step - offset.total_seconds()
    out = []
    t = first
    while t <= hi.timestamp():
        out.append(datetime.fromtimestamp(t, tz=lo.tzinfo))
        t += step
    return out, step


def _month_ticks(lo: datetime, hi: datetime, wanted: float) -> tuple[list[datetime], int]:
    """The first days of every 1, 2, 3, 6 or 12 months between `lo` and `hi` (local)."""
    start, end = to_local(lo), to_local(hi)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    every = next((m for m in (1, 2, 3, 6, 12) if months / m <= wanted), 12 * (months // 120 + 1))
    out = []
    index = start.year * 12 + start.month  # the month after lo's
    while True:
        year, month = divmod(index, 12)
        tick = datetime(year, month + 1, 1).astimezone()
        if tick > hi:
            break
        if tick >= lo and (month % every == 0 or every == 1):
            out.append(tick)
        index += 1
    return out, every * 30 * 86400
