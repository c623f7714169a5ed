"""The read side's filters: building safe, index-friendly SQL for audit searches.

A filter becomes a WHERE clause (parameters only, never string-formatted values) plus an
exact Python check for what SQL can only approximate. Timestamps carry different offsets, so
their text does not sort as time: the SQL compares text with a day's margin on each side
and `matches_time` decides exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from .events import AuditEvent
from .schema import ENTRY_EXPR, SESSION_EXPR, Layout
from .timefmt import format_day

#: The most ids one statement scans when no index serves a filter (the adaptive size below
#: stays under it): 1-3 ms on this project's 2-core machine, whatever the log's size. Its
#: rows are staged in a temporary table that keeps its pages: 20,000 ids kept ~5 MB per
#: thread that had scanned, and the Recovery scan ran no faster than with 5,000.
SCAN_CHUNK = 5_000
#: How long one read statement should run. In rollback-journal mode (the shipped service's)
#: a statement holds the shared lock for its whole run and the service's commit waits for
#: it, so long reads are cut into statements of about this length (DESIGN.md, "Short reads").
STATEMENT_TARGET_S = 0.010
TYPE_EXPR = "json_extract({col}, '$.type')"
_MARGIN = timedelta(hours=26)  # wider than any UTC offset (±14 h) plus a day boundary


@dataclass(frozen=True)
class AuditFilter:
    """What the user asked to see; empty fields do not filter.

    `since` is inclusive and `until` exclusive; both must be aware datetimes.
    `text` matches anywhere in the event JSON, case-insensitively for ASCII.
    """

    event_types: frozenset[str] = field(default_factory=frozenset)
    entry_id: str | None = None
    session_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_types", frozenset(self.event_types))
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"AuditFilter.{name} must be an aware datetime")

    @property
    def is_empty(self) -> bool:
        return not (self.event_types or self.entry_id or self.session_id or self.since
                    or self.until or self.text)

    def matches_time(self, event: AuditEvent) -> bool:
        """Exact time-range check (the SQL prefilter only narrows by text)."""
        try:
            if self.since is not None and event.timestamp < self.since:
                return False
            return self.until is None or event.timestamp < self.until
        except (OverflowError, ValueError):
            return False


@dataclass(frozen=True)
class AuditPage:
    """A page of events, newest first, and where to continue.

    `next_before_id` is None when nothing older matches; otherwise pass it as `before_id`.
    `cancelled` is True when the progress callback stopped a scan early.
    """

    events: list[AuditEvent]
    next_before_id: int | None
    cancelled: bool = False


@dataclass(frozen=True)
class WhereClause:
    sql: str
    params: tuple[object, ...]
    indexed: bool  # whether an index (not a scan) serves the whole filter


def like_escape(text: str) -> str:
    """Escape LIKE metacharacters so user text matches literally (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _ts_bound(value: datetime, delta: timedelta) -> str:
    try:
        moved = value.astimezone(UTC) + delta
    except OverflowError:
        moved = datetime.max.replace(tzinfo=UTC) if delta > timedelta(0) else \
            datetime.min.replace(tzinfo=UTC)
    return moved.strftime("%Y-%m-%d") if moved.year >= 1000 else f"{moved.year:04d}" + \
        moved.strftime("-%m-%d")


def build_where(flt: AuditFilter, layout: Layout, *, guarded: bool = False) -> WhereClause:
    """The WHERE clause (without `id` bounds) for a filter in a layout.

    `guarded` wraps JSON access in `json_valid` so one malformed row cannot fail the query;
    it is used for the Rust layout and as a retry when a seed database holds bad JSON.
    """
    col = layout.audit_json
    guarded = guarded or layout is Layout.RUST
    conds: list[str] = []
    params: list[object] = []
    indexed = True

    def jx(expr: str) -> str:
        e = expr.format(col=col)
        return f"(CASE WHEN json_valid({col}) THEN {e} END)" if guarded else e

    if flt.event_types:
        marks = ",".join("?" * len(flt.event_types))
        if layout is Layout.SEED:
            conds.append(f"event_type IN ({marks})")
        else:
            conds.append(f"{jx(TYPE_EXPR)} IN ({marks})")
            indexed = False
        params.extend(sorted(flt.event_types))
    if flt.entry_id is not None:
        conds.append(f"{jx(ENTRY_EXPR)} = ?")
        params.append(flt.entry_id)
        indexed = indexed and layout is Layout.SEED and not guarded
    if flt.session_id is not None:
        conds.append(f"{jx(SESSION_EXPR)} = ?")
        params.append(flt.session_id)
        indexed = indexed and layout is Layout.SEED and not guarded
    if flt.since is not None:
        conds.append("timestamp >= ?")
        params.append(_ts_bound(flt.since, -_MARGIN))
    if flt.until is not None:
        # The bound is a bare date, so it must be the day *after* the latest local date an
        # earlier instant can carry: "2026-03-02T01:00+09:00" sorts after "2026-03-02".
        conds.append("timestamp < ?")
        params.append(_ts_bound(flt.until, _MARGIN + timedelta(days=1)))
    if flt.text and "\x00" in flt.text:
        # LIKE ends its pattern at a NUL character (and would then match every row);
        # instr() compares whole strings.
        conds.append(f"instr(lower({col}), lower(?)) > 0")
        params.append(flt.text)
        indexed = False
    elif flt.text:
        conds.append(f"{col} LIKE ? ESCAPE '\\'")
        params.append(f"%{like_escape(flt.text)}%")
        indexed = False
    return WhereClause(" AND ".join(conds) or "1", tuple(params), indexed)


@dataclass
class ChunkSizer:
    """How many keys (ids, or rows) the next statement of a long read covers.

    Each statement reports how many it covered and how long it held the lock (`record`);
    the next one covers as many as that pace fits in `target_s`, between `lowest` and
    `highest`, growing at most `growth` times per statement (shrinking at once). A cold
    cache, a slow disk or a busy machine so make the statements smaller instead of longer.
    """

    size: int
    lowest: int = 1
    highest: int = 1 << 62
    growth: float = 2.0
    target_s: float = STATEMENT_TARGET_S

    def __post_init__(self) -> None:
        self.lowest = max(1, min(self.lowest, self.highest))
        self.size = max(self.lowest, min(self.size, self.highest))

    def record(self, covered: int, seconds: float) -> None:
        """A statement covered `covered` keys in `seconds`: size the next one."""
        if covered <= 0:
            return
        fits = covered * self.target_s / seconds if seconds > 0 else float("inf")
        wanted = min(fits, self.size * self.growth)
        self.size = int(max(self.lowest, min(self.highest, wanted)))


def day_range(start: date | None, end: date | None) -> tuple[str, str]:
    """Text bounds for a usage day range (inclusive), open ends widened to everything."""
    return (format_day(start) if start else "0000-00-00", format_day(end) if end else "9999-99-99")
