"""`shepherd-store recovery`: the service's runs, and the play a crash left uncounted.

    shepherd-store recovery [--since WHEN] [--json]
    shepherd-store recovery fix SESSION_ID [--seconds N | --max] [--cooldown]

The library's `recovery` module does the work; this module parses arguments and prints, with
the conventions of `cli_common` (local times, plain lines to a pipe, tables fitted to a terminal).
`cli.build_parser` registers the commands with `add_commands`, and `snapshot diagnose` adds
`diagnose_findings` to its own. On a database on another computer the scan and the repair
run there (`RemoteStore.recover`, `RemoteStore.repair`, the latter with --write).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .cli_common import (
    EXIT_ACTION,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Output,
    ProgressLine,
    _edit,
    _labels,
    _open_read,
    _open_write,
    _policy,
)
from .cli_text import WHEN_HELP, Column, render_table, sanitize, wrap
from .describe import entry_name, format_duration, format_local, format_stored_time
from .store import SqliteStore
from .timefmt import format_day, format_timestamp, local_now

if TYPE_CHECKING:  # the commands import these when they run: every command registers here
    from .cli_common import CliStore
    from .diagnose import Finding
    from .policy import Policy
    from .recovery import RecoveredSession, RecoveryFinding, RecoveryReport, Run
    from .store_queries import Progress

__all__ = ["add_commands", "cmd_recovery", "cmd_recovery_fix", "diagnose_findings"]

#: Runs listed without --since (the JSON output has them all).
SHOWN_RUNS = 20
_COLOURS = {"problem": "red", "warning": "yellow", "info": "green"}


def add_commands(sub: Any, command: Callable[..., Any],
                 when: Callable[[str], datetime]) -> None:
    """Register `recovery` and `recovery fix` (`command` is `build_parser`'s helper)."""
    rec = command(
        sub, "recovery", "the service's runs, and play a crash left uncounted (and fix it)",
        "Rebuild the service's runs (start to stop) from the audit log and list what it left "
        "unrecorded: sessions a crash or a shutdown interrupted (their play never reached the "
        "daily usage), usage writes that failed, cooldowns never set (with --config). Exit "
        "status 1 when an unresolved finding needs action.", cmd_recovery)
    rec.add_argument("--since", metavar="WHEN", type=when,
                     help=f"only runs active at or after WHEN: {WHEN_HELP}")
    rec.add_argument("--json", action="store_true",
                     help="one JSON object: findings, runs, notes, needs_action")
    actions = rec.add_subparsers(dest="action", metavar="ACTION")
    fix = command(
        actions, "fix", "record an interrupted session's play as the service would have",
        "Add the unrecorded play of an interrupted session to its entry's usage of the day it "
        "would have ended (by default the lower bound `recovery` shows), and with --cooldown "
        "set the policy's cooldown after it. One transaction, recorded as a manual change; "
        "refused (exit status 1, nothing written) when it was already recorded or the log "
        "changed since it was read.", cmd_recovery_fix)
    fix.add_argument("session", metavar="SESSION_ID",
                     help="the session's id, or its first 8 or more characters")
    amount = fix.add_mutually_exclusive_group()
    amount.add_argument("--seconds", metavar="N", type=_whole,
                        help="seconds to add, between the finding's bounds (default: the "
                             "lower bound, the play that is certain)")
    amount.add_argument("--max", action="store_true",
                        help="add the upper bound instead of the lower one")
    fix.add_argument("--cooldown", action="store_true",
                     help="also set the entry's cooldown from --config, as the service would "
                          "have at the end of the session (only if later than the stored one)")


def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


# --- recovery -------------------------------------------------------------------------------


def cmd_recovery(args: argparse.Namespace, out: Output) -> int:
    """`recovery`: runs, findings and notes; status 1 when a finding needs action."""
    if getattr(args, "action", None) == "fix":  # (argparse sets func; kept for safety)
        return cmd_recovery_fix(args, out)
    policy = _policy(args)
    progress = ProgressLine(out.progress, "Reading the audit log…")
    with _open_read(args) as store:
        report = _recover(store, policy, since=args.since, now=local_now(), progress=progress)
    progress.clear()
    if args.json:
        out.line(json.dumps(report_json(report), ensure_ascii=False))
    else:
        _print_report(report, out, all_runs=args.since is not None)
    return EXIT_ACTION if report.needs_action else EXIT_OK


def _recover(store: CliStore, policy: Policy | None, *, now: datetime,
             since: datetime | None = None, progress: Progress | None = None) -> RecoveryReport:
    """`recovery.recover` here, or run there on a database on another computer."""
    if not isinstance(store, SqliteStore):
        return store.recover(policy, since=since, now=now)
    from .recovery import recover

    return recover(store, policy, since=since, now=now, progress=progress)


def report_json(report: RecoveryReport) -> dict[str, Any]:
    """The `--json` object: findings, runs (newest first), notes, needs_action, last_id."""
    return {"findings": [f.as_dict() for f in report.findings],
            "runs": [_run_json(r) for r in report.runs], "notes": list(report.notes),
            "needs_action": report.needs_action, "last_id": report.last_id,
            "complete": report.complete}


def _run_json(run: Run) -> dict[str, Any]:
    return {"started_id": run.started_id, "started_at": _iso(run.started_at), "end": run.end,
            "ended_id": run.ended_id, "ended_at": _iso(run.ended_at),
            "last_event_id": run.last_event_id, "last_event_at": _iso(run.last_event_at),
            "session_count": run.session_count, "detailed": run.detailed,
            "sessions": [_session_json(s) for s in run.sessions]}


def _session_json(s: RecoveredSession) -> dict[str, Any]:
    return {"session_id": s.session_id, "entry_id": s.entry_id, "label": s.label,
            "status": s.status, "resolved": s.resolved, "started_id": s.started_id,
            "started_at": _iso(s.started_at), "deadline": _iso(s.deadline),
            "ended_id": s.ended_id, "ended_at": _iso(s.ended_at),
            "duration_seconds": None if s.duration is None else s.duration.total_seconds(),
            "end_reason": s.end_reason, "warnings": list(s.warnings),
            "warning_ids": list(s.warning_ids), "extended_ids": list(s.extended_ids),
            "last_seen_at": _iso(s.last_seen_at)}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    try:
        return format_timestamp(value)
    except ValueError:
        return value.isoformat()


def _print_report(report: RecoveryReport, out: Output, *, all_runs: bool) -> None:
    runs = report.runs if all_runs else report.runs[:SHOWN_RUNS]
    if not report.runs:
        out.line("The log has no run of the service.")
    else:
        out.line("Runs of the service, newest first (local time):")
        cols = [Column("STARTED"), Column("ENDED", flex=True, min_width=20),
                Column("SESSIONS", right=True), Column("INTERRUPTED", right=True)]
        rows = [[_local(r.started_at) if r.started_id is not None else "(not in the log)",
                 _end_text(r, out), str(r.session_count),
                 (str(sum(s.interrupted for s in r.sessions)) if r.detailed else "?")]
                for r in runs]
        for line in render_table(cols, rows, out.width, out.style):
            out.line(line)
        if len(runs) < len(report.runs):
            out.line(f"... and {len(report.runs) - len(runs)} older runs (--since WHEN or "
                     "--json to see them).")
    out.line()
    for f in report.findings:
        tag = "DONE" if f.resolved else f.severity.upper()
        colour = "green" if f.resolved else _COLOURS[f.severity]
        title = wrap(sanitize(f.title), out.width, " " * 9)
        out.line(f"{out.style.paint(f'{tag:<8}', colour)} {title[0][9:]}")
        for line in title[1:]:
            out.line(line)
        for line in wrap(sanitize(f.explanation), out.width, " " * 9):
            out.line(line)
        figures = _figures(f)
        if figures:
            for line in wrap(figures, out.width, " " * 9):
                out.line(line)
        for line in wrap("What to do: " + sanitize(f.action), out.width, " " * 9):
            out.line(line)
        out.line()
    if report.notes:
        out.line("Notes:")
        for note in report.notes:
            for i, line in enumerate(wrap(sanitize(note), out.width, "    ")):
                out.line(("  - " + line[4:]) if i == 0 else line)
        out.line()
    if not report.complete:
        out.line("The scan did not finish.")
    acting = [f for f in report.findings if f.needs_action]
    if acting:
        out.line(f"{len(acting)} finding{'s' if len(acting) != 1 else ''} "
                 f"need{'s' if len(acting) == 1 else ''} action.")
    else:
        out.line("Nothing needs action.")


def _figures(f: RecoveryFinding) -> str:
    parts = []
    if f.session_id:
        parts.append(f"session {f.session_id}")
    if f.min_seconds is not None:
        high = "unbounded" if f.max_seconds is None else f"{f.max_seconds} s"
        parts.append(f"unrecorded: {f.min_seconds} s to {high}" if f.max_seconds != f.min_seconds
                     else f"unrecorded: {f.min_seconds} s")
    if f.day is not None:
        parts.append(f"day {format_day(f.day)}")
    if f.evidence:
        shown = ", ".join(str(i) for i in f.evidence[:8])
        parts.append(f"rows {shown}{', …' if len(f.evidence) > 8 else ''}")
    return "; ".join(parts)


def _end_text(run: Run, out: Output) -> str:
    if run.end == "clean":
        return f"stopped {_local(run.ended_at)}"
    if run.end == "unclean":
        text = (f"no trace after {_local(run.last_event_at)}; restarted "
                f"{_local(run.ended_at)}")
        return text
    return f"running, or stopped without a trace after {_local(run.last_event_at)}"


def _local(value: datetime | None) -> str:
    return format_local(value) if value is not None else "—"


# --- recovery fix ---------------------------------------------------------------------------


def cmd_recovery_fix(args: argparse.Namespace, out: Output) -> int:
    """`recovery fix SESSION`: `recovery.repair` (run there on a database on another
    computer, sent once more after a dropped connection), saying what it wrote."""
    from .recovery import RecoveryConflict, repair

    policy = _policy(args)
    if args.cooldown and policy is None:
        raise CliError("--cooldown needs the policy's cooldown: give --config POLICY.toml.",
                       EXIT_USAGE)
    progress = ProgressLine(out.progress, "Reading the audit log…")
    with _open_write(args) as store:
        report = _recover(store, policy, now=local_now(), progress=progress)
        progress.clear()
        session_id = _resolve(report, args.session)
        finding = report.finding(session_id)
        seconds = args.seconds
        if args.max and finding is not None:
            if finding.max_seconds is None:
                raise CliError("This session's play has no upper bound (no deadline, and the "
                               "service never came back): give --seconds N.", EXIT_USAGE)
            seconds = finding.max_seconds
        try:
            result = _edit(
                store, lambda s: repair(s, session_id, seconds=seconds, cooldown=args.cooldown,
                                        policy=policy, report=report, finding=finding),
                lambda r, edit_id: r.repair(session_id, seconds=seconds,
                                            cooldown=args.cooldown, policy=policy,
                                            report=report, finding=finding, edit_id=edit_id),
                see="recovery")
        except RecoveryConflict as exc:
            if exc.reason == "unknown":
                raise CliError(str(exc), EXIT_USAGE) from None
            raise
        name = sanitize(entry_name(result.entry_id, _labels(store, policy),
                                   fallback=finding.label if finding is not None else None))
    out.line(f"Recorded {result.seconds} s ({format_duration(result.seconds)}) of "
             f"{name}'s interrupted session {session_id} on {format_day(result.day)}: "
             f"its usage that day {result.usage_before} s → {result.usage_after} s.")
    if args.cooldown:
        if result.cooldown_until is not None:
            out.line(f"Cooldown of {name} set until {format_local(result.cooldown_until)} "
                     f"(was {sanitize(format_stored_time(result.cooldown_previous))}).")
        else:
            out.line(f"Cooldown not changed: {sanitize(result.cooldown_note or '')}.")
    out.line("The change is recorded as a manual change; `shepherd-store recovery` now shows "
             "the session as recorded.")
    return EXIT_OK


def _resolve(report: RecoveryReport, text: str) -> str:
    """A full session id from an id or a prefix of 8 or more characters."""
    wanted = text.strip().lower()
    ids = {f.session_id for f in report.findings if f.session_id}
    ids.update(s.session_id for r in report.runs for s in r.sessions)
    exact = [i for i in ids if i.lower() == wanted]
    if exact:
        return exact[0]
    if len(wanted) < 8:
        raise CliError(f"{text!r} is too short: give the session id or its first 8 or more "
                       "characters.", EXIT_USAGE)
    matches = sorted(i for i in ids if i.lower().startswith(wanted))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CliError(f"No session {text!r} in the log's interrupted sessions or recent runs "
                       "(see `shepherd-store recovery`).", EXIT_USAGE)
    raise CliError(f"{text!r} matches {len(matches)} sessions: {', '.join(matches[:5])}; give "
                   "more characters.", EXIT_USAGE)


# --- snapshot diagnose ------------------------------------------------------------------------


def diagnose_findings(store: CliStore, policy: Policy | None, now: datetime,
                      snapshot_findings: list[Finding]) -> list[Finding]:
    """Recovery's findings as `diagnose.Finding`s for `snapshot diagnose` (a recorded repair
    is `info`). A session the snapshot diagnosis already covers is left to it."""
    from .diagnose import Finding

    covered = {f.gap.session_id for f in snapshot_findings if f.gap is not None}
    out = []
    for f in _recover(store, policy, now=now).findings:
        if f.kind == "interrupted_session" and f.session_id in covered:
            continue
        severity = "info" if f.resolved else f.severity
        out.append(Finding(f.kind, severity, f.title, f.explanation, f.action))
    return out
