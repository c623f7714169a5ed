"""The Usage chart's axes: days along the bottom, durations up the left.

Thin pyqtgraph axes over `usage_ticks`, which chooses the ticks and their labels.
"""

from __future__ import annotations

from PySide6.QtGui import QFontMetricsF

from .qt_imports import pg
from .usage_ticks import day_labels, day_levels, duration_levels, duration_tick


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
        levels, day_style = day_levels(minVal, maxVal, size, self._widths())
        if not levels:
            return []
        if day_style is not None:
            self._day_style = day_style
        self._major_spacing = levels[0][0]
        return levels

    def tickStrings(self, values: list[float], scale: float,
                    spacing: float) -> list[str]:
        if spacing != self._major_spacing:
            return [""] * len(values)
        return day_labels(values, spacing, self._day_style)


class DurationAxis(pg.AxisItem):  # type: ignore[misc]
    """Left axis over seconds, labelled in hours and minutes at whole minute/hour steps."""

    def __init__(self) -> None:
        super().__init__("left")

    def tickValues(self, minVal: float, maxVal: float,
                   size: float) -> list[tuple[float, list[float]]]:
        return duration_levels(minVal, maxVal, size)

    def tickStrings(self, values: list[float], scale: float,
                    spacing: float) -> list[str]:
        return [duration_tick(v) for v in values]
