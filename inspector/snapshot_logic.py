"""The snapshot section's state and words, decided without Qt.

What one load read (`SnapshotState`: the stored text and its diagnosis, with the library's
words corrected where they describe a service that saves snapshots), the stored text as
people read it (`pretty`) and a change to it as a diff (`change_preview`), and the sentences
the section confirms a change with.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, replace
from datetime import datetime

from shepherd_store import SerializationError
from shepherd_store.diagnose import (
    FIX_ADD_USAGE,
    FIX_CLEAR_SESSION,
    FIX_DELETE_SNAPSHOT,
    Finding,
    UsageGap,
)
from shepherd_store.snapshot import StateSnapshot, decode_snapshot
from shepherd_store.timefmt import format_day

from .cooldown_logic import when_text
from .formatting import break_long_lines, format_duration, short_id

FIX_NAMES = {FIX_CLEAR_SESSION: "Clear the active session",
             FIX_DELETE_SNAPSHOT: "Delete the snapshot",
             FIX_ADD_USAGE: "Add the unaccounted minutes"}
MAX_RAW_CHARS = 200_000  # an enormous stored snapshot is shown cut, never fatal
NO_SNAPSHOT_TEXT = ("No snapshot saved. The shipped service (shepherdd) never saves one; "
                    "crashes are found from the audit log above.")
#: The library's words where they describe a service that saves snapshots; shepherdd as
#: shipped does not (docs/DESIGN.md), so the section says what is true of it instead.
HONEST_TEXT = {
    "no_snapshot": (
        "The database holds no crash-recovery snapshot. The shipped service (shepherdd) "
        "never saves one; a crash shows in the audit log instead (the runs above).",
        "Nothing to do."),
    "snapshot_unreadable": (
        None,
        "Delete the snapshot (the shipped service neither saves nor reads one), or correct "
        "it in the raw JSON editor."),
}


def pretty(text: str | None) -> str:
    """Indented JSON for people (the text itself when it is not JSON); cut when huge, and
    lines too long for Qt to lay out quickly broken (see `break_long_lines`)."""
    if text is None:
        return "(no snapshot)"
    if len(text) > MAX_RAW_CHARS:
        return break_long_lines(text[:MAX_RAW_CHARS]) + \
            f"\n… ({len(text) - MAX_RAW_CHARS:,} more characters)"
    try:
        return break_long_lines(json.dumps(json.loads(text), indent=2, ensure_ascii=False))
    except (ValueError, RecursionError):
        return break_long_lines(text)


def change_preview(old: str | None, new: str | None) -> str:
    """A unified diff of the stored snapshot and the one that would be saved."""
    if old == new:
        return "No changes: saving would store the same text."
    diff = difflib.unified_diff(pretty(old).splitlines(), pretty(new).splitlines(),
                                "stored now", "after saving", lineterm="", n=20)
    return "\n".join(diff) or "Only the formatting differs; the values stay the same."


@dataclass(frozen=True)
class SnapshotState:
    """What one load read: the stored text and the diagnosis of it."""

    text: str | None
    findings: list[Finding]
    now: datetime

    @property
    def snapshot(self) -> StateSnapshot | None:
        if self.text is None:
            return None
        try:
            return decode_snapshot(self.text)
        except SerializationError:
            return None

    @property
    def error(self) -> str | None:
        if self.text is None:
            return None
        try:
            decode_snapshot(self.text)
        except SerializationError as exc:
            return str(exc)
        return None

    @property
    def gap(self) -> UsageGap | None:
        return next((f.gap for f in self.findings if f.gap is not None), None)


def honest(finding: Finding) -> Finding:
    """`finding`, with the words that would claim the service saves snapshots replaced."""
    words = HONEST_TEXT.get(finding.code)
    if words is None:
        return finding
    explanation, action = words
    return replace(finding, explanation=explanation or finding.explanation,
                   action=action or finding.action)


def default_minutes(gap: UsageGap) -> int:
    """The minutes offered for a gap: its upper bound (the service stopped or restarted at
    the latest then), rounded to whole minutes, at least 1."""
    return max(round(gap.max_seconds / 60), 1)


def warnings_text(warnings: tuple[int, ...]) -> str:
    """`5 min, 1 min before the deadline`, or `none`."""
    if not warnings:
        return "none"
    return ", ".join(format_duration(w) for w in warnings) + " before the deadline"


# --- words -------------------------------------------------------------------------------


def session_words(text: str | None, labels: dict[str, str], now: datetime) -> str:
    """The stored `text` in a few words: `a snapshot from 15:00 with Minecraft running
    (started ..., deadline ...)`."""
    if text is None:
        return "no snapshot"
    try:
        snap = decode_snapshot(text)
    except SerializationError:
        return "an unreadable snapshot"
    s = snap.active_session
    if s is None:
        return f"a snapshot from {when_text(snap.timestamp, now)} with no session running"
    label = labels.get(s.entry_id) or s.entry_id
    return (f"a snapshot from {when_text(snap.timestamp, now)} with {label} running "
            f"(started {when_text(s.started_at, now)}, deadline "
            f"{when_text(s.deadline, now)})")


def describe_clear(seen: str) -> str:
    """The confirmation of "clear the active session"; `seen`: the stored one in words."""
    return (f"The stored snapshot is {seen}.\n\nIt will be replaced "
            "by one with no session running, stamped now, so a service that resumes "
            "sessions from the snapshot does not resume this one. Usage and cooldowns are "
            "not changed.\n\nThe change is recorded as a manual change.")


def describe_delete(seen: str) -> str:
    """The confirmation of "delete the snapshot"."""
    return (f"The stored snapshot is {seen}.\n\nIt will be deleted. "
            "The shipped service (shepherdd) never saves or reads one, so nothing it does "
            "changes.\n\nThe change is recorded as a manual change.")


def describe_save(seen: str, after: str, preview: str) -> str:
    """The confirmation of saving an edit: the snapshot before and after, and the diff."""
    return (f"The stored snapshot is {seen}.\nAfter saving it is "
            f"{after}.\n\n{preview}\n\nThe change "
            "is recorded as a manual change.")


def describe_conflict(seen: str, current: str, current_text: str | None) -> str:
    """What the service saved after the person looked (`current_text`); nothing was
    written."""
    return (f"The snapshot changed after you looked (another program saved it), so "
            f"nothing was written.\n\nYou saw {seen}.\nNow it is "
            f"{current}:\n\n{pretty(current_text)}\n\nReview your change "
            "against the new snapshot, or keep the service's.")


def describe_add_usage(gap: UsageGap, label: str, minutes: int) -> str:
    """The confirmation of adding `minutes` of the unaccounted play in `gap`."""
    return (f"Add {format_duration(minutes * 60)} to {label}'s usage on "
            f"{format_day(gap.day)}?\n\nBetween {format_duration(gap.min_seconds)} and "
            f"{format_duration(gap.max_seconds)} of session {short_id(gap.session_id)} "
            "were never counted because the service did not end it.\n\nThe change is "
            "recorded as a manual change.")
