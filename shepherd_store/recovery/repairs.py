"""Repairs: the play of an interrupted session, lost usage and a missing cooldown recorded
as the service would have, each as one write transaction with a trace, refused (nothing
written) when what it rests on changed since it was read.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from ..errors import SerializationError
from ..events import ManualOverride, decode_event, dumps
from ..policy import Policy
from ..schema import Layout
from ..store import SqliteStore
from ..store_writes import (
    add_usage,
    check_entry_id,
    cooldown_text,
    put_cooldown,
    stored_cooldown,
    stored_usage,
)
from ..timefmt import format_day, local_now
from .changes import REPAIR_WHAT
from .findings import credited_day
from .results import RecoveryConflict, RecoveryFinding, RecoveryReport, RepairResult
from .rows import _SVC_START, _SVC_STOP, _parse_ts
from .scanner import recover

#: At most this many ids added since the report was read are checked for rows of a session
#: (more: the repair is refused, read again).
_MAX_RECHECK = 200_000
#: At most this many ids are checked inside the repair's write transaction, while the
#: service's writes wait (about a millisecond); the rest are read ahead before it, in the
#: store's short statements.
_RECHECK_IN_LOCK = 2_000


def repair(store: SqliteStore, session_id: str, *, seconds: int | None = None,
           cooldown: bool = False, policy: Policy | None = None,
           finding: RecoveryFinding | None = None, report: RecoveryReport | None = None,
           now: datetime | None = None) -> RepairResult:
    """Record the unrecorded play of an interrupted session as the service would have.

    Adds `seconds` (default: the finding's `min_seconds`; refused outside its bounds) to the
    entry's usage of the day the session would have ended, and with `cooldown` sets the
    policy's cooldown (`started_at + seconds + cooldown`) unless the stored one is later.
    One write transaction that first checks, under the write lock, that no repair of the
    session was recorded and that the log has no new row of it (nor a new service start or
    stop when its run was open) since `report` (or a scan made here) was read; otherwise
    `RecoveryConflict` and nothing is written (the rows added since are read ahead, so the
    lock is held briefly: `_unchanged_write`). Records a manual `usage` change whose JSON
    carries `session_id` (and a `cooldown` change when one is set).
    """
    if report is None:
        report = recover(store, policy, now=now)
    if finding is None:
        finding = report.finding(session_id)
    if finding is None:
        known = any(s.session_id == session_id for r in report.runs for s in r.sessions)
        raise RecoveryConflict(
            f"Session {session_id} " + ("is not interrupted (it ended, or is still running); "
                                        "nothing to repair." if known else
                                        "is not an interrupted session of this log."),
            "not_interrupted" if known else "unknown", path=store.path)
    if finding.resolved:
        raise RecoveryConflict(f"The play of session {session_id} was already recorded; "
                               "nothing was written.", "resolved", path=store.path)
    if finding.started_at is None or finding.entry_id is None or finding.min_seconds is None:
        raise RecoveryConflict(f"Session {session_id} has no readable start time: add its "
                               "time by hand.", "nothing", path=store.path)
    low, high = finding.min_seconds, finding.max_seconds
    now = now or local_now()
    if high is None:  # unbounded: it cannot have lasted beyond now
        high = max(low, math.ceil((now - finding.started_at).total_seconds()))
    credit = low if seconds is None else seconds
    if not isinstance(credit, int) or isinstance(credit, bool) or not low <= credit <= high:
        raise SerializationError(
            f"the unrecorded play of session {session_id} is between {low} and {high} s; "
            f"refusing {credit!r}", path=store.path)
    entry_id = finding.entry_id
    _check_entry(entry_id)
    day = credited_day(finding, credit)
    assert day is not None
    until: datetime | None = None
    if cooldown:
        entry = policy.entries.get(entry_id) if policy is not None else None
        if entry is None or not entry.cooldown_seconds:
            why = f"the policy has none for {entry_id}" if policy else "no policy was given"
            raise SerializationError(f"no cooldown to set: {why}", path=store.path)
        until = finding.started_at + timedelta(seconds=credit + entry.cooldown_seconds)
    run = next((r for r in report.runs if any(s.session_id == session_id for s in r.sessions)),
               None)
    run_open = run is not None and run.end == "open"  # the newest runs are always detailed
    with _unchanged_write(store, "record the unrecorded play of a session in", session_id,
                          report.last_id, services=run_open) as conn:
        before, after = _add_usage(conn, entry_id, day, credit, path=store.path)
        new = dumps({"day": format_day(day), "duration_secs": after, "added_secs": credit,
                     "reason": f"play of interrupted session {session_id} that the service "
                               "never counted", "session_id": session_id,
                     "repair": "interrupted_session",
                     "bounds": [finding.min_seconds, finding.max_seconds]})
        previous = None if before is None else dumps({"day": format_day(day),
                                                      "duration_secs": before})
        store.record_override(conn, REPAIR_WHAT, entry_id, previous, new)
        written, old_text, note = (None, None, None)
        if until is not None:
            written, old_text, note = _raise_cooldown(store, conn, entry_id, until)
    return RepairResult(session_id, entry_id, day, credit, before or 0, after, written,
                        old_text, note)


def repair_usage_lost(store: SqliteStore, finding: RecoveryFinding) -> RepairResult:
    """Add a `usage_lost` finding's missing seconds, if the stored usage is still what the
    finding saw (else `RecoveryConflict`, nothing written). Recorded as a manual usage change."""
    if finding.kind != "usage_lost" or finding.entry_id is None or finding.day is None \
            or finding.min_seconds is None:
        raise SerializationError("repair_usage_lost takes a usage_lost finding")
    _check_entry(finding.entry_id)
    with store.override("add lost usage to") as conn:
        rows = conn.execute("SELECT duration_secs FROM usage WHERE entry_id = ? AND day = ?",
                            (finding.entry_id, format_day(finding.day))).fetchall()
        current = rows[0][0] if rows else 0
        if current != (finding.recorded_seconds or 0):
            raise RecoveryConflict(
                f"The usage of {finding.entry_id} on {format_day(finding.day)} changed since it "
                f"was read (now {current!r}); nothing was written. Read again.", "changed",
                path=store.path)
        before, after = _add_usage(conn, finding.entry_id, finding.day, finding.min_seconds,
                                   path=store.path)
        new = dumps({"day": format_day(finding.day), "duration_secs": after,
                     "added_secs": finding.min_seconds,
                     "reason": "usage of ended sessions that the service failed to store",
                     "repair": "usage_lost"})
        previous = None if before is None else dumps({"day": format_day(finding.day),
                                                      "duration_secs": before})
        store.record_override(conn, "usage", finding.entry_id, previous, new)
    return RepairResult(None, finding.entry_id, finding.day, finding.min_seconds, before or 0,
                        after)


def repair_cooldown(store: SqliteStore, finding: RecoveryFinding) -> RepairResult:
    """Set a `cooldown_missing` finding's cooldown (only if the stored one is still earlier;
    else `RecoveryConflict` with reason `nothing`)."""
    if finding.kind != "cooldown_missing" or finding.entry_id is None \
            or finding.cooldown_until is None:
        raise SerializationError("repair_cooldown takes a cooldown_missing finding")
    _check_entry(finding.entry_id)
    with store.override("set a cooldown in") as conn:
        written, old, note = _raise_cooldown(store, conn, finding.entry_id,
                                             finding.cooldown_until)
        if written is None:
            raise RecoveryConflict(f"Nothing was written: {note}", "nothing", path=store.path)
    day = finding.cooldown_until.date()
    return RepairResult(finding.session_id, finding.entry_id, day, 0, 0, 0, written, old, note)


def _check_entry(entry_id: object) -> None:
    check_entry_id(entry_id)


def _add_usage(conn: sqlite3.Connection, entry_id: str, day: date, seconds: int, *,
               path: str) -> tuple[int | None, int]:
    """Add `seconds` to a usage row inside the transaction: (before or None, after)."""
    day_text = format_day(day)
    before = stored_usage(conn, entry_id, day_text, path=path)
    if seconds:
        add_usage(conn, entry_id, day_text, seconds)
    return before, (before or 0) + seconds


def _raise_cooldown(store: SqliteStore, conn: sqlite3.Connection, entry_id: str,
                    until: datetime) -> tuple[datetime | None, str | None, str | None]:
    """Set the cooldown to `until` unless the stored one is later: (written, old text, note)."""
    old = stored_cooldown(conn, entry_id)
    current = _parse_ts(old) if old is not None else None
    if current is not None and current >= until:
        return None, old, (f"the stored cooldown ({old}) already lasts until then or later")
    text = cooldown_text(until)
    put_cooldown(conn, entry_id, text)
    store.record_override(conn, "cooldown", entry_id, old, text)
    return until, old, None


def _check_not_repaired(store: SqliteStore, conn: sqlite3.Connection, session_id: str) -> None:
    """Inside the transaction: refuse when a repair of the session is already recorded."""
    if store.layout is Layout.SEED:
        rows = conn.execute("SELECT id, timestamp, event_data FROM audit_log WHERE "
                            "event_type = 'manual_override' AND instr(event_data, ?) > 0",
                            (session_id,)).fetchall()
    else:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                              "AND name = 'inspector_overrides'").fetchall()
        rows = conn.execute("SELECT id, timestamp, event_json FROM inspector_overrides "
                            "WHERE instr(event_json, ?) > 0", (session_id,)).fetchall() \
            if exists else []
    for _rid, stamp, text in rows:
        event = decode_event(text)
        if isinstance(event, ManualOverride) and event.what == REPAIR_WHAT and event.new \
                and session_id in event.new:
            raise RecoveryConflict(
                f"The play of session {session_id} was already recorded by {event.user} "
                f"at {stamp}; nothing was written.", "resolved", path=store.path)


@contextlib.contextmanager
def _unchanged_write(store: SqliteStore, action: str, session_id: str, last_id: int, *,
                     services: bool) -> Iterator[sqlite3.Connection]:
    """A write transaction in which no repair of the session is recorded and the log has no
    row about it (nor, with `services`, a service start or stop) after `last_id`; otherwise
    `RecoveryConflict`, nothing written.

    The rows added after `last_id` are read ahead, outside any transaction, in the store's
    short statements (`_read_ahead`). Inside the transaction, while the service's writes
    wait, only the rows added since are looked at: when they are more than
    `_RECHECK_IN_LOCK` ids, it ends without writing and reads those ahead too. The log is
    append-only, so checking it in parts is checking it whole.
    """
    low = last_id
    while True:
        found, checked = _read_ahead(store, session_id, low, last_id, services=services)
        with store.override(action) as conn:
            _check_not_repaired(store, conn, session_id)
            again = _check_unchanged(store, conn, session_id, last_id, checked, found,
                                     services=services)
            if again is None:
                yield conn
                return
        low = again


def _about(store: SqliteStore, session_id: str, *, services: bool) -> tuple[str, tuple[Any, ...]]:
    """The condition on a log row that is about the session (or, with `services`, a service
    start or stop), and its parameters."""
    col = store.layout.audit_json
    cond = f"instr({col}, ?) > 0"
    params: tuple[Any, ...] = (session_id,)
    if services:
        cond += f" OR {col} IN (?, ?)"
        params += (_SVC_START, _SVC_STOP)
    return f"({cond})", params


def _read_ahead(store: SqliteStore, session_id: str, low: int, last_id: int, *,
                services: bool) -> tuple[int | None, int]:
    """Before the transaction: the first row after `low` about the session (`_about`), or
    None, and the id read up to; in the store's short statements (`read_id_ranges`: each
    sized to about 10 ms, the lock released between them). Nothing is read when the log
    grew by more than `_MAX_RECHECK` ids since `last_id` (the repair is refused)."""
    bounds = store.audit_id_range()
    top = bounds[1] if bounds is not None else 0
    if top - last_id > _MAX_RECHECK:
        return None, low
    cond, params = _about(store, session_id, services=services)
    sql = f"SELECT id FROM audit_log WHERE id > ? AND id <= ? AND {cond} ORDER BY id LIMIT 1"
    for hi, rows in store.read_id_ranges(sql, low, top, columns=1, params=params):
        if rows:
            return int(rows[0][0]), hi
    return None, max(low, top)


def _check_unchanged(store: SqliteStore, conn: sqlite3.Connection, session_id: str,
                     last_id: int, checked: int, found: int | None, *,
                     services: bool) -> int | None:
    """Inside the transaction: refuse when rows about the session (or, for an open run, a
    service start or stop) were added after `last_id`: `found`, read ahead up to `checked`,
    or one added since. None when there is none; the id to read ahead from again (nothing
    checked) when more than `_RECHECK_IN_LOCK` ids were added since `checked`, or rows
    were removed."""
    top = conn.execute("SELECT max(id) FROM audit_log").fetchone()[0]
    if not isinstance(top, int) or top <= last_id:
        return None
    if top - last_id > _MAX_RECHECK:
        raise RecoveryConflict("The log grew a lot since it was read; nothing was written. "
                               "Read it again.", "changed", path=store.path)
    if top < checked:  # rows were removed since they were read ahead: read them all again
        return last_id
    if found is None:
        if top - checked > _RECHECK_IN_LOCK:
            return checked
        cond, params = _about(store, session_id, services=services)
        rows = conn.execute(f"SELECT id FROM audit_log WHERE id > ? AND {cond} LIMIT 1",
                            (checked, *params)).fetchall()
        found = rows[0][0] if rows else None
    if found is not None:
        raise RecoveryConflict(
            f"The log changed since it was read (row {found} is about session "
            f"{session_id} or the service): it may have ended or still be running. Nothing "
            "was written; read again.", "changed", path=store.path)
    return None
