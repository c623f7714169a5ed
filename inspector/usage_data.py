"""What the Usage tab reads, and the figures it lays out from it (pure: no Qt, tested
without a display).

A full read (`read_usage`) runs in the worker pool. The service only ever adds usage to
the current day (and the previous one around midnight), so a live change re-reads just
those two days (`read_recent`, a few rows, about a millisecond) and swaps them in; anything
older is caught by a reconciling full read. The aggregation itself is `shepherd_store.usage`
and `shepherd_store.usage_compare`; this module only chooses what of it the tab shows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from shepherd_store import SqliteStore
from shepherd_store.policy import Policy
from shepherd_store.timefmt import format_day
from shepherd_store.usage import (
    Bucket,
    BucketedUsage,
    DailyUsage,
    DayRange,
    EntrySummary,
    Preset,
    count_per_span,
    day_number,
    preset_range,
    quota_hit_days,
    split_entries,
    summarize,
)
from shepherd_store.usage_compare import (
    NO_WEEKS,
    WeekComparison,
    bucket_like,
    compare_weeks,
    over_limit,
    week_window,
)


@dataclass
class Loaded:
    """What one full read returns (built in a worker thread, no Qt objects)."""

    daily: DailyUsage
    today_usage: dict[str, int] | None
    known: set[str]
    weeks: DailyUsage | None = None
    """This week and last week (`week_window`) when the range does not hold them."""


def read_usage(store: SqliteStore, preset: Preset | None, custom: DayRange | None,
               today: date) -> Loaded:
    """Read the range's usage, today's (when outside the range) and every known entry."""
    if preset is Preset.ALL:
        records = store.usage_between()
        days = [r.day for r in records]
        rng = preset_range(Preset.ALL, today, min(days, default=None), max(days, default=None))
    else:
        rng = custom if preset is None and custom is not None else preset_range(
            preset or Preset.MONTH, today)
        records = store.usage_between(rng.start, rng.end)
    today_usage = None
    if today not in rng:
        today_usage = {r.entry_id: r.seconds for r in store.usage_between(today, today)}
    daily = DailyUsage.from_records(records, rng)
    known = set(store.known_entries()) | set(daily.entries)
    weeks = week_window(today).span
    return Loaded(daily, today_usage, known, None if rng.intersect(weeks) == weeks else
                  DailyUsage.from_records(store.usage_between(weeks.start, weeks.end), weeks))


def read_recent(store: SqliteStore, data: Loaded, today: date) -> Loaded:
    """`data` with a fresh read of yesterday and today swapped in (raises StoreError).

    The service only ever adds usage to the current day (and the previous one around
    midnight); anything older is caught by the reconciling full read.
    """
    recent = DayRange(max(1, day_number(today) - 1), day_number(today))
    records = store.usage_between(recent.start, recent.end)
    daily = data.daily.replace_days(records, recent)
    weeks = data.weeks
    if weeks is not None:  # this week's figures follow the service too
        weeks = weeks.replace_days(records, recent)
    today_usage = data.today_usage
    if today not in daily.range:
        today_usage = {r.entry_id: r.seconds for r in records if r.day == today}
    return Loaded(daily, today_usage, data.known | {r.entry_id for r in records}, weeks)


def range_moved(preset: Preset | None, rng: DayRange, today: date) -> bool:
    """Whether the day changed under a preset's range (`rng`, as read): it moves with it."""
    return (preset is Preset.ALL and day_number(today) > rng.last) or (
        preset not in (None, Preset.ALL) and preset_range(preset, today) != rng)


@dataclass(frozen=True)
class ChartFigures:
    """What the chart draws of a read: its bars, and per entry with a limit the days it was
    reached and the seconds over it per bar; the entries drawn and the rest ("Other")."""

    bars: BucketedUsage
    hits: dict[str, list[int]]
    over: Mapping[str, Sequence[int]]
    drawn: list[str]
    rest: list[str]


def chart_figures(daily: DailyUsage, bucket: Bucket, quotas: Mapping[str, int]) -> ChartFigures:
    """The bars of `daily` grouped by `bucket`, against the daily limits `quotas`."""
    bars = daily.bucketed(bucket)
    hit_days = quota_hit_days(daily, quotas)
    hits = {e: count_per_span(days, bars.spans) for e, days in hit_days.items()}
    over = bucket_like(over_limit(daily, quotas), bars).seconds if quotas else {}
    drawn, rest = split_entries(daily)
    return ChartFigures(bars, hits, over, drawn, rest)


@dataclass(frozen=True)
class SummaryRow:
    """One row of the table: the entry's figures over the range and its two weeks."""

    summary: EntrySummary
    week: WeekComparison = NO_WEEKS

    @property
    def entry_id(self) -> str:
        return self.summary.entry_id


def week_figures(data: Loaded, today: date) -> dict[str, WeekComparison]:
    """This week against last week per entry, from the range or the weeks' own read."""
    for source in (data.daily, data.weeks):
        if source is not None:
            with contextlib.suppress(ValueError):  # does not hold both weeks
                return compare_weeks(source, today)
    return {}


def summary_rows(data: Loaded, today: date, quotas: Mapping[str, int]) -> list[SummaryRow]:
    """The summary table's rows: each entry's figures over the range and its two weeks."""
    summaries = summarize(data.daily, today, today_usage=data.today_usage, quotas=quotas)
    weeks = week_figures(data, today)
    return [SummaryRow(r, weeks.get(r.entry_id, NO_WEEKS)) for r in summaries]


def summary_title(rng: DayRange, weekdays: str) -> str:
    """The line above the table: the range and the weekdays the week columns compare."""
    return (f"Totals for {rng} ({rng.days} day{'s' if rng.days != 1 else ''}) · weeks: "
            f"this week ({weekdays}) against the same days of last week")


def no_usage_text(daily: DailyUsage, preset: Preset | None) -> str:
    """What the tab says when the range holds no usage at all ("" when it does)."""
    if any(any(v) for v in daily.seconds.values()):
        return ""
    rng = daily.range
    text = (f"No usage was recorded from {format_day(rng.start)} to "
            f"{format_day(rng.end)}." if rng.days > 1 else
            f"No usage was recorded on {format_day(rng.start)}.")
    if preset is not Preset.ALL:
        text += " “Everything” shows every day that has usage."
    return text


def limits_text(policy_path: str | None, has_limits: bool) -> str:
    """Where the limits come from (the policy file by name) and how the chart draws them."""
    if policy_path is None:
        return ("No daily limits shown: open the service's policy file (File ▸ Open "
                "Policy File… or --config) to draw each entry's limit.")
    name = Path(policy_path).name or policy_path
    return (f"Daily limits from the policy file {name}: a thick tick in an entry's "
            "colour marks its limit on its own bar; the hatched part above it is "
            "time over the limit." if has_limits else
            f"The policy file {name} sets no daily limits.")


def policy_quotas(policy: Policy | None) -> dict[str, int]:
    """The daily limit of each entry that has one in `policy` (none without a policy)."""
    if policy is None:
        return {}
    return {e.id: e.daily_quota_seconds for e in policy.entries.values()
            if e.daily_quota_seconds}
