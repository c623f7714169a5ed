"""The crash-recovery state snapshot: one row the daemon rewrites while a session runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import SerializationError
from .events import U64_MAX, dumps, is_uuid
from .timefmt import format_timestamp, parse_json_timestamp


@dataclass(frozen=True)
class SessionSnapshot:
    """The session that was running when the snapshot was taken."""

    session_id: str
    entry_id: str
    started_at: datetime
    deadline: datetime
    warnings_issued: tuple[int, ...] = ()


@dataclass(frozen=True)
class StateSnapshot:
    """What the daemon saved at `timestamp`; `active_session` None means nothing ran."""

    timestamp: datetime
    active_session: SessionSnapshot | None = None


def encode_snapshot(snapshot: StateSnapshot) -> str:
    """JSON text of a snapshot; raise SerializationError for what the daemon cannot read."""
    if not isinstance(snapshot, StateSnapshot):
        raise SerializationError(f"expected a StateSnapshot, got {type(snapshot).__name__}")
    try:
        return dumps(_snapshot_obj(snapshot))
    except ValueError as exc:
        raise SerializationError(f"refusing to save the snapshot: {exc}") from None


def _snapshot_obj(snapshot: StateSnapshot) -> dict[str, Any]:
    session = snapshot.active_session
    active: dict[str, Any] | None = None
    if session is not None:
        if not isinstance(session, SessionSnapshot):
            raise ValueError("active_session must be a SessionSnapshot or None")
        _check_uuid(session.session_id)
        if not isinstance(session.entry_id, str):
            raise ValueError("active_session.entry_id must be a string")
        if session.deadline is None:
            raise ValueError("active_session.deadline must be set: the daemon cannot read null")
        warnings = list(session.warnings_issued)
        for w in warnings:
            if not isinstance(w, int) or isinstance(w, bool) or not 0 <= w <= U64_MAX:
                raise ValueError(f"warnings_issued must hold non-negative integers, got {w!r}")
        active = {
            "session_id": session.session_id,
            "entry_id": session.entry_id,
            "started_at": format_timestamp(session.started_at, zulu=True),
            "deadline": format_timestamp(session.deadline, zulu=True),
            "warnings_issued": warnings,
        }
    return {"timestamp": format_timestamp(snapshot.timestamp, zulu=True), "active_session": active}


def _check_uuid(value: object) -> None:
    if not isinstance(value, str):
        raise ValueError("active_session.session_id must be a UUID string")
    if not is_uuid(value):
        raise ValueError(f"active_session.session_id is not a UUID: {value[:64]!r}")


def decode_snapshot(text: object) -> StateSnapshot:
    """Parse snapshot JSON as the daemon would; raise SerializationError naming the problem."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if not isinstance(text, str):
            raise ValueError("the snapshot is not text")
        obj = json.loads(text)
        if not isinstance(obj, dict):
            raise ValueError("the snapshot is not a JSON object")
        timestamp = parse_json_timestamp(obj.get("timestamp"))
        raw = obj.get("active_session")
        session = None
        if raw is not None:
            if not isinstance(raw, dict):
                raise ValueError("active_session must be an object or null")
            _check_uuid(raw.get("session_id"))
            if not isinstance(raw.get("entry_id"), str):
                raise ValueError("active_session.entry_id must be a string")
            if raw.get("deadline") is None:
                raise ValueError("active_session.deadline is missing or null")
            warnings = raw.get("warnings_issued")
            if not isinstance(warnings, list) or not all(
                isinstance(w, int) and not isinstance(w, bool) and 0 <= w <= U64_MAX
                for w in warnings
            ):
                raise ValueError("active_session.warnings_issued must be a list of integers")
            session = SessionSnapshot(
                session_id=raw["session_id"],
                entry_id=raw["entry_id"],
                started_at=parse_json_timestamp(raw.get("started_at")),
                deadline=parse_json_timestamp(raw["deadline"]),
                warnings_issued=tuple(warnings),
            )
        return StateSnapshot(timestamp=timestamp, active_session=session)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise SerializationError(f"the saved snapshot cannot be read: {exc}"[:400]) from None
