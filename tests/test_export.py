"""Streaming export (no Qt): every matching row, in order, with the stored texts."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC
from pathlib import Path

from shepherd_store import AuditFilter, SqliteStore
from shepherd_store.export import event_record, iter_events, write_csv, write_json


def test_iter_events_pages_through_everything_newest_first(rust_v0: Path) -> None:
    with SqliteStore.open(rust_v0, read_only=True) as store:
        ids = [e.id for e in iter_events(store, page=5)]
        assert ids == list(range(23, 0, -1))
        ended = list(iter_events(store, AuditFilter(event_types=frozenset({"session_ended"})),
                                 page=3))
        assert len(ended) == 8
        assert [e.id for e in iter_events(store, limit=4, page=3)] == [23, 22, 21, 20]


def test_csv_keeps_stored_texts(rust_v0: Path) -> None:
    out = io.StringIO()
    with SqliteStore.open(rust_v0, read_only=True) as store:
        assert write_csv(iter_events(store), out) == 23
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    row10 = next(r for r in rows if r["id"] == "10")
    assert row10["timestamp"] == "2026-01-10T10:00:00.123456789-05:00"
    assert row10["entry_id"] == "scummvm-puttputt"
    assert json.loads(row10["event_json"])["deadline"] is None


def test_json_and_json_lines(rust_v0: Path) -> None:
    with SqliteStore.open(rust_v0, read_only=True) as store:
        array, lines = io.StringIO(), io.StringIO()
        write_json(iter_events(store), array)
        write_json(iter_events(store), lines, lines=True)
    data = json.loads(array.getvalue())
    assert [d["id"] for d in data][:2] == [23, 22]
    assert [json.loads(line) for line in lines.getvalue().splitlines()] == data
    assert data[-1] == {"id": 1, "timestamp": "2026-01-10T08:00:00-05:00",
                        "type": "service_started", "event": {"type": "service_started"}}


def test_cancel_stops_early(rust_v0: Path) -> None:
    out = io.StringIO()
    with SqliteStore.open(rust_v0, read_only=True) as store:
        assert write_csv(iter_events(store), out, on_row=lambda n: n < 5) == 5


def test_malformed_rows_are_exported_as_stored(rust_copy: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(rust_copy)
    with conn:
        conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES "
                     "('2026-07-05T00:00:00Z', '{broken')")
    conn.close()
    with SqliteStore.open(rust_copy, read_only=True) as store:
        record = event_record(next(iter_events(store)))
    assert record["event"] == "{broken"
    assert "invalid JSON" in record["malformed"]


# --- in a process of its own (the window's exports) ------------------------------------------

def test_a_filter_survives_the_trip_to_the_child() -> None:
    from datetime import datetime, timedelta, timezone

    from shepherd_store.export_job import filter_from_json, filter_to_json

    est = timezone(timedelta(hours=-5))
    flt = AuditFilter(event_types=frozenset({"session_started", "session_ended"}),
                      entry_id="<b>x</b>", session_id="abc", text="50%_\\ \ud800 \x00 ü",
                      since=datetime(2026, 1, 10, 9, 30, tzinfo=est),
                      until=datetime(2026, 1, 11, 0, 0, 0, 250000, tzinfo=UTC))
    again = filter_from_json(json.loads(json.dumps(filter_to_json(flt))))
    assert again == flt
    assert filter_from_json(filter_to_json(AuditFilter())) == AuditFilter()


def test_the_child_writes_what_the_library_writes(rust_v0: Path, tmp_path: Path) -> None:
    from shepherd_store.export_job import export_in_child

    flt = AuditFilter(event_types=frozenset({"session_started", "session_ended"}))
    for fmt in ("csv", "json"):
        here = io.StringIO()
        with SqliteStore.open(rust_v0, read_only=True) as store:
            if fmt == "csv":
                want = write_csv(iter_events(store, flt), here)
            else:
                want = write_json(iter_events(store, flt), here)
        target = tmp_path / f"out.{fmt}"
        reports: list[int] = []
        got = export_in_child(rust_v0, flt, fmt, target, report=reports.append,
                              cancelled=lambda: False)
        assert got == want > 0
        assert target.read_bytes().decode("utf-8") == here.getvalue()


def test_the_child_reports_progress_and_can_be_cancelled(tmp_path: Path) -> None:
    from shepherd_store import AuditEvent, SessionStarted
    from shepherd_store.export_job import PROGRESS_ROWS, export_in_child

    path = tmp_path / "big.db"
    with SqliteStore.open(path) as store:
        for i in range(PROGRESS_ROWS * 2 + 7):
            store.append_audit(AuditEvent.new(SessionStarted(
                f"00000000-0000-4000-8000-{i:012d}", "tuxmath", "Tux Math", None)))
    reports: list[int] = []
    assert export_in_child(path, AuditFilter(), "csv", tmp_path / "all.csv",
                           report=reports.append, cancelled=lambda: False) == 1007
    assert reports == [PROGRESS_ROWS, 2 * PROGRESS_ROWS]
    assert export_in_child(path, AuditFilter(), "json", tmp_path / "none.json",
                           report=reports.append, cancelled=lambda: True) is None


def test_the_childs_failure_is_a_clear_store_error(tmp_path: Path) -> None:
    import pytest

    from shepherd_store import StoreError
    from shepherd_store.export_job import export_in_child

    with pytest.raises(StoreError, match="does not exist"):
        export_in_child(tmp_path / "missing.db", AuditFilter(), "csv", tmp_path / "x.csv",
                        report=lambda _n: None, cancelled=lambda: False)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"x" * 4096)
    with pytest.raises(StoreError, match="not a SQLite database"):
        export_in_child(garbage, AuditFilter(), "csv", tmp_path / "y.csv",
                        report=lambda _n: None, cancelled=lambda: False)
