"""Database check: SQLite's integrity check, facts about the file, and every row the Rust
daemon could not read (DESIGN.md, "What the Rust daemon cannot read").

Pure library code shared by `shepherd-store check` and the reliability work. The per-value
rules are plain functions (`event_problem`, `usage_problem`, `cooldown_problem`,
`snapshot_problem`) that return what is wrong in words, or None.

`check(store)` reads through the store in short statements only, so it can run while the
service writes (DESIGN.md, "Short reads"). SQLite's `PRAGMA integrity_check` and
`quick_check` are each ONE statement over the whole file: it holds the database's read
lock until it ends (0.4-2.3 s at 1,000,000 events on a 2-core machine, more when the file
is not cached), and in rollback-journal mode the service's commits wait for it and fail
after 5 s. So by default `check` verifies what it can in short statements instead:

- every audit row is read in id ranges: SQLite reports a damaged table page it reads as an
  error. A range whose rows all match the canonical forms is proven readable at once
  (`check_fast`); the other rows are decoded one by one;
- every entry of every index of the audit log is read in keyset chunks, and the entries
  are counted against the rows (an index missing or holding extra entries): each chunk is
  counted inside SQLite, in the index's own order, so SQLite reads its pages;
- the small tables (usage, cooldowns, snapshot, ...) get `PRAGMA integrity_check(table)`,
  a statement that checks only that table and its indexes (8 ms for 13,000 usage rows).

What this does not see: damage in pages no table or index uses (the freelist), and index
entries whose keys differ from their rows'. `full=True` (`check --full`) runs the
whole-file `integrity_check` for that, `quick=True` (`--quick`) the whole-file
`quick_check`, each after the chunked checks, and reports how long it held the lock.

Copying the file first with SQLite's backup API in small steps (then checking the copy) was
measured and rejected: a step that finds the source changed since the last one starts the
copy over, and with the service writing 40 times a second a 230 MB copy never finishes
(benchmarks/bench_service_latency.py measures it).
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .check_fast import Chunk, audit_chunks, patterns
from .errors import SerializationError, StoreError
from .events import RUST_EVENT_TYPES, AuditEvent, UnknownEvent
from .export import iter_events
from .schema import SHEPHERD_TABLES, Layout
from .snapshot import decode_snapshot
from .store import SqliteStore
from .store_reads import after_keys
from .timefmt import parse_day, parse_timestamp

__all__ = [
    "CheckReport", "RowProblem", "check", "cooldown_problem", "event_problem",
    "snapshot_problem", "usage_problem",
]

#: Called with (events checked, events to check); return False to stop early.
Progress = Callable[[int, int], bool]

#: Tables of this library's own (the side table of manual overrides in a Rust database).
OWN_TABLES = ("inspector_overrides", "sqlite_sequence", "sqlite_stat1")
_PAGE = 2000
#: What gives an index expression an affinity (a column key is quoted).
_AFFINITY = re.compile(r"\b(cast|collate)\b", re.IGNORECASE)
#: What `CheckReport.integrity_pragma` says when no whole-file check ran.
CHUNKED = "chunked"
#: Tables small enough for `PRAGMA integrity_check(table)`, one statement each.
SMALL_TABLES = ("usage", "cooldowns", "snapshot", "inspector_overrides", "sqlite_sequence")


@dataclass(frozen=True)
class RowProblem:
    """One stored row the daemon could not read: where it is, why, and its stored value."""

    table: str
    key: str
    problem: str
    value: str = ""


@dataclass
class CheckReport:
    """What `check` found. `healthy` when SQLite's check passed and no row is a problem."""

    path: str
    layout: Layout
    journal_mode: str
    user_version: int
    size_bytes: int | None
    integrity_pragma: str  # "integrity_check", "quick_check" or CHUNKED
    integrity: list[str] = field(default_factory=list)
    #: Seconds the whole-file pragma held the database's read lock (None: not run).
    integrity_seconds: float | None = None
    #: Indexes of the audit log read entry by entry and counted against its rows.
    indexes_checked: list[str] = field(default_factory=list)
    #: Indexes that could not be walked (partial, descending or unusual keys).
    indexes_skipped: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    audit_ids: tuple[int, int] | None = None
    events_checked: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0
    complete: bool = True

    @property
    def integrity_ok(self) -> bool:
        return self.integrity == ["ok"]

    @property
    def healthy(self) -> bool:
        return self.integrity_ok and self.problem_count == 0 and self.complete

    @property
    def other_tables(self) -> list[str]:
        """Tables that are neither the daemon's nor this library's (left alone)."""
        return [t for t in self.tables if t not in SHEPHERD_TABLES and t not in OWN_TABLES]


# --- rules for single values --------------------------------------------------------------


def event_problem(event: AuditEvent, layout: Layout) -> str | None:
    """Why the daemon could not read this audit row, or None.

    In the seed layout (which the daemon does not read at all) this library's own
    `manual_override` events are fine; in the Rust layout only the daemon's types are.
    """
    ev = event.event
    if isinstance(ev, UnknownEvent):
        if ev.malformed:
            return (f"{ev.error or 'unreadable'}; the daemon fails to read every page of the "
                    "log that contains this row")
        return (f"unknown event type {ev.type!r}; the daemon fails to read every page of the "
                "log that contains this row")
    if layout is Layout.RUST and ev.TYPE not in RUST_EVENT_TYPES:
        return (f"event type {ev.TYPE!r} is this library's own; the daemon fails to read every "
                "page of the log that contains this row")
    return None


def usage_problem(entry_id: object, day: object, seconds: object) -> str | None:
    """Why the daemon would misread this usage row, or None."""
    if not isinstance(entry_id, str):
        return f"the entry id is {_kind(entry_id)}, not text"
    try:
        parse_day(day)
    except ValueError:
        return (f"the day {_short(day)} is not a YYYY-MM-DD date; the daemon never finds "
                "this row, so the time is not counted")
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return f"duration_secs is {_kind(seconds)} {_short(seconds)}, not a whole number"
    if seconds < 0:
        return f"duration_secs is negative ({seconds})"
    return None


def cooldown_problem(until: object) -> str | None:
    """Why the daemon would misread this cooldown's `until`, or None."""
    try:
        parse_timestamp(until)
    except ValueError:
        return (f"until {_short(until)} is not an RFC 3339 time with an offset; the daemon "
                "reads it as no cooldown")
    return None


def snapshot_problem(text: object) -> str | None:
    """Why the daemon could not read the saved snapshot, or None."""
    try:
        decode_snapshot(text)
    except SerializationError as exc:
        return str(exc)
    return None


def _kind(value: object) -> str:
    return {type(None): "null", float: "a real number", str: "text",
            bytes: "a blob", int: "an integer"}.get(type(value), type(value).__name__)


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- the whole database -------------------------------------------------------------------


def check(store: SqliteStore, *, quick: bool = False, full: bool = False,
          progress: Progress | None = None, max_problems: int = 1000) -> CheckReport:
    """Check the database behind `store` (best opened read-only), in short statements.

    `full` adds SQLite's whole-file `PRAGMA integrity_check`, `quick` its `quick_check`
    (skips index contents): ONE statement each, which holds the database's read lock for
    its whole run (see the module's docstring); `integrity_seconds` says how long.
    At most `max_problems` problems are kept in `problems`; `problem_count` counts all.
    Raises `StoreError` only when the file cannot be read at all.
    """
    pragma = "integrity_check" if full else "quick_check" if quick else CHUNKED
    report = CheckReport(
        path=store.path, layout=store.layout, journal_mode=store.journal_mode,
        user_version=int(_read(store, "PRAGMA user_version")[0][0]),
        size_bytes=_size(store.path), integrity_pragma=pragma,
        tables=sorted(str(r[0]) for r in _read(
            store, "SELECT name FROM sqlite_master WHERE type = 'table'")))

    def found(table: str, key: str, problem: str | None, value: object) -> None:
        if problem is None:
            return
        report.problem_count += 1
        if len(report.problems) < max_problems:
            text = value if isinstance(value, str) else repr(value)
            report.problems.append(RowProblem(table, key, problem, text[:500]))

    damage: list[str] = []
    try:
        for table in SMALL_TABLES:
            if table in report.tables:
                damage += [str(r[0]) for r in _read(store, f"PRAGMA integrity_check({table})")
                           if r[0] != "ok"]
        text = store.load_snapshot_text()
        if text is not None:
            found("snapshot", "id 1", snapshot_problem(text), text)
        for cd in store.all_cooldowns():
            found("cooldowns", cd.entry_id, cooldown_problem(cd.raw), cd.raw)
        if "usage" in report.tables:
            for rows in store._walk("entry_id, day, duration_secs", 3, "usage", "1", (),
                                    ("entry_id", "day", "rowid"), "check"):
                for entry, day, secs in rows:
                    found("usage", f"{entry} {day}", usage_problem(entry, day, secs), secs)
        indexes = _audit_indexes(store, report) if "audit_log" in report.tables else []
        _check_audit(store, report, progress, max_problems, len(indexes))
        if report.complete:
            damage += _check_indexes(store, report, indexes, progress)
        if pragma != CHUNKED:
            start = time.perf_counter()
            result = [str(r[0]) for r in _read(store, f"PRAGMA {pragma}")]
            report.integrity_seconds = time.perf_counter() - start
            damage += [r for r in result if r != "ok"]
    except StoreError as exc:
        damage.append(str(exc))
        report.complete = False
    report.integrity = damage or ["ok"]
    return report


def _check_audit(store: SqliteStore, report: CheckReport, progress: Progress | None,
                 max_problems: int, indexes: int) -> None:
    """Every audit row up to the newest id at the start (the service only appends), in
    short statements. Progress counts these rows, every `_PAGE` of them, then each
    index's entries (`indexes` of them) as as many again."""
    report.audit_ids = store.audit_id_range()
    if report.audit_ids is None:
        return
    low, high = report.audit_ids
    total = (high - low + 1) * (1 + indexes)
    room = max(max_problems - len(report.problems), 0)
    oldest: deque[RowProblem] = deque(maxlen=room)  # the log is read newest first
    for verdict in _verdicts(store, low, high):
        if isinstance(verdict, Chunk):
            if not _count_proven(report, verdict, progress, high, total):
                break
            continue
        event_id, problem, raw = verdict
        report.events_checked += 1
        if problem is not None:
            report.problem_count += 1
            if room:
                oldest.append(RowProblem("audit_log", f"id {event_id}", problem, raw[:500]))
        if progress is not None and report.events_checked % _PAGE == 0 \
                and not progress(high - event_id + 1, total):
            report.complete = False
            break
    report.problems.extend(reversed(oldest))


def _verdicts(store: SqliteStore, low: int, high: int
              ) -> Iterator[Chunk | tuple[int, str | None, str]]:
    """Newest first: ranges of rows proven readable (`Chunk`), and (id, problem or None,
    stored JSON) of every other row, as the log's pages read them (rows with ids below 1
    are not read). Where `id` is not the table's rowid (ids may repeat or not be whole
    numbers), every row is decoded, as in pages of the log."""
    if not _id_is_rowid(store):
        for event in iter_events(store, page=_PAGE, before_id=high + 1):
            yield event.id, event_problem(event, store.layout), event.raw_json or ""
        return
    pats = patterns(store.layout)
    for chunk in audit_chunks(store, max(low, 1), high):
        if chunk.rows is None:
            yield chunk
            continue
        for row in chunk.rows:
            if pats.row_readable(row[1], row[2]):
                yield int(row[0]), None, ""
            else:
                event = store._row_to_event(row)
                yield event.id, event_problem(event, store.layout), event.raw_json or ""


def _id_is_rowid(store: SqliteStore) -> bool:
    """Whether the audit log's `id` is its rowid (unique whole numbers: an id range of
    `hi - lo` rows holds each id once), as SQLite's plan for a lookup by id says."""
    plan = _read(store, "EXPLAIN QUERY PLAN SELECT id FROM audit_log WHERE id = 0")
    return any("USING INTEGER PRIMARY KEY" in str(row[-1]) for row in plan)


def _count_proven(report: CheckReport, chunk: Chunk, progress: Progress | None, high: int,
                  total: int) -> bool:
    """Count a range of rows proven readable (ids `hi - 1` down to `lo`), reporting
    progress where a row at a time would have; False when cancelled."""
    start = report.events_checked
    report.events_checked += chunk.hi - chunk.lo
    if progress is None:
        return True
    for done in range(start + _PAGE - start % _PAGE, report.events_checked + 1, _PAGE):
        if not progress(high - (chunk.hi - (done - start)) + 1, total):
            report.events_checked = done
            report.complete = False
            return False
    return True


def _audit_indexes(store: SqliteStore, report: CheckReport) -> list[tuple[str, tuple[str, ...]]]:
    """(name, ORDER BY keys ending with rowid) of each index of the audit log that can be
    walked in its own order; the others are listed in `indexes_skipped`."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for name, sql in _read(store, "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                  "AND tbl_name = 'audit_log' ORDER BY name"):
        keys = _index_keys(store, str(name), sql if isinstance(sql, str) else None)
        if keys is None:
            report.indexes_skipped.append(str(name))
        else:
            out.append((str(name), keys))
    return out


def _index_keys(store: SqliteStore, name: str, sql: str | None) -> tuple[str, ...] | None:
    """The key expressions of an index, in order, then rowid; None when its order is not
    plain ascending BINARY keys (or it is partial, or its expression cannot be recovered)."""
    if sql is None or " where " in sql.lower() or '"' in name or "'" in name:
        return None  # (an automatic index of a UNIQUE constraint has no SQL: skipped)
    keys: list[str] = []
    for _seq, cid, col, desc, coll, key in _read(store, f"PRAGMA index_xinfo(\"{name}\")"):
        if not key:
            continue
        if desc or str(coll).upper() != "BINARY":
            return None
        if cid >= 0:
            keys.append(f'"{col}"')
        elif cid == -2:
            keys.append("")  # an expression: recovered from the SQL below
    if keys.count("") > 1 or ("" in keys and len(keys) > 1):
        return None
    if keys == [""]:
        open_at, close_at = sql.find("(", sql.lower().find(" on ")), sql.rfind(")")
        if open_at < 0 or close_at <= open_at:
            return None
        keys = [sql[open_at + 1:close_at].strip()]
    return (*keys, "rowid") if keys else None


def _check_indexes(store: SqliteStore, report: CheckReport,
                   indexes: list[tuple[str, tuple[str, ...]]],
                   progress: Progress | None) -> list[str]:
    """Read every entry of each index in short statements (in the index's own order, so
    SQLite reads its pages), and count those of the rows `_check_audit` read."""
    damage: list[str] = []
    if report.audit_ids is None:
        return damage
    low, high = report.audit_ids
    span = high - low + 1
    total = span * (1 + len(indexes))
    for k, (name, keys) in enumerate(indexes):
        entries = 0
        for counted in _index_entries(store, name, keys, high):
            entries += counted
            if progress is not None and not progress(
                    span * (1 + k) + min(entries, span), total):
                report.complete = False
                return damage
        report.indexes_checked.append(name)
        if entries != report.events_checked:
            damage.append(f"index {name} has {entries} entries for the "
                          f"{report.events_checked} rows of audit_log up to id {high}")
    return damage


def _index_entries(store: SqliteStore, name: str, keys: tuple[str, ...],
                   high: int) -> Iterator[int]:
    """The entries of index `name` with rowids up to `high`, counted per statement (each
    non-empty one yields its count): the keyset walk of `SqliteStore._walk` over
    `ORDER BY keys`, each chunk counted inside SQLite instead of returned (Python built a
    million rowids per index in seconds). The statement that counts a chunk also finds
    its last entry, whose keys (looked up by rowid) continue the walk. Chunks are sized
    as reads an index serves (`_id_chunks`): a statement costs about the entries it
    counts, 50-100 ns each."""
    source = f'audit_log INDEXED BY "{name}"'
    hidden = ", ".join(
        f"typeof({k}), CASE WHEN typeof({k}) IN ('text', 'blob') THEN CAST({k} AS BLOB) "
        f"ELSE {k} END" for k in keys)
    sizes = store._id_chunks(scanning=False)
    last: list[tuple[str, Any]] | None = None
    level = len(keys)  # how many keys the next chunk compares (see `after_keys`)
    while level > 0:
        first = last is None
        where, args, order = "1", (), keys
        if last is not None:
            where, args = _after(keys[:level], last[:level])
            order = keys[level - 1:]
        chunk = f"SELECT rowid AS r FROM {source} WHERE ({where}) ORDER BY {', '.join(order)}"
        want = sizes.size
        rows, held = store._statement(
            f"SELECT count(*), count(CASE WHEN r <= ? THEN 1 END), ({chunk} LIMIT 1 OFFSET ?) "
            f"FROM ({chunk} LIMIT ?)", (high, *args, want - 1, *args, want), "check",
            columns=3)
        count, counted, end = rows[0]
        sizes.record(count, held)
        if count:
            yield int(counted)
        if count == want:  # a full chunk: continue after its last entry, comparing every key
            found = store._read(f"SELECT {hidden} FROM audit_log WHERE rowid = ?", (end,),
                                "check")
            if not found:  # (the row went away meanwhile: its keys cannot change)
                raise StoreError(f"Cannot check {store.path}: a row changed while it was "
                                 "read; try again.", path=store.path)
            last = [(str(found[0][2 * i]), found[0][2 * i + 1]) for i in range(len(keys))]
        elif first:
            return  # nothing at all, or all of it in the first statement
        # A short chunk: the entries sharing the first `level - 1` keys are all counted
        # (its last entry shares them with `last`, so `last` need not move); compare one
        # key less.
        level = len(keys) if count == want else level - 1


def _after(keys: tuple[str, ...], last: list[tuple[str, Any]]) -> tuple[str, tuple[Any, ...]]:
    """`after_keys`, but after a NULL of an expression as a range SQLite seeks to: it scans
    `k IS NOT NULL` from the index's first entry (past 440,000 NULLs of `$.entry_id` at
    1,000,000 events, 20 ms a statement). An expression without CAST or COLLATE has no
    affinity, so -Inf is compared as is: every value but NULL sorts at or after it."""
    cond, args = after_keys(keys, last)
    key, scan = keys[-1], f"{keys[-1]} IS NOT NULL"
    if cond.endswith(scan) and not key.startswith('"') and key != "rowid" \
            and _AFFINITY.search(key) is None:
        cond = cond[:-len(scan)] + f"{key} >= -9e999"
    return cond, args


def _read(store: SqliteStore, sql: str) -> list[Any]:
    """One statement through the store's read connection (its read transaction ends with it)."""
    return store._read(sql, action="check")


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None
