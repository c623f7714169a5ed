"""The Cooldowns tab's rows and words, decided without Qt.

A row is an entry with its stored cooldown text, exactly as read (the person's edits are
compared with it); what that text means (active, expired, none, unreadable) is worked out
here, and so are the sentences the tab confirms an edit with and tells a conflict in. The
countdown and the short "when" are shared with the snapshot section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from shepherd_store import OverrideRecord, SqliteStore
from shepherd_store.overrides import CooldownChange, OverrideConflict
from shepherd_store.policy import Policy
from shepherd_store.timefmt import parse_timestamp

from .formatting import clip, format_local, format_local_time, to_local


def when_text(value: datetime, now: datetime) -> str:
    """`15:45` when `value` is today (local time), else the date and time."""
    if to_local(value).date() == to_local(now).date():
        return format_local_time(value)
    return format_local(value, seconds=False)


def countdown(value: timedelta) -> str:
    """A countdown that visibly moves each second: `44 min 09 s`, `2 h 05 min 09 s`."""
    secs = max(int(value.total_seconds()), 0)
    days, rest = divmod(secs, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days >= 2:
        return f"{days:,} days {hours} h"
    hours += days * 24
    if hours:
        return f"{hours} h {minutes:02d} min {seconds:02d} s"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


# --- the rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CooldownRow:
    """One entry: its stored cooldown text (None: no row) and what that text means."""

    entry_id: str
    raw: str | None = None

    @cached_property
    def until(self) -> datetime | None:
        """When the entry is available again; None without a (readable) cooldown.

        Parsed once per row: sorting and every repaint ask for it."""
        if self.raw is None:
            return None
        try:
            return parse_timestamp(self.raw)
        except ValueError:
            return None

    def status(self, now: datetime) -> str:
        """`active`, `expired`, `none`, or `unreadable` (the service reads that as none)."""
        if self.raw is None:
            return "none"
        until = self.until
        if until is None:
            return "unreadable"
        return "active" if until > now else "expired"


def load_rows(store: SqliteStore, policy: Policy | None) -> list[CooldownRow]:
    """Every entry the database (and the policy) knows, with its cooldown (worker thread)."""
    raw = {c.entry_id: c.raw for c in store.all_cooldowns()}
    ids = set(store.known_entries()) | set(raw)
    if policy is not None:
        ids |= set(policy.entries)
    return [CooldownRow(e, raw.get(e)) for e in sorted(ids)]


def latest_changes(store: SqliteStore) -> dict[str, OverrideRecord]:
    """The newest manual cooldown change of each entry (worker thread)."""
    out: dict[str, OverrideRecord] = {}
    for record in store.list_overrides():  # newest first
        change = record.change
        if change.what == "cooldown" and change.entry_id and change.entry_id not in out:
            out[change.entry_id] = record
    return out


# --- words -------------------------------------------------------------------------------


def status_sentence(row: CooldownRow, now: datetime) -> str:
    """The row's state as the detail pane says it."""
    status = row.status(now)
    if status == "active" and row.until is not None:
        return f"Unavailable until {format_local(row.until)} (local time)."
    if status == "expired" and row.until is not None:
        return f"Available: the cooldown ended at {format_local(row.until)}."
    if status == "unreadable":
        return "The stored value cannot be read; the service treats it as no cooldown."
    return "Available: no cooldown."


def change_words(changes: list[CooldownChange], now: datetime,
                     name: Callable[[str], str]) -> str:
    """The confirmation text: one sentence per entry (called by `name`), in local time."""
    lines = []
    for c in changes:
        entry = name(c.entry_id)
        old = CooldownRow(c.entry_id, c.expected)
        status = old.status(now)
        if status == "unreadable":
            was = f"(its stored value {clip(str(c.expected), 60)!r} is unreadable and the " \
                  "service treats it as no cooldown)"
        elif status == "active" and old.until is not None:
            was = f"instead of at {when_text(old.until, now)}"
        else:
            was = "instead of now (it has no cooldown running)"
        if c.until is None:
            if status == "active":
                lines.append(f"{entry} will be available again now {was}.")
            elif status == "unreadable":
                lines.append(f"{entry}'s cooldown value will be removed {was}.")
            else:
                ended = f" (it ended at {when_text(old.until, now)})" if old.until else ""
                lines.append(f"{entry}'s expired cooldown{ended} will be removed; it stays "
                             "available.")
        elif c.until <= now:
            lines.append(f"{entry} will be available again now (you picked "
                         f"{when_text(c.until, now)}, which has passed) {was}.")
        else:
            lines.append(f"{entry} will be available again at {when_text(c.until, now)} "
                         f"{was}.")
    lines.append("")
    lines.append("The change is written in one step and recorded as a manual change.")
    return "\n".join(lines)


def conflict_words(changes: list[CooldownChange], exc: OverrideConflict, now: datetime,
                      name: Callable[[str], str]) -> str:
    """What the service changed meanwhile, in words; nothing was written."""
    lines = ["The service changed these cooldowns after you looked, so nothing was "
             "written:"]
    for c in changes:
        if c.entry_id not in exc.conflicts:
            continue
        current = CooldownRow(c.entry_id, exc.conflicts[c.entry_id])
        seen = CooldownRow(c.entry_id, c.expected)
        lines.append(f"• {name(c.entry_id)}: now {state_words(current, now)} "
                     f"(you saw {state_words(seen, now)}).")
    lines.append("")
    lines.append("The table shows the new values. Review your change against them, or "
                 "cancel to keep what the service set.")
    return "\n".join(lines)


def state_words(row: CooldownRow, now: datetime) -> str:
    """The row's state inside a sentence: `unavailable until 15:45`, ..."""
    status = row.status(now)
    if status == "active" and row.until is not None:
        return f"unavailable until {when_text(row.until, now)}"
    if status == "expired" and row.until is not None:
        return f"available (cooldown ended at {when_text(row.until, now)})"
    if status == "unreadable":
        return f"an unreadable value {clip(str(row.raw), 60)!r}"
    return "available, no cooldown"
