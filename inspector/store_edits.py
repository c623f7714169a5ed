"""The views' edits, for a local database or one on another computer (issue #17).

Each view writes through `Database.write(edit)`, and `edit` calls one of these functions
with the store it is handed. A local edit is `shepherd_store.overrides`' (or recovery's)
function on the short-lived writable `SqliteStore`, exactly as before. A remote edit is
handed a `RemoteEdit`: the `RemoteStore` and the id of this one edit, so that sending it
again after a dropped connection applies it at most once (the server answers the first
outcome); a repair is recovery's, run there in one transaction. The same confirmations,
conflicts (`OverrideConflict` keeps `.conflicts` and `.current`, `RecoveryConflict` its
`.reason`) and errors reach the view either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shepherd_store import SqliteStore, overrides
from shepherd_store.overrides import CooldownChange
from shepherd_store.recovery import RepairResult
from shepherd_store.recovery import repair as local_repair
from shepherd_store.remote import RemoteStore

__all__ = ["RemoteEdit", "add_usage", "apply_cooldowns", "clear_active_session",
           "delete_snapshot", "repair", "save_snapshot_text"]


@dataclass(frozen=True)
class RemoteEdit:
    """A `RemoteStore` and the id of the one edit made through it."""

    store: RemoteStore
    edit_id: str


EditTarget = SqliteStore | RemoteEdit


def apply_cooldowns(store: EditTarget, changes: Sequence[CooldownChange]
                    ) -> dict[str, str | None]:
    """`overrides.apply_cooldowns`: all or none; the new raw texts by entry."""
    if isinstance(store, RemoteEdit):
        return store.store.apply_cooldowns(changes, edit_id=store.edit_id)
    return overrides.apply_cooldowns(store, changes)


def save_snapshot_text(store: EditTarget, text: str, *, expected: str | None) -> str:
    """`overrides.save_snapshot_text`: the stored JSON."""
    if isinstance(store, RemoteEdit):
        return store.store.save_snapshot_text(text, expected=expected, edit_id=store.edit_id)
    return overrides.save_snapshot_text(store, text, expected=expected)


def clear_active_session(store: EditTarget, *, expected: str | None,
                         now: datetime | None = None) -> str:
    """`overrides.clear_active_session`: the stored JSON."""
    if isinstance(store, RemoteEdit):
        return store.store.clear_active_session(expected=expected, now=now,
                                                edit_id=store.edit_id)
    return overrides.clear_active_session(store, expected=expected, now=now)


def delete_snapshot(store: EditTarget, *, expected: str | None) -> None:
    """`overrides.delete_snapshot`."""
    if isinstance(store, RemoteEdit):
        store.store.delete_snapshot(expected=expected, edit_id=store.edit_id)
    else:
        overrides.delete_snapshot(store, expected=expected)


def add_usage(store: EditTarget, entry_id: str, day: date, seconds: int, *,
              reason: str) -> int:
    """`overrides.add_usage`: the new total."""
    if isinstance(store, RemoteEdit):
        return store.store.adjust_usage(entry_id, day, seconds, reason=reason,
                                        edit_id=store.edit_id)
    return overrides.add_usage(store, entry_id, day, seconds, reason=reason)


def repair(store: EditTarget, session_id: str, **options: Any) -> RepairResult:
    """`recovery.repair` (`options` as its): refused with `RecoveryConflict` as locally."""
    if isinstance(store, RemoteEdit):
        return store.store.repair(session_id, edit_id=store.edit_id, **options)
    return local_repair(store, session_id, **options)
