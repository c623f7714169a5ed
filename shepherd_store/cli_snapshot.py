"""`shepherd-store snapshot show`, `snapshot diagnose` and `snapshot clear-session`.

`show` decodes the crash-recovery snapshot or says why it cannot be read; `diagnose` prints
the inspector's findings and recovery's (`cli_recovery.diagnose_findings`); `clear-session`
goes through `overrides.clear_active_session` with the text just read as `expected` (on
another computer: the same call there, with --write).
"""

from __future__ import annotations

import argparse
import json

from .cli_common import (
    EXIT_ACTION,
    EXIT_OK,
    Output,
    _edit,
    _labels,
    _open_read,
    _open_write,
    _policy,
    _reads,
)
from .cli_text import sanitize, wrap
from .describe import entry_name, format_duration, format_local
from .errors import SerializationError
from .timefmt import local_now

__all__ = ["cmd_snapshot_clear", "cmd_snapshot_diagnose", "cmd_snapshot_show"]


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
        findings = diagnose(_reads(store), now=local_now(), policy=policy)
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
        _edit(store, lambda s: clear_active_session(s, expected=expected),
              lambda r, edit_id: r.clear_active_session(expected=expected, edit_id=edit_id),
              see="snapshot show")
    out.line(f"Cleared {what} from the snapshot; the change is recorded as a manual change.")
    return EXIT_OK
