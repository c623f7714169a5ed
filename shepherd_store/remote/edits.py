"""Edits made from another computer: the manual overrides of `overrides.py`, each applied at
most once however often it is sent.

Each edit carries an `edit_id` the client made. The edit runs through the same override
function as a local one (one transaction: the expected-value check, the write, the trace),
on a short-lived writable store whose traces name who edited from where (`alice@laptop via
SSH as root`) and carry the `edit_id` as one more key of the trace's JSON (the trace is a
`manual_override` audit event in the seed layout, a row of our side table
`inspector_overrides` in a Rust-layout database: the daemon reads neither, and our decoder
ignores keys it does not know). Inside that same transaction, before anything is written,
the traces are searched for the `edit_id`: an edit already applied is not applied again,
and its first outcome is rebuilt from its traces (`AlreadyApplied`), so a retry after a
dropped connection answers as the first attempt did.

An edit that changed nothing (a cooldown set to the value it had) leaves no trace, so a
retry of it is checked and applied again, which again changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import overrides
from ..errors import NotFoundError, ProtocolError
from ..events import ManualOverride, decode_event
from ..schema import Layout
from ..store import SqliteStore

__all__ = ["EDITS", "EDIT_KEY", "AlreadyApplied", "EditStore", "apply_edit", "edit_traces"]

#: The key of a trace's JSON that holds the id of the remote edit that made it.
EDIT_KEY = "edit_id"


class AlreadyApplied(Exception):  # (a signal inside the server, never raised to a caller)
    """The edit's id is in the log already: nothing is written again."""

    def __init__(self, traces: list[ManualOverride]) -> None:
        super().__init__("already applied")
        self.traces = traces


class EditStore(SqliteStore):
    """A writable store for one remote edit: its traces name `who` and carry `edit_id`, and
    its override transactions first look for traces of `edit_id`."""

    who = ""
    edit_id = ""

    def trace_user(self) -> str:
        return self.who

    def trace_extra(self) -> dict[str, str]:
        return {EDIT_KEY: self.edit_id}

    @contextlib.contextmanager
    def override(self, action: str) -> Iterator[sqlite3.Connection]:
        """The override's transaction, refused with `AlreadyApplied` (nothing written) when
        the log holds the edit's traces already."""
        with super().override(action) as conn:
            found = edit_traces(conn, self.layout, self.edit_id)
            if found:
                raise AlreadyApplied(found)
            yield conn


def edit_traces(conn: sqlite3.Connection, layout: Layout, edit_id: str) -> list[ManualOverride]:
    """The traces the edit `edit_id` left, oldest first (a few rows: overrides are rare)."""
    if layout is Layout.SEED:
        sql = ("SELECT event_data FROM audit_log WHERE event_type = 'manual_override' "
               "AND json_valid(event_data) AND json_extract(event_data, '$.edit_id') = ? "
               "ORDER BY id")
    else:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                              "AND name = 'inspector_overrides'").fetchall()
        if not exists:
            return []
        sql = ("SELECT event_json FROM inspector_overrides WHERE json_valid(event_json) "
               "AND json_extract(event_json, '$.edit_id') = ? ORDER BY id")
    out = []
    for (text,) in conn.execute(sql, (edit_id,)).fetchall():
        event = decode_event(text)
        if isinstance(event, ManualOverride):
            out.append(event)
    return out


# --- the edits: how each is applied, and its outcome rebuilt from its traces ----------------


def _new_of(traces: list[ManualOverride], what: str) -> str | None:
    for trace in traces:
        if trace.what != what:
            raise ProtocolError(f"this edit id was used for a {trace.what} change, not a "
                                f"{what} change; make a new id for a new edit")
    return traces[-1].new


def _cooldowns(store: SqliteStore, a: Mapping[str, Any]) -> Any:
    return overrides.apply_cooldowns(store, a["changes"])


def _cooldowns_again(traces: list[ManualOverride], a: Mapping[str, Any]) -> Any:
    _new_of(traces, "cooldown")
    new = {t.entry_id: t.new for t in traces}
    # (an entry set to the value it had was not traced: its outcome is that value)
    return {c.entry_id: new.get(c.entry_id, c.expected) for c in a["changes"]}


def _usage_again(traces: list[ManualOverride], a: Mapping[str, Any]) -> Any:
    new = _new_of(traces, "usage")
    total = json.loads(new or "{}").get("duration_secs")
    if not isinstance(total, int):
        raise ProtocolError("the usage trace of this edit does not hold the new total")
    return total


#: op -> (apply it on a writable store, its outcome from the traces it left)
EDITS: dict[str, tuple[Callable[[SqliteStore, Mapping[str, Any]], Any],
                       Callable[[list[ManualOverride], Mapping[str, Any]], Any]]] = {
    "apply_cooldowns": (_cooldowns, _cooldowns_again),
    "set_cooldown": (
        lambda s, a: overrides.set_cooldown(s, a["entry_id"], a["until"],
                                            expected=a["expected"]),
        lambda t, _a: _new_of(t, "cooldown")),
    "clear_cooldown": (
        lambda s, a: overrides.clear_cooldown(s, a["entry_id"], expected=a["expected"]),
        lambda t, _a: _new_of(t, "cooldown")),
    "add_usage": (
        lambda s, a: overrides.add_usage(s, a["entry_id"], a["day"], a["seconds"],
                                         reason=a["reason"]),
        _usage_again),
    "save_snapshot": (
        lambda s, a: overrides.save_snapshot(s, a["snapshot"], expected=a["expected"]),
        lambda t, _a: _new_of(t, "snapshot")),
    "save_snapshot_text": (
        lambda s, a: overrides.save_snapshot_text(s, a["text"], expected=a["expected"]),
        lambda t, _a: _new_of(t, "snapshot")),
    "clear_active_session": (
        lambda s, a: overrides.clear_active_session(s, expected=a["expected"],
                                                    now=a.get("now")),
        lambda t, _a: _new_of(t, "snapshot")),
    "delete_snapshot": (
        lambda s, a: overrides.delete_snapshot(s, expected=a["expected"]),
        lambda t, _a: _new_of(t, "snapshot")),
}


def apply_edit(path: str, op: str, args: Mapping[str, Any], *, who: str,
               edit_id: str) -> tuple[Any, bool]:
    """Apply the edit `op` to the database at `path` once: (its outcome, whether it had been
    applied before and this is its first outcome again)."""
    if not Path(path).expanduser().exists():  # (a writable open would create it)
        raise NotFoundError(f"{path} does not exist; nothing to change.", path=path)
    apply, again = EDITS[op]
    store = EditStore.open(path)
    assert isinstance(store, EditStore)
    try:
        store.who, store.edit_id = who, edit_id
        try:
            return apply(store, args), False
        except AlreadyApplied as done:
            return again(done.traces, args), True
    finally:
        store.close()
