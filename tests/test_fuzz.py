"""Fuzzing the decoders and the query builder: whatever the input, only `StoreError` (or
nothing) escapes, and a text search finds exactly the events that contain the text."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shepherd_store import AuditFilter, SqliteStore, StoreError, UnknownEvent
from shepherd_store.events import EVENT_TYPES, decode_event
from shepherd_store.query import build_where
from shepherd_store.schema import RUST_DDL, Layout
from shepherd_store.snapshot import decode_snapshot

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

#: Every character, lone surrogates and NUL included (argv and files can carry them).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
METACHARS = st.text(st.sampled_from("%_\\'\"[]*;-. aA0é\x00"), max_size=12)
SEARCH = st.one_of(ANY_TEXT, METACHARS, st.sampled_from(
    ["%", "_", "\\", "' OR 1=1 --", "\"; DROP TABLE audit_log; --", "%_%", "\\%"]))

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False) | ANY_TEXT,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(
        ["type", "session_id", "entry_id", "label", "deadline", "reason", "duration", "secs",
         "nanos", "reasons", "entry_count", "threshold_seconds", "uid", "role", "client_id",
         "success", "exit_code", "error", "extended_by", "new_deadline", "what", "previous",
         "new", "user", "timestamp", "active_session", "started_at", "warnings_issued"])
        | ANY_TEXT, children, max_size=6),
    max_leaves=12)
TAGGED = st.builds(lambda tag, body: {**body, "type": tag} if isinstance(body, dict) else body,
                   st.sampled_from([*EVENT_TYPES, "newer_event", "", "expired"]), JSONISH)


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- the decoders ----------------------------------------------------------------------------


@FUZZ
@given(st.one_of(ANY_TEXT, st.binary(max_size=60), TAGGED.map(_dump), JSONISH.map(_dump),
                 st.integers(), st.none()))
def test_decode_event_never_raises(raw: object) -> None:
    event = decode_event(raw)
    if isinstance(event, UnknownEvent):
        assert isinstance(event.raw, str)
    else:
        assert event.TYPE in EVENT_TYPES


@FUZZ
@given(st.one_of(ANY_TEXT, st.binary(max_size=60), JSONISH.map(_dump),
                 st.fixed_dictionaries({"timestamp": st.one_of(ANY_TEXT, JSONISH),
                                        "active_session": JSONISH}).map(_dump)))
def test_decode_snapshot_raises_only_store_errors(raw: object) -> None:
    with contextlib.suppress(StoreError):
        decode_snapshot(raw)


# --- the filter and the query builder on a real database -------------------------------------

ZONES = st.builds(lambda m: timezone(timedelta(minutes=m)),
                  st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
WHEN = st.builds(lambda naive, tz: naive.replace(tzinfo=tz),
                 st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
                 ZONES)
FILTERS = st.builds(
    AuditFilter,
    event_types=st.frozensets(st.one_of(st.sampled_from(sorted(EVENT_TYPES)), ANY_TEXT),
                              max_size=3),
    entry_id=st.none() | SEARCH,
    session_id=st.none() | SEARCH,
    since=st.none() | WHEN,
    until=st.none() | WHEN,
    text=st.none() | SEARCH,
)
REASONS = ["%", "_", "\\", "'", "' OR 1=1 --", "\"; DROP TABLE audit_log; --", "[a-z]*",
           "100%", "a_b", "Ünïcödé", "NUL\x00byte", "<b>tag</b>"]


class FuzzLog(tuple):  # type: ignore[type-arg]
    """(path, raw event texts), with a short repr for hypothesis' reports."""

    def __repr__(self) -> str:
        return f"<fuzz log of {len(self[1])} events>"


@pytest.fixture(scope="module")
def fuzz_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """A small Rust-layout log: sessions, denials full of metacharacters, broken rows."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    raws = []
    conn = sqlite3.connect(path)
    for ddl in RUST_DDL:
        conn.execute(ddl)
    for i, reason in enumerate(REASONS):
        raws.append(_dump({"type": "launch_denied", "entry_id": f"e{i % 3}",
                           "reasons": [reason]}))
        raws.append(_dump({"type": "session_started", "entry_id": f"e{i % 3}",
                           "session_id": f"{i:08d}-0000-4000-8000-000000000000",
                           "label": reason, "deadline": None}))
    raws += ["not json", "{\"type\":\"newer_event\",\"x\":1}", "[" * 3000 + "]" * 3000]
    for i, raw in enumerate(raws):
        stamp = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=7 * i)).isoformat()
        conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)", (stamp, raw))
    conn.commit()
    conn.close()
    yield FuzzLog((path, raws))


@FUZZ
@given(flt=FILTERS)
def test_build_where_only_binds_parameters(flt: AuditFilter) -> None:
    # The SQL depends on which fields are set, never on what they hold.
    shape = AuditFilter(
        event_types=frozenset(f"t{i}" for i in range(len(flt.event_types))),
        entry_id=None if flt.entry_id is None else "x",
        session_id=None if flt.session_id is None else "x",
        since=flt.since, until=flt.until,
        text=("x\x00" if "\x00" in flt.text else "x") if flt.text else flt.text)
    for layout in Layout:
        for guarded in (False, True):
            where, same = (build_where(f, layout, guarded=guarded) for f in (flt, shape))
            assert (where.sql, len(where.params)) == (same.sql, len(same.params))


@FUZZ
@given(flt=FILTERS, before=st.none() | st.integers(-5, 60), limit=st.integers(-1, 50))
def test_find_audits_raises_only_store_errors(fuzz_db: tuple[Path, list[str]],
                                              flt: AuditFilter, before: int | None,
                                              limit: int) -> None:
    path, _raws = fuzz_db
    with SqliteStore.open(path, read_only=True) as store:
        try:
            page = store.find_audits(flt, before_id=before, limit=limit)
        except StoreError:
            return
    assert len(page.events) <= max(limit, 0)
    for event in page.events:
        if flt.entry_id is not None:
            assert getattr(event.event, "entry_id", None) == flt.entry_id
        assert flt.matches_time(event)


@FUZZ
@example(text="\x00")  # found: SQLite's LIKE ends a pattern at NUL, so this matched all
@example(text="\udcff")  # found: a lone surrogate escaped find_audits as UnicodeEncodeError
@given(text=SEARCH)
def test_text_search_finds_exactly_the_events_containing_the_text(
        fuzz_db: tuple[Path, list[str]], text: str) -> None:
    path, raws = fuzz_db
    with SqliteStore.open(path, read_only=True) as store:
        try:
            found = store.find_audits(AuditFilter(text=text), limit=1000).events
        except StoreError:
            assert not _encodable(text)  # only text that cannot be in the file is refused
            return
    if not text:
        assert len(found) == len(raws)
        return
    expected = {i + 1 for i, raw in enumerate(raws) if _ascii_lower(text) in _ascii_lower(raw)}
    assert {e.id for e in found} == expected


def _ascii_lower(text: str) -> str:
    """SQLite's LIKE folds ASCII letters only."""
    return "".join(c.lower() if c.isascii() else c for c in text)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_a_search_argument_that_is_not_utf8_is_a_clear_error(
        fuzz_db: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    # Found by the fuzzer: bytes that are not UTF-8 on the command line reach Python as lone
    # surrogates (surrogateescape), and `audit --grep $'\\xff'` died with a traceback.
    from shepherd_store import cli

    path, _raws = fuzz_db
    for option in ("--grep", "--entry", "--session", "--type"):
        status = cli.main(["--db", str(path), "audit", option, "caf\udce9"])
        _out, err = capsys.readouterr()
        assert status in (1, 2, 5), (option, status, err)
        # --type is checked while parsing: argparse's "shepherd-store audit: error: ...".
        assert "Traceback" not in err
        assert ("shepherd-store:" in err or "shepherd-store audit: error:" in err), err
        if option == "--grep":
            assert "not valid UTF-8" in err
