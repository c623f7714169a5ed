"""The compact forms of lists that cross the wire (remote/codec.py): every answer a store
gives for every fixture decodes to the same values of the same types (offsets, stored texts
and all), the forms are used where they pay, and malformed ones are refused."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture_path
from remote_fixtures import RUST_FIXTURES, seed_database

from shepherd_store import AuditFilter, ServiceStarted, SqliteStore, recover
from shepherd_store.check import check
from shepherd_store.errors import ProtocolError
from shepherd_store.remote import codec
from shepherd_store.remote.codec import decode_value, encode_value, schema_digest
from shepherd_store.remote.protocol import decode_line, encode_line
from shepherd_store.sessions import SessionReader
from shepherd_store.store import UsageRecord

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
EST = timezone(timedelta(hours=-5))


def roundtrip(value: object) -> Any:
    line = encode_line({"v": encode_value(value)})
    assert line.isascii()
    return decode_value(decode_line(line)["v"])


def same(a: object, b: object, where: str = "value") -> None:
    """`a` and `b` are equal, of the same types all the way down, datetimes with the same
    offsets, and records equal in the fields equality skips (the stored texts) too."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, datetime):
        assert isinstance(b, datetime)
        assert (a, a.utcoffset()) == (b, b.utcoffset()), where
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for key in a:
            same(a[key], b[key], f"{where}[{key!r}]")
    else:
        assert a == b, where


def answers(store: SqliteStore) -> dict[str, Any]:
    """What the views ask of a store, as the server would answer it."""
    reader = SessionReader(store)
    return {
        "events": store.find_audits(AuditFilter(), limit=10_000),
        "usage": store.usage_between(), "cooldowns": store.all_cooldowns(),
        "overrides": store.list_overrides(), "labels": store.entry_labels(),
        "entries": store.known_entries(), "snapshot": store.load_snapshot_text(),
        "recovery": recover(store, now=NOW), "check": check(store),
        "sessions": reader.page(limit=10_000, now=NOW),
    }


@pytest.mark.parametrize("name", [*RUST_FIXTURES, "seed"])
def test_every_answer_for_every_fixture_crosses_exactly(tmp_path: Path, name: str) -> None:
    path = seed_database(tmp_path) if name == "seed" else fixture_path(name)
    with SqliteStore.open(path, read_only=True) as store:
        for what, answer in answers(store).items():
            same(answer, roundtrip(answer), what)


def test_a_year_of_usage_crosses_as_columns_of_shared_values() -> None:
    days = [date(2025, 1, 1) + timedelta(days=d) for d in range(365)]
    year = [UsageRecord(f"entry{e}", day, d * 37 + e) for d, day in enumerate(days)
            for e in range(20)]
    encoded = encode_value(year)
    assert encoded["$rows"] == "UsageRecord"
    assert set(encoded["c"]["entry_id"]) == {"$keys", "i"}
    assert encoded["c"]["day"]["$keys"] == {"$dates": [d.isoformat() for d in days]}
    size = len(encode_line({"v": encoded}))
    per_record = len(encode_line({"v": [{"$": "UsageRecord", "f": {
        "entry_id": r.entry_id, "day": {"$date": r.day.isoformat()}, "seconds": r.seconds}}
        for r in year]}))
    assert size * 5 < per_record
    same(year, roundtrip(year))


def test_lists_keep_each_values_own_form() -> None:
    instant = datetime(2026, 3, 7, 20, 0, tzinfo=UTC)
    values: list[object] = [
        [instant, instant.astimezone(EST)] * 6,  # equal, yet each keeps its offset
        [instant, None, datetime(2026, 3, 7, 15, 0)] * 6,  # None and a naive one
        [date(2026, 3, 7), None] * 6, ["a", None, "b"] * 6, ["once", "each"],
        [1, True, 1.5, None], [ServiceStarted()] * 3,  # (a record without fields)
        [UsageRecord("a", date(2026, 1, 1), 1), None], [[1, 2], [1, 2]],
        ([UsageRecord("a", date(2026, 1, 1), 1)] * 3, frozenset({date(2026, 1, 1)})),
        [(1, "x"), (2, "y")], [{"k": date(2026, 1, 1)}] * 2, [b"\x00", b"\x00"],
    ]
    for value in values:
        back = roundtrip(value)
        same(value, back)
    mixed = roundtrip([instant, instant.astimezone(EST)] * 6)
    assert [v.utcoffset() for v in mixed[:2]] == [timedelta(0), timedelta(hours=-5)]
    lists = roundtrip([[1], [1]])
    assert lists[0] is not lists[1]  # (mutable values are never shared)


@pytest.mark.parametrize("obj", [
    {"$rows": "os.system", "c": {"a": [1, 2]}},
    {"$rows": "UsageRecord", "c": {"nope": [1, 2]}},
    {"$rows": "UsageRecord", "c": {"entry_id": ["a", "b"], "day": {"$dates": ["2026-01-01"]},
                                   "seconds": [1, 2]}},  # columns of different lengths
    {"$rows": "UsageRecord", "c": {}}, {"$rows": "UsageRecord", "c": [1]},
    {"$rows": "UsageRecord", "c": {"entry_id": ["a", "b"]}},  # a field missing
    {"$keys": ["a"], "i": [0, 1]}, {"$keys": ["a"], "i": [-1]}, {"$keys": ["a"], "i": [True]},
    {"$keys": [[1]], "i": [0, 0]},  # a list shared between items
    {"$keys": ["a"], "i": "0"}, {"$dates": ["2026-13-01"]}, {"$dates": [5]}, {"$dts": "x"},
    {"$tuple": {"$nope": [1]}}, {"$set": {"a": 1}},
])
def test_malformed_lists_are_refused(obj: object) -> None:
    with pytest.raises(ProtocolError):
        decode_value(obj)


def test_the_digest_tells_another_form_of_lists_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = schema_digest()
    monkeypatch.setattr(codec, "_digest", None)
    monkeypatch.setattr(codec, "FORMAT", codec.FORMAT - 1)
    assert schema_digest() != ours
    monkeypatch.setattr(codec, "_digest", None)


def test_the_compact_line_is_plain_json() -> None:
    line = encode_line({"v": encode_value([UsageRecord("a", date(2026, 1, 1), 1)] * 2)})
    assert json.loads(line) == {"v": {"$rows": "UsageRecord", "c": {
        "entry_id": ["a", "a"], "day": {"$dates": ["2026-01-01", "2026-01-01"]},
        "seconds": [1, 1]}}}
