"""Manual edits: one transaction each, optimistic concurrency, a trace, daemon-readable values."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from shepherd_store import (
    ReadOnlyError,
    SerializationError,
    SessionSnapshot,
    SqliteStore,
    StateSnapshot,
    store_writes,
)
from shepherd_store.overrides import (
    CooldownChange,
    OverrideConflict,
    add_usage,
    apply_cooldowns,
    clear_active_session,
    clear_cooldown,
    cooldown_text,
    delete_snapshot,
    extended_until,
    normalize_snapshot_text,
    save_snapshot,
    save_snapshot_text,
    set_cooldown,
)

EDT = timezone(timedelta(hours=-4))
SID = "33333333-3333-4333-8333-333333333333"
T0 = datetime(2026, 7, 4, 14, 0, tzinfo=EDT)


def snap(deadline_min: int = 60, warnings: tuple[int, ...] = ()) -> StateSnapshot:
    return StateSnapshot(T0 + timedelta(minutes=10), SessionSnapshot(
        SID, "minecraft", T0, T0 + timedelta(minutes=deadline_min), warnings))


def raw_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --- cooldowns ---------------------------------------------------------------------------


def test_set_cooldown_writes_and_records_the_change(seed_store: SqliteStore) -> None:
    until = datetime(2026, 7, 4, 15, 45, 30, tzinfo=EDT)
    text = set_cooldown(seed_store, "minecraft", until, expected=None)
    assert text == "2026-07-04T15:45:30-04:00"
    assert seed_store.get_cooldown_until("minecraft") == until
    (record,) = seed_store.list_overrides()
    assert record.change.what == "cooldown"
    assert record.change.entry_id == "minecraft"
    assert (record.change.previous, record.change.new) == (None, text)
    assert record.change.user
    later = set_cooldown(seed_store, "minecraft", until + timedelta(minutes=5), expected=text)
    clear_cooldown(seed_store, "minecraft", expected=later)
    assert cooldown_text(seed_store, "minecraft") is None
    changes = [(r.change.previous, r.change.new) for r in seed_store.list_overrides()]
    assert changes == [(later, None), (text, later), (None, text)]  # newest first


def test_a_changed_cooldown_is_not_overwritten(seed_store: SqliteStore) -> None:
    seed_store.set_cooldown_until("minecraft", T0)
    seen = cooldown_text(seed_store, "minecraft")
    seed_store.set_cooldown_until("minecraft", T0 + timedelta(hours=1))  # the service
    now_stored = cooldown_text(seed_store, "minecraft")
    with pytest.raises(OverrideConflict) as info:
        clear_cooldown(seed_store, "minecraft", expected=seen)
    assert info.value.current == now_stored
    assert info.value.conflicts == {"minecraft": now_stored}
    assert cooldown_text(seed_store, "minecraft") == now_stored
    assert seed_store.list_overrides() == []
    # deciding again with the value now seen works
    clear_cooldown(seed_store, "minecraft", expected=info.value.current)
    assert cooldown_text(seed_store, "minecraft") is None


def test_a_cooldown_added_meanwhile_is_a_conflict(seed_store: SqliteStore) -> None:
    seed_store.set_cooldown_until("tuxmath", T0)
    with pytest.raises(OverrideConflict) as info:
        set_cooldown(seed_store, "tuxmath", T0 + timedelta(minutes=5), expected=None)
    assert info.value.current == "2026-07-04T14:00:00-04:00"


def test_several_cooldowns_are_one_transaction(seed_store: SqliteStore) -> None:
    seed_store.set_cooldown_until("a", T0)
    seed_store.set_cooldown_until("b", T0)
    a_seen = cooldown_text(seed_store, "a")
    with pytest.raises(OverrideConflict) as info:
        apply_cooldowns(seed_store, [CooldownChange("a", a_seen, None),
                                     CooldownChange("b", "2000-01-01T00:00:00Z", None)])
    assert list(info.value.conflicts) == ["b"]
    assert cooldown_text(seed_store, "a") == a_seen  # nothing written
    out = apply_cooldowns(seed_store, [
        CooldownChange("a", a_seen, None),
        CooldownChange("b", cooldown_text(seed_store, "b"), T0 + timedelta(minutes=30))])
    assert out == {"a": None, "b": "2026-07-04T14:30:00-04:00"}
    assert len(seed_store.list_overrides()) == 2


@pytest.mark.parametrize("until", [datetime(2026, 7, 4, 15, 0),  # naive
                                   datetime(2026, 7, 4, tzinfo=timezone(timedelta(seconds=30)))])
def test_cooldowns_the_daemon_could_not_read_are_refused(seed_store: SqliteStore,
                                                         until: datetime) -> None:
    with pytest.raises(SerializationError):
        set_cooldown(seed_store, "minecraft", until, expected=None)
    assert seed_store.all_cooldowns() == []
    assert seed_store.list_overrides() == []


def test_bad_entry_ids_are_refused(seed_store: SqliteStore) -> None:
    for bad in ("", "\ud800"):
        with pytest.raises(SerializationError):
            set_cooldown(seed_store, bad, T0, expected=None)


def test_extended_until_counts_from_the_end_or_from_now() -> None:
    now = T0
    assert extended_until(T0 + timedelta(minutes=10), timedelta(minutes=5), now) == \
        T0 + timedelta(minutes=15)
    assert extended_until(T0 - timedelta(minutes=10), timedelta(minutes=5), now) == \
        T0 + timedelta(minutes=5)
    assert extended_until(None, timedelta(minutes=30), now) == T0 + timedelta(minutes=30)


def test_read_only_store_writes_nothing(seed_path: Path) -> None:
    with SqliteStore.open(seed_path, read_only=True) as store:
        with pytest.raises(ReadOnlyError):
            set_cooldown(store, "minecraft", T0, expected=None)
        with pytest.raises(ReadOnlyError):
            delete_snapshot(store, expected=None)
        with pytest.raises(ReadOnlyError):
            add_usage(store, "minecraft", date(2026, 7, 4), 60, reason="test")
    assert raw_rows(seed_path, "SELECT count(*) FROM cooldowns") == [(0,)]


# --- snapshot ----------------------------------------------------------------------------


def test_snapshot_edits_check_the_text_seen(seed_store: SqliteStore) -> None:
    text = save_snapshot(seed_store, snap(), expected=None)
    assert seed_store.load_snapshot_text() == text
    with pytest.raises(OverrideConflict) as info:
        save_snapshot(seed_store, snap(90), expected=None)
    assert info.value.current == text
    cleared = clear_active_session(seed_store, expected=text, now=T0 + timedelta(hours=2))
    assert json.loads(cleared) == {"timestamp": "2026-07-04T16:00:00-04:00",
                                   "active_session": None}
    with pytest.raises(OverrideConflict):
        delete_snapshot(seed_store, expected=text)
    delete_snapshot(seed_store, expected=cleared)
    assert seed_store.load_snapshot_text() is None
    records = seed_store.list_overrides()
    assert [(r.change.previous, r.change.new) for r in records] == [
        (cleared, None), (text, cleared), (None, text)]
    assert {r.change.entry_id for r in records} == {"minecraft", None}
    assert records[0].change.entry_id is None and records[1].change.entry_id == "minecraft"


def test_raw_snapshot_text_is_validated_and_normalized(seed_store: SqliteStore) -> None:
    typed = json.dumps({"timestamp": "2026-07-04T14:10:30.250000001-04:00", "active_session": {
        "session_id": SID, "entry_id": "minecraft", "started_at": "2026-07-04T18:00:00Z",
        "deadline": "2026-07-04T15:00:00-04:00", "warnings_issued": [300]}}, indent=2)
    stored = save_snapshot_text(seed_store, typed, expected=None)
    assert stored == normalize_snapshot_text(typed)
    assert json.loads(stored)["timestamp"] == "2026-07-04T14:10:30.250000-04:00"
    assert json.loads(stored)["active_session"]["started_at"] == "2026-07-04T18:00:00Z"


@pytest.mark.parametrize("session", [
    {"session_id": SID, "entry_id": "x", "started_at": "2026-07-04T14:00:00Z",
     "deadline": None, "warnings_issued": []},
    {"session_id": "not-a-uuid", "entry_id": "x", "started_at": "2026-07-04T14:00:00Z",
     "deadline": "2026-07-04T15:00:00Z", "warnings_issued": []},
    {"session_id": SID, "entry_id": "x", "started_at": "2026-07-04 14:00:00",
     "deadline": "2026-07-04T15:00:00Z", "warnings_issued": []},
    {"session_id": SID, "entry_id": "x", "started_at": "2026-07-04T14:00:00Z",
     "deadline": "2026-07-04T15:00:00Z", "warnings_issued": [-1]},
])
def test_unreadable_snapshots_are_refused(seed_store: SqliteStore,
                                          session: dict[str, object]) -> None:
    text = json.dumps({"timestamp": "2026-07-04T14:00:00Z", "active_session": session})
    with pytest.raises(SerializationError):
        save_snapshot_text(seed_store, text, expected=None)
    assert seed_store.load_snapshot_text() is None
    assert seed_store.list_overrides() == []


def test_an_unreadable_snapshot_row_can_be_replaced(seed_path: Path) -> None:
    conn = sqlite3.connect(seed_path)
    conn.execute("INSERT INTO snapshot (id, data) VALUES (1, '{broken')")
    conn.commit()
    conn.close()
    with SqliteStore.open(seed_path) as store:
        assert store.load_snapshot_text() == "{broken"
        clear_active_session(store, expected="{broken")
        (record,) = store.list_overrides()
        assert record.change.previous == "{broken" and record.change.entry_id is None


# --- usage -------------------------------------------------------------------------------


def test_add_usage_adds_and_records(seed_store: SqliteStore) -> None:
    day = date(2026, 7, 4)
    assert add_usage(seed_store, "minecraft", day, 630, reason="crash") == 630
    seed_store.add_usage("minecraft", day, timedelta(seconds=100))  # the daemon, meanwhile
    assert add_usage(seed_store, "minecraft", day, -30, reason="too much") == 700
    assert seed_store.get_usage("minecraft", day) == timedelta(seconds=700)
    latest, first = seed_store.list_overrides()
    assert first.change.previous is None
    assert json.loads(first.change.new or "") == {
        "day": "2026-07-04", "duration_secs": 630, "added_secs": 630, "reason": "crash"}
    assert json.loads(latest.change.previous or "") == {"day": "2026-07-04",
                                                        "duration_secs": 730}
    assert json.loads(latest.change.new or "")["duration_secs"] == 700


@pytest.mark.parametrize(("seconds", "reason"), [(0, "x"), (60, " "), (-1, "x")])
def test_bad_usage_changes_are_refused(seed_store: SqliteStore, seconds: int,
                                       reason: str) -> None:
    with pytest.raises(SerializationError):
        add_usage(seed_store, "minecraft", date(2026, 7, 4), seconds, reason=reason)
    assert seed_store.usage_between() == []
    assert seed_store.list_overrides() == []


def test_usage_the_daemon_cannot_read_is_not_added_to(seed_path: Path) -> None:
    conn = sqlite3.connect(seed_path)
    conn.execute("INSERT INTO usage VALUES ('minecraft', '2026-07-04', 'lots')")
    conn.commit()
    conn.close()
    with SqliteStore.open(seed_path) as store, pytest.raises(SerializationError):
        add_usage(store, "minecraft", date(2026, 7, 4), 60, reason="x")


# --- Rust layout -------------------------------------------------------------------------


def test_rust_layout_keeps_the_trace_in_a_side_table(rust_copy: Path) -> None:
    audit_before = raw_rows(rust_copy, "SELECT * FROM audit_log")
    with SqliteStore.open(rust_copy) as store:
        seen = cooldown_text(store, "minecraft")
        assert seen == "2030-07-04T15:45:30.250-04:00"
        set_cooldown(store, "minecraft", datetime(2030, 7, 4, 16, 0, tzinfo=EDT), expected=seen)
        snap_seen = store.load_snapshot_text()
        clear_active_session(store, expected=snap_seen, now=datetime(2030, 1, 1, tzinfo=EDT))
        add_usage(store, "minecraft", date(2026, 7, 4), 630, reason="crash")
        assert len(store.list_overrides()) == 3
    assert raw_rows(rust_copy, "SELECT * FROM audit_log") == audit_before
    assert raw_rows(rust_copy, "SELECT until FROM cooldowns WHERE entry_id = 'minecraft'") == [
        ("2030-07-04T16:00:00-04:00",)]
    assert raw_rows(rust_copy, "SELECT snapshot_json FROM snapshot") == [
        ('{"timestamp":"2030-01-01T00:00:00-04:00","active_session":null}',)]
    assert raw_rows(rust_copy, "SELECT duration_secs, typeof(duration_secs) FROM usage "
                               "WHERE entry_id = 'minecraft' AND day = '2026-07-04'") == [
        (630, "integer")]
    side = raw_rows(rust_copy, "SELECT event_json FROM inspector_overrides ORDER BY id")
    whats = [json.loads(str(text))["what"] for (text,) in side]
    assert whats == ["cooldown", "snapshot", "usage"]


# --- one write path per value ------------------------------------------------------------
# The `Store` methods and the overrides write each value through the same validation and the
# same statements (`shepherd_store.store_writes`).


@pytest.mark.parametrize("bad", ["", "tux\ud800", None, 5])
def test_a_bad_entry_id_is_refused_alike_by_both_write_paths(seed_store: SqliteStore,
                                                             bad: Any) -> None:
    day = T0.date()
    writes: dict[str, Callable[[], object]] = {
        "Store.set_cooldown_until": lambda: seed_store.set_cooldown_until(bad, T0),
        "Store.clear_cooldown": lambda: seed_store.clear_cooldown(bad),
        "Store.add_usage": lambda: seed_store.add_usage(bad, day, timedelta(seconds=5)),
        "set_cooldown": lambda: set_cooldown(seed_store, bad, T0, expected=None),
        "clear_cooldown": lambda: clear_cooldown(seed_store, bad, expected=None),
        "apply_cooldowns": lambda: apply_cooldowns(seed_store, [CooldownChange(bad, None, T0)]),
        "add_usage": lambda: add_usage(seed_store, bad, day, 5, reason="x"),
    }
    errors = {}
    for name, write in writes.items():
        with pytest.raises(SerializationError) as info:
            write()
        errors[name] = str(info.value)
    assert len(set(errors.values())) == 1, errors
    assert seed_store.all_cooldowns() == [] and seed_store.usage_between() == []
    assert seed_store.list_overrides() == []


@pytest.mark.parametrize("until", [datetime(2026, 7, 4, 15, 0),  # naive
                                   datetime(2026, 7, 4, tzinfo=timezone(timedelta(seconds=30)))])
def test_an_unreadable_cooldown_is_refused_alike_by_both_write_paths(
        seed_store: SqliteStore, until: datetime) -> None:
    with pytest.raises(SerializationError) as by_store:
        seed_store.set_cooldown_until("minecraft", until)
    with pytest.raises(SerializationError) as by_override:
        set_cooldown(seed_store, "minecraft", until, expected=None)
    assert str(by_store.value) == str(by_override.value)
    assert str(by_store.value).startswith("refusing to write the cooldown: ")
    assert seed_store.all_cooldowns() == []


def test_an_unreadable_snapshot_is_refused_alike_by_both_write_paths(
        seed_store: SqliteStore) -> None:
    bad = StateSnapshot(T0, SessionSnapshot(SID, "x", T0, None))  # type: ignore[arg-type]
    with pytest.raises(SerializationError) as by_store:
        seed_store.save_snapshot(bad)
    with pytest.raises(SerializationError) as by_override:
        save_snapshot(seed_store, bad, expected=None)
    assert str(by_store.value) == str(by_override.value)
    assert seed_store.load_snapshot_text() is None


@pytest.mark.parametrize("layout", ["seed", "rust"])
def test_both_write_paths_store_the_same_bytes(seed_path: Path, rust_copy: Path,
                                               layout: str) -> None:
    path = seed_path if layout == "seed" else rust_copy
    day = date(2026, 7, 5)
    until = datetime(2030, 7, 4, 15, 45, 30, 250000, tzinfo=EDT)
    with SqliteStore.open(path) as store:  # entry "a" by the Store methods, "b" by overrides
        for _ in range(2):
            store.add_usage("a", day, timedelta(seconds=90, microseconds=999_999))
            add_usage(store, "b", day, 90, reason="x")
        store.set_cooldown_until("a", until)
        set_cooldown(store, "b", until, expected=None)
        store.save_snapshot(snap())
        by_store = raw_rows(path, "SELECT * FROM snapshot")
        store.delete_snapshot()
        save_snapshot(store, snap(), expected=None)
        assert raw_rows(path, "SELECT * FROM snapshot") == by_store
    usage = raw_rows(path, "SELECT entry_id, day, duration_secs, typeof(duration_secs) "
                           "FROM usage WHERE entry_id IN ('a', 'b') ORDER BY entry_id")
    assert usage == [("a", "2026-07-05", 180, "integer"), ("b", "2026-07-05", 180, "integer")]
    cooldowns = raw_rows(path, "SELECT entry_id, until, typeof(until) FROM cooldowns "
                               "WHERE entry_id IN ('a', 'b') ORDER BY entry_id")
    assert cooldowns == [("a", "2030-07-04T15:45:30.250000-04:00", "text"),
                         ("b", "2030-07-04T15:45:30.250000-04:00", "text")]


def test_both_write_paths_use_the_stores_statements(seed_store: SqliteStore,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    for name in ("put_cooldown", "delete_cooldown", "add_usage", "put_snapshot",
                 "delete_snapshot"):
        real = getattr(store_writes, name)

        def spy(*args: Any, _name: str = name, _real: Any = real) -> Any:
            calls.append((_name, "override" if overriding else "store"))
            return _real(*args)

        monkeypatch.setattr(store_writes, name, spy)
    overriding = False
    seed_store.add_usage("e", T0.date(), timedelta(seconds=5))
    seed_store.set_cooldown_until("e", T0)
    seed_store.clear_cooldown("e")
    seed_store.save_snapshot(snap())
    seed_store.delete_snapshot()
    overriding = True
    add_usage(seed_store, "e", T0.date(), 5, reason="x")
    set_cooldown(seed_store, "e", T0, expected=None)
    clear_cooldown(seed_store, "e", expected=cooldown_text(seed_store, "e"))
    save_snapshot(seed_store, snap(), expected=None)
    delete_snapshot(seed_store, expected=seed_store.load_snapshot_text())
    names = ["add_usage", "put_cooldown", "delete_cooldown", "put_snapshot", "delete_snapshot"]
    assert calls == [(n, "store") for n in names] + [(n, "override") for n in names]
