"""Long reads are series of short statements, and give exactly the one-statement answer.

In rollback-journal mode (the shipped service's) a read statement holds the shared lock for
its whole run and the service's commit waits for it (DESIGN.md, "Short reads"). Every read
that can run long on a big log is therefore cut into short statements over keyset ranges.
These tests prove the *structure* (how many statements, how wide each one's range, no
transaction spanning two, the lock free between them) and that the answer is the same as
the one-statement read, on small and medium databases in both layouts, malformed rows
included. How long a statement takes is measured by benchmarks/bench_service_latency.py, never
asserted here.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, fixture_path
from hostile_corpus import build_corpus

import shepherd_store.store as store_module
from shepherd_store import AuditFilter, SqliteStore
from shepherd_store.check import check
from shepherd_store.export import iter_events
from shepherd_store.query import ChunkSizer

sys.path.insert(0, str(REPO / "benchmarks"))

from _gen import build

#: Chunk sizes of the "tiny" reads: many statements, every boundary case crossed.
TINY = {"SCAN_CHUNK": 7, "SCAN_START": 7, "SCAN_LOWEST": 1, "INDEXED_START": 5,
        "INDEXED_CHUNK": 9, "ROW_START": 3, "ROW_LOWEST": 1, "ROW_CHUNK": 3}
#: ... and of the one-statement reads (the answer before reads were chunked).
WHOLE = {"SCAN_CHUNK": 1 << 40, "SCAN_START": 1 << 40, "SCAN_LOWEST": 1 << 40,
         "INDEXED_START": 1 << 40, "INDEXED_CHUNK": 1 << 40, "ROW_START": 1 << 30,
         "ROW_LOWEST": 1 << 30, "ROW_CHUNK": 1 << 30}
SID = "11111111-1111-4111-8111-111111111111"


def set_chunks(monkeypatch: pytest.MonkeyPatch, sizes: dict[str, int]) -> None:
    for name, value in sizes.items():
        monkeypatch.setattr(store_module, name, value)


def both(monkeypatch: pytest.MonkeyPatch, fn: Callable[[], Any]) -> tuple[Any, Any]:
    """`fn()` read in tiny chunks, and read in one statement."""
    with monkeypatch.context() as m:
        set_chunks(m, TINY)
        tiny = fn()
    with monkeypatch.context() as m:
        set_chunks(m, WHOLE)
        whole = fn()
    return tiny, whole


class Statements:
    """Every read statement a store runs: (sql, params), with checks made between them."""

    def __init__(self, store: SqliteStore, between: Callable[[], None] | None = None) -> None:
        self.store = store
        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        self.between = between
        store.statement_observer = self._observe

    def _observe(self, sql: str, params: tuple[Any, ...], seconds: float) -> None:
        assert seconds >= 0
        conn, _lock = self.store._reader()
        assert not conn.in_transaction, "a read transaction outlived its statement"
        self.seen.append((sql, params))
        if self.between is not None:
            self.between()

    def searches(self) -> list[tuple[int, int]]:
        """(hi, lo) of each id-range statement over the audit log."""
        return [(p[0], p[1]) for sql, p in self.seen if "FROM audit_log WHERE id < ?" in sql]


# --- databases ------------------------------------------------------------------------------


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _add_bad_audit_rows(path: Path, layout: str) -> None:
    """Rows the daemon cannot read, non-UTF-8 text, NUL bytes and a gap of 5,000 ids."""
    conn = _raw(path)
    col = "event_json" if layout == "rust" else "event_data"
    if layout == "seed":  # invalid JSON cannot pass the seed layout's expression indexes
        conn.execute("DROP INDEX idx_audit_entry")
        conn.execute("DROP INDEX idx_audit_session")
    cols = "(timestamp, event_json)" if layout == "rust" else \
        "(timestamp, event_type, event_data)"
    marks = "(?, ?)" if layout == "rust" else "(?, 'session_started', ?)"
    rows: list[tuple[Any, Any]] = [
        ("2025-06-01T10:00:00-04:00", '{"type":"session_started","entry_id":'),
        ("not a time", '{"type":"service_started"}'),
        ("2025-06-01T10:00:02-04:00", '{"type":"tokens_adjusted","entry_id":"minecraft"}'),
        ("2025-06-01T10:00:03-04:00", '{"type":"session_started","session_id":"' + SID
         + '","entry_id":"nul\x00entry","label":"NUL\x00label","deadline":null}'),
        ("2025-06-01T10:00:04-04:00", '{"type":"launch_denied","entry_id":7,"reasons":[]}'),
    ]
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO audit_log {cols} VALUES {marks}", rows)
    conn.execute(f"INSERT INTO audit_log {cols} VALUES "
                 f"{marks.replace('?, ?', '?, CAST(? AS TEXT)')}",
                 ("2025-06-01T10:00:05-04:00",
                  b'{"type":"session_started","session_id":"' + SID.encode()
                  + b'","entry_id":"caf\xe9","label":"\xff\xfe quota","deadline":null}'))
    top = conn.execute("SELECT max(id) FROM audit_log").fetchone()[0]
    stamp = "2026-12-01T08:00:00+09:00"
    conn.execute(f"INSERT INTO audit_log (id, {cols[1:]} VALUES "
                 f"(?, {marks[1:]}", (top + 5000, stamp,
                                      '{"type":"session_started","session_id":"' + SID
                                      + '","entry_id":"minecraft","label":"Mine craft",'
                                        '"deadline":null}'))
    conn.execute("COMMIT")
    assert conn.execute(f"SELECT count(*) FROM audit_log WHERE NOT json_valid({col})"
                        ).fetchone()[0] >= 1
    conn.close()


def _add_odd_usage_and_cooldowns(path: Path) -> None:
    """Usage and cooldown rows with keys that are not UTF-8, NUL, NULL (twice on one day),
    duplicates; bad counts and days; 300 entries on one day."""
    conn = _raw(path)
    conn.execute("BEGIN")
    rows = conn.execute("SELECT entry_id, day, duration_secs FROM usage").fetchall()
    conn.execute("DROP TABLE usage")  # without NOT NULL: a NULL entry, twice on one day
    conn.execute("CREATE TABLE usage (entry_id TEXT, day TEXT NOT NULL, duration_secs "
                 "INTEGER DEFAULT 0, PRIMARY KEY (entry_id, day))")
    conn.execute("CREATE INDEX idx_usage_day ON usage(day)")
    conn.executemany("INSERT INTO usage VALUES (?, ?, ?)", rows)
    day = "2025-03-03"
    conn.executemany("INSERT INTO usage VALUES (?, ?, ?)",
                     [(f"many-{i:03d}", day, i) for i in range(300)])
    conn.executemany("INSERT INTO usage VALUES (?, ?, ?)", [
        ("nul\x00entry", day, 60), (None, day, 30), (None, day, 31), ("negative", day, -5),
        ("real", day, 1.5), ("text", day, "an hour"), ("blob", day, b"\x01"),
        ("bad-day", "2025-02-30", 60), ("words", "yesterday", 60), ("short", "2025-1-1", 60),
        ("", day, 1), ("zz", "2025-03-03x", 9)])
    conn.execute("INSERT INTO usage VALUES (CAST(? AS TEXT), ?, ?)", (b"\xc3\x28", day, 60))
    conn.execute("INSERT INTO usage VALUES (CAST(? AS TEXT), ?, ?)", (b"\xc3\x29", day, 61))
    conn.execute("INSERT INTO usage VALUES (?, CAST(? AS TEXT), ?)", ("bad-bytes-day",
                                                                     b"2025-03-03\xff", 62))
    conn.executemany("INSERT OR REPLACE INTO cooldowns VALUES (?, ?)",
                     [(f"cd-{i:02d}", "2030-01-01T00:00:00Z") for i in range(40)]
                     + [("nul\x00entry", "2030-01-01T00:00:00Z\x00"), ("naive", "2030-01-01")])
    conn.execute("INSERT INTO cooldowns VALUES (CAST(? AS TEXT), ?)", (b"bad\xff", "soon"))
    conn.execute("INSERT INTO cooldowns VALUES (CAST(? AS TEXT), ?)", (b"bad\xfe", "soon"))
    conn.execute("COMMIT")
    conn.close()


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """3,000 generated events (benchmarks/_gen.py) per layout, with malformed rows added."""
    out = {}
    for layout in ("rust", "seed"):
        path = tmp_path_factory.mktemp(layout) / f"{layout}.db"
        build(layout, 3000, path)
        _add_bad_audit_rows(path, layout)
        _add_odd_usage_and_cooldowns(path)
        out[layout] = path
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hostile")
    build_corpus(directory)
    return directory


def _small_databases(corpus: Path) -> list[Path]:
    return [fixture_path("rust-v0.db"), fixture_path("rust-clean.db"),
            *(corpus / name for name in ("bad-encoding.db", "odd-usage.db", "odd-times.db",
                                         "unparseable.db", "metachars.db", "markup.db",
                                         "deep-json-seed.db"))]


# --- the same answer ------------------------------------------------------------------------


def _filters(store: SqliteStore) -> list[AuditFilter]:
    sessions = [e.event.session_id for e in store.find_audits(
        AuditFilter(event_types=frozenset({"session_started"})), limit=3).events
        if hasattr(e.event, "session_id")]
    t0 = datetime(2025, 6, 1, 14, 0, tzinfo=UTC)
    out = [
        AuditFilter(),
        AuditFilter(event_types=frozenset({"session_started"})),
        AuditFilter(event_types=frozenset({"service_started", "policy_loaded"})),
        AuditFilter(event_types=frozenset({"no_such_type"})),
        AuditFilter(entry_id="minecraft"),
        AuditFilter(entry_id="nul\x00entry"),
        AuditFilter(event_types=frozenset({"session_started", "session_ended"}),
                    entry_id="tuxmath"),
        AuditFilter(text="quota"), AuditFilter(text="nomatch"), AuditFilter(text="%"),
        AuditFilter(text="_"), AuditFilter(text="\x00"), AuditFilter(text="CAF"),
        AuditFilter(event_types=frozenset({"launch_denied"}), text="used"),
        AuditFilter(since=t0 - timedelta(days=40)),
        AuditFilter(until=t0 - timedelta(days=300)),
        AuditFilter(since=t0 - timedelta(days=200), until=t0 - timedelta(days=100), text="e"),
        AuditFilter(since=datetime(2040, 1, 1, tzinfo=UTC)),
    ]
    out += [AuditFilter(session_id=s) for s in sessions[:2] if isinstance(s, str)]
    return out


def _key(events: list[Any]) -> list[tuple[Any, ...]]:
    return [(e.id, e.raw_timestamp, e.raw_json, e.type) for e in events]


def _pages(store: SqliteStore, flt: AuditFilter, size: int) -> list[tuple[Any, ...]]:
    """Every match, read as pages of `size`, continuing with `next_before_id`."""
    out: list[tuple[Any, ...]] = []
    before: int | None = None
    while True:
        page = store.find_audits(flt, before_id=before, limit=size)
        out += _key(page.events)
        if page.next_before_id is None:
            return out
        before = page.next_before_id


@pytest.mark.parametrize("layout", ["rust", "seed"])
def test_searches_give_the_one_statement_answer_on_a_medium_log(
        monkeypatch: pytest.MonkeyPatch, medium: dict[str, Path], layout: str) -> None:
    with SqliteStore.open(medium[layout], read_only=True) as store:
        for flt in _filters(store):
            for limit in (1, 6, 200, 100_000):
                tiny, whole = both(monkeypatch, lambda f=flt, n=limit: (
                    _key((p := store.find_audits(f, limit=n)).events), p.next_before_id))
                assert tiny == whole, (flt, limit)
            tiny_pages, whole_pages = both(monkeypatch, lambda f=flt: _pages(store, f, 37))
            assert tiny_pages == whole_pages, flt
            tiny, whole = both(monkeypatch, lambda f=flt: _key(
                store.find_audits(f, after_id=1500, limit=100_000).events))
            assert tiny == whole, flt


def test_searches_give_the_one_statement_answer_on_small_and_hostile_files(
        monkeypatch: pytest.MonkeyPatch, corpus: Path) -> None:
    for path in _small_databases(corpus):
        with SqliteStore.open(path, read_only=True) as store:
            for flt in _filters(store):
                tiny, whole = both(monkeypatch, lambda f=flt: _pages(store, f, 4))
                assert tiny == whole, (path.name, flt)


def _old_usage(path: Path, start: date | None = None, end: date | None = None,
               entry: str | None = None) -> list[tuple[str, date, int]]:
    """`usage_between` as it was: one statement (the oracle)."""
    from shepherd_store.query import day_range
    from shepherd_store.timefmt import parse_day

    lo, hi = day_range(start, end)
    sql = ("SELECT entry_id, day, duration_secs FROM usage WHERE day >= ? AND day <= ? "
           "AND typeof(duration_secs) = 'integer' AND duration_secs >= 0")
    params: tuple[Any, ...] = (lo, hi)
    if entry is not None:
        sql += " AND entry_id = ?"
        params += (entry,)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        rows = conn.execute(sql + " ORDER BY day, entry_id", params).fetchall()
    finally:
        conn.close()
    out = []
    for eid, day_text, secs in rows:
        try:
            out.append((str(eid), parse_day(day_text), int(secs)))
        except ValueError:
            continue
    return out


def _usage(store: SqliteStore, *args: Any) -> list[tuple[str, date, int]]:
    return [(r.entry_id, r.day, r.seconds) for r in store.usage_between(*args)]


def test_usage_entries_and_cooldowns_give_the_one_statement_answer(
        monkeypatch: pytest.MonkeyPatch, medium: dict[str, Path], corpus: Path) -> None:
    ranges: list[tuple[Any, ...]] = [
        (), (date(2025, 3, 3), date(2025, 3, 3)), (date(2025, 1, 1), date(2025, 12, 31)),
        (None, date(2025, 3, 2)), (date(2025, 3, 4), None), (None, None, "minecraft"),
        (None, None, "nul\x00entry"), (date(2030, 1, 1), date(2030, 2, 1))]
    for path in [*medium.values(), *_small_databases(corpus), corpus / "fifty-thousand.db"]:
        many = path.name == "fifty-thousand.db"
        # Thousands of rows in chunks of 3 would take long; 50,000 entries on one day are
        # read in the default chunks (each statement of that day sorts the whole day: there
        # is no (day, entry) index).
        rows = 11 if path in medium.values() else None
        with SqliteStore.open(path, read_only=True) as store, monkeypatch.context() as m:
            if rows is not None:
                m.setitem(TINY, "ROW_START", rows)
                m.setitem(TINY, "ROW_CHUNK", rows)
                m.setattr(store_module, "ROW_START", rows)
                m.setattr(store_module, "ROW_CHUNK", rows)
            for args in ranges if not many else ranges[:3]:
                if many:
                    tiny = _usage(store, *args)
                    assert tiny == _old_usage(path, *args), (path.name, args)
                    continue
                tiny, whole = both(monkeypatch, lambda a=args: _usage(store, *a))
                assert tiny == whole == _old_usage(path, *args), (path.name, args)
            oracle = _old_reads(path)
            if many:
                assert [(c.entry_id, c.raw) for c in store.all_cooldowns()] == oracle[0]
                assert store.known_entries() == oracle[1]
                continue
            tiny, whole = both(monkeypatch, lambda: (
                [(c.entry_id, c.raw, c.until) for c in store.all_cooldowns()],
                store.known_entries(), _fresh_labels(store),
                [(o.id, o.change) for o in store.list_overrides()]))
            assert tiny == whole, path.name
            assert [(c[0], c[1]) for c in tiny[0]] == oracle[0], path.name
            assert tiny[1] == oracle[1], path.name
            assert tiny[2] == oracle[2], path.name


def _fresh_labels(store: SqliteStore) -> dict[str, str]:
    store._labels = ({}, 0)  # forget what an earlier call read
    return store.entry_labels()


def _old_reads(path: Path) -> tuple[list[tuple[Any, str]], list[str], dict[str, str]]:
    """all_cooldowns (id, raw), known_entries and entry_labels as they were: one statement
    each (the oracle)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        cds = [(str(e), u if isinstance(u, str) else str(u)) for e, u in conn.execute(
            "SELECT entry_id, until FROM cooldowns ORDER BY entry_id")] \
            if "cooldowns" in tables else []
        ids: set[Any] = set()
        if "usage" in tables:
            ids.update(r[0] for r in conn.execute("SELECT DISTINCT entry_id FROM usage"))
        if "cooldowns" in tables:
            ids.update(r[0] for r in conn.execute("SELECT entry_id FROM cooldowns"))
        labels: dict[str, str] = {}
        if "audit_log" in tables:
            cols = {r[1] for r in conn.execute("PRAGMA table_info(audit_log)")}
            if "event_json" in cols:
                sql = ("SELECT json_extract(event_json, '$.entry_id'), json_extract(event_json, "
                       "'$.label') FROM audit_log WHERE json_valid(event_json) AND event_json "
                       "LIKE '{\"type\":\"session_started\"%' ORDER BY id")
            else:
                sql = ("SELECT json_extract(event_data, '$.entry_id'), json_extract(event_data, "
                       "'$.label') FROM audit_log WHERE event_type = 'session_started' "
                       "AND json_valid(event_data) ORDER BY id")
            labels = {e: lbl for e, lbl in conn.execute(sql)
                      if isinstance(e, str) and isinstance(lbl, str)}
    finally:
        conn.close()
    ids.update(labels)
    return cds, sorted(i for i in ids if isinstance(i, str)), labels


def test_check_finds_the_same_with_any_chunk_size(monkeypatch: pytest.MonkeyPatch,
                                                 medium: dict[str, Path], corpus: Path) -> None:
    for path in [*medium.values(), corpus / "bad-encoding.db", corpus / "odd-usage.db",
                 corpus / "unparseable.db"]:
        with SqliteStore.open(path, read_only=True) as store:
            tiny, whole = both(monkeypatch, lambda: check(store, max_problems=10_000))
        assert tiny.integrity == whole.integrity == ["ok"], path.name
        assert tiny.problems == whole.problems and tiny.events_checked == whole.events_checked
        assert tiny.indexes_checked == whole.indexes_checked
        assert tiny.problem_count == whole.problem_count > 0, path.name


def test_reading_while_the_service_appends_continues_where_it_was(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Rows committed between two statements of one read: a page never repeats or skips a
    row older than where it started, and a search started before them does not see them."""
    path = tmp_path / "r.db"
    shutil.copyfile(fixture_path("rust-v0.db"), path)
    path.chmod(0o644)
    writer = _raw(path)
    with SqliteStore.open(path, read_only=True) as store:
        expected = _key(store.find_audits(limit=1000).events)

        def append() -> None:
            writer.execute("INSERT INTO audit_log (timestamp, event_json) VALUES "
                           "('2026-07-05T10:00:00-04:00', '{\"type\":\"service_started\"}')")

        Statements(store, between=append)
        set_chunks(monkeypatch, TINY)
        got = _key(store.find_audits(limit=1000).events)
    writer.close()
    assert got == expected


# --- the structure --------------------------------------------------------------------------


def test_a_search_over_n_ids_is_at_least_n_over_chunk_statements_with_bounded_ranges(
        monkeypatch: pytest.MonkeyPatch, medium: dict[str, Path]) -> None:
    chunk = 50
    monkeypatch.setattr(store_module, "SCAN_CHUNK", chunk)
    with SqliteStore.open(medium["rust"], read_only=True) as store:
        low, high = store.audit_id_range() or (0, 0)
        watch = Statements(store)
        page = store.find_audits(AuditFilter(text="nomatch"), limit=200)
        assert page.events == [] and page.next_before_id is None
        spans = watch.searches()
        assert len(spans) >= (high - low + 1) / chunk
        assert all(0 < hi - lo <= chunk for hi, lo in spans)
        # Consecutive, newest first, covering every id exactly once.
        assert spans[0][0] == high + 1 and spans[-1][1] == low
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


@pytest.mark.parametrize("layout", ["rust", "seed"])
def test_every_long_read_is_short_statements_with_the_lock_free_between(
        monkeypatch: pytest.MonkeyPatch, medium: dict[str, Path], layout: str,
        tmp_path: Path) -> None:
    """Between two statements of any read, another process could take the exclusive lock
    at once (in rollback-journal mode the service's commit needs it)."""
    path = tmp_path / "db.db"
    shutil.copyfile(medium[layout], path)
    _raw(path).execute("PRAGMA journal_mode = DELETE").connection.close()
    set_chunks(monkeypatch, TINY)
    other = _raw(path)

    def exclusive_now() -> None:
        other.execute("PRAGMA busy_timeout = 0")
        other.execute("BEGIN EXCLUSIVE")  # raises "database is locked" if we still held it
        other.execute("COMMIT")

    with SqliteStore.open(path, read_only=True) as store:
        assert store.journal_mode == "delete"
        watch = Statements(store, between=exclusive_now)
        reads: list[tuple[str, Callable[[], Any], int]] = [
            ("search", lambda: store.find_audits(AuditFilter(text="nomatch")), 100),
            ("time filter", lambda: store.find_audits(
                AuditFilter(since=datetime(2040, 1, 1, tzinfo=UTC))), 100),
            ("export", lambda: list(iter_events(store, AuditFilter(text="e"))), 100),
            ("entry labels", store.entry_labels, 3 if layout == "seed" else 100),
            ("usage, all days", store.usage_between, 100),
            ("known entries", store.known_entries, 10),
            ("cooldowns", store.all_cooldowns, 10),
            ("check", lambda: check(store), 300),
        ]
        for name, read, at_least in reads:
            before = len(watch.seen)
            read()
            assert len(watch.seen) - before >= at_least, name
        assert not any(("integrity_check" in sql and "(" not in sql) or "quick_check" in sql
                       for sql, _ in watch.seen)
    other.close()


def test_only_full_or_quick_check_runs_a_whole_file_pragma(rust_copy: Path) -> None:
    with SqliteStore.open(rust_copy, read_only=True) as store:
        for kwargs, pragma in (({}, None), ({"quick": True}, "PRAGMA quick_check"),
                               ({"full": True}, "PRAGMA integrity_check")):
            watch = Statements(store)
            report = check(store, **kwargs)
            whole = [sql for sql, _ in watch.seen if sql in (
                "PRAGMA quick_check", "PRAGMA integrity_check")]
            assert whole == ([pragma] if pragma else []), kwargs
            assert (report.integrity_seconds is None) == (pragma is None)
            assert report.integrity_ok
            assert "PRAGMA integrity_check(usage)" in [sql for sql, _ in watch.seen]


def test_check_reads_every_index_entry_and_counts_them(tmp_path: Path,
                                                        medium: dict[str, Path]) -> None:
    """An index that lost entries is found without SQLite's whole-file check."""
    path = tmp_path / "db.db"
    shutil.copyfile(medium["rust"], path)
    with SqliteStore.open(path, read_only=True) as store:
        assert check(store).indexes_checked == ["idx_audit_timestamp"]
    conn = _raw(path)
    conn.execute("PRAGMA writable_schema = ON")  # an index that misses its rows' entries:
    conn.execute("UPDATE sqlite_master SET sql = sql || ' WHERE id > 10' "  # the index was
                 "WHERE name = 'idx_audit_timestamp'")  # built whole, the schema now says
    conn.close()                                         # partial, so it is skipped...
    with SqliteStore.open(path, read_only=True) as store:
        report = check(store)
        assert report.indexes_skipped == ["idx_audit_timestamp"]
    shutil.copyfile(medium["rust"], path)
    conn = _raw(path)
    conn.execute("DROP INDEX idx_audit_timestamp")  # ... and one built partial, then named
    conn.execute("CREATE INDEX idx_audit_timestamp ON audit_log(timestamp) WHERE id > 10")
    conn.execute("PRAGMA writable_schema = ON")  # whole again, misses ten entries
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX idx_audit_timestamp ON "
                 "audit_log(timestamp)' WHERE name = 'idx_audit_timestamp'")
    conn.close()
    with SqliteStore.open(path, read_only=True) as store:
        report = check(store)
    assert not report.integrity_ok and not report.healthy
    assert "idx_audit_timestamp has" in report.integrity[0]


def test_reads_leave_no_transaction_open_and_staging_takes_no_lock(
        monkeypatch: pytest.MonkeyPatch, rust_copy: Path) -> None:
    set_chunks(monkeypatch, TINY)
    with SqliteStore.open(rust_copy, read_only=True) as store:
        Statements(store)  # asserts no transaction after each statement
        store.find_audits(AuditFilter(text="quota"))
        store.usage_between()
        conn, _lock = store._reader()
        assert not conn.in_transaction
        staged = conn.execute("SELECT name FROM temp.sqlite_master").fetchall()
        assert staged and all(n.startswith("_shepherd_rows") for (n,) in staged)
        for (name,) in staged:  # emptied after each read
            assert conn.execute(f"SELECT count(*) FROM temp.{name}").fetchone()[0] == 0
    # A read-only open changed nothing in the file (the staging tables are temporary).
    conn2 = sqlite3.connect(rust_copy)
    names = {r[0] for r in conn2.execute("SELECT name FROM sqlite_master")}
    conn2.close()
    assert not any(n.startswith("_shepherd") for n in names)


def test_small_reads_are_staged_and_a_walk_that_fits_is_one_statement(rust_v0: Path) -> None:
    """A 1-row SELECT read row by row holds the lock while its thread waits for the GIL
    between its two steps: every SELECT is staged (its column count learnt once)."""
    with SqliteStore.open(rust_v0, read_only=True) as store:
        conn, _lock = store._reader()
        watch = Statements(store)
        store.audit_id_range()
        store.audit_id_range()
        describe = [sql for sql, _ in watch.seen if sql.endswith(") LIMIT 0")]
        assert len(describe) == 1  # the column count, learnt once
        staged = conn.execute("SELECT name FROM temp.sqlite_master").fetchall()
        assert ("_shepherd_rows2",) in staged
        assert store.audit_id_range() == (1, 23)
        watch.seen.clear()
        assert len(store.all_cooldowns()) == len(_old_reads(rust_v0)[0])
        assert len(watch.seen) == 1  # all of them in the first statement: nothing more


def test_read_id_ranges_covers_each_id_once_in_short_statements(
        monkeypatch: pytest.MonkeyPatch, medium: dict[str, Path]) -> None:
    monkeypatch.setattr(store_module, "SCAN_CHUNK", 40)
    sql = ("SELECT id, timestamp, event_json FROM audit_log WHERE id > ? AND id <= ? "
           "AND event_json LIKE ? ORDER BY id")
    with SqliteStore.open(medium["rust"], read_only=True) as store:
        low, high = store.audit_id_range() or (0, 0)
        watch = Statements(store)
        got = list(store.read_id_ranges(sql, low - 1, high, columns=3, params=("%quota%",)))
        spans = [p[:2] for s_, p in watch.seen if s_ == sql]
        whole = store._read(sql.replace("id > ? AND id <= ?", "1"), ("%quota%",))
    assert [row for _hi, rows in got for row in rows] == whole
    assert [hi for hi, _rows in got] == [hi for _lo, hi in spans]
    assert spans[0][0] == low - 1 and spans[-1][1] == high
    assert all(0 < hi - lo <= 40 for lo, hi in spans)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_chunk_sizer() -> None:
    sizes = ChunkSizer(100, 10, 1000, growth=2.0, target_s=0.01)
    sizes.record(100, 0.001)  # 10 times faster than the target: at most doubles
    assert sizes.size == 200
    sizes.record(200, 0.04)  # 4 times slower: shrinks at once to what fits
    assert sizes.size == 50
    sizes.record(50, 10.0)
    assert sizes.size == 10  # never below the lowest
    for _ in range(20):
        sizes.record(sizes.size, 0.0)
    assert sizes.size == 1000  # never above the highest
    sizes.record(0, 5.0)
    assert sizes.size == 1000  # nothing covered: nothing learnt
    assert ChunkSizer(5, 10, 7).size == 7 and ChunkSizer(5, 100, 7).lowest == 7


def test_a_worker_threads_first_read_waits_for_the_services_lock(rust_copy: Path) -> None:
    """A new thread's connection is set up (its page cache) while the service holds an
    exclusive lock: the read waits for the lock like any, it does not fail "locked"."""
    import threading

    store = SqliteStore.open(rust_copy, read_only=True, busy_timeout=5.0)
    service = sqlite3.connect(rust_copy, isolation_level=None)
    service.execute("BEGIN EXCLUSIVE")
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(store.usage_between()))
    try:
        reader.start()
        reader.join(0.3)
        assert reader.is_alive()  # waiting for the lock
        service.execute("COMMIT")
        reader.join(5)
        assert got and isinstance(got[0], list)
    finally:
        with contextlib.suppress(sqlite3.Error):
            service.execute("COMMIT")
        service.close()
        store.close()
