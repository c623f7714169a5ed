"""Usage aggregation (`shepherd_store.usage`): ranges, buckets, totals, quota hits. No Qt."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shepherd_store import SqliteStore, UsageRecord
from shepherd_store.usage import (
    CHART_ENTRIES,
    CSV_HEADER,
    MAX_RANGE_DAYS,
    Bucket,
    DailyUsage,
    DayRange,
    Preset,
    Span,
    auto_bucket,
    bucket_first,
    count_per_span,
    csv_rows,
    day_date,
    day_number,
    preset_range,
    quota_hit_days,
    span_index,
    spans,
    split_entries,
    summarize,
)
from shepherd_store.usage_compare import (
    WeekComparison,
    average_per_day,
    bucket_like,
    compare_weeks,
    format_change,
    over_limit,
    week_window,
)

D = date.fromisoformat


def rec(entry: str, day: str, seconds: int) -> UsageRecord:
    return UsageRecord(entry, D(day), seconds)


@pytest.fixture(params=["America/New_York", "Europe/Berlin", "Australia/Sydney",
                        "Pacific/Apia"])
def local_tz(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the process's local time zone set to a zone with DST changes."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


# --- day numbers and ranges -------------------------------------------------------------

#: (last day before, day of the change, day after) for DST starts and ends in several zones,
#: plus the day Samoa skipped (2011-12-30 never happened in Pacific/Apia).
DST_DAYS = [
    ("2026-03-07", "2026-03-08", "2026-03-09"),  # US spring forward (23 h day)
    ("2026-10-31", "2026-11-01", "2026-11-02"),  # US fall back (25 h day)
    ("2026-03-28", "2026-03-29", "2026-03-30"),  # EU spring forward
    ("2026-10-24", "2026-10-25", "2026-10-26"),  # EU fall back
    ("2026-04-04", "2026-04-05", "2026-04-06"),  # Sydney fall back
    ("2026-10-03", "2026-10-04", "2026-10-05"),  # Sydney spring forward
    ("2011-12-29", "2011-12-30", "2011-12-31"),  # Samoa's skipped day
]


@pytest.mark.parametrize(("before", "change", "after"), DST_DAYS)
def test_days_around_dst_are_consecutive_numbers(local_tz: str, before: str, change: str,
                                                 after: str) -> None:
    numbers = [day_number(D(d)) for d in (before, change, after)]
    assert numbers[1] - numbers[0] == 1
    assert numbers[2] - numbers[1] == 1
    assert [day_date(n).isoformat() for n in numbers] == [before, change, after]


@pytest.mark.parametrize(("before", "change", "after"), DST_DAYS)
def test_dst_days_each_get_their_own_bar(local_tz: str, before: str, change: str,
                                         after: str) -> None:
    rng = DayRange.from_dates(D(before), D(after))
    daily = DailyUsage.from_records(
        [rec("a", before, 100), rec("a", change, 200), rec("a", after, 300)], rng)
    assert daily.seconds["a"] == [100, 200, 300]
    bars = daily.bucketed(Bucket.DAY)
    assert [(s.first, s.last) for s in bars.spans] == [(n, n) for n in rng.numbers()]
    assert [s.center for s in bars.spans] == [float(n) for n in rng.numbers()]
    assert bars.seconds["a"] == (100, 200, 300)


@pytest.mark.parametrize(("before", "change", "after"), DST_DAYS)
def test_dst_days_through_the_store(local_tz: str, tmp_path: Path, before: str,
                                    change: str, after: str) -> None:
    """Written as the daemon writes them, read back, laid out: one bar per day, in order."""
    with SqliteStore.open(tmp_path / "dst.db") as store:
        for day, secs in ((before, 61), (change, 3600), (after, 7)):
            store.add_usage("tuxmath", D(day), timedelta(seconds=secs))
        rng = DayRange.from_dates(D(before) - timedelta(days=1), D(after) + timedelta(days=1))
        records = store.usage_between(rng.start, rng.end)
    daily = DailyUsage.from_records(records, rng)
    assert daily.seconds["tuxmath"] == [0, 61, 3600, 7, 0]
    assert [d.isoformat() for d, _e, _s in daily.rows()][1:4] == [before, change, after]


def test_week_across_dst_holds_seven_days(local_tz: str) -> None:
    rng = DayRange.from_dates(D("2026-03-02"), D("2026-03-15"))  # two Mon–Sun weeks
    weeks = spans(rng, Bucket.WEEK)
    assert [(w.start.isoformat(), w.end.isoformat(), w.days) for w in weeks] == [
        ("2026-03-02", "2026-03-08", 7), ("2026-03-09", "2026-03-15", 7)]


def test_day_range_basics() -> None:
    rng = DayRange.from_dates(D("2026-01-10"), D("2026-01-01"))  # given backwards
    assert (rng.start, rng.end, rng.days) == (D("2026-01-01"), D("2026-01-10"), 10)
    assert D("2026-01-05") in rng
    assert day_number(D("2026-01-11")) not in rng
    assert "x" not in rng
    assert str(rng) == "2026-01-01 – 2026-01-10"
    assert str(DayRange.from_dates(D("2026-01-01"), D("2026-01-01"))) == "2026-01-01"
    assert rng.intersect(DayRange.from_dates(D("2026-01-08"), D("2026-02-01"))) == \
        DayRange.from_dates(D("2026-01-08"), D("2026-01-10"))
    assert rng.intersect(DayRange.from_dates(D("2026-02-01"), D("2026-02-02"))) is None
    with pytest.raises(ValueError, match="end before it starts"):
        DayRange(10, 9)


@pytest.mark.parametrize(("preset", "days"), [(Preset.WEEK, 7), (Preset.MONTH, 30),
                                              (Preset.QUARTER, 90), (Preset.YEAR, 365)])
def test_fixed_presets_end_today(preset: Preset, days: int) -> None:
    today = D("2026-03-09")  # the day after the US DST change
    rng = preset_range(preset, today)
    assert rng.end == today
    assert rng.days == days
    assert rng.start == today - timedelta(days=days - 1)


def test_everything_runs_from_first_usage_to_today() -> None:
    today = D("2026-11-26")
    assert preset_range(Preset.ALL, today, D("2023-05-01"), D("2026-11-20")) == \
        DayRange.from_dates(D("2023-05-01"), today)
    # usage dated after today (a clock set wrong once) stays visible
    assert preset_range(Preset.ALL, today, D("2026-01-01"), D("2027-01-03")).end == \
        D("2027-01-03")
    assert preset_range(Preset.ALL, today) == DayRange.from_dates(today, today)


def test_everything_is_capped_to_keep_memory_bounded() -> None:
    rng = preset_range(Preset.ALL, D("2026-11-26"), D("0001-01-01"), D("2026-11-26"))
    assert rng.days == MAX_RANGE_DAYS
    assert rng.end == D("2026-11-26")


# --- buckets ------------------------------------------------------------------------------

@pytest.mark.parametrize(("days", "bucket"), [
    (1, Bucket.DAY), (7, Bucket.DAY), (90, Bucket.DAY), (120, Bucket.DAY),
    (121, Bucket.WEEK), (365, Bucket.WEEK), (730, Bucket.WEEK), (731, Bucket.MONTH),
    (3 * 365, Bucket.MONTH)])
def test_auto_bucket_by_range_length(days: int, bucket: Bucket) -> None:
    assert auto_bucket(days) is bucket


def test_bucket_first_day() -> None:
    wed = day_number(D("2026-01-07"))
    assert bucket_first(wed, Bucket.DAY) == wed
    assert day_date(bucket_first(wed, Bucket.WEEK)) == D("2026-01-05")  # Monday
    assert day_date(bucket_first(wed, Bucket.MONTH)) == D("2026-01-01")


def test_buckets_are_clipped_to_the_range() -> None:
    rng = DayRange.from_dates(D("2026-01-29"), D("2026-03-03"))
    assert [(s.start.isoformat(), s.end.isoformat()) for s in spans(rng, Bucket.MONTH)] == [
        ("2026-01-29", "2026-01-31"), ("2026-02-01", "2026-02-28"),
        ("2026-03-01", "2026-03-03")]
    weeks = spans(rng, Bucket.WEEK)
    assert (weeks[0].start, weeks[0].end) == (D("2026-01-29"), D("2026-02-01"))  # Thu–Sun
    assert (weeks[-1].start, weeks[-1].end) == (D("2026-03-02"), D("2026-03-03"))


def test_week_and_month_sums() -> None:
    rng = DayRange.from_dates(D("2026-01-26"), D("2026-02-08"))  # Mon 26 Jan .. Sun 8 Feb
    daily = DailyUsage.from_records([
        rec("a", "2026-01-26", 10), rec("a", "2026-01-31", 20), rec("a", "2026-02-01", 40),
        rec("a", "2026-02-02", 80), rec("b", "2026-02-08", 5)], rng)
    weeks = daily.bucketed(Bucket.WEEK)
    assert weeks.seconds == {"a": (70, 80), "b": (0, 5)}
    assert weeks.totals() == [70, 85]
    months = daily.bucketed(Bucket.MONTH)
    assert months.seconds == {"a": (30, 120), "b": (0, 5)}
    assert [s.center for s in months.spans] == [
        (day_number(D("2026-01-26")) + day_number(D("2026-01-31"))) / 2,
        (day_number(D("2026-02-01")) + day_number(D("2026-02-08"))) / 2]


def test_chart_draws_the_busiest_entries_and_sums_the_rest() -> None:
    rng = DayRange.from_dates(D("2026-03-01"), D("2026-03-02"))
    # e00 is the busiest, e19 the quietest; e05 and e06 tie, broken by id
    records = [rec(f"e{i:02d}", "2026-03-01", 100 * (20 - i)) for i in range(20)]
    records.append(rec("e06", "2026-03-02", 100))  # e06 now ties e05 (1500 each)
    daily = DailyUsage.from_records(records, rng)
    drawn, rest = split_entries(daily, limit=6)
    assert drawn == ["e00", "e01", "e02", "e03", "e04", "e05"]
    assert rest == [f"e{i:02d}" for i in range(6, 20)]  # entry order, not usage order
    bars = daily.bucketed(Bucket.DAY)
    assert bars.sum_of(rest) == [sum(100 * (20 - i) for i in range(6, 20)), 100]
    assert bars.sum_of([]) == [0, 0]
    assert bars.sum_of(["unknown"]) == [0, 0]
    assert [a + b for a, b in zip(bars.sum_of(drawn), bars.sum_of(rest), strict=True)] == \
        bars.totals()


def test_a_few_entries_are_all_drawn_on_their_own() -> None:
    rng = DayRange.from_dates(D("2026-03-01"), D("2026-03-01"))
    many = DailyUsage.from_records(
        [rec(f"e{i:02d}", "2026-03-01", i + 1) for i in range(CHART_ENTRIES + 1)], rng)
    assert split_entries(many) == (many.entries, [])  # "Other" would hold only one entry
    assert split_entries(DailyUsage(rng)) == ([], [])
    more = DailyUsage.from_records(
        [rec(f"e{i:02d}", "2026-03-01", i + 1) for i in range(CHART_ENTRIES + 2)], rng)
    drawn, rest = split_entries(more)
    assert len(drawn) == CHART_ENTRIES and rest == ["e00", "e01"]


def test_span_index_maps_positions_to_bars() -> None:
    rng = DayRange.from_dates(D("2026-01-01"), D("2026-01-20"))
    weeks = spans(rng, Bucket.WEEK)  # Thu 1–Sun 4, 5–11, 12–18, 19–20
    first = rng.first
    assert span_index(weeks, first) == 0
    assert span_index(weeks, first - 0.4) == 0  # left half of the first day's bar
    assert span_index(weeks, first - 0.6) is None
    assert span_index(weeks, first + 3.4) == 0
    assert span_index(weeks, first + 3.6) == 1
    assert span_index(weeks, rng.last + 0.4) == 3
    assert span_index(weeks, rng.last + 0.6) is None
    assert span_index([], first) is None


# --- the daily matrix ------------------------------------------------------------------------

def test_missing_days_are_zero_not_gaps() -> None:
    rng = DayRange.from_dates(D("2026-01-01"), D("2026-01-07"))
    daily = DailyUsage.from_records(
        [rec("a", "2026-01-02", 60), rec("a", "2026-01-06", 120),
         rec("a", "2025-12-31", 999), rec("a", "2026-01-08", 999)],  # outside: ignored
        rng, entries=["quiet"])
    assert daily.entries == ["a", "quiet"]
    assert daily.seconds["a"] == [0, 60, 0, 0, 0, 120, 0]
    assert daily.seconds["quiet"] == [0] * 7
    assert daily.get("a", D("2026-01-06")) == 120
    assert daily.get("a", D("2026-01-08")) == 0
    assert daily.get("nobody", D("2026-01-06")) == 0
    assert len(list(daily.rows())) == 14


def test_repeated_records_add_up_and_negative_ones_are_ignored() -> None:
    rng = DayRange.from_dates(D("2026-01-01"), D("2026-01-01"))
    daily = DailyUsage.from_records([rec("a", "2026-01-01", 60), rec("a", "2026-01-01", 30),
                                     rec("a", "2026-01-01", -500)], rng)
    assert daily.seconds["a"] == [90]


def test_replace_days_swaps_in_a_fresh_read_of_recent_days() -> None:
    rng = DayRange.from_dates(D("2026-01-01"), D("2026-01-05"))
    daily = DailyUsage.from_records([rec("a", "2026-01-01", 10), rec("a", "2026-01-04", 40),
                                     rec("a", "2026-01-05", 50)], rng)
    recent = DayRange.from_dates(D("2026-01-04"), D("2026-01-06"))  # runs past the range
    fresh = daily.replace_days([rec("a", "2026-01-05", 55), rec("new", "2026-01-04", 7),
                                rec("a", "2026-01-01", 999)], recent)  # outside `recent`
    assert fresh.seconds == {"a": [10, 0, 0, 0, 55], "new": [0, 0, 0, 7, 0]}
    assert daily.seconds == {"a": [10, 0, 0, 40, 50]}  # the original is unchanged
    assert fresh != daily
    assert fresh == DailyUsage.from_records(
        [rec("a", "2026-01-01", 10), rec("a", "2026-01-05", 55), rec("new", "2026-01-04", 7)],
        rng)
    outside = daily.replace_days([rec("a", "2026-02-01", 1)], DayRange.from_dates(
        D("2026-02-01"), D("2026-02-02")))
    assert outside == daily


def test_daily_usage_checks_row_lengths() -> None:
    with pytest.raises(ValueError, match="3 values for 2 days"):
        DailyUsage(DayRange(10, 11), {"a": [1, 2, 3]})


# --- quota hits and summaries -----------------------------------------------------------------

def test_quota_hits_are_days_at_or_over_the_quota() -> None:
    rng = DayRange.from_dates(D("2026-01-01"), D("2026-01-10"))
    daily = DailyUsage.from_records(
        [rec("a", "2026-01-02", 3599), rec("a", "2026-01-03", 3600),
         rec("a", "2026-01-09", 4000), rec("b", "2026-01-03", 99999)], rng)
    hits = quota_hit_days(daily, {"a": 3600, "b": None, "c": 60})
    assert hits == {"a": [day_number(D("2026-01-03")), day_number(D("2026-01-09"))]}
    weeks = spans(rng, Bucket.WEEK)  # Thu 1–Sun 4, Mon 5–Sun 11
    assert count_per_span(hits["a"], weeks) == [1, 1]
    assert count_per_span([rng.first - 5, rng.last + 5], weeks) == [0, 0]


def test_summary_per_entry() -> None:
    rng = DayRange.from_dates(D("2026-01-01"), D("2026-01-10"))
    daily = DailyUsage.from_records(
        [rec("a", "2026-01-02", 1800), rec("a", "2026-01-05", 3600),
         rec("a", "2026-01-07", 3600), rec("a", "2026-01-10", 600),
         rec("b", "2026-01-03", 60)], rng)
    rows = summarize(daily, today=D("2026-01-10"), quotas={"a": 3600})
    a, b = rows
    assert a.entry_id == "a"
    assert a.total_seconds == 9600
    assert a.average_seconds == 960.0  # per day of the range, unused days included
    assert (a.busiest_day, a.busiest_seconds) == (D("2026-01-05"), 3600)  # earliest of ties
    assert a.days_used == 4
    assert a.today_seconds == 600
    assert (a.quota_seconds, a.quota_days) == (3600, 2)
    assert (b.total_seconds, b.days_used, b.today_seconds, b.quota_seconds) == (60, 1, 0, None)


def test_summary_today_outside_the_range() -> None:
    rng = DayRange.from_dates(D("2026-01-01"), D("2026-01-03"))
    daily = DailyUsage.from_records([rec("a", "2026-01-01", 50)], rng)
    rows = summarize(daily, today=D("2026-02-01"), today_usage={"a": 70, "later": 30})
    assert [(r.entry_id, r.total_seconds, r.today_seconds, r.busiest_day) for r in rows] == [
        ("a", 50, 70, D("2026-01-01")), ("later", 0, 30, None)]


def test_summary_of_an_empty_range() -> None:
    rng = DayRange.from_dates(D("2026-01-01"), D("2026-01-07"))
    assert summarize(DailyUsage.from_records([], rng), today=D("2026-01-07")) == []


# --- CSV ----------------------------------------------------------------------------------------

def test_csv_has_one_row_per_entry_per_day() -> None:
    rng = DayRange.from_dates(D("2026-03-07"), D("2026-03-09"))
    daily = DailyUsage.from_records([rec("a", "2026-03-08", 7200), rec("b", "2026-03-09", 5)],
                                    rng)
    rows = list(csv_rows(daily, {"a": "Tux Math"}, {"a": 3600}))
    assert rows[0] == CSV_HEADER
    assert rows[1:] == [
        ("2026-03-07", "a", "Tux Math", "0", "3600", "no"),
        ("2026-03-07", "b", "b", "0", "", ""),
        ("2026-03-08", "a", "Tux Math", "7200", "3600", "yes"),
        ("2026-03-08", "b", "b", "0", "", ""),
        ("2026-03-09", "a", "Tux Math", "0", "3600", "no"),
        ("2026-03-09", "b", "b", "5", "", ""),
    ]


def test_csv_defuses_spreadsheet_formulas_from_the_database() -> None:
    rng = DayRange.from_dates(D("2026-01-01"), D("2026-01-01"))
    daily = DailyUsage.from_records([rec("=cmd|x", "2026-01-01", 1)], rng)
    rows = list(csv_rows(daily, {"=cmd|x": '@SUM(A1),"x"\n<b>'}))
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    back = list(csv.reader(io.StringIO(buf.getvalue())))
    assert back[1][1:3] == ["'=cmd|x", '\'@SUM(A1),"x"\n<b>']
    raw = list(csv_rows(daily, {}, guard_formulas=False))
    assert raw[1][1] == "=cmd|x"


# --- properties ----------------------------------------------------------------------------

records_strategy = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 800), st.integers(0, 90_000)),
    max_size=60)


@settings(max_examples=150, deadline=None)
@given(start=st.dates(date(1999, 1, 1), date(2040, 12, 31)), length=st.integers(1, 800),
       raw=records_strategy, bucket=st.sampled_from(list(Bucket)))
def test_buckets_partition_the_range_and_keep_every_second(
        start: date, length: int, raw: list[tuple[str, int, int]], bucket: Bucket) -> None:
    rng = DayRange(day_number(start), day_number(start) + length - 1)
    records = [UsageRecord(e, start + timedelta(days=off), s) for e, off, s in raw]
    daily = DailyUsage.from_records(records, rng)
    in_range = [r for r in records if r.day in rng]
    bars = daily.bucketed(bucket)
    # the spans cover every day of the range exactly once, in order
    assert bars.spans[0].first == rng.first
    assert bars.spans[-1].last == rng.last
    for prev, nxt in zip(bars.spans, bars.spans[1:], strict=False):
        assert nxt.first == prev.last + 1
    for s in bars.spans:
        assert bucket_first(s.first, bucket) == bucket_first(s.last, bucket)  # one bucket
    # nothing is lost or counted twice
    for entry in daily.entries:
        want = sum(r.seconds for r in in_range if r.entry_id == entry)
        assert sum(daily.seconds[entry]) == want
        assert sum(bars.seconds[entry]) == want
    assert sum(bars.totals()) == sum(r.seconds for r in in_range)
    rows = summarize(daily, today=rng.end)
    assert sum(r.total_seconds for r in rows) == sum(r.seconds for r in in_range)


# --- over the limit, week against week, averages (usage_compare) ----------------------------

def test_over_limit_is_the_part_beyond_the_daily_limit() -> None:
    rng = DayRange.from_dates(D("2026-03-02"), D("2026-03-08"))  # Monday to Sunday
    daily = DailyUsage.from_records([
        rec("a", "2026-03-02", 5400), rec("a", "2026-03-03", 3600), rec("a", "2026-03-04", 3599),
        rec("a", "2026-03-05", 3601), rec("b", "2026-03-02", 9999), rec("c", "2026-03-02", 10)],
        rng)
    over = over_limit(daily, {"a": 3600, "b": None, "c": 0})
    assert over.entries == ["a"]  # no limit (None or 0): nothing is over
    assert over.seconds["a"] == [1800, 0, 0, 1, 0, 0, 0]  # a 90-min day, 60-min limit: 30 min
    # a week bar's over part is the sum of its days' (not the week's total against 7 limits)
    assert over.bucketed(Bucket.WEEK).seconds["a"] == (1801,)
    for bucket in Bucket:  # summed over the bars already made: the same
        assert bucket_like(over, daily.bucketed(bucket)) == over.bucketed(bucket)
    with pytest.raises(ValueError):
        bucket_like(over, DailyUsage(DayRange(rng.first, rng.last + 1)).bucketed(Bucket.DAY))
    # reached exactly: no over part, but a hit (the chart marks the limit there)
    assert quota_hit_days(daily, {"a": 3600})["a"] == [day_number(D("2026-03-02")),
                                                       day_number(D("2026-03-03")),
                                                       day_number(D("2026-03-05"))]


@pytest.mark.parametrize(("today", "this", "last", "weekdays"), [
    ("2026-03-11", ("2026-03-09", "2026-03-11"), ("2026-03-02", "2026-03-04"), "Mon–Wed"),
    ("2026-03-09", ("2026-03-09", "2026-03-09"), ("2026-03-02", "2026-03-02"), "Mon"),
    ("2026-03-15", ("2026-03-09", "2026-03-15"), ("2026-03-02", "2026-03-08"), "Mon–Sun"),
    ("2026-01-01", ("2025-12-29", "2026-01-01"), ("2025-12-22", "2025-12-25"), "Mon–Thu"),
])
def test_week_window_is_this_week_so_far_and_the_same_days_last_week(
        today: str, this: tuple[str, str], last: tuple[str, str], weekdays: str) -> None:
    window = week_window(D(today))
    assert (window.this.start, window.this.end) == (D(this[0]), D(this[1]))
    assert (window.last.start, window.last.end) == (D(last[0]), D(last[1]))
    assert window.weekdays == weekdays
    assert window.span == DayRange.from_dates(D(last[0]), D(this[1]))


def test_compare_weeks_counts_the_same_days_of_each_week() -> None:
    today = D("2026-03-11")  # a Wednesday
    rng = DayRange.from_dates(D("2026-02-20"), today)
    daily = DailyUsage.from_records([
        rec("a", "2026-03-09", 3600), rec("a", "2026-03-11", 4200),   # this week: 2 h 10
        rec("a", "2026-03-02", 3600), rec("a", "2026-03-04", 3900),   # last Mon, Wed: 2 h 05
        rec("a", "2026-03-05", 7200),   # last Thursday: after "today"'s weekday, not counted
        rec("a", "2026-03-01", 999),    # the Sunday before last week
        rec("b", "2026-03-03", 600)], rng)
    weeks = compare_weeks(daily, today, entries=["c"])
    assert weeks["a"] == WeekComparison(7800, 7500)
    assert weeks["a"].change == 300
    assert weeks["b"] == WeekComparison(0, 600) and weeks["b"].change == -600
    assert weeks["c"] == WeekComparison(0, 0)  # known, never used
    # a range that misses some of the compared days would count them as zero: refused
    with pytest.raises(ValueError):
        compare_weeks(DailyUsage(DayRange.from_dates(D("2026-03-05"), today)), today)


def test_average_per_day_counts_days_without_usage() -> None:
    rng = DayRange.from_dates(D("2026-03-02"), D("2026-03-08"))
    daily = DailyUsage.from_records([rec("a", "2026-03-02", 4200), rec("b", "2026-03-03", 600)],
                                    rng)
    assert average_per_day(daily, ["a"]) == 600  # 70 minutes in 7 days: 10 min a day
    assert average_per_day(daily, ["a", "b", "unknown"]) == pytest.approx(4800 / 7)
    assert average_per_day(daily, []) == 0
    # bucketed the same: weeks and months clipped to the range cover the same days
    for bucket in Bucket:
        assert average_per_day(daily.bucketed(bucket), ["a", "b"]) == pytest.approx(4800 / 7)


@pytest.mark.parametrize(("seconds", "text"), [
    (3900, "+1 h 05 min"), (-1200, "\u221220 min"), (0, "same"), (45, "+45 s"),
])
def test_format_change_has_a_sign_and_a_unit(seconds: int, text: str) -> None:
    assert format_change(seconds) == text


# --- entry colours (inspector.usage_view_state: pure, no Qt) ----------------------------------

def test_colour_book_gives_distinct_colours_and_keeps_them_when_the_shown_set_changes() -> None:
    from inspector.usage_view_state import FIRST_COLORS, OTHER_COLOR, PALETTE, ColorBook

    assert OTHER_COLOR not in PALETTE and len(set(PALETTE)) == len(PALETTE) == CHART_ENTRIES + 1
    ids = [f"entry-{k:02d}" for k in range(40)]
    book = ColorBook()
    first = book.assign(ids[:CHART_ENTRIES])
    assert len(set(first.values())) == CHART_ENTRIES  # no two shown entries alike
    few = ColorBook().assign(ids[:5])
    assert set(few.values()) <= set(FIRST_COLORS)  # a few entries: only the most distinct
    assert ColorBook().assign(reversed(ids[:CHART_ENTRIES])) == first  # deterministic
    # the busiest set changes (one leaves, another arrives): the others keep their colours
    second = book.assign(ids[1:CHART_ENTRIES + 1])
    assert all(second[e] == first[e] for e in ids[1:CHART_ENTRIES])
    assert len(set(second.values())) == CHART_ENTRIES
    # ...and keep them in the next run (remembered as JSON in the settings)
    again = ColorBook.from_json(book.to_json()).assign(ids[1:CHART_ENTRIES + 1])
    assert again == second
    fresh = ColorBook().assign(ids[1:CHART_ENTRIES + 1])
    assert fresh != second  # without the memory they would have moved (the test means it)
    assert ColorBook.from_json("not json").remembered == {}
    assert ColorBook.from_json('{"a": "#123456", "b": 3}').remembered == {}


def test_colour_book_two_entries_remembered_alike_the_one_shown_before_keeps_it() -> None:
    from inspector.usage_view_state import PALETTE, ColorBook, preferred_color

    a, b = "alpha", "beta"
    color = preferred_color(b)
    book = ColorBook({a: color, b: color})  # e.g. never shown together before
    assert book.assign([a]) == {a: color}
    both = book.assign([a, b])
    assert both[a] == color and both[b] != color and both[b] in PALETTE  # a was shown first
    assert book.dirty
    assert book.assign([a, b]) == both  # and from now on both keep theirs


def test_the_colour_module_needs_no_qt() -> None:
    import subprocess
    import sys
    code = ("import sys, inspector.usage_view_state, shepherd_store.usage_compare; "
            "sys.exit(any(m.startswith('PySide6') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_usage_tabs_arithmetic_needs_no_qt() -> None:
    import subprocess
    import sys
    code = ("import sys, inspector.usage_ticks, inspector.usage_bars, inspector.usage_data; "
            "sys.exit(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- the chart's axes (inspector.usage_ticks: pure, no Qt) -----------------------------------

#: Room for "Wed Sep 30", "Sep 30", "30" and "2026" (the axis measures them in its font).
WIDTHS = (80.0, 50.0, 25.0, 40.0)


@pytest.mark.parametrize(("days", "spacing", "style", "minor"), [
    (7, 1.0, "weekday", None),  # 100 px a day: weekday names
    (10, 1.0, "month", None),  # 70 px: "Mar 4"
    (20, 1.0, "number", None),  # 35 px: day numbers
    (30, 7.0, None, 1.0),  # Mondays, bare day ticks between them
    (180, 14.0, None, 7.0),  # every other Monday
    (365, 30.0, None, 7.0),  # months
    (3 * 365, 91.0, None, 30.0),  # quarters
    (12 * 365, 365.0, None, 91.0),  # years, quarters between them
])
def test_day_axis_levels_follow_the_pixels_per_day(days: int, spacing: float,
                                                   style: str | None,
                                                   minor: float | None) -> None:
    from inspector.usage_ticks import day_levels

    end = day_number(D("2026-03-10"))
    levels, day_style = day_levels(end - days + 0.5, end + 0.5, 700, WIDTHS)
    assert levels[0][0] == spacing and day_style == style
    assert [s for s, _v in levels[1:]] == ([minor] if minor is not None else [])
    for _s, values in levels:
        assert values == sorted(values) and all(end - days < v <= end for v in values)
    if spacing == 7.0:
        assert all(day_date(int(v)).weekday() == 0 for v in levels[0][1])  # Mondays
    if spacing >= 30:
        assert all(day_date(int(v)).day == 1 for v in levels[0][1])  # first of a month


def test_day_axis_labels_and_empty_views() -> None:
    from inspector.usage_ticks import day_labels, day_levels

    first = float(day_number(D("2026-02-25")))
    values = [first + k for k in range(6)]  # Feb 25 to Mar 2
    assert day_labels(values, 1.0, "number") == ["Feb 25", "26", "27", "28", "Mar 1", "2"]
    assert day_labels(values[:1], 1.0, "weekday") == ["Wed Feb 25"]
    assert day_labels([float(day_number(D("2026-01-01")))], 30.0, "month") == ["2026"]
    assert day_labels([float(day_number(D("2026-04-01")))], 91.0, "month") == ["Apr"]
    for lo, hi, size in ((5.0, 5.0, 700.0), (1.0, 9.0, 0.0), (float("nan"), 9.0, 700.0),
                         (-20.0, 0.2, 700.0)):
        assert day_levels(lo, hi, size, WIDTHS) == ([], None)


def test_duration_axis_steps_are_whole_and_bounded() -> None:
    from inspector.usage_ticks import duration_levels, duration_tick

    for top in (600, 3600, 4 * 3600, 30 * 3600, 2000 * 3600):
        ((step, values),) = duration_levels(0, top, 600)
        assert step % 60 == 0 and (step < 3600 or step % 3600 == 0)
        assert 2 <= len(values) <= 12 and all(v % step == 0 for v in values)
    ((_step, values),) = duration_levels(0, 2.0**62, 600)  # a corrupt row: still a few ticks
    assert len(values) <= 200
    assert duration_levels(0, float("inf"), 600) == []
    assert [duration_tick(s) for s in (0, 1800, 3600, 5400)] == ["0", "30 min", "1 h",
                                                                "1 h 30 min"]


# --- where the chart draws (inspector.usage_bars: pure, no Qt) -------------------------------

def test_bars_stacked_side_by_side_and_alone() -> None:
    import numpy as np

    from inspector.usage_bars import BAR_FILL, Mode, place_bars

    firsts, lasts = np.array([10.0, 11.0, 18.0]), np.array([10.0, 17.0, 18.0])  # day, week, day
    a, b = np.array([60.0, 0.0, 30.0]), np.array([10.0, 20.0, 0.0])
    (ga, gb), tops = place_bars(Mode.STACKED, [a, b], firsts, lasts)
    assert list(ga.x) == list(gb.x) == [10.0, 14.0, 18.0]
    assert list(ga.width) == [BAR_FILL, 7 * BAR_FILL, BAR_FILL]
    assert list(ga.y0) == [0, 0, 0] and list(gb.y0) == [60, 0, 30]  # b on top of a
    assert list(tops) == [70, 20, 30]
    (ga, gb), tops = place_bars(Mode.SIDE_BY_SIDE, [a, b], firsts, lasts)
    assert list(gb.x - ga.x) == pytest.approx([BAR_FILL / 2, 7 * BAR_FILL / 2, BAR_FILL / 2])
    assert list(ga.width) == pytest.approx([BAR_FILL / 2 * 0.92, 7 * BAR_FILL / 2 * 0.92,
                                            BAR_FILL / 2 * 0.92])
    assert list(gb.y0) == [0, 0, 0] and list(tops) == [60, 20, 30]
    (g,), tops = place_bars(Mode.SINGLE, [b], firsts, lasts)
    assert list(g.y0) == [0, 0, 0] and list(tops) == [10, 20, 0]
    assert place_bars(Mode.STACKED, [], firsts, lasts)[0] == []


def test_limit_hatching_and_ticks() -> None:
    import math

    import numpy as np

    from inspector.usage_bars import (
        TICK_OVERHANG,
        BarGeometry,
        Mode,
        limit_ticks,
        over_parts,
        segments,
    )

    geom = BarGeometry(np.array([1.0, 2.0, 3.0]), np.array([0.8, 0.8, 0.8]),
                       np.array([100.0, 0.0, 50.0]), np.array([4000.0, 1000.0, 3600.0]))
    assert over_parts(None, None, geom.height) is None  # no limit
    assert over_parts(np.zeros(3), None, geom.height) is None  # never reached
    parts = over_parts(np.array([1.0, 0.0, 1.0]), np.array([400.0, 0.0, 9999.0]), geom.height)
    assert parts is not None
    mask, over = parts
    assert list(mask) == [True, False, True] and list(over) == [400, 0, 3600]  # ≤ the bar
    # stacked: in the entry's own bar where the hatching starts, wider than the bar
    ticks = limit_ticks(Mode.STACKED, True, geom, 3600, parts)
    assert ticks is not None
    xs, ys, caps = ticks
    half = 0.4 * (1 + 2 * TICK_OVERHANG)
    assert [x for x in xs if not math.isnan(x)] == pytest.approx([1 - half, 1 + half,
                                                                 3 - half, 3 + half])
    assert list(caps) == [3700, 0, 50]
    # side by side with day bars: at the limit over each bar that comes near it
    ticks = limit_ticks(Mode.SIDE_BY_SIDE, True, geom, 3600, None)
    assert ticks is not None and list(ticks[2]) == [3600, 0, 3600]  # 1000 s < half of 1 h
    assert limit_ticks(Mode.SIDE_BY_SIDE, False, geom, 3600, None) is None  # week bars
    xs, ys = segments(np.array([0.0, 5.0]), np.array([1.0, 6.0]), np.array([7.0, 8.0]))
    assert [x for x in xs if not math.isnan(x)] == [0, 1, 5, 6] and math.isnan(xs[2])
    assert [y for y in ys if not math.isnan(y)] == [7, 7, 8, 8]


def test_view_bounds_hover_and_average_entries() -> None:
    import numpy as np

    from inspector.usage_bars import (
        BarGeometry,
        Mode,
        averaged_entries,
        bar_at,
        step_edges,
        visible_days,
        x_bounds,
    )

    lo, hi, pad = x_bounds(DayRange(100, 100))  # one day: a week wide, centred on it
    assert (lo, hi) == (96.5, 103.5) and pad == pytest.approx(0.07)
    assert x_bounds(DayRange(1, 30))[:2] == (0.5, 30.5)
    assert visible_days(DayRange(1, 30), 4.6, 10.2) == DayRange(5, 10)
    assert visible_days(DayRange(1, 30), float("-inf"), float("inf")) == DayRange(1, 30)
    assert visible_days(DayRange(1, 30), 40.0, 50.0) is None
    assert list(step_edges(np.array([1.0, 8.0]), np.array([7.0, 9.0]))) == [0.5, 7.5, 9.5]
    low = BarGeometry(np.array([5.0]), np.array([0.8]), np.array([0.0]), np.array([60.0]))
    high = BarGeometry(np.array([5.0]), np.array([0.8]), np.array([60.0]), np.array([30.0]))
    assert [bar_at([low, high], 0, 5.1, y) for y in (30, 75, 95)] == [0, 1, None]
    assert bar_at([low, high], 0, 5.5, 30) is None  # beside the bar
    every = ["a", "b", "c", "d"]
    assert averaged_entries(Mode.STACKED, ["a", None], ["a", "b"], every) == ["a", "c", "d"]
    assert averaged_entries(Mode.SINGLE, ["c"], ["a", "b"], every) == ["c"]
    assert averaged_entries(Mode.SIDE_BY_SIDE, ["a", "b"], ["a", "b"], every) == []


def test_bars_in_words() -> None:
    from inspector.usage_bars import limit_state, span_text

    day = Span(day_number(D("2026-03-08")), day_number(D("2026-03-08")))
    assert span_text(day, Bucket.DAY) == "Sun 2026-03-08"
    week = Span(day_number(D("2026-03-02")), day_number(D("2026-03-08")))
    assert span_text(week, Bucket.WEEK) == "Week 2026-03-02 – 2026-03-08"
    assert limit_state(1800, 3600, 0, 0, 1, Bucket.DAY) == "30 min left"
    assert limit_state(3600, 3600, 1, 0, 1, Bucket.DAY) == "reached"
    assert limit_state(4020, 3600, 1, 420, 1, Bucket.DAY) == "7 min over"
    assert limit_state(9000, 3600, 2, 600, 7, Bucket.WEEK) == \
        "reached on 2 of 7 days, 10 min over in all"


# --- what the Usage tab reads and shows (inspector.usage_data: pure, no Qt) -------------------

def test_a_live_change_re_reads_yesterday_and_today_only(tmp_path: Path) -> None:
    from inspector.usage_data import range_moved, read_recent, read_usage

    today = D("2026-03-10")
    with SqliteStore.open(tmp_path / "u.db") as store:
        store.add_usage("a", today, timedelta(seconds=60))
        data = read_usage(store, Preset.WEEK, None, today)
        assert data.daily.range == preset_range(Preset.WEEK, today)
        assert data.today_usage is None and data.known == {"a"}
        assert data.weeks is not None  # the last 7 days miss last week's Monday
        store.add_usage("a", today, timedelta(seconds=40))
        store.add_usage("b", today - timedelta(days=1), timedelta(seconds=5))
        store.add_usage("a", today - timedelta(days=3), timedelta(seconds=700))  # a backfill
        fresh = read_recent(store, data, today)
        assert fresh.daily.seconds["a"][-1] == 100 and fresh.daily.seconds["b"][-2] == 5
        assert fresh.daily.seconds["a"][-4] == 0  # older days wait for the full read
        assert fresh.known == {"a", "b"} and data.known == {"a"}  # `data` is unchanged
        old = read_usage(store, None, DayRange.from_dates(D("2026-01-01"), D("2026-01-31")),
                         today)
        assert old.today_usage == {"a": 100} and old.weeks is not None
        store.add_usage("a", today, timedelta(seconds=1))
        assert read_recent(store, old, today).today_usage == {"a": 101}
    week = preset_range(Preset.WEEK, today)
    assert not range_moved(Preset.WEEK, week, today)
    assert range_moved(Preset.WEEK, week, today + timedelta(days=1))  # a new day
    assert not range_moved(None, week, today + timedelta(days=1))  # a custom range stays
    assert range_moved(Preset.ALL, week, today + timedelta(days=1))
    assert not range_moved(Preset.ALL, week, today)


def test_figures_and_texts_the_tab_lays_out() -> None:
    from inspector.usage_data import (
        Loaded,
        chart_figures,
        limits_text,
        no_usage_text,
        policy_quotas,
        summary_rows,
        summary_title,
    )

    rng = DayRange.from_dates(D("2026-03-02"), D("2026-03-15"))
    daily = DailyUsage.from_records([rec("a", "2026-03-02", 4000), rec("a", "2026-03-10", 100),
                                     rec("b", "2026-03-03", 50)], rng)
    fig = chart_figures(daily, Bucket.WEEK, {"a": 3600})
    assert fig.hits == {"a": [1, 0]} and list(fig.over["a"]) == [400, 0]
    assert fig.drawn == ["a", "b"] and fig.rest == []
    assert chart_figures(daily, Bucket.DAY, {}).over == {}
    rows = summary_rows(Loaded(daily, None, {"a", "b"}), D("2026-03-10"), {"a": 3600})
    assert [r.entry_id for r in rows] == ["a", "b"]
    assert rows[0].week.this_week == 100 and rows[0].week.last_week == 4000
    assert summary_title(rng, "Mon–Tue") == (
        "Totals for 2026-03-02 – 2026-03-15 (14 days) · weeks: this week (Mon–Tue) "
        "against the same days of last week")
    assert no_usage_text(daily, Preset.WEEK) == ""
    empty = DailyUsage(DayRange.from_dates(D("2026-03-02"), D("2026-03-02")), {})
    assert no_usage_text(empty, Preset.ALL) == "No usage was recorded on 2026-03-02."
    assert no_usage_text(empty, None).endswith("“Everything” shows every day that has usage.")
    assert limits_text(None, False).startswith("No daily limits shown")
    assert limits_text("/etc/shepherd/shepherdd.toml", True).startswith(
        "Daily limits from the policy file shepherdd.toml:")
    assert limits_text("/x/p.toml", False) == "The policy file p.toml sets no daily limits."
    assert policy_quotas(None) == {}
