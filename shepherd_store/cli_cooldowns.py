"""`shepherd-store cooldowns`, `cooldown set` and `cooldown clear`.

The list reads the database read-only; the two edits open it writable and go through
`overrides` with the value just read as `expected`, so they leave the same trace as the
inspector's (on another computer: the same calls there, with --write). `cooldown set`
refuses an entry nobody knows (a misspelt id) unless --new.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime

from .cli_common import (
    EXIT_ACTION,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Output,
    _edit,
    _labels,
    _note,
    _open_read,
    _open_write,
    _policy,
    _reads,
)
from .cli_text import (
    NEGATIVE_COOLDOWN,
    NEGATIVE_DURATION,
    Cell,
    Column,
    parse_duration_arg,
    parse_when,
    render_table,
    sanitize,
)
from .describe import entry_name, format_duration, format_local, format_stored_time
from .timefmt import local_now

__all__ = ["cmd_cooldown_clear", "cmd_cooldown_set", "cmd_cooldowns"]


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
        expected = cooldown_text(_reads(store), args.entry)
        _edit(store, lambda s: set_cooldown(s, args.entry, until, expected=expected),
              lambda r, edit_id: r.set_cooldown(args.entry, until, expected=expected,
                                                edit_id=edit_id), see="cooldowns")
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
        expected = cooldown_text(_reads(store), args.entry)
        if expected is None:
            name = entry_name(args.entry, _labels(store, _policy(args)))
            out.line(f"{sanitize(name)} has no cooldown; nothing changed.")
            return EXIT_OK
        _edit(store, lambda s: clear_cooldown(s, args.entry, expected=expected),
              lambda r, edit_id: r.clear_cooldown(args.entry, expected=expected,
                                                  edit_id=edit_id), see="cooldowns")
        name = entry_name(args.entry, _labels(store, _policy(args)))
    out.line(f"Cooldown of {sanitize(name)} cleared (it was until "
             f"{format_stored_time(expected)}).")
    return EXIT_OK
