"""Where the Usage chart draws its bars, limit ticks and average, and how it tells a bar in
words (pure: numpy, no Qt; tested without a display).

The x axis is in calendar day numbers (`shepherd_store.usage.day_number`): a bar stands on
the days of its span, `BAR_FILL` of them wide, the rest the gap to the next. `usage_chart`
puts these arrays on its pyqtgraph items.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import numpy as np

from shepherd_store.timefmt import format_day
from shepherd_store.usage import Bucket, DayRange, Span

from .formatting import format_duration
from .usage_ticks import WEEKDAYS

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July",
               "August", "September", "October", "November", "December")
BAR_FILL = 0.8  # share of its days a bar covers; the rest is the gap between bars
MIN_VISIBLE_DAYS = 7  # a one-day range is shown with some room around it
TICK_OVERHANG = 0.15  # stacked: a limit tick is this much of the bar's width wider each side
NEAR_LIMIT = 0.5  # side by side: a day bar gets its limit tick from this share of the limit


class Mode(StrEnum):
    """How entries share a bar's place."""

    STACKED = "stacked"
    SIDE_BY_SIDE = "side"
    SINGLE = "single"


@dataclass
class BarGeometry:
    """Where one entry's bars are drawn (arrays per span)."""

    x: np.ndarray
    width: np.ndarray
    y0: np.ndarray
    height: np.ndarray


def place_bars(mode: Mode, values: Sequence[np.ndarray], firsts: np.ndarray,
               lasts: np.ndarray) -> tuple[list[BarGeometry], np.ndarray]:
    """The bars of each layer in `values` (seconds per span, bottom of the stack first) over
    the spans `firsts`..`lasts`; and the top of the bars per span.

    Stacked, each layer starts where the one below ends; side by side, the layers share the
    bar's width; one entry alone stands on the baseline.
    """
    n = len(firsts)
    days = lasts - firsts + 1
    centers = (firsts + lasts) / 2
    full = days * BAR_FILL
    base = np.zeros(n)
    tops = np.zeros(n)
    k = max(1, len(values))
    out = []
    for i, layer in enumerate(values):
        if mode is Mode.SIDE_BY_SIDE:
            width = full / k
            x = centers - full / 2 + width * (i + 0.5)
            geom = BarGeometry(x, width * 0.92, np.zeros(n), layer)
            tops = np.maximum(tops, layer)
        elif mode is Mode.STACKED:
            geom = BarGeometry(centers, full, base.copy(), layer)
            base += layer
            tops = base
        else:
            geom = BarGeometry(centers, full, np.zeros(n), layer)
            tops = layer
        out.append(geom)
    return out, tops


def over_parts(hits: np.ndarray | None, over: np.ndarray | None,
               height: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(mask of the bars on which the limit was reached, seconds over on each bar); None
    when it was reached on none. `hits` counts the days it was reached per bar, `over` the
    seconds beyond it (at most the bar's `height`)."""
    if hits is None:
        return None
    mask = hits > 0
    if not mask.any():
        return None
    if over is None:
        over = np.zeros(len(mask))
    return mask, np.minimum(over, height)


def limit_ticks(mode: Mode, day_bars: bool, geom: BarGeometry, quota: int,
                parts: tuple[np.ndarray, np.ndarray] | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """An entry's limit as ticks where it means something: the points of the ticks (x, y;
    segments split by NaNs) and the height each reaches per bar; None: no tick at all.

    Side by side with day bars, a tick at the limit over each of its bars that comes near
    it (`NEAR_LIMIT`); else inside its own bar where the limit was reached (`parts`, from
    `over_parts`: the hatching starts there), stacked `TICK_OVERHANG` wider than the bar.
    """
    n = len(geom.height)
    width = np.broadcast_to(geom.width, (n,))
    if mode is Mode.SIDE_BY_SIDE and day_bars:  # over its own bars near the limit
        mask = geom.height >= quota * NEAR_LIMIT
        y = np.full(n, float(quota))
        half = width / 2
    else:  # in its own bar, where the limit was reached: the hatching starts there
        if parts is None:
            return None
        mask, over = parts
        y = geom.y0 + geom.height - over
        half = width / 2 * (1 + (2 * TICK_OVERHANG if mode is Mode.STACKED else 0))
    if not mask.any():
        return None
    xs, ys = segments((geom.x - half)[mask], (geom.x + half)[mask], y[mask])
    return xs, ys, np.where(mask, y, 0.0)


def segments(x0: np.ndarray, x1: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of separate horizontal segments (x0..x1 at y), split by NaNs (connect=finite)."""
    m = len(y)
    xs = np.full(3 * m, np.nan)
    ys = np.full(3 * m, np.nan)
    xs[0::3], xs[1::3] = x0, x1
    ys[0::3], ys[1::3] = y, y
    return xs, ys


def step_edges(firsts: np.ndarray, lasts: np.ndarray) -> np.ndarray:
    """The x edges of a line drawn in steps across the spans (stepMode "center")."""
    return np.append(firsts - 0.5, lasts[-1] + 0.5)


def averaged_entries(mode: Mode, order: Iterable[str | None], drawn: Iterable[str],
                     entries: Iterable[str]) -> list[str]:
    """The entries whose average per day the dashed line shows: those drawn together (the
    "Other" layer, None in `order`, stands for every entry not `drawn`); none side by side,
    where no bar is their sum."""
    out: list[str] = []
    if mode is not Mode.SIDE_BY_SIDE:
        keep = set(drawn)
        every = list(entries)
        for entry in order:
            out.extend([e for e in every if e not in keep] if entry is None else [entry])
    return out


def x_bounds(rng: DayRange) -> tuple[float, float, float]:
    """(left, right, padding) of the whole range: at least a week wide, centred."""
    lo, hi = rng.first - 0.5, rng.last + 0.5
    if hi - lo < MIN_VISIBLE_DAYS:
        mid = (lo + hi) / 2
        lo, hi = mid - MIN_VISIBLE_DAYS / 2, mid + MIN_VISIBLE_DAYS / 2
    return lo, hi, (hi - lo) * 0.01


def visible_days(rng: DayRange, x0: float, x1: float) -> DayRange | None:
    """The days of `rng` whose bars are (at least half) in the view `x0`..`x1`."""
    lo = max(rng.first, math.ceil(x0)) if math.isfinite(x0) else rng.first
    hi = min(rng.last, math.floor(x1)) if math.isfinite(x1) else rng.last
    return DayRange(lo, hi) if lo <= hi else None


def bar_at(geoms: Sequence[BarGeometry], i: int, x: float, y: float) -> int | None:
    """Which of the layers `geoms` (bottom first) has its bar of span `i` under (x, y): the
    topmost; None if none."""
    for k in range(len(geoms) - 1, -1, -1):
        g = geoms[k]
        h = float(g.height[i])
        if h > 0 and abs(x - float(g.x[i])) <= float(g.width[i]) / 2 and \
                float(g.y0[i]) <= y <= float(g.y0[i]) + h:
            return k
    return None


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
