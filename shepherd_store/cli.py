"""`shepherd-store`: the inspector's answers on the command line, from the same library code.

    shepherd-store [--db PATH] [--config POLICY.toml] COMMAND ...

Every query, diagnosis, export and edit is the library's own (`find_audits`, `export`,
`usage`, `diagnose`, `check`, `overrides`, `simulate`); the CLI only parses arguments
and prints. Reading commands open the database read-only; the three edits open it writable
and go through `overrides` with the value just read as `expected`, so they leave the same
trace as the inspector's. Output to a terminal is coloured and fitted to its width; output
to a pipe is plain, unclipped and free of progress lines.

This module is the parser and `main`. Each command is in a module of its own (`cli_audit`,
`cli_usage`, `cli_cooldowns`, `cli_snapshot`, `cli_recovery`, `cli_check`, `cli_demo`), what
they share (exit statuses, output, opening the database, --config) in `cli_common`, the pure
text in `cli_text`. They import only light modules at the top and the heavy ones inside the
command that needs them, so the first line stays fast.

A --db `ssh://[user@]host[:port]/path` is a database on another computer (`cli_remote`):
every command reads it as the file there, and edits it with --write. `shepherd-store serve
--stdio --db PATH [--write]` is the other end of that connection (`remote.serve_main`, what
ssh runs there); it is handled before the parser, as it is not a command for people.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from . import __version__
from .cli_audit import cmd_audit
from .cli_check import cmd_check
from .cli_common import (
    EXIT_ACTION,
    EXIT_CORRUPT,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_OPEN,
    EXIT_USAGE,
    CliError,
    Output,
    _load_config,
    _note,
    exit_status,
)
from .cli_cooldowns import cmd_cooldown_clear, cmd_cooldown_set, cmd_cooldowns
from .cli_demo import _demo_speed, cmd_demo
from .cli_snapshot import cmd_snapshot_clear, cmd_snapshot_diagnose, cmd_snapshot_show
from .cli_text import (
    NEGATIVE_COOLDOWN,
    NEGATIVE_DURATION,
    WHEN_HELP,
    parse_day_arg,
    parse_event_types,
    parse_when,
)
from .cli_usage import cmd_usage
from .describe import format_stored_time
from .errors import StoreError
from .events import EVENT_TYPES
from .timefmt import local_now

__all__ = ["EXIT_ACTION", "EXIT_CORRUPT", "EXIT_ERROR", "EXIT_OK", "EXIT_OPEN", "EXIT_USAGE",
           "build_parser", "command_names", "exit_status", "main"]

EXIT_HELP = """\
exit status:
  0  success; for `snapshot diagnose` and `check`: nothing needs action
  1  something needs action (diagnose, check), or an edit was refused (a value changed
     since it was read, or `cooldown set` of an entry nobody knows without --new)
  2  usage error (unknown option, bad WHEN, DAY or DURATION, unknown --type, a missing or
     invalid --config file, a negative cooldown, a malformed ssh:// address)
  3  cannot open the database (missing, no permission, read-only for an edit, locked; on
     another computer: ssh cannot connect, or Python or this library is missing there)
  4  not a Shepherd database, an incompatible layout, or a damaged file
  5  any other database error (disk full, input/output error, a connection lost)

The database defaults to the first existing of $SHEPHERD_DB, /var/lib/shepherdd/shepherdd.db
and ~/.local/share/shepherdd/shepherdd.db (as in the inspector).
--db ssh://[user@]host[:port]/path reads one on another computer through the system ssh
client (your keys, agent and ~/.ssh/config; $SHEPHERD_SSH_OPTIONS adds ssh options,
$SHEPHERD_REMOTE_PYTHON names the python there): read-only, unless an edit is given --write."""


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
                             "shepherdd.db, ~/.local/share/shepherdd/shepherdd.db), or "
                             "ssh://[user@]host[:port]/path for one on another computer")
    common.add_argument("--config", metavar="POLICY.toml", default=argparse.SUPPRESS,
                        help="the service's policy file: entry labels, daily quotas, cooldown "
                             "lengths; read by every command before it starts (a missing or "
                             "invalid file is a usage error)")
    common.add_argument("--write", action="store_true", default=argparse.SUPPRESS,
                        help="with an ssh:// --db: allow this command's edit (a database on "
                             "another computer is opened read-only without it); a local file "
                             "needs no switch")
    common.add_argument("--ssh-option", metavar="OPTION", action="append",
                        default=argparse.SUPPRESS,
                        help="with an ssh:// --db: an option for ssh, as its -o takes it "
                             "(e.g. ProxyJump=gateway); repeat for several; before those of "
                             "$SHEPHERD_SSH_OPTIONS")
    common.add_argument("--bootstrap", action="store_true", default=argparse.SUPPRESS,
                        help="with an ssh:// --db: if this library is missing on the other "
                             "computer, copy it to ~/.cache/shepherd-store there and run it "
                             "from there (no root needed; it needs Python 3.11 there)")
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
        elif word in ("--db", "--config", "--ssh-option"):
            skip = True
        elif not word.startswith("-") or NEGATIVE_DURATION.fullmatch(word):
            plain.append(word)
    if plain[:2] != ["cooldown", "set"]:
        return None
    return next((w for w in plain[2:] if NEGATIVE_DURATION.fullmatch(w)), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `shepherd-store`; returns the exit status (see `EXIT_HELP`)."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["serve"]:  # the other end of an ssh:// --db (see the module)
        from .remote.server import serve_main

        try:
            return serve_main(words[1:])
        except SystemExit as exc:  # --help, or a usage error (already printed)
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    parser = build_parser()
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
