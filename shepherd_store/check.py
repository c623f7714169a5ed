"""Database check: SQLite's integrity check, facts about the file, and every row the Rust
daemon could not read (DESIGN.md, "What the Rust daemon cannot read").

Pure library code shared by `shepherd-store check` and the reliability work. `check(store)`
reads through the store, one short statement at a time (the audit log in keyset pages), so
it can run while the service writes; only SQLite's own integrity check is one long statement
(under a second on 1,000,000 rows in the Rust layout). The per-value rules are plain
functions (`event_problem`, `usage_problem`, `cooldown_problem`, `snapshot_problem`) that
return what is wrong in words, or None.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import SerializationError, StoreError
from .events import RUST_EVENT_TYPES, AuditEvent, UnknownEvent
from .export import iter_events
from .schema import SHEPHERD_TABLES, Layout
from .snapshot import decode_snapshot
from .store import SqliteStore
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
    integrity_pragma: str
    integrity: list[str] = field(default_factory=list)
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


def check(store: SqliteStore, *, quick: bool = False, progress: Progress | None = None,
          max_problems: int = 1000) -> CheckReport:
    """Check the database behind `store` (best opened read-only).

    `quick` runs `PRAGMA quick_check` instead of `integrity_check` (skips index contents).
    At most `max_problems` problems are kept in `problems`; `problem_count` counts all.
    Raises `StoreError` only when the file cannot be read at all.
    """
    pragma = "quick_check" if quick else "integrity_check"
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

    try:
        report.integrity = [str(r[0]) for r in _read(store, f"PRAGMA {pragma}")]
        text = store.load_snapshot_text()
        if text is not None:
            found("snapshot", "id 1", snapshot_problem(text), text)
        for cd in store.all_cooldowns():
            found("cooldowns", cd.entry_id, cooldown_problem(cd.raw), cd.raw)
        if "usage" in report.tables:
            for entry, day, secs in _read(store, "SELECT entry_id, day, duration_secs FROM "
                                                 "usage ORDER BY entry_id, day"):
                found("usage", f"{entry} {day}", usage_problem(entry, day, secs), secs)
        _check_audit(store, report, progress, max_problems)
    except StoreError as exc:
        report.integrity.append(str(exc))
        report.complete = False
    return report


def _check_audit(store: SqliteStore, report: CheckReport, progress: Progress | None,
                 max_problems: int) -> None:
    report.audit_ids = store.audit_id_range()
    if report.audit_ids is None:
        return
    low, high = report.audit_ids
    total = high - low + 1
    room = max(max_problems - len(report.problems), 0)
    oldest: deque[RowProblem] = deque(maxlen=room)  # the log is read newest first
    for event in iter_events(store, page=_PAGE):
        report.events_checked += 1
        problem = event_problem(event, store.layout)
        if problem is not None:
            report.problem_count += 1
            if room:
                oldest.append(RowProblem("audit_log", f"id {event.id}", problem,
                                         (event.raw_json or "")[:500]))
        if progress is not None and report.events_checked % _PAGE == 0 \
                and not progress(high - event.id + 1, total):
            report.complete = False
            break
    report.problems.extend(reversed(oldest))


def _read(store: SqliteStore, sql: str) -> list[Any]:
    """One statement through the store's read connection (its read transaction ends with it)."""
    return store._read(sql, action="check")


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None
