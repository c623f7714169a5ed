"""Streaming export (no Qt): every matching row, in order, with the stored texts."""

from __future__ import annotations

import csv
import io
import json
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
