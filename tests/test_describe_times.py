"""`format_local`, `format_local_time` and `offset_note` write what they wrote before they
were made cheaper (a recovery report of a million events writes 14,000 times): compared
with that implementation (`Reference`, below) on any instant and offset, in the viewer's
zone of the moment (the zone changed between calls as tests do, with TZ and `tzset`), near
the hours that happen twice or never, out of range, in every time style.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shepherd_store import describe
from shepherd_store.describe import TimeStyle

#: The viewer's zones tried: DST (an hour, half an hour, two hours), none, offsets of
#: seconds (LMT), leap seconds (right/), a POSIX rule, Morocco's Ramadan.
ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe",
         "Pacific/Kiritimati", "Europe/Amsterdam", "Asia/Kolkata", "America/St_Johns",
         "Antarctica/Troll", "Africa/Casablanca", "EST5EDT,M3.2.0,M11.1.0"]
if Path("/usr/share/zoneinfo/right/America/New_York").exists():
    ZONES.append("right/America/New_York")
#: Instants (UTC) near which a zone above changes its offset.
CHANGES = [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC),
           datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC),
           datetime(2026, 4, 4, 15, tzinfo=UTC), datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
           datetime(1937, 6, 30, 23, 40, 28, tzinfo=UTC),
           datetime(1916, 4, 30, 23, 40, 28, tzinfo=UTC),
           datetime(1883, 11, 18, 17, tzinfo=UTC), datetime(2026, 2, 15, 2, tzinfo=UTC),
           datetime(2016, 12, 31, 23, 59, 30, tzinfo=UTC)]
STYLES = [TimeStyle(), TimeStyle("dmy", ".", False), TimeStyle("mdy", "/", True),
          TimeStyle("ymd", "-", True), TimeStyle("ymd", " {0} ", False), TimeStyle("dmy")]


class Reference:
    """The implementation before (describe.py at 9f97b58): its own cache, keyed by the wall
    clock's minute as a naive datetime."""

    def __init__(self, style: TimeStyle) -> None:
        self.style = style
        self.cache: dict[tuple[datetime, timedelta, str | None, tuple[str, ...]], bool] = {}

    def format_date(self, day: date) -> str:
        parts = {"y": f"{day.year:04d}", "m": f"{day.month:02d}", "d": f"{day.day:02d}"}
        return self.style.separator.join(parts[c] for c in self.style.order)

    def format_clock(self, value: datetime, *, seconds: bool = True) -> str:
        tail = f":{value.second:02d}" if seconds else ""
        if self.style.hour12:
            hour = value.hour % 12 or 12
            return f"{hour}:{value.minute:02d}{tail} {'PM' if value.hour >= 12 else 'AM'}"
        return f"{value.hour:02d}:{value.minute:02d}{tail}"

    def format_local(self, value: datetime | None, *, seconds: bool = True) -> str:
        if value is None:
            return "—"
        local = describe.to_local(value)
        return (f"{self.format_date(local.date())} "
                f"{self.format_clock(local, seconds=seconds)}{self.offset_note(local)}")

    def format_local_time(self, value: datetime | None, *, seconds: bool = False) -> str:
        if value is None:
            return "—"
        local = describe.to_local(value)
        return self.format_clock(local, seconds=seconds) + self.offset_note(local)

    def offset_note(self, local: datetime) -> str:
        offset = local.utcoffset()
        if offset is None:
            return ""
        wall = local.replace(tzinfo=None, fold=0)
        key = (wall.replace(second=0, microsecond=0), offset, os.environ.get("TZ"),
               tuple(time.tzname))
        plain = self.cache.get(key)
        if plain is None:
            try:
                first = wall.astimezone().utcoffset()
                second = wall.replace(fold=1).astimezone().utcoffset()
            except (OverflowError, ValueError, OSError):
                first = second = None
            plain = first == second == offset
            if len(self.cache) > 4096:
                self.cache.clear()
            self.cache[key] = plain
        if plain:
            return ""
        secs = int(offset.total_seconds())
        hh, mm = divmod(abs(secs) // 60, 60)
        return f" {'-' if secs < 0 else '+'}{hh:02d}:{mm:02d}"


@pytest.fixture(autouse=True)
def restore_zone_and_style() -> Iterator[None]:
    zone = os.environ.get("TZ")
    style = describe._style
    describe._offset_cache.clear()
    yield
    describe._style = style
    if zone is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = zone
    time.tzset()
    describe._offset_cache.clear()


def offsets() -> st.SearchStrategy[timezone | None]:
    """No zone, whole minutes (the service's), or seconds and microseconds."""
    return st.one_of(
        st.none(), st.just(UTC),
        st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m))),
        st.timedeltas(timedelta(hours=-23, minutes=59), timedelta(hours=23, minutes=59))
        .map(timezone))


def instants() -> st.SearchStrategy[datetime]:
    """Any datetime of any offset (naive ones read as local), or one near a change."""
    near = st.builds(lambda at, secs, micros, zone, fold: (
        at + timedelta(seconds=secs, microseconds=micros)).astimezone(zone or UTC).replace(
        fold=fold), st.sampled_from(CHANGES), st.integers(-3 * 3600, 3 * 3600),
        st.integers(0, 999_999), offsets(), st.integers(0, 1))
    anything = st.builds(lambda naive, zone, fold: naive.replace(tzinfo=zone, fold=fold),
                         st.datetimes(), offsets(), st.integers(0, 1))
    return st.one_of(near, anything)


#: The reference, its cache emptied with ours before each test: both see the same calls in
#: the same order, so their caches (the only state) hold the same answers.
REF = Reference(TimeStyle())


@pytest.fixture(autouse=True)
def caches_in_step() -> None:
    REF.cache.clear()
    describe._offset_cache.clear()
    REF.style = TimeStyle()
    describe.set_time_style(REF.style)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.tuples(instants(), st.sampled_from(ZONES), st.sampled_from(STYLES),
                          st.booleans(), st.booleans()), min_size=1, max_size=6))
def test_local_times_are_written_as_before(
        calls: list[tuple[datetime, str, TimeStyle, bool, bool]]) -> None:
    for value, zone, style, seconds, direct in calls:
        os.environ["TZ"] = zone
        time.tzset()
        if direct:  # (a style equal to the default is then not the default itself)
            describe._style = style
        else:
            describe.set_time_style(style)
        REF.style = style
        # A local time of either fold, as given (first: the calls below fill the cache).
        for fold in (1, 0):
            local = describe.to_local(value).replace(fold=fold)
            assert describe.offset_note(local) == REF.offset_note(local), (local, zone)
        assert describe.format_local(value, seconds=seconds) == \
            REF.format_local(value, seconds=seconds), (value, zone, style)
        assert describe.format_local_time(value, seconds=seconds) == \
            REF.format_local_time(value, seconds=seconds), (value, zone, style)
        assert describe.offset_note(value) == REF.offset_note(value), (value, zone)
    assert describe.format_local(None) == REF.format_local(None) == "—"


def test_the_hour_that_happens_twice_and_the_cold_cache() -> None:
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    ref = Reference(TimeStyle())
    for hour in range(3, 9):
        for minute in (0, 29, 59):
            for second in (0, 59):
                value = datetime(2026, 11, 1, hour, minute, second, 999_999, tzinfo=UTC)
                describe._offset_cache.clear()
                ref.cache.clear()
                for seconds in (True, False):
                    assert describe.format_local(value, seconds=seconds) == \
                        ref.format_local(value, seconds=seconds)
    assert describe.format_local(datetime(2026, 11, 1, 5, 30, tzinfo=UTC)) == \
        "2026-11-01 01:30:00 -04:00"
    assert describe.format_local(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), seconds=False) == \
        "2026-11-01 01:30 -05:00"


def test_the_default_style_is_known_by_identity() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    value = datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5)))
    describe.set_time_style(TimeStyle())
    assert describe._style is describe._ISO
    assert describe.format_local(value) == "0999-01-02 08:04:05"
    describe.set_time_style(TimeStyle("dmy"))
    assert describe._style == TimeStyle("dmy")
    assert describe.format_local(value, seconds=False) == "02-01-0999 08:04"


def test_a_zone_of_the_same_names_is_another_zone() -> None:
    """New York's clocks went back 3 min 58 s in 1883 (from its local mean time to EST); a
    POSIX rule with the same names never did: the same wall clock is ambiguous in one only,
    and what was learnt of it in one zone is not taken for the other."""
    value = datetime(1883, 11, 18, 17, 1, tzinfo=UTC)  # 12:01 EST, after the change
    got = []
    for zone in ("America/New_York", "EST5EDT,M3.2.0,M11.1.0", "America/New_York"):
        os.environ["TZ"] = zone
        time.tzset()
        assert time.tzname == ("EST", "EDT")
        got.append(describe.format_local(value))
        assert got[-1] == REF.format_local(value)
    assert got == ["1883-11-18 12:01:00 -05:00", "1883-11-18 12:01:00",
                   "1883-11-18 12:01:00 -05:00"]
