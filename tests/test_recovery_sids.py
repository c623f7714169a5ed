"""`SessionIds` (shepherd_store/recovery/sids.py) answers exactly as a set does, and a scan that
keeps its ids compact (tested and added inline in `ingest`) makes the same report as one that
keeps them in a set. Small thresholds and a tiny bitmap put every path to work: the switch
to the compact form, bitmap collisions, ids of other forms."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_recovery import POLICY, Log, random_history, rust_db, statements_of

from shepherd_store import (
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionStarted,
    SqliteStore,
    UserStop,
)
from shepherd_store.recovery import recover
from shepherd_store.recovery import scanner as scanner_module
from shepherd_store.recovery import sids as sids_module
from shepherd_store.recovery import state as state_module
from shepherd_store.recovery.sids import SessionIds

EST = timezone(timedelta(hours=-5))


def tiny(monkeypatch: pytest.MonkeyPatch, bits: int = 1) -> None:
    """Compact from the 4th id on, with a bitmap of `bits` (1: every id has the same bit)."""
    monkeypatch.setattr(sids_module, "COMPACT_FROM", 4)
    monkeypatch.setattr(sids_module, "_BITS", bits)
    monkeypatch.setattr(sids_module, "_MASK", bits - 1)


def a_uuid(n: int, upper: bool = False) -> str:
    text = str(uuid.UUID(int=n * 0x9E3779B97F4A7C15 % (1 << 128)))
    return text.upper() if upper else text


def dashed(hex32: str) -> str:
    """32 hex digits in a UUID's 8-4-4-4-12 form."""
    return "-".join((hex32[:8], hex32[8:12], hex32[12:16], hex32[16:20], hex32[20:]))


ids = st.one_of(
    st.integers(0, 60).map(a_uuid),
    st.integers(0, 60).map(lambda n: a_uuid(n, upper=True)),
    st.text(max_size=40),  # any other form: short, long, not ASCII, empty
    st.text(alphabet="ab-", min_size=36, max_size=36),  # 36 characters, not a UUID
    st.text(alphabet="ab", min_size=32, max_size=32).map(dashed),  # UUIDs that straddle
    st.text(alphabet="aB0", min_size=32, max_size=32).map(dashed),  # mixed case, digits
    st.integers(0, 9).map(lambda n: "é" * 36 if n == 0 else ("a" * n + "b" * (36 - n))),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), ids), max_size=120))
def test_answers_as_a_set_does(steps: list[tuple[bool, str]]) -> None:
    with pytest.MonkeyPatch.context() as m:
        tiny(m)
        compact, plain = SessionIds(), set()
        for adding, sid in steps:
            assert (sid in compact) == (sid in plain), sid
            if adding:
                compact.add(sid)
                plain.add(sid)
        for _adding, sid in steps:
            assert (sid in compact) == (sid in plain), sid
        for n in range(61, 70):
            assert a_uuid(n) not in compact


def test_a_match_across_two_ids_is_not_one(monkeypatch: pytest.MonkeyPatch) -> None:
    tiny(monkeypatch)  # (one bit for all: the bytes decide)
    found = SessionIds()
    for n in range(4):
        found.add(a_uuid(n))
    first, second = dashed("ab" * 16), dashed("ab" + "cd" * 15)
    found.add(first)
    found.add(second)  # kept right after the first: ab ab .. ab | ab cd .. cd
    straddling = dashed("ab" * 15 + "cd")  # two bytes into the first, into the second
    assert straddling not in found
    assert first in found and second in found
    assert first.upper() not in found  # (another case is another id)
    assert dashed("ab" + ("ab" * 15).upper()) not in found  # (the same bytes, too)


def pair_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs leave the detail window and the log is read in many statements, so sessions
    take the scan's inline pair path with the ids already compact."""
    monkeypatch.setattr(scanner_module, "DETAIL_RUNS", 3)
    monkeypatch.setattr(scanner_module, "_DETAIL_GUESS_MIN", 0)
    statements_of(monkeypatch, 7)


class PlainIds(set[str]):
    """The scan's ids in an ordinary set (what `SessionIds` replaced)."""

    def hot_parts(self) -> None:
        return None


@pytest.fixture(params=["seed", "rust"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteStore]:
    path = tmp_path / "db.db"
    if request.param == "rust":
        rust_db(path)
    opened = SqliteStore.open(path)
    yield opened
    opened.close()


@pytest.mark.parametrize("bits", [1, 1 << 23])
@pytest.mark.parametrize("seed_value", range(3))
def test_a_scan_with_compact_ids_makes_the_same_report(store: SqliteStore, seed_value: int,
                                                       bits: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    log = Log(store)
    for _ in random_history(random.Random(seed_value), log, 600,
                            datetime(2026, 6, 1, 6, tzinfo=EST)):
        pass
    now = datetime(2026, 7, 1, tzinfo=EST)
    tiny(monkeypatch, bits)
    pair_path(monkeypatch)
    compact = recover(store, POLICY, now=now)
    with monkeypatch.context() as m:
        m.setattr(state_module, "SessionIds", PlainIds)
        plain = recover(store, POLICY, now=now)
    assert compact == plain
    notes = "\n".join(plain.notes)
    assert "reuse" in notes and "never started" in notes  # the history has both


@pytest.mark.parametrize("bits", [1, 1 << 23])
def test_an_id_read_on_the_inline_path_is_known_again(store: SqliteStore, bits: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A session read as a start and its end (the inline pair path, in a run long out of
    the detail window) whose id starts again much later: a reuse, and its second end adds
    no usage."""
    log = Log(store)
    t = datetime(2026, 6, 1, 8, tzinfo=EST)
    mixed = dashed("ab" + ("ab" * 15).upper())  # the bytes of `lower`, another id

    def pair(session_id: str, entry: str) -> None:  # a start and its end, nothing between
        log.add(t + timedelta(minutes=1), SessionStarted(session_id, entry, "E", None))
        log.add(t + timedelta(minutes=6), SessionEnded(session_id, entry, UserStop(),
                                                       timedelta(minutes=5)))

    for n in range(12):
        log.add(t, ServiceStarted())
        pair({0: dashed("ab" + "1" * 30), 5: mixed}.get(n, a_uuid(n)), "minecraft")
        log.add(t + timedelta(minutes=10), ServiceStopped())
        t += timedelta(hours=1)
    for again in (a_uuid(7), dashed("ab" * 16)):  # id 7 again; `mixed` in lowercase
        log.add(t, ServiceStarted())
        pair(again, "tuxmath")
        log.add(t + timedelta(minutes=10), ServiceStopped())
        t += timedelta(hours=1)
    tiny(monkeypatch, bits)
    pair_path(monkeypatch)
    now = t + timedelta(hours=1)
    compact = recover(store, POLICY, now=now)
    with monkeypatch.context() as m:
        m.setattr(state_module, "SessionIds", PlainIds)
        plain = recover(store, POLICY, now=now)
    assert compact == plain
    assert any("1 session start reuses" in note for note in plain.notes), plain.notes


def test_times_of_one_offset_share_their_zone() -> None:
    """A scan keeps ~100,000 times: one zone object per offset, not one per time."""
    from shepherd_store.recovery.rows import _parse_ts

    first = _parse_ts("2026-03-07T15:00:00.137386072-05:00")
    second = _parse_ts("2026-11-07T15:00:00-05:00")
    other = _parse_ts("2026-06-07T15:00:00-04:00")
    assert first is not None and second is not None and other is not None
    assert first.tzinfo is second.tzinfo
    assert other.utcoffset() == timedelta(hours=-4) and other.tzinfo is not first.tzinfo
