"""`shepherd-store audit`: the audit log, newest first, as a table or JSON Lines, or followed.

Events stream as they are read (the export module's `iter_events`), so the first line shows
at once on any size of log; table columns are fixed before the first row for that reason,
and the table looks up an entry's label when a row first names it (`_RowLabels`), not
every label of the log first. `--follow` polls the store's change token and reads only ids
above the last one seen.
"""

from __future__ import annotations

import argparse
import itertools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from .cli_common import (
    EXIT_ACTION,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Output,
    ProgressLine,
    _labels,
    _note,
    _open_read,
    _policy,
    _reads,
)
from .cli_text import Cell, Column, event_colour, event_summary, fit_widths, render_row
from .describe import format_local
from .errors import LockedError, SerializationError
from .events import (
    AuditEvent,
    Event,
    ManualOverride,
    SessionStarted,
    UnknownEvent,
    event_session_id,
    is_uuid,
)
from .export import iter_events, write_json
from .query import AuditFilter
from .snapshot import decode_snapshot
from .store import SqliteStore

if TYPE_CHECKING:
    from .cli_common import CliStore
    from .policy import Policy

__all__ = ["FOLLOW_BACKLOG", "FOLLOW_POLL_S", "cmd_audit"]

#: How often `audit --follow` reads the change token (µs each).
FOLLOW_POLL_S = 0.15
FOLLOW_BACKLOG = 10
#: Events per read while streaming: small enough that the first line shows at once.
_PAGE = 100


def cmd_audit(args: argparse.Namespace, out: Output) -> int:
    """`audit`: filtered events, newest first, as a table or JSON Lines; or follow."""
    types = frozenset(t.strip() for chunk in args.type for t in chunk.split(",") if t.strip())
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise CliError("--since must be earlier than --until", EXIT_USAGE)
    with _open_read(args) as store:
        session = _resolve_session(store, args.session) if args.session else None
        flt = AuditFilter(event_types=types, entry_id=args.entry, session_id=session,
                          since=args.since, until=args.until, text=args.grep or None)
        progress = ProgressLine(out.progress, "Searching the audit log…")
        bounds = store.audit_id_range()
        newest = bounds[1] if bounds else 0
        emit = _JsonEmitter(out) if args.json else \
            _TableEmitter(out, newest, _RowLabels.read(store, _policy(args), newest))
        if args.follow:
            return _follow(store, flt, args.limit or FOLLOW_BACKLOG, emit, progress)
        events = _cleared(iter_events(_reads(store), flt, page=_PAGE, limit=args.limit,
                                      progress=progress), progress)
        if emit.write(events) == 0:
            _note("No events match." if not flt.is_empty else "The audit log is empty.")
    return EXIT_OK


def _cleared(events: Iterator[AuditEvent], progress: ProgressLine) -> Iterator[AuditEvent]:
    """Events, erasing the progress line before each one is printed (and before an error
    is)."""
    try:
        for event in events:
            progress.clear()
            yield event
    finally:
        progress.clear()


def _resolve_session(store: CliStore, text: str) -> str:
    """A full session id from an id or its first 8+ characters (as the table shows them)."""
    if is_uuid(text):
        return text
    prefix = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f][0-9a-f-]{7,35}", prefix):
        raise CliError(f"--session {text!r} is neither a session id nor its first 8 or more "
                       "characters", EXIT_USAGE)
    found: list[str] = []
    for event in iter_events(_reads(store), AuditFilter(text=prefix), page=_PAGE):
        sid = event_session_id(event.event)
        if sid and sid.lower().startswith(prefix) and sid not in found:
            found.append(sid)
            if len(found) > 1:
                raise CliError(f"--session {text!r} matches several sessions ({found[0]}, "
                               f"{found[1]}, ...); give more characters", EXIT_USAGE)
    if not found:
        raise CliError(f"no session in the log starts with {text!r}; give the full id to "
                       "wait for a session that has not started yet", EXIT_ACTION)
    return found[0]


class _JsonEmitter:
    """Events as JSON Lines (the export module's records)."""

    def __init__(self, out: Output) -> None:
        self.out = out

    def write(self, events: Iterable[AuditEvent]) -> int:
        return write_json(iter(events), self.out.stream, lines=True,
                          on_row=self.out.row_written)


class _RowLabels:
    """The labels the table names entries by (`_labels`: the policy's over the newest the
    log recorded up to id `upto`, the newest when the command started), each looked up when
    a row first names its entry: the first rows print after the few labels they need are
    found, newest first, not after every label of the log (0.7-1.2 s at a million events).
    The store remembers what it searched, so an entry the log never started costs one
    search of the log in all. A remote store answers every label at once, as before."""

    def __init__(self, labels: dict[str, str],
                 lookup: Callable[[set[str]], dict[str, str]] | None = None) -> None:
        self.labels = labels
        self.lookup = lookup  # the labels of entries not looked up yet (None: all known)
        self.settled: set[str] = set()

    @classmethod
    def read(cls, store: CliStore, policy: Policy | None, upto: int) -> _RowLabels:
        if not isinstance(store, SqliteStore):
            return cls(_labels(store, policy))
        return cls(_labels(store, policy, (), upto=upto),
                   lambda new: _labels(store, policy, new, upto=upto))

    def settle(self, event: Event) -> None:
        """Look up the labels of the entries `event`'s row names that were not yet."""
        if self.lookup is None:
            return
        entry = getattr(event, "entry_id", None)
        if (entry is None or entry in self.settled) and not isinstance(event, ManualOverride):
            return  # (the common case, once each entry's row has been seen)
        new = _entries_named(event) - self.settled
        if new:
            self.labels.update(self.lookup(new))
            self.settled |= new


def _entries_named(event: Event) -> set[str]:
    """The entries a row's summary names by label (`describe.summarize`): the event's own
    and, in a manual change of the snapshot, the session's of the value before and after."""
    entry = getattr(event, "entry_id", None)
    names = {entry} if isinstance(entry, str) else set()
    if isinstance(event, ManualOverride) and event.what == "snapshot":
        for text in (event.previous, event.new):
            try:
                session = None if text is None else decode_snapshot(text).active_session
            except SerializationError:
                continue
            if session is not None:
                names.add(session.entry_id)
    return names


class _TableEmitter:
    """Events as table rows with fixed columns, so rows can stream as they are read."""

    def __init__(self, out: Output, newest_id: int,
                 labels: _RowLabels | dict[str, str]) -> None:
        self.out = out
        #: (a dict: every label the rows need, already)
        self.labels = labels if isinstance(labels, _RowLabels) else _RowLabels(labels)
        self.columns = [Column("ID", right=True), Column("TIME (LOCAL)"),
                        Column("TYPE", flex=True, min_width=8),
                        Column("SUMMARY", flex=True, min_width=20)]
        natural = [max(2, len(str(newest_id))), 19, 19, 0 if out.width is None else 10_000]
        self.widths = fit_widths(self.columns, natural, out.width)
        self.header = False

    def write(self, events: Iterable[AuditEvent]) -> int:
        out = self.out
        clip = out.width is not None
        rows = iter(events)
        # The first event (or the error of the first read) before the header, so a search
        # that fails at once prints only its error; an empty result still gets the header.
        first = next(rows, None)
        if not self.header:
            out.line(render_row([(c.title, "bold") for c in self.columns], self.columns,
                                  self.widths, out.style, clip_cells=clip))
            self.header = True
        if first is None:
            return 0
        n = 0
        for event in itertools.chain((first,), rows):
            when = format_local(event.timestamp)
            if isinstance(event.event, UnknownEvent) and event.event.malformed \
                    and (event.event.error or "").startswith("bad timestamp"):
                when = event.raw_timestamp or "?"  # unreadable: shown as stored
            self.labels.settle(event.event)  # (before it is named, as by every label)
            labels = self.labels.labels
            if isinstance(event.event, SessionStarted) and event.event.label:
                # (--follow: an entry first seen live is named as its later rows will be)
                labels.setdefault(event.event.entry_id, event.event.label)
            cells: list[Cell] = [str(event.id), when,
                     (event.type or "(none)", event_colour(event.event)),
                     event_summary(event.event, labels)]
            widths = self.widths
            wider = len(when) - widths[1]  # a time with its offset (see `format_local`)
            if wider > 0 and event.raw_timestamp != when:  # is shown whole; the summary
                widths = [widths[0], widths[1] + wider, widths[2],  # gives up the room
                          max(widths[3] - wider, 1) if clip else widths[3]]
            out.line(render_row(cells, self.columns, widths, out.style, clip_cells=clip))
            n += 1
            out.row_written(n)
        return n


def _follow(store: CliStore, flt: AuditFilter, backlog: int,
            emit: _JsonEmitter | _TableEmitter, progress: ProgressLine) -> int:
    """Print the last `backlog` matches oldest first, then new ones as they commit (Ctrl-C
    ends it with status 0). Polls the change token; reads only ids above the last seen."""
    try:
        token = store.change_token()
        last = token.last_audit_id
        page = store.find_audits(flt, before_id=last + 1, limit=backlog, progress=progress)
        progress.clear()
        emit.write(reversed(page.events))
        emit.out.stream.flush()
        while True:
            time.sleep(FOLLOW_POLL_S)
            try:
                now = store.change_token()
                if now == token or now.last_audit_id <= last:
                    token = now
                    continue
                new = _between(store, flt, last, now.last_audit_id)
            except LockedError:
                continue  # the service holds a lock for now; try again at the next poll
            token, last = now, now.last_audit_id
            emit.write(new)
            emit.out.stream.flush()
    except KeyboardInterrupt:
        progress.clear()
        return EXIT_OK


def _between(store: CliStore, flt: AuditFilter, low: int, high: int) -> list[AuditEvent]:
    """Matching events with `low < id <= high`, oldest first."""
    found: list[AuditEvent] = []
    before: int | None = high + 1
    while before is not None:
        page = store.find_audits(flt, before_id=before, after_id=low, limit=_PAGE)
        found.extend(page.events)
        before = page.next_before_id
    found.reverse()
    return found
