"""Ticks of the Usage chart's axes (pure: no Qt, tested without a display).

The day axis is over calendar day numbers (`shepherd_store.usage.day_number`): its level
(days, Mondays, every other Monday, months, quarters, years) is chosen from the pixels per
day and the widths of its labels, which the axis measures in its font and passes in, so
labels never crowd. The duration axis is over seconds, at whole minute or hour steps.
`usage_axes` puts both on pyqtgraph's axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from shepherd_store.usage import day_date

from .formatting import format_duration

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_DAY = 3_652_059  # 9999-12-31

#: (major spacing, tick values) per level, the labelled major level first.
Levels = list[tuple[float, list[float]]]


def day_levels(min_val: float, max_val: float, size: float,
               widths: tuple[float, float, float, float]) -> tuple[Levels, str | None]:
    """The tick levels of the day axis over `min_val`..`max_val` in `size` pixels, and the
    style of day labels ("weekday", "month", "number"; None: the levels are not days).

    `widths` are the room a label takes in the axis font: "Wed Sep 30", "Sep 30", "30" and
    "2026", each with its margin.
    """
    if not (math.isfinite(min_val) and math.isfinite(max_val)) or max_val <= min_val \
            or size <= 0:
        return [], None
    first = max(1, math.ceil(min_val))  # only days in view: the first one is labelled
    last = min(MAX_DAY, math.floor(max_val))
    if last < first:
        return [], None
    ppd = size / (max_val - min_val)
    wide_w, day_w, number_w, month_w = widths
    levels: Levels
    day_style = None
    if ppd >= number_w:
        day_style = ("weekday" if ppd >= wide_w else
                     "month" if ppd >= day_w else "number")
        # the first label carries the month: start where it fits in the axis
        lead = max(first, math.ceil(min_val + day_w / 2 / ppd))
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
    return levels, day_style


def day_labels(values: Sequence[float], spacing: float, day_style: str) -> list[str]:
    """The labels of a major level's ticks (`day_levels`) at `spacing` days."""
    out = []
    for k, v in enumerate(values):
        d = day_date(round(v))
        if spacing <= 1:
            text = f"{MONTHS[d.month - 1]} {d.day}"
            if day_style == "weekday":
                text = f"{WEEKDAYS[d.weekday()]} {text}"
            elif day_style == "number" and d.day != 1 and k != 0:
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


def duration_levels(min_val: float, max_val: float, size: float) -> Levels:
    """The one tick level of the duration axis over `min_val`..`max_val` seconds in `size`
    pixels: about one tick per 60 px, at a whole minute or hour step."""
    if not (math.isfinite(min_val) and math.isfinite(max_val)) or max_val <= min_val \
            or size <= 0:
        return []
    wanted = max(2.0, size / 60)
    raw = (max_val - min_val) / wanted
    step = next((s for s in _STEPS if s >= raw), _STEPS[-1])
    if raw > step:  # absurd stored values (years of "usage" in a day): whole multiples
        step = math.ceil(raw / step) * step
    start = math.ceil(min_val / step) * step
    # Counted, never materialised: a corrupt 2**62 s row once made numpy build a
    # 415-billion-element range in every paint (MemoryError, the chart never drew).
    count = min(200, max(0, math.floor((max_val - start) / step + 1e-6) + 1))
    values = [float(start + i * step) for i in range(count)]
    return [(float(step), values)]


def duration_tick(seconds: float) -> str:
    """An axis label: `0`, `30 min`, `2 h`, `1 h 30 min`."""
    if seconds <= 0:
        return "0"
    return format_duration(round(seconds)).removesuffix(" 00 min")
