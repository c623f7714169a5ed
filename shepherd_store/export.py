"""Streaming audit events out as CSV or JSON Lines/JSON (shared by the inspector and the CLI).

Rows are read in keyset pages and written as they come, so exporting a million events needs
no more memory than one page, and each read transaction stays one short statement (a
search no index serves is a series of them, over id ranges).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from typing import IO, Any

from .events import AuditEvent, UnknownEvent
from .query import AuditFilter
from .store import SqliteStore

CSV_FIELDS = ("id", "timestamp", "type", "entry_id", "session_id", "event_json")


def event_record(event: AuditEvent) -> dict[str, Any]:
    """A JSON-ready record of one event: stored timestamp, tag, and the event object itself."""
    raw = event.raw_json
    try:
        body: Any = json.loads(raw) if raw is not None else None
    except (ValueError, RecursionError):
        body = None
    record: dict[str, Any] = {
        "id": event.id,
        "timestamp": event.raw_timestamp or event.timestamp.isoformat(),
        "type": event.type,
        "event": body if body is not None else raw,
    }
    if isinstance(event.event, UnknownEvent) and event.event.malformed:
        record["malformed"] = event.event.error or True
    return record


def iter_events(store: SqliteStore, flt: AuditFilter | None = None, *, page: int = 500,
                limit: int | None = None,
                progress: Callable[[int, int], bool] | None = None,
                before_id: int | None = None) -> Iterator[AuditEvent]:
    """Every matching event (older than `before_id`, if given), newest first, page by page
    (stops early when cancelled). Each page is short statements over id ranges
    (`SqliteStore.find_audits`); nothing holds the database's lock between them."""
    before: int | None = before_id
    sent = 0
    while True:
        want = page if limit is None else min(page, limit - sent)
        if want <= 0:
            return
        result = store.find_audits(flt, before_id=before, limit=want, progress=progress)
        yield from result.events
        sent += len(result.events)
        if result.cancelled or result.next_before_id is None:
            return
        before = result.next_before_id


def write_csv(events: Iterator[AuditEvent], out: IO[str],
              on_row: Callable[[int], bool] | None = None) -> int:
    """Write events as CSV (one row per event, raw JSON in the last column); returns rows."""
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    n = 0
    for event in events:
        ev = event.event
        writer.writerow((event.id, event.raw_timestamp or event.timestamp.isoformat(),
                         event.type, getattr(ev, "entry_id", "") or "",
                         getattr(ev, "session_id", "") or "", event.raw_json or ""))
        n += 1
        if on_row is not None and not on_row(n):
            break
    return n


def write_json(events: Iterator[AuditEvent], out: IO[str], *, lines: bool = False,
               on_row: Callable[[int], bool] | None = None) -> int:
    """Write events as a JSON array (or JSON Lines with `lines`); returns rows written."""
    n = 0
    if not lines:
        out.write("[\n")
    for event in events:
        text = json.dumps(event_record(event), ensure_ascii=False)
        if lines:
            out.write(text + "\n")
        else:
            out.write(("" if n == 0 else ",\n") + text)
        n += 1
        if on_row is not None and not on_row(n):
            break
    if not lines:
        out.write("\n]\n")
    return n
