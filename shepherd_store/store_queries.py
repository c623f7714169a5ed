"""The inspector's reads beyond the `Store` trait: pages of audit events by filter, usage
over day ranges, every cooldown, the entries and their labels; each a series of short
statements (`BoundedReads`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .events import AuditEvent, UnknownEvent, decode_event
from .query import AuditFilter, AuditPage, WhereClause, build_where, day_range
from .schema import Layout
from .store_reads import BoundedReads, _MalformedJson
from .timefmt import parse_day, parse_timestamp

_EPOCH = datetime.fromtimestamp(0).astimezone()
_LABELS_FIRST = 512  # ids the first statement of a label search covers (`_search_down`)

#: Called during long scans with (rows scanned, rows to scan); return False to cancel.
Progress = Callable[[int, int], bool]


@dataclass(frozen=True)
class UsageRecord:
    """Seconds of one entry on one day (the daemon's local date)."""

    entry_id: str
    day: date
    seconds: int


@dataclass(frozen=True)
class CooldownRecord:
    """A cooldown row; `until` is None when the stored text is unreadable (see `raw`)."""

    entry_id: str
    until: datetime | None
    raw: str


@dataclass
class _LabelSearch:
    """A search of the log's labels newest first: the session_started rows with ids in
    (`floor`, `top`] are read, and `found` holds the newest label of each entry they name."""

    top: int
    floor: int
    found: dict[str, str]


class StoreQueries(BoundedReads):
    """What the database holds (its layout and tables), and the reads of it that the views
    and the command line need beyond the trait."""

    def __init__(self, conn: sqlite3.Connection, path: str, layout: Layout,
                 tables: frozenset[str]) -> None:
        super().__init__(conn, path)
        self.layout = layout
        self._tables = set(tables)
        #: `entry_labels` so far, and the newest log id they cover.
        self._labels: tuple[dict[str, str], int] = ({}, 0)
        #: `entry_labels(entries)`'s newest-first search so far (see `_LabelSearch`).
        self._search: _LabelSearch | None = None
        self._labels_lock = threading.Lock()

    def _has(self, table: str) -> bool:
        return table in self._tables

    def _refresh_tables(self) -> None:
        self._tables = {r[0] for r in self._read(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}

    # --- audit log -------------------------------------------------------------------------

    def audit_id_range(self) -> tuple[int, int] | None:
        """(oldest id, newest id) of the audit log, or None when it is empty (two lookups)."""
        if not self._has("audit_log"):
            return None
        # Two scalar subqueries: SQLite's min/max shortcut skips a full scan only when the
        # aggregate stands alone; `SELECT min(id), max(id)` read all 1,000,000 rows (60 ms).
        low, high = self._read("SELECT (SELECT min(id) FROM audit_log), "
                               "(SELECT max(id) FROM audit_log)")[0]
        return None if low is None else (int(low), int(high))

    def _row_to_event(self, row: tuple[Any, ...]) -> AuditEvent:
        row_id, stamp, text = row
        event = decode_event(text)
        try:
            timestamp = parse_timestamp(stamp)
        except ValueError as exc:
            timestamp = _EPOCH
            if not (isinstance(event, UnknownEvent) and event.malformed):
                raw = text if isinstance(text, str) else str(text)
                event = UnknownEvent(getattr(event, "TYPE", "") or getattr(event, "type", ""),
                                     raw, malformed=True, error=f"bad timestamp: {exc}")
        return AuditEvent(int(row_id), timestamp, event, raw_timestamp=str(stamp),
                          raw_json=text if isinstance(text, str) else str(text))

    def is_indexed(self, flt: AuditFilter) -> bool:
        """Whether an index serves `flt` outright, so a page costs about a millisecond at any
        log size (otherwise the search scans, and callers should run it off the GUI thread)."""
        return (flt.since is None and flt.until is None
                and build_where(flt, self.layout).indexed)

    def find_audits(self, flt: AuditFilter | None = None, *, before_id: int | None = None,
                    after_id: int | None = None, limit: int = 200,
                    progress: Progress | None = None) -> AuditPage:
        """A page of matching events, newest first, with keyset paging.

        `before_id` continues an earlier page; `after_id` restricts to newer rows (live
        refresh). Every page is read as short statements over ranges of ids (sized by
        `ChunkSizer`): filters no index serves (text, time, any filter in the Rust layout)
        are scanned in chunks of at most `SCAN_CHUNK` ids, reporting to `progress`, which
        may cancel by returning False.
        """
        flt = flt or AuditFilter()
        if not self._has("audit_log") or limit <= 0:
            return AuditPage([], None)
        bounds = self.audit_id_range()
        if bounds is None:
            return AuditPage([], None)
        lowest, newest = bounds
        upper = min(before_id, newest + 1) if before_id is not None else newest + 1
        floor = max(lowest, (after_id or 0) + 1)
        try:
            return self._scan(flt, upper, floor, limit, progress, guarded=False)
        except _MalformedJson:
            return self._scan(flt, upper, floor, limit, progress, guarded=True)

    def _scan(self, flt: AuditFilter, upper: int, floor: int, limit: int,
              progress: Progress | None, *, guarded: bool) -> AuditPage:
        where = build_where(flt, self.layout, guarded=guarded)
        # Time bounds are text comparisons on the rows an id range holds (SQLite walks the
        # ids, not the timestamp index): a scan like the text search.
        scanning = not where.indexed or flt.since is not None or flt.until is not None
        sizes = self._id_chunks(scanning=scanning)
        found: list[AuditEvent] = []
        hi = upper
        total = max(upper - floor, 1)
        while len(found) < limit and hi > floor:
            need = limit - len(found)
            lo = max(hi - sizes.size, floor)
            sql, params = self._select(flt, where, hi, lo, need)
            rows, held = self._statement(sql, params, "search the audit log of", columns=3,
                                         malformed_json=not guarded)
            for row in rows:
                event = self._row_to_event(row)
                if flt.matches_time(event):
                    found.append(event)
            reached = int(rows[-1][0]) if len(rows) == need else lo
            sizes.record(hi - reached, held)
            hi = reached
            if progress is not None and scanning and not progress(upper - hi, total):
                return AuditPage(found, hi if hi > floor else None, cancelled=True)
        return AuditPage(found, hi if hi > floor else None)

    def _select(self, flt: AuditFilter, where: WhereClause, hi: int, lo: int,
                need: int) -> tuple[str, tuple[Any, ...]]:
        col = self.layout.audit_json
        head = f"SELECT id, timestamp, {col} FROM audit_log WHERE id < ? AND id >= ?"
        types = sorted(flt.event_types)
        if self.layout is Layout.SEED and len(types) > 1 and where.sql.startswith("event_type IN"):
            # One index range per type, merged: SQLite does not walk an IN list in id order.
            rest = where.sql.split(" AND ", 1)[1] if " AND " in where.sql else "1"
            rest_params = where.params[len(types):]
            part = f"SELECT * FROM ({head} AND event_type = ? AND {rest} ORDER BY id DESC LIMIT ?)"
            params: tuple[Any, ...] = ()
            for t in types:
                params += (hi, lo, t, *rest_params, need)
            return " UNION ALL ".join([part] * len(types)) + " ORDER BY id DESC LIMIT ?", (
                *params, need)
        return f"{head} AND {where.sql} ORDER BY id DESC LIMIT ?", (hi, lo, *where.params, need)

    # --- usage and cooldowns -------------------------------------------------------------

    def usage_between(self, start: date | None = None, end: date | None = None,
                      entry_id: str | None = None) -> list[UsageRecord]:
        """Usage per entry per day for the inclusive day range, all entries or one.

        Rows the daemon could not read (a day that is not a date, a negative or non-integer
        count) are left out; `problems()` reports them.
        """
        if not self._has("usage"):
            return []
        lo, hi = day_range(start, end)
        where = "day <= ?"
        params: tuple[Any, ...] = (hi,)
        if entry_id is not None:
            where += " AND entry_id = ?"
            params += (entry_id,)
        out: list[UsageRecord] = []
        day: list[tuple[tuple[int, Any], Any, Any, Any]] = []  # the rows of one day

        def end_of_day() -> None:
            day.sort(key=lambda row: row[0])  # by entry, as ORDER BY day, entry_id
            for _key, eid, day_text, secs in day:
                if type(secs) is not int or secs < 0:  # typeof 'integer', not negative
                    continue
                try:
                    out.append(UsageRecord(str(eid), parse_day(day_text), secs))
                except ValueError:
                    continue
            day.clear()

        # A bounded number of rows per statement (years of usage are tens of thousands of
        # rows), in the order of the day index, (day, rowid), which SQLite reads without
        # sorting: ordering by (day, entry) would sort every row of a day again in every
        # statement that reads part of it. Each day's rows are put in entry order here,
        # by SQLite's own order of the stored values (see `sqlite_order`). Bad counts are
        # skipped here rather than in SQL, so the rows a statement reads are those it returns.
        current: Any = None
        entry_key = ("typeof(entry_id), CASE WHEN typeof(entry_id) IN ('text', 'blob') "
                     "THEN CAST(entry_id AS BLOB) ELSE entry_id END, CAST(day AS BLOB)")
        for rows in self._walk(f"entry_id, day, duration_secs, {entry_key}", 6, "usage",
                               where, params, ("day", "rowid"), "read", start=lo):
            for eid, day_text, secs, kind, raw, day_bytes in rows:
                if day_bytes != current:
                    end_of_day()
                    current = day_bytes
                day.append((sqlite_order(kind, raw), eid, day_text, secs))
        end_of_day()
        return out

    def all_cooldowns(self) -> list[CooldownRecord]:
        """Every cooldown row, readable or not, sorted by entry."""
        if not self._has("cooldowns"):
            return []
        out = []
        rows = [row for chunk in self._walk("entry_id, until", 2, "cooldowns", "1", (),
                                            ("entry_id", "rowid"), "read")
                for row in chunk]
        for eid, raw in rows:
            raw_text = raw if isinstance(raw, str) else str(raw)
            try:
                until: datetime | None = parse_timestamp(raw_text)
            except ValueError:
                until = None
            out.append(CooldownRecord(str(eid), until, raw_text))
        return out

    # --- entries ---------------------------------------------------------------------------

    def entry_labels(self, entries: Iterable[str] | None = None, *,
                     upto: int | None = None) -> dict[str, str]:
        """Every entry the log has started, with the newest label it used.

        The log only grows, so each call reads only the events added since the previous
        one (the window asks after every commit; rescanning 100,000 events each time kept
        a worker busy). A log whose newest id went down (emptied, or an older copy restored
        in place) is read again from the start.

        With `entries`, only the labels of those (as the whole answer has them; an entry
        without one is left out), as the log stood at id `upto` (an id `audit_id_range`
        gave; default its newest now): found by `_newest_labels`, which stops as soon as
        all are found (the first rows of a table need a few labels, not the log's).
        """
        if entries is not None:
            return self._newest_labels(set(entries), upto)
        if upto is not None:
            raise ValueError("entry_labels: upto needs entries")
        if not self._has("audit_log"):
            return {}
        with self._labels_lock:
            labels, upto = self._labels
            top = self._newest_id()
            if top < upto:
                labels, upto = {}, 0
            labels = dict(labels)
            sql, params = self._label_rows()
            sizes = self._id_chunks(scanning=self.layout is not Layout.SEED)
            while upto < top:  # oldest first, in short statements over id ranges
                hi = min(upto + sizes.size, top)
                rows, held = self._statement(f"{sql} ORDER BY id", (upto, hi, *params),
                                             "read", columns=2)
                labels.update((e, lbl) for e, lbl in rows
                              if isinstance(e, str) and isinstance(lbl, str))
                sizes.record(hi - upto, held)
                upto = hi
            self._labels = (labels, top)  # rows after `top` are read next time
            return dict(labels)

    def _newest_labels(self, wanted: set[str], upto: int | None) -> dict[str, str]:
        """The labels of `wanted` as of id `upto`, searching the log newest first in short
        statements over id ranges and stopping once all are found.

        What was searched is remembered (`_LabelSearch`): a later call continues below
        it, so an entry the log never started costs one search of the log, not one per
        call; rows added since are searched first (their labels are newer).
        """
        if not self._has("audit_log") or not wanted:
            return {}
        with self._labels_lock:
            top = self._newest_id() if upto is None else upto
            whole, whole_top = self._labels
            if whole_top == top:  # every label as of `top` is already known
                return {e: whole[e] for e in wanted if e in whole}
            search = self._search
            if search is None or top < search.top:
                search = _LabelSearch(top, top, {})
            elif top > search.top:  # newer rows first: their labels win
                newer = _LabelSearch(top, top, {})
                self._search_down(newer, None, search.top)
                newer.found = {**search.found, **newer.found}
                newer.floor = search.floor
                search = newer
            self._search = search
            self._search_down(search, wanted - search.found.keys(), 0)
            return {e: search.found[e] for e in wanted if e in search.found}

    def _search_down(self, search: _LabelSearch, missing: set[str] | None,
                     bottom: int) -> None:
        """Extend `search` down towards `bottom` (newest first, one id range a statement)
        until no entry of `missing` is missing (None: to `bottom`)."""
        sql, params = self._label_rows()
        # Sized as a scan's in either layout, starting smaller still: the label a table's
        # first row needs is nearly always in the newest few hundred ids (a seed layout's
        # first indexed range, 65,536 ids, took 35 ms at a million events; 5,000 ids 4-8
        # ms; 512 ids 0.4 ms). The ranges grow at once when more is needed.
        sizes = self._id_chunks(scanning=True)
        sizes.size = max(sizes.lowest, min(sizes.size, _LABELS_FIRST))
        found = search.found
        while search.floor > bottom and (missing is None or missing):
            hi = search.floor
            lo = max(hi - sizes.size, bottom)
            rows, held = self._statement(f"{sql} ORDER BY id DESC", (lo, hi, *params),
                                         "read", columns=2)
            for e, lbl in rows:
                if isinstance(e, str) and isinstance(lbl, str) and e not in found:
                    found[e] = lbl  # the newest of this entry (rows come newest first)
                    if missing is not None:
                        missing.discard(e)
            sizes.record(hi - lo, held)
            search.floor = lo

    def _label_rows(self) -> tuple[str, tuple[Any, ...]]:
        """The SELECT of (entry, label) of the session_started rows with `? < id <= ?`,
        and its further parameters."""
        col = self.layout.audit_json
        # (json_valid: a row another tool wrote must not fail the whole read)
        if self.layout is Layout.SEED:
            cond, params = "event_type = ? AND json_valid(event_data)", ("session_started",)
        else:  # the prefix test first: json_valid only on the rows that pass it
            cond, params = f"{col} LIKE ? AND json_valid({col})", ('{"type":"session_started"%',)
        sql = (f"SELECT json_extract({col}, '$.entry_id'), json_extract({col}, '$.label') "
               f"FROM audit_log WHERE id > ? AND id <= ? AND {cond}")
        return sql, params

    def _newest_id(self) -> int:
        top = self._read("SELECT max(id) FROM audit_log")[0][0]
        return top if isinstance(top, int) else 0

    def known_entries(self) -> list[str]:
        """Every entry id that appears in usage, cooldowns or the log, sorted."""
        ids: set[str] = set()
        for table in ("usage", "cooldowns"):
            if self._has(table):  # each distinct id once, a bounded number per statement
                for rows in self._walk("entry_id", 1, table, "1", (), ("entry_id",), "read",
                                       distinct=True):
                    ids.update(r[0] for r in rows)
        ids.update(self.entry_labels())
        return sorted(i for i in ids if isinstance(i, str))


_TYPE_RANK = {"null": 0, "integer": 1, "real": 1, "text": 2, "blob": 3}


def sqlite_order(kind: str, raw: Any) -> tuple[int, Any]:
    """A sort key that orders values as SQLite's ORDER BY with the BINARY collation does:
    NULL, then numbers by value, then text by its bytes, then blobs by their bytes. `kind`
    is the value's `typeof`, `raw` the number, or the bytes of text and blobs."""
    return _TYPE_RANK.get(kind, 4), 0 if raw is None else raw
