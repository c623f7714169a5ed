"""Pure presentation logic (no Qt): durations, times, summaries, colours, details."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import pytest

from inspector import formatting as f
from shepherd_store import (
    AuditEvent,
    ClientConnected,
    ConfigReloaded,
    Expired,
    LaunchDenied,
    LaunchFailed,
    ManualOverride,
    ProcessExited,
    SessionEnded,
    SessionStarted,
    UnknownEvent,
    UserStop,
    WarningIssued,
)

SID = "11111111-1111-4111-8111-111111111111"
EST = timezone(timedelta(hours=-5))


@pytest.fixture(autouse=True)
def iso_style() -> Iterator[None]:
    f.set_time_style(f.TimeStyle())
    yield
    f.set_time_style(f.TimeStyle())


@pytest.mark.parametrize(("secs", "text"), [
    (0, "0 s"), (59, "59 s"), (60, "1 min"), (2700, "45 min"), (3600, "1 h 00 min"),
    (3900, "1 h 05 min"), (7199, "1 h 59 min"), (90061, "25 h 01 min"), (-300, "-5 min"),
])
def test_durations_read_like_people_say_them(secs: int, text: str) -> None:
    assert f.format_duration(secs) == text
    assert f.format_duration(timedelta(seconds=secs)) == text


def test_time_styles_follow_the_locale() -> None:
    moment = datetime(2026, 1, 10, 14, 5, 9)
    assert f.format_date(moment.date()) == "2026-01-10"
    assert f.format_clock(moment) == "14:05:09"
    f.set_time_style(f.TimeStyle(order="mdy", separator="/", hour12=True))
    assert f.format_date(date(2026, 1, 10)) == "01/10/2026"
    assert f.format_clock(moment, seconds=False) == "2:05 PM"
    assert f.format_clock(moment.replace(hour=0)) == "12:05:09 AM"
    f.set_time_style(f.TimeStyle(order="dmy", separator="."))
    assert f.format_date(date(2026, 1, 10)) == "10.01.2026"


def test_local_time_converts_the_instant_not_the_wall_clock() -> None:
    stored = datetime(2026, 1, 10, 9, 45, tzinfo=EST)
    local = stored.astimezone()
    assert f.format_local(stored) == local.strftime("%Y-%m-%d %H:%M:%S")
    assert f.format_local_time(stored) == local.strftime("%H:%M")
    assert f.format_local(None) == "—"
    assert f.format_stored(stored) == "2026-01-10T09:45:00-05:00"


def test_out_of_range_times_do_not_crash() -> None:
    assert f.format_local(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))
    assert f.format_local(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))))


def test_summaries_a_parent_understands() -> None:
    labels = {"minecraft": "Minecraft"}
    ended = SessionEnded(SID, "minecraft", Expired(), timedelta(minutes=45, seconds=20))
    assert f.summarize(ended, labels) == "Minecraft ended: time limit reached after 45 min"
    assert f.summarize(SessionEnded(SID, "x", UserStop(), timedelta(seconds=5)), {}) == \
        "x ended: stopped by the child after 5 s"
    assert "exit code 3" in f.summarize(
        SessionEnded(SID, "x", ProcessExited(3), timedelta(0)), {})
    assert "failed to start: boom" in f.summarize(
        SessionEnded(SID, "x", LaunchFailed("boom"), timedelta(0)), {})
    assert f.summarize(SessionStarted(SID, "x", "X", None), {}) == "X started, no time limit"
    assert f.summarize(WarningIssued(SID, 300), {}) == "Warned: 5 min left"
    assert f.summarize(LaunchDenied("minecraft", ("QuotaExhausted { used: 1s, quota: 1s }",)),
                       labels) == "Minecraft was not allowed: daily time used up"
    assert f.summarize(ConfigReloaded(False), {}) == "Configuration reload FAILED"
    assert f.summarize(ClientConnected("c", "Shell", None), {}).endswith("(unknown user)")
    change = ManualOverride("cooldown", "minecraft", "a", None, "mum")
    assert f.summarize(change, labels) == "mum changed the cooldown of Minecraft: a → none"
    assert f.summarize(UnknownEvent("tokens_adjusted", '{"type":"tokens_adjusted"}'), {}) \
        .startswith("Event of a newer service version")
    assert f.summarize(UnknownEvent("", "{", malformed=True, error="invalid JSON"), {}) == \
        "Unreadable row: invalid JSON"


def test_markup_is_kept_as_text_and_long_text_is_cut() -> None:
    assert f.summarize(SessionStarted(SID, "<img src=x>", "<b>B</b>", None), {}) == \
        "<b>B</b> started, no time limit"
    cut = f.clip("x" * 5000, 100)
    assert cut.startswith("x" * 100) and "4,900 more characters" in cut
    assert "\n" not in f.clip("a\nb")


def test_event_names_and_kinds() -> None:
    assert f.event_name("session_ended") == "Session ended"
    assert f.event_name("tokens_adjusted") == "Unknown: tokens_adjusted"
    assert f.event_name("", malformed=True) == "Unreadable row"
    assert f.event_kind(WarningIssued(SID, 1)) == "warning"
    assert f.event_kind(UnknownEvent("x", "{}")) == "unknown"
    assert f.event_kind(UnknownEvent("", "{", malformed=True)) == "malformed"


def test_detail_fields_list_every_field_once_with_both_times() -> None:
    event = AuditEvent(7, datetime(2026, 1, 10, 9, 0, tzinfo=EST),
                       SessionStarted(SID, "tuxmath", "Tux Math",
                                      datetime(2026, 1, 10, 9, 30, tzinfo=EST)))
    rows = dict(f.event_fields(event, {"tuxmath": "Tux Math"}))
    assert rows["Id"] == "7"
    assert rows["Type"] == "Session started"
    assert rows["Deadline (as stored)"] == "2026-01-10T09:30:00-05:00"
    assert rows["Entry id"] == "Tux Math (tuxmath)"
    names = [name for name, _ in f.event_fields(event, {})]
    assert len(names) == len(set(names))


def test_entry_colours_are_stable_and_distinct() -> None:
    entries = [f"entry-{i}" for i in range(12)]
    colours = f.entry_colors(entries)
    assert colours == f.entry_colors(list(reversed(entries)))
    assert len(set(colours.values())) == 12
    assert f.entry_color("minecraft") == f.entry_color("minecraft")


def test_pretty_json_indents_and_survives_garbage() -> None:
    assert json.loads(f.pretty_json('{"a":[1,2]}')) == {"a": [1, 2]}
    assert f.pretty_json("{not json") == "{not json"
    deep = "[" * 100_000 + "]" * 100_000
    assert f.pretty_json(deep, limit=1000).endswith("more characters not shown)")
    assert f.pretty_json(deep[:50_000] + deep[-50_000:], limit=200_000)
