"""The manual changes recovery looks at: the Rust layout's side table read into the state,
the repairs recorded (`resolved`) and the usage changed by hand (`adjustments`).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ..events import ManualOverride, decode_event
from ..schema import Layout
from .rows import _SEP, _uint

if TYPE_CHECKING:
    from ..store import SqliteStore
    from .state import _State

#: Usage-change reasons and recorded JSON: what marks a recorded repair.
REPAIR_WHAT = "usage"
_UUID_IN_TEXT = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def read_side_overrides(store: SqliteStore, state: _State) -> None:
    """Rust layout: new rows of `inspector_overrides` (the seed layout's are log rows)."""
    if store.layout is not Layout.RUST:
        return
    exists = store._read("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                         "AND name = 'inspector_overrides'")
    if not exists:
        return
    top = store._read("SELECT max(id) FROM inspector_overrides")[0][0]
    if not isinstance(top, int) or top <= state.side_last:
        return
    for _hi, rows in store.read_id_ranges(
            "SELECT id, timestamp, event_json FROM inspector_overrides "
            "WHERE id > ? AND id <= ? ORDER BY id", state.side_last, top, columns=3,
            action="read the manual changes of"):
        for rid, _ts, text in rows:
            state.side_last = int(rid)
            event = decode_event(text)
            if isinstance(event, ManualOverride):
                state.overrides.append((-int(rid), event))  # negative: not a log id


def resolved(state: _State) -> dict[str, int]:
    """Sessions a repair was recorded for -> the seconds it credited."""
    out: dict[str, int] = {}
    for _rid, change in state.overrides:
        if change.what != REPAIR_WHAT or not change.new:
            continue
        data = _json_object(change.new)
        added = data.get("added_secs")
        sid = data.get("session_id")
        sids = [sid] if isinstance(sid, str) else _UUID_IN_TEXT.findall(change.new)
        for one in sids:
            out[one] = added if isinstance(added, int) and _uint(added) else 0
    return out


def adjustments(state: _State) -> dict[str, int]:
    """Seconds added (or removed) by hand per (entry, day): manual usage changes, and the
    repairs of interrupted sessions (play no `session_ended` holds); not the repairs of
    `usage_lost`, which restore what the ended sessions hold."""
    out: dict[str, int] = {}
    for _rid, change in state.overrides:
        if change.what != "usage" or not change.new or not change.entry_id:
            continue
        data = _json_object(change.new)
        if data.get("repair") == "usage_lost":
            continue  # it restored the ended sessions' usage: no change by hand
        day, added = data.get("day"), data.get("added_secs")
        if isinstance(day, str) and isinstance(added, int) and not isinstance(added, bool):
            key = change.entry_id + _SEP + day
            out[key] = out.get(key, 0) + added
    return out


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}
