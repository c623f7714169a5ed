"""Manual edits of cooldowns, the snapshot and usage: one transaction each, with a trace.

Every function here is what a person's override means in the database, shared by the
inspector and the command line. Each runs in ONE write transaction (`BEGIN IMMEDIATE`, via
`SqliteStore.override`) that

1. reads the stored raw value and compares it with `expected`, the raw value the person saw
   (optimistic concurrency: if the service changed it meanwhile, `OverrideConflict` is raised
   with the current value and nothing is written; the caller shows it and lets the person
   decide, retrying with the new value as `expected`);
2. writes the new value through the store's one write of that value (`store_writes`: the
   validation and the SQL the `Store` methods use), so the Rust daemon can read it;
3. records who changed what from which value to which (`SqliteStore.record_override`: an
   audit event in the seed layout, a side-table row in a Rust-layout database).

Raw values are the stored texts: a cooldown's `until` column, the snapshot JSON; None means
"no row".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from . import store_writes
from .errors import ConflictError, SerializationError
from .events import dumps
from .snapshot import StateSnapshot, decode_snapshot, encode_snapshot
from .store import SqliteStore
from .timefmt import format_day, local_now

__all__ = [
    "CooldownChange",
    "OverrideConflict",
    "add_usage",
    "apply_cooldowns",
    "clear_active_session",
    "clear_cooldown",
    "cooldown_text",
    "delete_snapshot",
    "extended_until",
    "normalize_snapshot_text",
    "save_snapshot",
    "save_snapshot_text",
    "set_cooldown",
]


class OverrideConflict(ConflictError):
    """The stored value changed since the person looked; nothing was written.

    `conflicts` maps each changed entry (None for the snapshot) to its current raw value
    (None when the row is gone); `current` is the first (or only) one of them.
    """

    def __init__(self, message: str, conflicts: dict[str | None, str | None], *,
                 path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.conflicts = dict(conflicts)
        self.current: str | None = next(iter(self.conflicts.values()), None)


@dataclass(frozen=True)
class CooldownChange:
    """One cooldown edit: set `until` (or clear it when None), given the raw text seen."""

    entry_id: str
    expected: str | None
    until: datetime | None


# --- reading the raw values (outside a transaction, for showing them) ---------------------


def cooldown_text(store: SqliteStore, entry_id: str) -> str | None:
    """The stored `until` text of `entry_id`'s cooldown, or None when it has none."""
    for record in store.all_cooldowns():
        if record.entry_id == entry_id:
            return record.raw
    return None


def extended_until(current: datetime | None, by: timedelta, now: datetime) -> datetime:
    """The end of a cooldown extended by `by`: from its end if it is active, else from now."""
    base = current if current is not None and current > now else now
    return base + by


# --- cooldowns ---------------------------------------------------------------------------


def apply_cooldowns(store: SqliteStore, changes: Sequence[CooldownChange]) -> dict[str, str | None]:
    """Apply several cooldown edits in one transaction (all or none); new raw texts by entry.

    Raises `OverrideConflict` naming every entry whose stored value differs from `expected`,
    `SerializationError` for a value the daemon could not read, `ReadOnlyError` when the store
    is read-only.
    """
    planned: list[tuple[CooldownChange, str | None]] = []
    for change in changes:
        store_writes.check_entry_id(change.entry_id)
        new = None if change.until is None else store_writes.cooldown_text(change.until)
        planned.append((change, new))
    if not planned:
        return {}
    what = "clear" if all(new is None for _c, new in planned) else "set"
    with store.override(f"{what} a cooldown in") as conn:
        conflicts: dict[str | None, str | None] = {}
        for change, _new in planned:
            current = store_writes.stored_cooldown(conn, change.entry_id)
            if current != change.expected:
                conflicts[change.entry_id] = current
        if conflicts:
            raise OverrideConflict(_conflict_message("cooldown", conflicts), conflicts,
                                   path=store.path)
        for change, new in planned:
            if new is None:
                store_writes.delete_cooldown(conn, change.entry_id)
            else:
                store_writes.put_cooldown(conn, change.entry_id, new)
            if new != change.expected:
                store.record_override(conn, "cooldown", change.entry_id, change.expected, new)
    return {change.entry_id: new for change, new in planned}


def set_cooldown(store: SqliteStore, entry_id: str, until: datetime, *,
                 expected: str | None) -> str:
    """Set (or add) `entry_id`'s cooldown to `until`; returns the stored text."""
    new = apply_cooldowns(store, [CooldownChange(entry_id, expected, until)])[entry_id]
    assert new is not None
    return new


def clear_cooldown(store: SqliteStore, entry_id: str, *, expected: str | None) -> None:
    """Remove `entry_id`'s cooldown so it is available again now."""
    apply_cooldowns(store, [CooldownChange(entry_id, expected, None)])


# --- the snapshot ------------------------------------------------------------------------


def normalize_snapshot_text(text: str) -> str:
    """The text that saving `text` would store: parsed as the daemon does, re-encoded.

    Raises `SerializationError` saying what the daemon could not read.
    """
    return encode_snapshot(decode_snapshot(text))


def save_snapshot(store: SqliteStore, snapshot: StateSnapshot, *,
                  expected: str | None) -> str:
    """Replace the snapshot with `snapshot`; returns the stored JSON."""
    text = encode_snapshot(snapshot)
    _replace_snapshot(store, text, expected=expected, action="save the snapshot in")
    return text


def save_snapshot_text(store: SqliteStore, text: str, *, expected: str | None) -> str:
    """Save snapshot JSON typed by a person (validated, stored in the daemon's form)."""
    return save_snapshot(store, decode_snapshot(text), expected=expected)


def clear_active_session(store: SqliteStore, *, expected: str | None,
                         now: datetime | None = None) -> str:
    """Save a snapshot without an active session, stamped `now` (what an idle daemon saves)."""
    snapshot = StateSnapshot(timestamp=now or local_now(), active_session=None)
    text = encode_snapshot(snapshot)
    _replace_snapshot(store, text, expected=expected,
                      action="clear the active session in the snapshot of")
    return text


def delete_snapshot(store: SqliteStore, *, expected: str | None) -> None:
    """Remove the snapshot row (what the daemon finds after a clean shutdown)."""
    _replace_snapshot(store, None, expected=expected, action="delete the snapshot in")


def _replace_snapshot(store: SqliteStore, new: str | None, *, expected: str | None,
                      action: str) -> None:
    with store.override(action) as conn:
        current = store_writes.stored_snapshot(conn, store.layout)
        if current != expected:
            conflicts: dict[str | None, str | None] = {None: current}
            raise OverrideConflict(_conflict_message("snapshot", conflicts), conflicts,
                                   path=store.path)
        if new is None:
            store_writes.delete_snapshot(conn)
        else:
            store_writes.put_snapshot(conn, store.layout, new)
        entry = _snapshot_entry(new) or _snapshot_entry(current)
        store.record_override(conn, "snapshot", entry, current, new)


def _snapshot_entry(text: str | None) -> str | None:
    """The active session's entry in a snapshot text, if it can be read."""
    if text is None:
        return None
    try:
        session = decode_snapshot(text).active_session
    except SerializationError:
        return None
    return session.entry_id if session is not None else None


# --- usage -------------------------------------------------------------------------------


def add_usage(store: SqliteStore, entry_id: str, day: date, seconds: int, *,
              reason: str) -> int:
    """Add `seconds` (negative to correct an excess) to `entry_id`'s usage on `day`.

    Adding is commutative, so no `expected` value is needed: a concurrent add by the daemon
    is kept. Returns the new total; refuses a total below zero and a stored count the daemon
    could not read. The trace's values are JSON objects with the day and the seconds; the new
    one also holds `added_secs` and the `reason`.
    """
    store_writes.check_entry_id(entry_id)
    day_text = format_day(day)
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds == 0:
        raise SerializationError(f"usage must change by a non-zero whole number of seconds, "
                                 f"got {seconds!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise SerializationError("a manual usage change needs a reason")
    with store.override("adjust usage in") as conn:
        before = store_writes.stored_usage(conn, entry_id, day_text, path=store.path)
        total = (before or 0) + seconds
        if total < 0:
            raise SerializationError(
                f"cannot remove {-seconds} s from {entry_id} on {day_text}: only "
                f"{before or 0} s are recorded", path=store.path)
        store_writes.add_usage(conn, entry_id, day_text, seconds)
        previous = None if before is None else dumps({"day": day_text, "duration_secs": before})
        new = dumps({"day": day_text, "duration_secs": total, "added_secs": seconds,
                     "reason": reason.strip()})
        store.record_override(conn, "usage", entry_id, previous, new)
    return total


# --- helpers -----------------------------------------------------------------------------


#: The one validation of an entry id (the store's), under the name the recovery imports.
_check_entry_id = store_writes.check_entry_id


def _conflict_message(what: str, conflicts: dict[str | None, str | None]) -> str:
    if what == "snapshot":
        return ("The snapshot changed since it was shown (the service saved a new one); "
                "nothing was written. Look at the current snapshot and decide again.")
    names = ", ".join(str(e) for e in conflicts)
    return (f"The cooldown of {names} changed since it was shown (the service set a new one); "
            "nothing was written. Look at the current value and decide again.")
