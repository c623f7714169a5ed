"""Edits made from another computer: the manual overrides of `overrides.py` and recovery's
repairs, each applied at most once however often it is sent.

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

Recovery's repairs (`repair`, `repair_usage_lost`, `repair_cooldown`) are edits too: they
open their transaction with the same `override`, so the lookup comes first in it there as
well. A repair also checks, before its transaction, that its finding is still unresolved: a
retry of a repair already applied is answered from its traces there too, not with "already
recorded". A repair asked to set the cooldown that found a later one stored writes no
cooldown trace; its usage trace keeps the stored cooldown (`COOLDOWN_KEY`) for the answer.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import overrides, recovery
from ..errors import NotFoundError, ProtocolError
from ..events import ManualOverride, decode_event
from ..recovery import RecoveryConflict, RepairResult
from ..recovery.changes import REPAIR_WHAT
from ..schema import Layout
from ..store import SqliteStore
from ..store_writes import stored_cooldown
from ..timefmt import parse_day, parse_timestamp

__all__ = ["COOLDOWN_KEY", "EDITS", "EDIT_KEY", "AlreadyApplied", "EditStore", "apply_edit",
           "edit_traces"]

#: The key of a trace's JSON that holds the id of the remote edit that made it.
EDIT_KEY = "edit_id"
#: The key of a repair's usage trace that holds the cooldown stored when it was written (a
#: repair asked to set one that was already later).
COOLDOWN_KEY = "cooldown_stored"


class AlreadyApplied(Exception):  # (a signal inside the server, never raised to a caller)
    """The edit's id is in the log already: nothing is written again. `traces` are its
    traces, `kept` the keys of ours their JSON holds (`COOLDOWN_KEY`)."""

    def __init__(self, traces: list[ManualOverride], kept: dict[str, Any] | None = None) -> None:
        super().__init__("already applied")
        self.traces = traces
        self.kept = kept or {}


class EditStore(SqliteStore):
    """A writable store for one remote edit: its traces name `who` and carry `edit_id`, and
    its override transactions first look for traces of `edit_id`."""

    who = ""
    edit_id = ""
    #: A repair asked to set the cooldown: its usage trace keeps the stored one.
    keeps_cooldown = False
    _kept: dict[str, str] | None = None

    def trace_user(self) -> str:
        return self.who

    def trace_extra(self) -> dict[str, str]:
        return {EDIT_KEY: self.edit_id, **(self._kept or {})}

    def record_override(self, conn: sqlite3.Connection, what: str, entry_id: str | None,
                        previous: str | None, new: str | None) -> None:
        """The trace, which for a repair's usage with `keeps_cooldown` holds the stored
        cooldown (in the transaction, before the repair looks at it)."""
        stored = None
        if self.keeps_cooldown and what == REPAIR_WHAT and entry_id is not None:
            stored = stored_cooldown(conn, entry_id)
        self._kept = None if stored is None else {COOLDOWN_KEY: stored}
        try:
            super().record_override(conn, what, entry_id, previous, new)
        finally:
            self._kept = None

    @contextlib.contextmanager
    def override(self, action: str) -> Iterator[sqlite3.Connection]:
        """The override's transaction, refused with `AlreadyApplied` (nothing written) when
        the log holds the edit's traces already."""
        with super().override(action) as conn:
            _raise_if_applied(conn, self.layout, self.edit_id)
            yield conn

    def raise_if_applied(self) -> None:
        """`AlreadyApplied` when the log holds the edit's traces (one short read)."""
        with self._lock:
            self._check_open()
            _raise_if_applied(self._conn, self.layout, self.edit_id)


def _raise_if_applied(conn: sqlite3.Connection, layout: Layout, edit_id: str) -> None:
    found = _edit_rows(conn, layout, edit_id)
    if found:
        kept: dict[str, Any] = {}
        for _trace, extra in found:
            kept.update(extra)
        raise AlreadyApplied([trace for trace, _extra in found], kept)


def edit_traces(conn: sqlite3.Connection, layout: Layout, edit_id: str) -> list[ManualOverride]:
    """The traces the edit `edit_id` left, oldest first (a few rows: overrides are rare)."""
    return [trace for trace, _kept in _edit_rows(conn, layout, edit_id)]


def _edit_rows(conn: sqlite3.Connection, layout: Layout, edit_id: str
               ) -> list[tuple[ManualOverride, dict[str, Any]]]:
    """The traces of `edit_id`, each with the keys of ours its JSON holds."""
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
            kept = json.loads(text).get(COOLDOWN_KEY)
            out.append((event, {} if kept is None else {COOLDOWN_KEY: kept}))
    return out


# --- the edits: how each is applied, and its outcome rebuilt from its traces ----------------


def _new_of(traces: list[ManualOverride], what: str) -> str | None:
    _only(traces, what)
    return traces[-1].new


def _only(traces: list[ManualOverride], *whats: str) -> None:
    """Refuse traces of another kind of change than `whats` (an edit id used again)."""
    for trace in traces:
        if trace.what not in whats:
            raise ProtocolError(f"this edit id was used for a {trace.what} change, not a "
                                f"{' or '.join(whats)} change; make a new id for a new edit")


def _cooldowns(store: SqliteStore, a: Mapping[str, Any]) -> Any:
    return overrides.apply_cooldowns(store, a["changes"])


def _cooldowns_again(done: AlreadyApplied, a: Mapping[str, Any]) -> Any:
    _new_of(done.traces, "cooldown")
    new = {t.entry_id: t.new for t in done.traces}
    # (an entry set to the value it had was not traced: its outcome is that value)
    return {c.entry_id: new.get(c.entry_id, c.expected) for c in a["changes"]}


def _usage_again(done: AlreadyApplied, a: Mapping[str, Any]) -> Any:
    new = _new_of(done.traces, "usage")
    total = json.loads(new or "{}").get("duration_secs")
    if not isinstance(total, int):
        raise ProtocolError("the usage trace of this edit does not hold the new total")
    return total


def _repair(store: SqliteStore, a: Mapping[str, Any]) -> RepairResult:
    """`recovery.repair`; a refusal before its transaction (the finding resolved, in a
    report read anew) is looked at again: the edit's own traces answer a retry."""
    assert isinstance(store, EditStore)
    store.keeps_cooldown = a["cooldown"]
    try:
        return recovery.repair(store, a["session_id"], seconds=a["seconds"],
                               cooldown=a["cooldown"], policy=a["policy"],
                               finding=a["finding"], report=a["report"])
    except RecoveryConflict:
        store.raise_if_applied()
        raise


def _repair_again(done: AlreadyApplied, a: Mapping[str, Any]) -> RepairResult:
    """The `RepairResult` that `repair` (or `repair_usage_lost`: no session) answered first:
    from its usage trace (the day, the seconds added, the usage before and after) and its
    cooldown trace, if any."""
    _only(done.traces, "usage", "cooldown")
    usage = [t for t in done.traces if t.what == "usage"]
    cooldown = [t for t in done.traces if t.what == "cooldown"]
    session_id = a.get("session_id")
    new = json.loads(usage[0].new or "{}") if len(usage) == 1 else {}
    if new.get("session_id") != session_id or len(cooldown) > 1 or not new \
            or usage[0].entry_id is None:
        raise ProtocolError("this edit id was used for another change; make a new id for a "
                            "new edit")
    before = json.loads(usage[0].previous)["duration_secs"] if usage[0].previous else 0
    until = old = note = None
    if cooldown:
        until, old = parse_timestamp(cooldown[0].new), cooldown[0].previous
    elif a.get("cooldown"):  # asked for, and the stored one was later (`repairs`' words)
        old = done.kept.get(COOLDOWN_KEY)
        note = f"the stored cooldown ({old}) already lasts until then or later"
    return RepairResult(session_id, usage[0].entry_id, parse_day(new["day"]),
                        new["added_secs"], before, new["duration_secs"], until, old, note)


def _cooldown_repair_again(done: AlreadyApplied, a: Mapping[str, Any]) -> RepairResult:
    """The `RepairResult` that `repair_cooldown` answered first (the finding's cooldown)."""
    _only(done.traces, "cooldown")
    f = a["finding"]
    return RepairResult(f.session_id, f.entry_id, f.cooldown_until.date(), 0, 0, 0,
                        f.cooldown_until, done.traces[-1].previous)


#: op -> (apply it on a writable store, its outcome from the traces it left)
EDITS: dict[str, tuple[Callable[[SqliteStore, Mapping[str, Any]], Any],
                       Callable[[AlreadyApplied, Mapping[str, Any]], Any]]] = {
    "apply_cooldowns": (_cooldowns, _cooldowns_again),
    "set_cooldown": (
        lambda s, a: overrides.set_cooldown(s, a["entry_id"], a["until"],
                                            expected=a["expected"]),
        lambda d, _a: _new_of(d.traces, "cooldown")),
    "clear_cooldown": (
        lambda s, a: overrides.clear_cooldown(s, a["entry_id"], expected=a["expected"]),
        lambda d, _a: _new_of(d.traces, "cooldown")),
    "add_usage": (
        lambda s, a: overrides.add_usage(s, a["entry_id"], a["day"], a["seconds"],
                                         reason=a["reason"]),
        _usage_again),
    "save_snapshot": (
        lambda s, a: overrides.save_snapshot(s, a["snapshot"], expected=a["expected"]),
        lambda d, _a: _new_of(d.traces, "snapshot")),
    "save_snapshot_text": (
        lambda s, a: overrides.save_snapshot_text(s, a["text"], expected=a["expected"]),
        lambda d, _a: _new_of(d.traces, "snapshot")),
    "clear_active_session": (
        lambda s, a: overrides.clear_active_session(s, expected=a["expected"],
                                                    now=a.get("now")),
        lambda d, _a: _new_of(d.traces, "snapshot")),
    "delete_snapshot": (
        lambda s, a: overrides.delete_snapshot(s, expected=a["expected"]),
        lambda d, _a: _new_of(d.traces, "snapshot")),
    "repair": (_repair, _repair_again),
    "repair_usage_lost": (
        lambda s, a: recovery.repair_usage_lost(s, a["finding"]),
        lambda d, _a: _repair_again(d, {})),
    "repair_cooldown": (
        lambda s, a: recovery.repair_cooldown(s, a["finding"]), _cooldown_repair_again),
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
            return again(done, args), True
    finally:
        store.close()
