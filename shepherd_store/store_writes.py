"""What the store writes for each value (cooldown, usage, snapshot): its validation and its
SQL, once.

Two write paths use these, each inside its own single transaction: the `Store` methods of
`SqliteStore` (one transaction per call, as the daemon writes) and the manual overrides
(`overrides.py`: one transaction with the expected-value check and the trace). The checks
run before the transaction begins; the statements take the connection of the transaction
they are part of and the values as the checks returned them.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from .errors import SerializationError
from .schema import Layout
from .timefmt import format_timestamp, whole_seconds

# --- validation ------------------------------------------------------------------------------


def check_entry_id(entry_id: object) -> None:
    """Refuse an entry id that is not a non-empty string or cannot be stored as UTF-8."""
    if not isinstance(entry_id, str) or not entry_id:
        raise SerializationError("an entry id must be a non-empty string")
    try:
        entry_id.encode("utf-8")
    except UnicodeEncodeError:
        raise SerializationError("the entry id is not valid UTF-8") from None


def cooldown_text(until: datetime) -> str:
    """The `until` text of a cooldown, refusing a time the daemon could not read."""
    try:
        return format_timestamp(until)
    except ValueError as exc:
        raise SerializationError(f"refusing to write the cooldown: {exc}") from None


def usage_seconds(duration: timedelta) -> int:
    """The whole seconds (truncated, as usage is stored) of play to add, refusing a negative
    duration (the daemon's are unsigned)."""
    if not isinstance(duration, timedelta) or duration < timedelta(0):
        raise SerializationError(f"refusing to add usage of {duration!r}: must be >= 0")
    return whole_seconds(duration)


# --- cooldowns -------------------------------------------------------------------------------


def stored_cooldown(conn: sqlite3.Connection, entry_id: str) -> str | None:
    """The stored `until` text of `entry_id`'s cooldown (as `all_cooldowns` shows it), or
    None when it has none."""
    rows = conn.execute("SELECT until FROM cooldowns WHERE entry_id = ?", (entry_id,)).fetchall()
    if not rows:
        return None
    value = rows[0][0]
    return value if isinstance(value, str) else str(value)


def put_cooldown(conn: sqlite3.Connection, entry_id: str, text: str) -> None:
    """Set (insert or replace) the cooldown of `entry_id` to `text` (from `cooldown_text`)."""
    conn.execute("INSERT INTO cooldowns (entry_id, until) VALUES (?, ?) "
                 "ON CONFLICT(entry_id) DO UPDATE SET until = excluded.until", (entry_id, text))


def delete_cooldown(conn: sqlite3.Connection, entry_id: str) -> None:
    """Remove the cooldown of `entry_id` (nothing happens if it has none)."""
    conn.execute("DELETE FROM cooldowns WHERE entry_id = ?", (entry_id,))


# --- usage -----------------------------------------------------------------------------------


def stored_usage(conn: sqlite3.Connection, entry_id: str, day_text: str, *,
                 path: str) -> int | None:
    """The stored seconds of `entry_id` on `day_text`, None when there is no row. A stored
    count the daemon could not read is refused (`SerializationError`): nothing is added to
    it."""
    rows = conn.execute("SELECT duration_secs FROM usage WHERE entry_id = ? AND day = ?",
                        (entry_id, day_text)).fetchall()
    if not rows:
        return None
    value = rows[0][0]
    if not isinstance(value, int) or value < 0:
        raise SerializationError(
            f"the stored usage of {entry_id} on {day_text} is {value!r}, not a whole "
            "number of seconds the daemon can read; correct it before adding to it",
            path=path)
    return value


def add_usage(conn: sqlite3.Connection, entry_id: str, day_text: str, seconds: int) -> None:
    """Add `seconds` to `entry_id`'s usage on `day_text` in one upsert, so that two writers
    adding at once lose nothing."""
    conn.execute("INSERT INTO usage (entry_id, day, duration_secs) VALUES (?, ?, ?) "
                 "ON CONFLICT(entry_id, day) "
                 "DO UPDATE SET duration_secs = duration_secs + excluded.duration_secs",
                 (entry_id, day_text, seconds))


# --- the snapshot ----------------------------------------------------------------------------


def snapshot_as_text(value: Any) -> str:
    """A stored snapshot value as text (bytes that are not UTF-8 with replacements)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


def stored_snapshot(conn: sqlite3.Connection, layout: Layout) -> str | None:
    """The stored snapshot JSON as text, or None when there is no snapshot row."""
    rows = conn.execute(f"SELECT {layout.snapshot_json} FROM snapshot WHERE id = 1").fetchall()
    return snapshot_as_text(rows[0][0]) if rows else None


def put_snapshot(conn: sqlite3.Connection, layout: Layout, text: str) -> None:
    """Replace the snapshot with `text` (from `encode_snapshot`, which refuses what the daemon
    could not read)."""
    col = layout.snapshot_json
    conn.execute(f"INSERT INTO snapshot (id, {col}) VALUES (1, ?) "
                 f"ON CONFLICT(id) DO UPDATE SET {col} = excluded.{col}", (text,))


def delete_snapshot(conn: sqlite3.Connection) -> None:
    """Remove the snapshot row (what the daemon finds after a clean shutdown)."""
    conn.execute("DELETE FROM snapshot WHERE id = 1")
