"""Notes of a recovery report: counters kept while the log is read (`_Notes`), and their
sentences (`describe_notes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..describe import format_duration
from ..diagnose import CLOCK_TOLERANCE

if TYPE_CHECKING:
    from ..store import SqliteStore
    from .state import _State


class _Notes:
    """Counters for the notes (count, first id, detail)."""

    def __init__(self) -> None:
        self.items: dict[str, list[Any]] = {}

    def add(self, key: str, row_id: int, detail: object = None) -> None:
        item = self.items.get(key)
        if item is None:
            self.items[key] = [1, row_id, detail, row_id]
        elif item[3] != row_id:  # one row counts once
            item[0] += 1
            item[3] = row_id



def describe_notes(state: _State, store: SqliteStore) -> tuple[str, ...]:
    """The report's notes: what the log lacks, and the rows it read that were odd."""
    notes: list[str] = []
    items = state.notes.items
    first_start = next((r.started_id for r in state.runs if r.started_id is not None),
                       None)
    if state.floor == 0 and state.first_seen is not None and (
            first_start is None or first_start > state.first_seen or
            _rows_before(store, first_start)):
        notes.append(
            "The log does not begin with the service starting"
            + (f" (its first start is id {first_start})" if first_start else
               " (it has no service start at all)")
            + ": older rows were probably deleted. Sessions before it cannot be followed "
            "from their start, and days before it cannot be checked completely.")
    texts = {
        "clock": "the clock went back by more than {tol} {n} (first: by {d} between ids "
                 "{a} and {b}); times and bounds around it may be wrong",
        "duplicate": "{n} session start{s} reuse{v} a session id already started "
                     "(first: id {b}, session {x})",
        "no_start": "{n} session end{s} name{v} a session the log never started (first: "
                    "id {b}, session {x}); its start was probably deleted",
        "ended_twice": "{n} session end{s} repeat{v} an earlier end of the same session "
                       "(first: id {b}, session {x}); only the first is counted",
        "late_end": "{n} session{s} ended after the service had stopped or restarted "
                    "(first: id {b}, session {x})",
        "stray": "{n} extension{s} name{v} a session that is not running (first: id {b})",
        "overlap": "{n} session{s} started while another was still running (first: id "
                   "{b}); the earlier one is treated as interrupted then",
        "while_stopped": "{n} session{s} started while the service was stopped (no "
                         "service_started before; first: id {b})",
        "stop_alone": "{n} service_stopped row{s} end{v} no run (first: id {b})",
        "malformed": "{n} row{s} cannot be read and {w} ignored (first: id {b}: {x})",
        "unknown": "{n} row{s} {h} an event type this library does not know (first: id "
                   "{b}, type {x}), perhaps from a newer service; {w} ignored",
        "bad_time": "{n} row{s} {h} a time that cannot be read (first: id {b})",
    }
    for key, template in texts.items():
        item = items.get(key)
        if item is None:
            continue
        n, first, detail, _last = item
        one = n == 1
        a = d = ""
        x = detail
        if key == "clock":
            a, delta = detail
            d = format_duration(delta)
        notes.append(_cap(template.format(
            n="once" if key == "clock" and one else (f"{n} times" if key == "clock" else n),
            s="" if one else "s", v="s" if one else "", w="it is" if one else "they are",
            h="has" if one else "have", b=first, a=a, d=d, x=x,
            tol=format_duration(CLOCK_TOLERANCE))) + ".")
    return tuple(notes)


def _rows_before(store: SqliteStore, first_start: int) -> bool:
    rows = store._read("SELECT 1 FROM audit_log WHERE id < ? LIMIT 1", (first_start,))
    return bool(rows)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
