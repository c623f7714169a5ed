"""What a parent asks of the usage figures, answered without Qt (pure, standard library).

- `over_limit`: the part of each day's usage beyond the entry's daily limit (the part of a
  bar a chart draws as "over the daily limit"); bucketed, a week's over part is the sum of
  its days' (`DailyUsage.bucketed`, or `bucket_like` the bars already made).
- `week_window`, `compare_weeks`: this week so far (Monday to today) against the same days
  of last week, per entry: "this week 3 h 10 min, last week 2 h 05 min, +1 h 05 min".
  The same days, so that on a Wednesday three days are not compared with seven.
- `average_per_day`: usage per day over a range, days without usage included.
- `format_change`: a difference of durations with its sign (`+1 h 05 min`, `−20 min`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from .describe import format_duration
from .usage import Bucket, BucketedUsage, DailyUsage, DayRange, day_number

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def over_limit(daily: DailyUsage, quotas: Mapping[str, int | None]) -> DailyUsage:
    """Seconds beyond the daily limit, per entry with a limit, for every day of the range.

    A day at or under the limit has 0. Entries without a limit (None or 0: unlimited) are
    left out. `quota_hit_days` says on which days a limit was *reached* (`>=`), which
    includes days exactly at the limit, whose over part is 0.
    """
    out: dict[str, list[int]] = {}
    for entry, values in daily.seconds.items():
        quota = quotas.get(entry)
        if quota:
            out[entry] = [v - quota if v > quota else 0 for v in values]
    return DailyUsage(daily.range, out)


def bucket_like(daily: DailyUsage, bars: BucketedUsage) -> BucketedUsage:
    """`daily` summed over the same bars as `bars` (made from a `DailyUsage` of the same
    range), without working the bars out again (`spans` of a year's days: ~1 ms a time)."""
    if bars.spans and (bars.spans[0].first != daily.range.first
                       or bars.spans[-1].last != daily.range.last):
        raise ValueError(f"the bars do not cover {daily.range}")
    if bars.bucket is Bucket.DAY:
        return BucketedUsage(bars.bucket, bars.spans,
                             {e: tuple(v) for e, v in daily.seconds.items()})
    base = daily.range.first
    bounds = [(s.first - base, s.last - base + 1) for s in bars.spans]
    return BucketedUsage(bars.bucket, bars.spans, {
        e: tuple(sum(v[a:b]) for a, b in bounds) for e, v in daily.seconds.items()})


@dataclass(frozen=True)
class WeekWindow:
    """This week so far and the same weekdays of the week before (day ranges)."""

    this: DayRange
    """Monday of today's week to today."""
    last: DayRange
    """The same weekdays one week earlier."""

    @property
    def span(self) -> DayRange:
        """Every day either week holds (what must be read to compare them)."""
        return DayRange(self.last.first, self.this.last)

    @property
    def weekdays(self) -> str:
        """The weekdays compared, in words: `Mon`, `Mon–Wed`, `Mon–Sun`."""
        first = WEEKDAY_NAMES[self.this.start.weekday()]
        last = WEEKDAY_NAMES[self.this.end.weekday()]
        return first if first == last else f"{first}–{last}"


def week_window(today: date) -> WeekWindow:
    """The days `compare_weeks` compares on `today` (weeks run Monday to Sunday)."""
    end = day_number(today)
    monday = end - today.weekday()
    # day 1 is a Monday (0001-01-01), so a last week always exists from 0001-01-08 on
    this = DayRange(monday, end)
    last = DayRange(max(1, monday - 7), max(1, end - 7))
    return WeekWindow(this, last)


@dataclass(frozen=True)
class WeekComparison:
    """One entry's usage this week so far and on the same days of last week, in seconds."""

    this_week: int
    last_week: int

    @property
    def change(self) -> int:
        """This week minus last week (negative: less than last week)."""
        return self.this_week - self.last_week


NO_WEEKS = WeekComparison(0, 0)


def compare_weeks(daily: DailyUsage, today: date,
                  entries: Iterable[str] = ()) -> dict[str, WeekComparison]:
    """Per entry of `daily` (and of `entries`): this week so far against last week's same days.

    `daily` must hold every day of `week_window(today).span`; a range that misses some
    would silently count them as zero, so it raises ValueError instead.
    """
    window = week_window(today)
    if daily.range.intersect(window.span) != window.span:
        raise ValueError(f"{daily.range} does not hold the days compared ({window.span})")
    base = daily.range.first
    this = slice(window.this.first - base, window.this.last - base + 1)
    last = slice(window.last.first - base, window.last.last - base + 1)
    out = {e: NO_WEEKS for e in entries}
    for entry, values in daily.seconds.items():
        out[entry] = WeekComparison(sum(values[this]), sum(values[last]))
    return out


def average_per_day(data: BucketedUsage | DailyUsage, entries: Iterable[str]) -> float:
    """Seconds per day of `entries` together, over every day `data` covers (0 when none).

    Days without usage count: a week with one 70-minute day averages 10 minutes a day.
    Unknown entries count as zero.
    """
    days = (data.range.days if isinstance(data, DailyUsage)
            else sum(s.days for s in data.spans))
    if days <= 0:
        return 0.0
    rows: Mapping[str, Iterable[int]] = data.seconds
    return sum(sum(rows[e]) for e in set(entries) if e in rows) / days


def format_change(seconds: int) -> str:
    """A change of usage with its sign: `+1 h 05 min`, `−20 min` (a real minus), `same`."""
    if seconds == 0:
        return "same"
    text = format_duration(abs(seconds))
    return f"+{text}" if seconds > 0 else f"\u2212{text}"
