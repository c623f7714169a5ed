"""Usage per entry per day, aggregated for charts, tables and the command line (pure, no Qt).

The daemon records seconds per entry per *local date* (`YYYY-MM-DD`). Those are calendar
days, not instants, so this module handles them as integer day numbers
(`date.toordinal()`): consecutive days differ by exactly 1 and no time zone or
daylight-saving rule is ever consulted. A 23- or 25-hour day therefore can never move a
bar onto its neighbour or merge two days, as converting days to timestamps would.

The pieces, in the order a view uses them:

- `DayRange` and `preset_range`: the inclusive range of days to show;
- `DailyUsage`: seconds per entry for *every* day of the range (zero where nothing was
  recorded, so missing days are zero bars rather than gaps);
- `Bucket`, `auto_bucket`, `DailyUsage.bucketed`: day, week (Monday to Sunday) or month
  sums, clipped to the range;
- `split_entries`: which entries a chart draws on their own, and which as "Other";
- `summarize`: per-entry total, average per day, busiest day, days used, today, and the
  days a daily quota was reached (`quota_hit_days` for the days themselves);
- `csv_rows`: the data behind a chart, one row per entry per day.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from .store import UsageRecord
from .timefmt import format_day

#: The longest range `preset_range` returns (about 50 years): a stray row dated 0001-01-01
#: must not make "everything" allocate hundreds of thousands of days per entry.
MAX_RANGE_DAYS = 18_300

#: `auto_bucket` shows single days up to this many days, weeks up to `WEEK_LIMIT_DAYS`.
DAY_LIMIT_DAYS = 120
WEEK_LIMIT_DAYS = 730

#: A chart draws at most this many entries on their own and sums the rest as "Other":
#: more would repeat the palette's colours, and each costs the window a chart item.
CHART_ENTRIES = 15


def day_number(day: date) -> int:
    """The day's number on the calendar axis (`date.toordinal()`; 1 is 0001-01-01)."""
    return day.toordinal()


def day_date(number: int) -> date:
    """The calendar date of a day number (inverse of `day_number`)."""
    return date.fromordinal(number)


@dataclass(frozen=True, order=True)
class DayRange:
    """An inclusive range of days, as day numbers (`first <= last`)."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"a day range must not end before it starts: {self.first} > "
                             f"{self.last}")
        if self.first < 1:
            raise ValueError("day numbers start at 1 (0001-01-01)")

    @classmethod
    def from_dates(cls, start: date, end: date) -> DayRange:
        """The range from `start` to `end`, both included (swapped if given backwards)."""
        a, b = day_number(start), day_number(end)
        return cls(min(a, b), max(a, b))

    @property
    def start(self) -> date:
        """The first day as a date."""
        return day_date(self.first)

    @property
    def end(self) -> date:
        """The last day as a date."""
        return day_date(self.last)

    @property
    def days(self) -> int:
        """How many days the range holds."""
        return self.last - self.first + 1

    def numbers(self) -> range:
        """Every day number of the range, in order."""
        return range(self.first, self.last + 1)

    def __contains__(self, day: object) -> bool:
        if isinstance(day, date):
            day = day_number(day)
        return isinstance(day, int) and self.first <= day <= self.last

    def intersect(self, other: DayRange) -> DayRange | None:
        """The days both ranges hold, or None."""
        first, last = max(self.first, other.first), min(self.last, other.last)
        return DayRange(first, last) if first <= last else None

    def __str__(self) -> str:
        if self.first == self.last:
            return format_day(self.start)
        return f"{format_day(self.start)} – {format_day(self.end)}"


class Preset(StrEnum):
    """The ranges a view offers, ending today."""

    WEEK = "7d"
    MONTH = "30d"
    QUARTER = "90d"
    YEAR = "365d"
    ALL = "all"


#: Days per fixed-length preset.
PRESET_DAYS: dict[Preset, int] = {
    Preset.WEEK: 7, Preset.MONTH: 30, Preset.QUARTER: 90, Preset.YEAR: 365,
}


def preset_range(preset: Preset, today: date, first_day: date | None = None,
                 last_day: date | None = None) -> DayRange:
    """The range a preset means on `today`.

    Fixed presets are the last N days ending with today. `ALL` runs from the first day with
    usage (`first_day`) to today, or to `last_day` if the data goes beyond today (a clock
    that was wrong once); without data it is just today. Never longer than `MAX_RANGE_DAYS`
    (the newest days are kept).
    """
    end = day_number(today)
    if preset is Preset.ALL:
        first = day_number(first_day) if first_day is not None else end
        last = max(end, day_number(last_day)) if last_day is not None else end
        first = min(first, last)
    else:
        last = end
        first = end - PRESET_DAYS[preset] + 1
    first = max(first, last - MAX_RANGE_DAYS + 1, 1)
    return DayRange(first, last)


class Bucket(StrEnum):
    """How many days one bar sums: a day, a week (Monday to Sunday) or a calendar month."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def auto_bucket(days: int) -> Bucket:
    """The bucket that keeps a range of `days` readable: days, then weeks, then months."""
    if days <= DAY_LIMIT_DAYS:
        return Bucket.DAY
    if days <= WEEK_LIMIT_DAYS:
        return Bucket.WEEK
    return Bucket.MONTH


def bucket_first(day: int, bucket: Bucket) -> int:
    """The first day (number) of the bucket that holds `day`."""
    if bucket is Bucket.DAY:
        return day
    d = day_date(day)
    if bucket is Bucket.WEEK:
        return day - d.weekday()
    return day_number(d.replace(day=1))


def _next_bucket_first(first: int, bucket: Bucket) -> int:
    if bucket is Bucket.DAY:
        return first + 1
    if bucket is Bucket.WEEK:
        return first + 7
    d = day_date(first)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return day_number(date(year, month, 1))


@dataclass(frozen=True)
class Span:
    """The days one bar covers: a bucket clipped to the range (both ends included)."""

    first: int
    last: int

    @property
    def days(self) -> int:
        return self.last - self.first + 1

    @property
    def center(self) -> float:
        """Where the bar stands on the day axis (the middle of its days)."""
        return (self.first + self.last) / 2

    @property
    def start(self) -> date:
        return day_date(self.first)

    @property
    def end(self) -> date:
        return day_date(self.last)


def spans(rng: DayRange, bucket: Bucket) -> list[Span]:
    """The buckets covering `rng`, in order, the first and last clipped to the range.

    Together they hold every day of the range exactly once.
    """
    out: list[Span] = []
    first = rng.first
    while first <= rng.last:
        nxt = _next_bucket_first(bucket_first(first, bucket), bucket)
        last = min(nxt - 1, rng.last)
        out.append(Span(first, last))
        first = last + 1
    return out


def span_index(span_list: list[Span], day: float) -> int | None:
    """Index of the span whose days hold `day` (a position on the day axis), or None.

    A day's bar covers `day - 0.5` up to `day + 0.5`, so positions are rounded to days.
    """
    if not span_list:
        return None
    n = int(day + 0.5) if day >= 0 else -1
    if n < span_list[0].first or n > span_list[-1].last:
        return None
    return bisect.bisect_right([s.first for s in span_list], n) - 1


@dataclass(frozen=True)
class BucketedUsage:
    """Seconds per entry per span (bar) for one bucket size."""

    bucket: Bucket
    spans: tuple[Span, ...]
    seconds: dict[str, tuple[int, ...]]

    def totals(self) -> list[int]:
        """Seconds of all entries together, per span."""
        return self.sum_of(self.seconds)

    def sum_of(self, entries: Iterable[str]) -> list[int]:
        """Seconds of `entries` together, per span (unknown entries count as zero)."""
        rows = [self.seconds[e] for e in entries if e in self.seconds]
        return [sum(column) for column in zip(*rows, strict=True)] if rows else \
            [0] * len(self.spans)


class DailyUsage:
    """Seconds per entry for every day of a range; zero where nothing was recorded.

    `seconds[entry][i]` is the usage on day `rng.first + i`. Entries are kept sorted by id,
    which is also the stacking order of a chart (stable while data arrives).
    """

    __slots__ = ("range", "seconds")

    def __init__(self, rng: DayRange, seconds: Mapping[str, list[int]] | None = None) -> None:
        self.range = rng
        self.seconds: dict[str, list[int]] = {}
        for entry in sorted(seconds or {}):
            values = list((seconds or {})[entry])
            if len(values) != rng.days:
                raise ValueError(f"{entry}: {len(values)} values for {rng.days} days")
            self.seconds[entry] = values

    @classmethod
    def from_records(cls, records: Iterable[UsageRecord], rng: DayRange,
                     entries: Iterable[str] = ()) -> DailyUsage:
        """Lay records out on the range: days outside it are ignored, repeats are added up.

        `entries` are included even without usage (all zero). Negative counts (which the
        store never returns) are ignored rather than subtracted.
        """
        out = cls(rng)
        for entry in entries:
            out._row(entry)
        out._add(records)
        out.seconds = dict(sorted(out.seconds.items()))
        return out

    def _row(self, entry: str) -> list[int]:
        row = self.seconds.get(entry)
        if row is None:
            row = self.seconds[entry] = [0] * self.range.days
        return row

    def _add(self, records: Iterable[UsageRecord]) -> None:
        first, last = self.range.first, self.range.last
        for rec in records:
            n = day_number(rec.day)
            if first <= n <= last and rec.seconds > 0:
                self._row(rec.entry_id)[n - first] += rec.seconds

    @property
    def entries(self) -> list[str]:
        """Entry ids with a row, sorted."""
        return list(self.seconds)

    def get(self, entry: str, day: date | int) -> int:
        """Seconds of `entry` on `day` (0 outside the range or for an unknown entry)."""
        n = day_number(day) if isinstance(day, date) else day
        row = self.seconds.get(entry)
        if row is None or n not in self.range:
            return 0
        return row[n - self.range.first]

    def replace_days(self, records: Iterable[UsageRecord], days: DayRange) -> DailyUsage:
        """A copy where the days of `days` (within the range) hold exactly `records`.

        For live updates: re-read only the days that can have changed and swap them in.
        Entries seen for the first time get a row; existing rows are never dropped.
        """
        out = DailyUsage(self.range)
        out.seconds = {e: list(v) for e, v in self.seconds.items()}
        window = self.range.intersect(days)
        if window is None:
            return out
        a, b = window.first - self.range.first, window.last - self.range.first + 1
        for row in out.seconds.values():
            row[a:b] = [0] * (b - a)
        out._add(r for r in records if day_number(r.day) in window)
        out.seconds = dict(sorted(out.seconds.items()))
        return out

    def bucketed(self, bucket: Bucket) -> BucketedUsage:
        """Sums per bucket (bars), each bucket clipped to the range."""
        span_list = spans(self.range, bucket)
        if bucket is Bucket.DAY:
            return BucketedUsage(bucket, tuple(span_list),
                                 {e: tuple(v) for e, v in self.seconds.items()})
        base = self.range.first
        bounds = [(s.first - base, s.last - base + 1) for s in span_list]
        return BucketedUsage(bucket, tuple(span_list), {
            e: tuple(sum(v[a:b]) for a, b in bounds) for e, v in self.seconds.items()})

    def rows(self) -> Iterator[tuple[date, str, int]]:
        """(day, entry, seconds) for every day and entry, zeros included, by day then entry."""
        for i, n in enumerate(self.range.numbers()):
            day = day_date(n)
            for entry, values in self.seconds.items():
                yield day, entry, values[i]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, DailyUsage) and self.range == other.range
                and self.seconds == other.seconds)

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        return f"DailyUsage({self.range}, {len(self.seconds)} entries)"


def split_entries(daily: DailyUsage,
                  limit: int = CHART_ENTRIES) -> tuple[list[str], list[str]]:
    """(drawn on their own, summed as "Other"), each in entry order.

    The `limit` entries with the most usage over the range are drawn on their own (ties by
    id). All of them are when there are at most `limit + 1`: an "Other" of one entry would
    only hide its name.
    """
    entries = list(daily.seconds)
    if len(entries) <= limit + 1:
        return entries, []
    totals = {e: sum(v) for e, v in daily.seconds.items()}
    top = set(heapq.nsmallest(limit, entries, key=lambda e: (-totals[e], e)))
    return [e for e in entries if e in top], [e for e in entries if e not in top]


def quota_hit_days(daily: DailyUsage, quotas: Mapping[str, int | None]) -> dict[str, list[int]]:
    """Per entry with a daily quota, the day numbers on which usage reached it (`>=`).

    Entries without a quota (None or 0: unlimited) are left out.
    """
    out: dict[str, list[int]] = {}
    for entry, values in daily.seconds.items():
        quota = quotas.get(entry)
        if quota:
            first = daily.range.first
            out[entry] = [first + i for i, v in enumerate(values) if v >= quota]
    return out


def count_per_span(days: Iterable[int], span_list: list[Span] | tuple[Span, ...]) -> list[int]:
    """How many of `days` (day numbers) fall in each span (e.g. quota hits per week)."""
    out = [0] * len(span_list)
    firsts = [s.first for s in span_list]
    for n in days:
        i = bisect.bisect_right(firsts, n) - 1
        if i >= 0 and n <= span_list[i].last:
            out[i] += 1
    return out


@dataclass(frozen=True)
class EntrySummary:
    """One entry's usage over a range (the summary table's row and the CLI's line)."""

    entry_id: str
    total_seconds: int
    average_seconds: float
    """Per day of the whole range, days without usage included."""
    busiest_day: date | None
    """The (earliest) day with the most usage; None when the entry was never used."""
    busiest_seconds: int
    days_used: int
    today_seconds: int
    quota_seconds: int | None = None
    quota_days: int = 0
    """Days in the range on which usage reached the daily quota."""


def summarize(daily: DailyUsage, today: date, *, today_usage: Mapping[str, int] | None = None,
              quotas: Mapping[str, int | None] | None = None) -> list[EntrySummary]:
    """Per-entry figures over `daily`'s range, sorted by entry id.

    Today's usage comes from `daily` when today is in the range, else from `today_usage`
    (entry → seconds; entries only known from there get a row with zero totals).
    """
    quotas = quotas or {}
    extra = dict(today_usage or {})
    entries = sorted(set(daily.seconds) | {e for e, v in extra.items() if v > 0})
    days = daily.range.days
    out = []
    for entry in entries:
        values = daily.seconds.get(entry) or [0] * days
        total = sum(values)
        peak = max(values)
        busiest = day_date(daily.range.first + values.index(peak)) if peak > 0 else None
        today_secs = daily.get(entry, today) if today in daily.range else extra.get(entry, 0)
        quota = quotas.get(entry) or None
        out.append(EntrySummary(
            entry_id=entry,
            total_seconds=total,
            average_seconds=total / days,
            busiest_day=busiest,
            busiest_seconds=peak,
            days_used=days - values.count(0),  # never negative (`DailyUsage._add`)
            today_seconds=today_secs,
            quota_seconds=quota,
            quota_days=sum(1 for v in values if v >= quota) if quota else 0,
        ))
    return out


#: Header of `csv_rows`.
CSV_HEADER = ("day", "entry_id", "label", "seconds", "daily_quota_seconds", "quota_reached")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str, guard: bool) -> str:
    """A text cell; with `guard`, one a spreadsheet would run as a formula gets a `'`."""
    return "'" + text if guard and text.startswith(_FORMULA_START) else text


def csv_rows(daily: DailyUsage, labels: Mapping[str, str] | None = None,
             quotas: Mapping[str, int | None] | None = None, *,
             guard_formulas: bool = True) -> Iterator[tuple[str, ...]]:
    """The data behind a chart as CSV rows (header first): one row per entry per day.

    Days without usage are rows with 0 seconds. Labels and ids come from the database, so
    by default a text that starts like a spreadsheet formula is prefixed with `'`.
    """
    labels = labels or {}
    quotas = quotas or {}
    yield CSV_HEADER
    for day, entry, secs in daily.rows():
        quota = quotas.get(entry) or None
        yield (format_day(day), _cell(entry, guard_formulas),
               _cell(labels.get(entry, entry), guard_formulas), str(secs),
               "" if quota is None else str(quota),
               "" if quota is None else ("yes" if secs >= quota else "no"))
