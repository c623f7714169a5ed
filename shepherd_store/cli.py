"""`shepherd-store`: the inspector's answers on the command line, from the same library code.

    shepherd-store [--db PATH] [--config POLICY.toml] COMMAND ...

Every query, diagnosis, export and edit is the library's own (`find_audits`, `export`,
`usage`, `diagnose`, `check`, `overrides`, `simulate`); this module only parses arguments
and prints. Reading commands open the database read-only; the three edits open it writable
and go through `overrides` with the value just read as `expected`, so they leave the same
trace as the inspector's. Output to a terminal is coloured and fitted to its width; output
to a pipe is plain, unclipped and free of progress lines.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from . import __version__
from .cli_common import (
    EXIT_ACTION,
    EXIT_CORRUPT,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_OPEN,
    EXIT_USAGE,
    CliError,
    Output,
    ProgressLine,
    _labels,
    _load_config,
    _note,
    _open_read,
    _open_write,
    _policy,
    exit_status,
)
from .cli_text import (
    NEGATIVE_COOLDOWN,
    NEGATIVE_DURATION,
    WHEN_HELP,
    Cell,
    Column,
    event_colour,
    event_summary,
    fit_widths,
    parse_day_arg,
    parse_duration_arg,
    parse_event_types,
    parse_when,
    render_row,
    render_table,
    sanitize,
    wrap,
)
from .describe import entry_name, format_duration, format_local, format_stored_time
from .errors import LockedError, SerializationError, StoreError
from .events import (
    EVENT_TYPES,
    AuditEvent,
    SessionStarted,
    UnknownEvent,
    event_session_id,
    is_uuid,
)
from .export import iter_events, write_json
from .paths import candidate_paths
from .query import AuditFilter
from .store import SqliteStore
from .timefmt import format_day, local_now

__all__ = ["EXIT_ACTION", "EXIT_CORRUPT", "EXIT_ERROR", "EXIT_OK", "EXIT_OPEN", "EXIT_USAGE",
           "build_parser", "command_names", "exit_status", "main"]

#: How often `audit --follow` reads the change token (µs each).
FOLLOW_POLL_S = 0.15
FOLLOW_BACKLOG = 10
#: Events per read while streaming: small enough that the first line shows at once.
_PAGE = 100
EXIT_HELP = """\
exit status:
  0  success; for `snapshot diagnose` and `check`: nothing needs action
  1  something needs action (diagnose, check), or an edit was refused (a value changed
     since it was read, or `cooldown set` of an entry nobody knows without --new)
  2  usage error (unknown option, bad WHEN, DAY or DURATION, unknown --type, a missing or
     invalid --config file, a negative cooldown)
  3  cannot open the database (missing, no permission, read-only for an edit, locked)
  4  not a Shepherd database, an incompatible layout, or a damaged file
  5  any other database error (disk full, input/output error)

The database defaults to the first existing of $SHEPHERD_DB, /var/lib/shepherdd/shepherdd.db
and ~/.local/share/shepherdd/shepherdd.db (as in the inspector)."""


# --- arguments ------------------------------------------------------------------------------


def _arg(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse `type` that turns ValueError into a usage error with its message."""

    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = convert.__name__
    return parse


def _when(text: str) -> datetime:
    return parse_when(text, local_now())


def _day(text: str) -> date:
    return parse_day_arg(text, local_now().date())


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{text!r} must be at least 1")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 36_500:
        raise ValueError(f"{text!r} must be from 0 to 36500")
    return value


def _entry_id(text: str) -> str:
    if not text:
        raise ValueError("an entry id cannot be empty")
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise ValueError(f"{text!r} must be between 0 and 3600 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `shepherd-store` (every command and option, with help)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="the database (default: $SHEPHERD_DB, /var/lib/shepherdd/"
                             "shepherdd.db, ~/.local/share/shepherdd/shepherdd.db)")
    common.add_argument("--config", metavar="POLICY.toml", default=argparse.SUPPRESS,
                        help="the service's policy file: entry labels, daily quotas, cooldown "
                             "lengths; read by every command before it starts (a missing or "
                             "invalid file is a usage error)")
    parser = argparse.ArgumentParser(
        prog="shepherd-store", parents=[common], epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Read, check and carefully edit the database of the Shepherd screen-time "
                    "service, without a display: the inspector's answers from the same code.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(group: Any, name: str, help_text: str, description: str,
                func: Callable[[argparse.Namespace, Output], int] | None) -> Any:
        p = group.add_parser(name, parents=[common], help=help_text, epilog=EXIT_HELP,
                             description=description,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        if func is not None:
            p.set_defaults(func=func)
        return p

    audit = command(sub, "audit", "show the audit log (newest first), or follow it live",
                    "Show audit events, newest first, as a table in local time or as JSON "
                    "Lines. With --follow: the latest events oldest first, then every new "
                    "event as the service writes it, until Ctrl-C.", cmd_audit)
    audit.add_argument("--type", metavar="TYPE", action="append", default=[],
                       type=_arg(parse_event_types),
                       help="only this event type, e.g. session_started (repeat, or separate "
                            "with commas, for several): " + ", ".join(EVENT_TYPES) + ". Rows "
                            "of a type a newer service added show without --type; --grep TYPE "
                            "finds them")
    audit.add_argument("--entry", metavar="ENTRY", help="only events about this entry id")
    audit.add_argument("--session", metavar="SESSION",
                       help="only events of this session: its id, or the first 8 or more "
                            "characters shown in the table")
    audit.add_argument("--since", metavar="WHEN", type=_arg(_when),
                       help=f"only events at or after WHEN: {WHEN_HELP}")
    audit.add_argument("--until", metavar="WHEN", type=_arg(_when),
                       help="only events before WHEN (same forms as --since)")
    audit.add_argument("--grep", metavar="TEXT",
                       help="only events whose JSON contains TEXT (case-insensitive for ASCII)")
    audit.add_argument("--limit", metavar="N", type=_arg(_positive),
                       help="at most N events (with --follow: N earlier events, default 10)")
    audit.add_argument("--follow", "-f", action="store_true",
                       help="keep printing new events as they are written, until Ctrl-C")
    audit.add_argument("--json", action="store_true",
                       help="JSON Lines: one object per event (id, timestamp as stored, type, "
                            "event)")

    usage = command(sub, "usage", "usage per entry per day, with totals",
                    "Usage per entry per day (the service's local days) with per-entry totals. "
                    "Default range: the last 7 days.", cmd_usage)
    usage.add_argument("--from", dest="from_day", metavar="DAY", type=_arg(_day),
                       help="first day: YYYY-MM-DD, today, yesterday, or 7d (days ago); "
                            "default: 6 days before --to")
    usage.add_argument("--to", dest="to_day", metavar="DAY", type=_arg(_day),
                       help="last day (included); default: today")
    usage.add_argument("--entry", metavar="ENTRY", help="only this entry id")
    fmt = usage.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true",
                     help="CSV, one row per entry per day (days without usage included)")
    fmt.add_argument("--json", action="store_true",
                     help="one JSON object: the days with usage and the per-entry totals")

    cds = command(sub, "cooldowns", "list the cooldowns and how long each has left",
                  "List every cooldown: until when (local time), and whether it is still "
                  "running. Unreadable rows are shown, marked.", cmd_cooldowns)
    cds.add_argument("--json", action="store_true", help="JSON Lines, one object per cooldown")

    cd = command(sub, "cooldown", "set or clear one entry's cooldown",
                 "Change one cooldown. The change is one transaction that checks nothing "
                 "changed since it was read, and leaves the same trace as the inspector's.",
                 None)
    cd_sub = cd.add_subparsers(dest="action", metavar="ACTION", required=True)
    cd_set = command(cd_sub, "set", "set an entry's cooldown until a time or for a duration",
                     "Set ENTRY's cooldown until UNTIL (a date-time or a clock time today, "
                     "local unless it has an offset) or for +DURATION from now (+30m, +2h, "
                     "+1h30m, +1d). An ENTRY that neither the database (sessions, usage, "
                     "cooldowns) nor --config knows is refused (exit status 1, nothing "
                     "written; close matches are listed) unless --new says it is intended. "
                     "A cooldown cannot be negative: `cooldown clear` ends one.",
                     cmd_cooldown_set)
    cd_set.add_argument("entry", metavar="ENTRY", type=_arg(_entry_id),
                        help="the entry id, e.g. minecraft")
    cd_set.add_argument("until", metavar="UNTIL|+DURATION",
                        help="e.g. '2026-01-10 18:00', 18:00, +30m, +2h")
    cd_set.add_argument("--new", action="store_true",
                        help="ENTRY is new on purpose: set its cooldown although neither the "
                             "database nor --config knows it (without --new that is refused, "
                             "to catch a misspelt id)")
    cd_clear = command(cd_sub, "clear", "clear an entry's cooldown (available again now)",
                       "Remove ENTRY's cooldown so it can be launched again now.",
                       cmd_cooldown_clear)
    cd_clear.add_argument("entry", metavar="ENTRY", type=_arg(_entry_id), help="the entry id")

    snap = command(sub, "snapshot", "show, diagnose or clear the crash-recovery snapshot",
                   "The state the service saves while a session runs, to resume it after a "
                   "crash.", None)
    snap_sub = snap.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = command(snap_sub, "show", "show the saved snapshot",
                   "Show the saved snapshot: when it was saved and the session it says is "
                   "running.", cmd_snapshot_show)
    show.add_argument("--json", action="store_true",
                      help="one JSON object: stored, readable, problem, snapshot, raw")
    command(snap_sub, "diagnose", "explain the snapshot; exit 1 when something needs action",
            "Relate the snapshot to the log, usage and policy (the inspector's findings). "
            "Exit status 0 when nothing needs action, 1 when something does.",
            cmd_snapshot_diagnose)
    command(snap_sub, "clear-session", "remove the active session from the snapshot",
            "Save a snapshot without an active session (what an idle service saves), so a "
            "restarted service does not resume a session that is over.", cmd_snapshot_clear)

    from .cli_recovery import add_commands as add_recovery_commands

    add_recovery_commands(sub, command, _arg(_when))

    chk = command(sub, "check", "integrity check and every row the Rust service cannot read",
                  "Check the database while the service runs: read every row of every table "
                  "and every entry of the audit log's indexes in short statements (SQLite "
                  "reports damage it reads), count the index entries against the rows, run "
                  "integrity_check on the small tables, show the layout and journal mode, "
                  "and list every row the Rust service could not read (unknown or malformed "
                  "events, times without an offset, bad cooldowns, snapshot or usage rows). "
                  "No statement holds the database's lock for long, so the service's "
                  "writes never wait. SQLite's whole-file check (--full) also finds damage "
                  "in unused pages and index keys that differ from their rows, but it is ONE "
                  "statement: it holds the read lock until it ends (about 1 s per 100 MB, "
                  "more if the file is not cached), and in rollback-journal mode (the "
                  "service's) its writes wait meanwhile and fail after 5 s, losing what "
                  "they wrote. Run --full/--quick while the service is stopped, or on a "
                  "copy. Exit status 0 when all is well, 1 for unreadable rows, 4 when the "
                  "file is damaged.", cmd_check)
    whole = chk.add_mutually_exclusive_group()
    whole.add_argument("--full", action="store_true",
                       help="also run PRAGMA integrity_check on the whole file (holds the "
                            "database's lock for its whole run: see above)")
    whole.add_argument("--quick", action="store_true",
                       help="also run PRAGMA quick_check on the whole file (skips index "
                            "contents; holds the lock for its whole run too)")

    demo = command(sub, "demo", "write a demo database with the service simulator",
                   "Write a realistic simulated history into PATH (created in the seed "
                   "layout if missing), as the shipped service writes and crashes, the "
                   "database the inspector's --demo opens: afternoons of sessions, "
                   "cooldowns, denied launches, and a crash during a game yesterday "
                   "afternoon followed by a reboot. With --live, keep writing sessions until "
                   "Ctrl-C on a demo clock: the history ends 3 hours back (with --live; at "
                   "night, the evening before), and the clock runs --speed times faster than "
                   "real time until it catches up with this computer's clock, then at real "
                   "time. Every row is written when the demo clock reaches its time: never "
                   "a time in the future.", cmd_demo)
    demo.add_argument("path", metavar="PATH", help="the demo database file")
    demo.add_argument("--days", metavar="N", type=_arg(_count), default=60,
                      help="days of history (default 60; 0 for none)")
    demo.add_argument("--crashes", metavar="K", type=_arg(_count), default=1,
                      help="crashes of the service in the history (default 1): the first "
                           "yesterday afternoon, the others at random; 0 for none")
    demo.add_argument("--live", action="store_true",
                      help="keep writing live sessions until Ctrl-C")
    demo.add_argument("--speed", metavar="X", type=_arg(_demo_speed), default=60.0,
                      help="with --live: how much faster than real time the demo clock runs "
                           "until it catches up (default 60: a simulated minute a second)")
    demo.add_argument("--interval", metavar="SECONDS", type=_arg(_seconds), default=None,
                      help="with --live: no demo clock, a session every SECONDS real seconds, "
                           "shortened to keep up (for load tests: sessions of seconds, times "
                           "up to 2 hours ahead of the wall clock)")
    demo.add_argument("--seed", metavar="N", type=int, default=0,
                      help="random seed of the simulated child (default 0)")
    return parser


def command_names(parser: argparse.ArgumentParser | None = None) -> list[str]:
    """Every command, with its sub-commands (`cooldown set`, ...), in the parser's order."""
    names: list[str] = []

    def walk(p: argparse.ArgumentParser, prefix: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    full = f"{prefix}{name}"
                    names.append(full)
                    walk(child, full + " ")

    walk(parser or build_parser(), "")
    return names


# --- audit ----------------------------------------------------------------------------------


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
        emit = _JsonEmitter(out) if args.json else \
            _TableEmitter(out, bounds[1] if bounds else 0, _labels(store, _policy(args)))
        if args.follow:
            return _follow(store, flt, args.limit or FOLLOW_BACKLOG, emit, progress)
        events = _cleared(iter_events(store, flt, page=_PAGE, limit=args.limit,
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


def _resolve_session(store: SqliteStore, text: str) -> str:
    """A full session id from an id or its first 8+ characters (as the table shows them)."""
    if is_uuid(text):
        return text
    prefix = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f][0-9a-f-]{7,35}", prefix):
        raise CliError(f"--session {text!r} is neither a session id nor its first 8 or more "
                       "characters", EXIT_USAGE)
    found: list[str] = []
    for event in iter_events(store, AuditFilter(text=prefix), page=_PAGE):
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


class _TableEmitter:
    """Events as table rows with fixed columns, so rows can stream as they are read."""

    def __init__(self, out: Output, newest_id: int, labels: dict[str, str]) -> None:
        self.out = out
        self.labels = labels
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
            if isinstance(event.event, SessionStarted) and event.event.label:
                # (--follow: an entry first seen live is named as its later rows will be)
                self.labels.setdefault(event.event.entry_id, event.event.label)
            cells: list[Cell] = [str(event.id), when,
                     (event.type or "(none)", event_colour(event.event)),
                     event_summary(event.event, self.labels)]
            widths = self.widths
            wider = len(when) - widths[1]  # a time with its offset (see `format_local`)
            if wider > 0 and event.raw_timestamp != when:  # is shown whole; the summary
                widths = [widths[0], widths[1] + wider, widths[2],  # gives up the room
                          max(widths[3] - wider, 1) if clip else widths[3]]
            out.line(render_row(cells, self.columns, widths, out.style, clip_cells=clip))
            n += 1
            out.row_written(n)
        return n


def _follow(store: SqliteStore, flt: AuditFilter, backlog: int,
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


def _between(store: SqliteStore, flt: AuditFilter, low: int, high: int) -> list[AuditEvent]:
    """Matching events with `low < id <= high`, oldest first."""
    found: list[AuditEvent] = []
    before: int | None = high + 1
    while before is not None:
        page = store.find_audits(flt, before_id=before, after_id=low, limit=_PAGE)
        found.extend(page.events)
        before = page.next_before_id
    found.reverse()
    return found


# --- usage ----------------------------------------------------------------------------------


def cmd_usage(args: argparse.Namespace, out: Output) -> int:
    """`usage`: seconds per entry per day over a range, with per-entry totals."""
    from .usage import MAX_RANGE_DAYS, DailyUsage, DayRange, csv_rows, summarize

    today = local_now().date()
    last = args.to_day or (max(today, args.from_day) if args.from_day else today)
    first = args.from_day or last - timedelta(days=6)
    if first > last:
        raise CliError(f"--from {format_day(first)} is after --to {format_day(last)}",
                       EXIT_USAGE)
    if (last - first).days >= MAX_RANGE_DAYS:
        raise CliError(f"the range is longer than {MAX_RANGE_DAYS} days", EXIT_USAGE)
    policy = _policy(args)
    quotas = {e.id: e.daily_quota_seconds for e in policy.entries.values()} if policy else {}
    with _open_read(args) as store:
        daily = DailyUsage.from_records(store.usage_between(first, last, args.entry),
                                        DayRange.from_dates(first, last))
        labels = _labels(store, policy)
    totals = summarize(daily, today, quotas=quotas)
    if args.csv:
        import csv

        csv.writer(out.stream).writerows(csv_rows(daily, labels, quotas))
        return EXIT_OK
    if args.json:
        json.dump({
            "from": format_day(first), "to": format_day(last),
            "days": [{"day": format_day(d), "entry_id": e, "seconds": s}
                     for d, e, s in daily.rows() if s > 0],
            "totals": [{"entry_id": t.entry_id, "label": labels.get(t.entry_id, t.entry_id),
                        "total_seconds": t.total_seconds,
                        "average_seconds": round(t.average_seconds, 1),
                        "days_used": t.days_used,
                        "busiest_day": format_day(t.busiest_day) if t.busiest_day else None,
                        "busiest_seconds": t.busiest_seconds,
                        "daily_quota_seconds": t.quota_seconds,
                        "quota_reached_days": t.quota_days} for t in totals],
            "total_seconds": sum(t.total_seconds for t in totals),
        }, out.stream, ensure_ascii=False, indent=2)
        out.line()
        return EXIT_OK
    _usage_table(out, daily, totals, labels, first, last, quotas=bool(quotas))
    return EXIT_OK


def _usage_table(out: Output, daily: Any, totals: Sequence[Any], labels: dict[str, str],
                 first: date, last: date, *, quotas: bool) -> None:
    span = format_day(first) if first == last else f"{format_day(first)} to {format_day(last)}"
    if not totals:
        _note(f"No usage recorded from {span}." if first != last else
              f"No usage recorded on {span}.")
        return

    def name(entry: str) -> str:
        return entry_name(entry, labels, with_id=True)

    days = [(format_day(d), name(e), format_duration(s)) for d, e, s in daily.rows() if s > 0]
    cols = [Column("DAY"), Column("ENTRY", flex=True), Column("TIME", right=True)]
    for line in render_table(cols, days, out.width, out.style):
        out.line(line)
    out.line()
    out.line(f"Totals, {span} ({daily.range.days} days):")
    cols = [Column("ENTRY", flex=True), Column("TOTAL", right=True),
            Column("PER DAY", right=True), Column("DAYS USED", right=True),
            Column("BUSIEST DAY")]
    rows: list[list[Any]] = []
    for t in totals:
        busiest = f"{format_day(t.busiest_day)} ({format_duration(t.busiest_seconds)})" \
            if t.busiest_day else "-"
        row: list[Any] = [name(t.entry_id), format_duration(t.total_seconds),
                          format_duration(t.average_seconds), str(t.days_used), busiest]
        if quotas:
            row.append(str(t.quota_days) if t.quota_seconds else "-")
        rows.append(row)
    grand = sum(t.total_seconds for t in totals)
    footer: list[Any] = [("all entries", "bold"), (format_duration(grand), "bold"),
                         format_duration(grand / daily.range.days), "", ""]
    if quotas:
        cols.append(Column("QUOTA REACHED", right=True))
        footer.append("")
    for line in render_table(cols, [*rows, footer], out.width, out.style):
        out.line(line)


# --- cooldowns ------------------------------------------------------------------------------


def cmd_cooldowns(args: argparse.Namespace, out: Output) -> int:
    """`cooldowns`: every cooldown with its state now."""
    now = local_now()
    policy = _policy(args)
    with _open_read(args) as store:
        records = store.all_cooldowns()
        labels = _labels(store, policy) if records else {}
    if args.json:
        for r in records:
            left = None if r.until is None else max(int((r.until - now).total_seconds()), 0)
            out.line(json.dumps({"entry_id": r.entry_id, "label": entry_name(r.entry_id, labels),
                                 "until": r.raw,
                                 "readable": r.until is not None,
                                 "active": None if r.until is None else r.until > now,
                                 "remaining_seconds": left}, ensure_ascii=False))
        return EXIT_OK
    if not records:
        _note("No cooldowns.")
        return EXIT_OK
    rows: list[list[Cell]] = []
    for r in records:
        name = entry_name(r.entry_id, labels, with_id=True)
        if r.until is None:
            rows.append([name, r.raw, ("unreadable: the service reads this as no cooldown",
                                       "red")])
        elif r.until > now:
            rows.append([name, format_local(r.until),
                         (f"active, {format_duration(r.until - now)} left", "yellow")])
        else:
            rows.append([name, format_local(r.until),
                         (f"over {format_duration(now - r.until)} ago", "dim")])
    cols = [Column("ENTRY", flex=True), Column("UNTIL (LOCAL)"), Column("STATE", flex=True)]
    for line in render_table(cols, rows, out.width, out.style):
        out.line(line)
    return EXIT_OK


def _until(text: str, now: datetime) -> datetime:
    raw = text.strip()
    if NEGATIVE_DURATION.fullmatch(raw):  # (given after `--`; else `main` catches it)
        raise CliError(NEGATIVE_COOLDOWN.format(text=raw), EXIT_USAGE)
    try:
        if raw.startswith("+"):
            until = now + parse_duration_arg(raw)
        elif re.fullmatch(r"(?:\d+[smhdw])+", raw.lower()):
            raise ValueError(f"{text!r} would mean that long ago; write +{raw} for a cooldown "
                             f"of {raw} from now")
        else:
            until = parse_when(raw, now)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if until <= now:
        raise CliError(f"{text!r} is not in the future; use `cooldown clear` to end a "
                       "cooldown", EXIT_USAGE)
    return until.replace(microsecond=0)


def cmd_cooldown_set(args: argparse.Namespace, out: Output) -> int:
    """`cooldown set ENTRY UNTIL|+DURATION` through `overrides.set_cooldown`."""
    from .overrides import cooldown_text, set_cooldown

    now = local_now().replace(microsecond=0)
    until = _until(args.until, now)
    policy = _policy(args)
    with _open_write(args) as store:
        known = set(store.known_entries()) | set(policy.entries if policy else ())
        labels = _labels(store, policy)
        if args.entry not in known and not args.new:
            raise CliError(_unknown_entry(args.entry, sorted(known), labels,
                                          policy.path if policy else None), EXIT_ACTION)
        expected = cooldown_text(store, args.entry)
        set_cooldown(store, args.entry, until, expected=expected)
    was = "it had none" if expected is None else f"it was until {format_stored_time(expected)}"
    out.line(f"Cooldown of {sanitize(entry_name(args.entry, labels))} set until "
             f"{format_local(until)} ({format_duration(until - now)} from now; {was}).")
    return EXIT_OK


def _unknown_entry(entry: str, known: list[str], labels: dict[str, str],
                   policy_path: str | None) -> str:
    """Why `cooldown set` refuses an entry nobody knows: its close matches (by id or label),
    or the known entries, and `--new`."""
    import difflib

    by_text: dict[str, str] = {}
    for entry_id in known:
        by_text.setdefault(entry_id.lower(), entry_id)
        by_text.setdefault(labels.get(entry_id, entry_id).lower(), entry_id)
    close = list(dict.fromkeys(by_text[m] for m in difflib.get_close_matches(
        entry.lower(), list(by_text), n=6, cutoff=0.6)))[:3]
    shown = [entry_name(e, labels, with_id=True) for e in (close or known)]
    if close:
        hint = f"Did you mean {' or '.join(shown)}?"
    elif known:
        more = f", … ({len(known)} in all)" if len(shown) > 12 else ""
        hint = f"No close match; the known entries are {', '.join(shown[:12])}{more}."
    else:
        hint = "The database knows no entry yet."
    name = repr(sanitize(entry))
    policy = f", and the policy {sanitize(policy_path)} does not list it" if policy_path else ""
    return (f"unknown entry {name}: this database has no session, usage or cooldown of it"
            f"{policy}; nothing was written. {sanitize(hint)} If {name} is a new entry, give "
            "--new to set its cooldown anyway.")


def cmd_cooldown_clear(args: argparse.Namespace, out: Output) -> int:
    """`cooldown clear ENTRY` through `overrides.clear_cooldown`."""
    from .overrides import clear_cooldown, cooldown_text

    with _open_write(args) as store:
        expected = cooldown_text(store, args.entry)
        if expected is None:
            name = entry_name(args.entry, _labels(store, _policy(args)))
            out.line(f"{sanitize(name)} has no cooldown; nothing changed.")
            return EXIT_OK
        clear_cooldown(store, args.entry, expected=expected)
        name = entry_name(args.entry, _labels(store, _policy(args)))
    out.line(f"Cooldown of {sanitize(name)} cleared (it was until "
             f"{format_stored_time(expected)}).")
    return EXIT_OK


# --- snapshot -------------------------------------------------------------------------------


def cmd_snapshot_show(args: argparse.Namespace, out: Output) -> int:
    """`snapshot show`: the saved snapshot, decoded, or why it cannot be read."""
    from .check import snapshot_problem
    from .snapshot import decode_snapshot

    policy = _policy(args)
    with _open_read(args) as store:
        text = store.load_snapshot_text()
        problem = None if text is None else snapshot_problem(text)
        snap = decode_snapshot(text) if text is not None and problem is None else None
        labels = _labels(store, policy) \
            if snap is not None and snap.active_session is not None else {}
    if args.json:
        try:
            body = json.loads(text) if text is not None else None
        except (ValueError, RecursionError):
            body = None
        out.line(json.dumps({"stored": text is not None, "readable": problem is None,
                             "problem": problem, "snapshot": body, "raw": text},
                            ensure_ascii=False))
        return EXIT_OK
    if text is None:
        out.line("No snapshot is saved (the service removes it when it stops cleanly).")
        return EXIT_OK
    if snap is None:
        out.line(out.style.paint(sanitize(str(problem)).capitalize() + ".", "red"))
        out.line(f"Stored text: {sanitize(text)}")
        return EXIT_OK
    out.line(f"Saved:     {format_local(snap.timestamp)}")
    s = snap.active_session
    if s is None:
        out.line("Session:   none running")
        return EXIT_OK
    name = entry_name(s.entry_id, labels, with_id=True)
    warned = ", ".join(format_duration(w) for w in s.warnings_issued) or "none"
    for key, value in (("Session", f"{sanitize(name)} [{s.session_id}]"),
                       ("Started", format_local(s.started_at)),
                       ("Deadline", f"{format_local(s.deadline)} "
                                    f"({format_duration(s.deadline - s.started_at)} allowed)"),
                       ("Warned", f"{warned} before the deadline" if s.warnings_issued
                        else "none")):
        out.line(f"{key + ':':<10} {value}")
    return EXIT_OK


def cmd_snapshot_diagnose(args: argparse.Namespace, out: Output) -> int:
    """`snapshot diagnose`: the inspector's findings, then recovery's (sessions a crash left
    uncounted); status 1 when one needs action."""
    from .cli_recovery import diagnose_findings
    from .diagnose import diagnose, needs_action

    policy = _policy(args)
    with _open_read(args) as store:
        findings = diagnose(store, now=local_now(), policy=policy)
        findings += diagnose_findings(store, policy, local_now(), findings)
    colours = {"problem": "red", "warning": "yellow", "info": "green"}
    for i, f in enumerate(findings):
        if i:
            out.line()
        tag = out.style.paint(f"{f.severity.upper():<8}", colours[f.severity])
        out.line(f"{tag} {sanitize(f.title)}")
        for line in wrap(sanitize(f.explanation), out.width, " " * 9):
            out.line(line)
        for line in wrap("What to do: " + sanitize(f.action), out.width, " " * 9):
            out.line(line)
    acting = [f for f in findings if f.severity != "info"]
    out.line()
    if needs_action(findings):
        out.line(f"{len(acting)} finding{'s' if len(acting) != 1 else ''} "
                 f"need{'s' if len(acting) == 1 else ''} action.")
        return EXIT_ACTION
    out.line("Nothing needs action.")
    return EXIT_OK


def cmd_snapshot_clear(args: argparse.Namespace, out: Output) -> int:
    """`snapshot clear-session` through `overrides.clear_active_session`."""
    from .overrides import clear_active_session
    from .snapshot import decode_snapshot

    with _open_write(args) as store:
        expected = store.load_snapshot_text()
        if expected is None:
            out.line("No snapshot is saved; nothing to clear.")
            return EXIT_OK
        try:
            session = decode_snapshot(expected).active_session
        except SerializationError:
            session = None
            what = "the unreadable snapshot"
        else:
            if session is None:
                out.line("The snapshot has no active session; nothing to clear.")
                return EXIT_OK
            name = entry_name(session.entry_id, _labels(store, _policy(args)))
            what = f"the session of {sanitize(name)} [{session.session_id}]"
        clear_active_session(store, expected=expected)
    out.line(f"Cleared {what} from the snapshot; the change is recorded as a manual change.")
    return EXIT_OK


# --- check ----------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace, out: Output) -> int:
    """`check`: integrity, facts, and rows the Rust service cannot read."""
    from .check import CHUNKED, check
    from .schema import Layout

    def warn_whole_file_check(store: SqliteStore, pragma: str) -> None:
        """Say, before it starts, that a whole-file check is one statement holding the lock."""
        try:
            size = os.path.getsize(store.path)
        except OSError:
            size = 0
        if store.journal_mode.lower() == "wal":
            effect = ("In WAL mode the service's writes go on meanwhile, but the -wal file "
                      "cannot be checkpointed and grows.")
        else:
            effect = ("In rollback-journal mode (this file's) the service's writes wait for "
                      "it meanwhile, and fail after 5 s (\"database is locked\"), losing what "
                      "they wrote. Stop the service first, or check a copy.")
        estimate = f"about {max(size / 100e6, 0.1):.1f} s or more for its {_size(size)}" \
            if size else "its whole run"
        _note(f"note: PRAGMA {pragma} is one statement over the whole file: it holds the "
              f"database's read lock for {estimate} (1 s per 100 MB is typical; longer when "
              f"the file is not cached). {effect}")

    progress = ProgressLine(out.progress, "Checking the audit log…")
    with _open_read(args) as store:
        if args.full or args.quick:
            warn_whole_file_check(store, "integrity_check" if args.full else "quick_check")
        report = check(store, quick=args.quick, full=args.full, progress=progress)
    progress.clear()
    if report.integrity_seconds is not None:
        _note(f"PRAGMA {report.integrity_pragma} held the database's read lock for "
              f"{report.integrity_seconds:.1f} s.")
    size = "" if report.size_bytes is None else f" ({_size(report.size_bytes)})"
    layout = ("rust (as the shepherdd service writes it)" if report.layout is Layout.RUST else
              "seed (created by this library; the Rust service uses the rust layout)")
    ok = report.integrity_ok
    how = report.integrity_pragma
    if how == CHUNKED:
        how = ("every row and index entry read in short statements; --full adds SQLite's "
               "whole-file integrity_check")
    integrity = ("ok" if ok else "FAILED: " + "; ".join(report.integrity[:5])) + f" ({how})"
    ids = report.audit_ids
    other = report.other_tables
    for key, value, colour in (
            ("Database", f"{report.path}{size}", ""),
            ("Layout", layout, ""),
            ("Journal", f"{report.journal_mode}, user_version {report.user_version}", ""),
            ("Integrity", integrity, "green" if ok else "red"),
            ("Audit log", f"{report.events_checked} events checked"
             + (f" (ids {ids[0]} to {ids[1]})" if ids else "")
             + ("" if report.complete else ", INCOMPLETE"), ""),
            ("Tables", ", ".join(report.tables) + (f"; not Shepherd's, left alone: "
                                                    f"{', '.join(other)}" if other else ""),
             "")):
        lines = wrap(sanitize(value), out.width, " " * 11)
        lines[0] = f"{key + ':':<11}{lines[0][11:]}"
        for line in lines:
            out.line(line[:11] + out.style.paint(line[11:], colour))
    out.line()
    if report.problem_count == 0:
        out.line("No row the Rust service cannot read." if report.complete else
                 "The check did not finish.")
    else:
        n = report.problem_count
        out.line(out.style.paint(f"{n} row{'s' if n != 1 else ''} the Rust service cannot "
                                 "read:", "red"))
        cols = [Column("TABLE"), Column("ROW", flex=True, min_width=8),
                Column("PROBLEM", flex=True, min_width=20), Column("STORED", flex=True)]
        rows = [[p.table, p.key, p.problem, p.value] for p in report.problems]
        for line in render_table(cols, rows, out.width, out.style):
            out.line(line)
        if n > len(report.problems):
            out.line(f"... and {n - len(report.problems)} more.")
    if not ok:
        return EXIT_CORRUPT
    return EXIT_ACTION if report.problem_count or not report.complete else EXIT_OK


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


# --- demo -----------------------------------------------------------------------------------


def _demo_speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not 1 <= value <= 100_000:
        raise ValueError(f"{text!r} must be from 1 to 100000")
    return value


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    """`demo PATH`: the inspector's demo database (`simulate_crash.write_demo_history`) and,
    with --live, sessions paced by a demo clock (`Simulator.run_paced`)."""
    import signal

    from .simulate import DemoClock, SimulationStopped, demo_history_end
    from .simulate_crash import CrashingSimulator, write_demo_history

    path = Path(args.path).expanduser()
    for service_db in candidate_paths():
        if path.absolute() == service_db.absolute():
            raise CliError(f"refusing to write demo data into {path}: it is where the "
                           "service keeps its database. Choose another path.", EXIT_USAGE)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    paced = args.live and args.interval is None
    handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SqliteStore.open(path) as store:
            now = datetime.now(UTC).astimezone()
            end = demo_history_end(now) if paced else now
            sim = CrashingSimulator(store, seed=args.seed)
            try:
                if sim.clock is not None:
                    out.line(f"{path} already holds a history; adding none.")
                elif args.days > 0:
                    sim = write_demo_history(store, args.days, end=end, seed=args.seed,
                                             crashes=args.crashes, stop=stop)
                    n = sim.events_written
                    crashes = len(sim.crashes)
                    told = (f", with {crashes} crash{'es' if crashes != 1 else ''} of the "
                            f"service (`shepherd-store --db {path} recovery` finds "
                            f"{'them' if crashes != 1 else 'it'})") if crashes else ""
                    out.line(f"Wrote {n} events ({args.days} days of history) to {path}{told}.")
                sim.stop = stop
                sim.on_error = lambda exc: _note(f"error (skipped): {exc}")
                if args.live and not stop.is_set():
                    if paced:
                        clock = DemoClock(max(sim.clock or end, end), args.speed)
                        lag = clock.lag.total_seconds()
                        out.line(f"Writing live on a demo clock from "
                                 f"{format_local(clock.now(), seconds=False)}: {args.speed:g}× "
                                 f"real time until it catches up (about "
                                 f"{lag / max(args.speed - 1, 1e-9) / 60:.0f} min), then real "
                                 "time. Ctrl-C to stop.")
                        out.stream.flush()
                        steps = sim.run_paced(clock, stop=stop)
                    else:
                        out.line(f"Writing a session every {args.interval:g} s; Ctrl-C to "
                                 "stop.")
                        out.stream.flush()
                        steps = sim.run_live(interval=args.interval, stop=stop)
                    sim.shutdown()
                    out.line(f"Stopped after {steps} live steps.")
            except SimulationStopped:
                sim.shutdown()
                out.line("Stopped.")
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return EXIT_OK


# --- main -----------------------------------------------------------------------------------


def _negative_cooldown(words: Sequence[str]) -> str | None:
    """`-5m` in `cooldown set ENTRY -5m` (which argparse reads as an unknown option)."""
    if "-h" in words or "--help" in words:
        return None
    plain: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "--":
            break
        elif word in ("--db", "--config"):
            skip = True
        elif not word.startswith("-") or NEGATIVE_DURATION.fullmatch(word):
            plain.append(word)
    if plain[:2] != ["cooldown", "set"]:
        return None
    return next((w for w in plain[2:] if NEGATIVE_DURATION.fullmatch(w)), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `shepherd-store`; returns the exit status (see `EXIT_HELP`)."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    negative = _negative_cooldown(words)
    if negative is not None:  # argparse would take it for an unknown option
        _note(f"shepherd-store: {NEGATIVE_COOLDOWN.format(text=negative)}")
        return EXIT_USAGE
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = Output.for_streams(sys.stdout, sys.stderr)
    try:
        args.policy = _load_config(args)  # every command: a bad --config is a usage error
        status = int(args.func(args, out))
        out.stream.flush()
        return status
    except CliError as exc:
        _note(f"shepherd-store: {exc}")
        return exc.status
    except StoreError as exc:
        current = getattr(exc, "current", None)
        now = f" Its value now: {format_stored_time(current)}." if isinstance(current, str) \
            and current else ""
        _note(f"shepherd-store: {exc}{now}")
        return exit_status(exc)
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
