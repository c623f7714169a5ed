"""The typed values that cross the wire, and their JSON form.

Only the library's own records cross, each by name from one registry (`RECORDS`): audit
events (the stored texts and the decoded event, exactly as the local store gives them),
filters, pages, usage and cooldown records, change tokens, snapshots, override records,
recovery reports, check reports, policies. A record is `{"$": "Name", "f": {field: value}}`,
built field by field from its dataclass, so a field added to a record crosses without a
codec to update, and `schema_digest` (the records' names and fields) tells two libraries
whose records differ apart at the handshake.

The JSON types stand for themselves (a list is a list); everything else is tagged:
`{"$dt": iso}` an aware or naive datetime (its offset kept), `{"$date": "YYYY-MM-DD"}`,
`{"$td": [days, seconds, microseconds]}`, `{"$tuple": [...]}`, `{"$set": [...]}` (a
frozenset), `{"$map": [[key, value], ...]}` (any dict: keys need not be text),
`{"$bytes": base64}`, `{"$enum": "Layout", "v": "rust"}`. Decoding builds only registered
types and refuses anything else with `ProtocolError`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from ..check import CheckReport, RowProblem
from ..errors import ProtocolError, SerializationError
from ..events import EVENT_TYPES, REASON_TYPES, AuditEvent, UnknownEvent
from ..overrides import CooldownChange
from ..policy import Policy, PolicyEntry
from ..query import AuditFilter, AuditPage
from ..recovery import RecoveredSession, RecoveryFinding, RecoveryReport, Run
from ..schema import Layout
from ..sessions import Session, SessionFilter, SessionPage, SessionUpdate
from ..snapshot import SessionSnapshot, StateSnapshot
from ..store import ChangeToken, CooldownRecord, OverrideRecord, UsageRecord

__all__ = ["ENUMS", "RECORDS", "decode_value", "encode_value", "schema_digest"]

#: Every record that may cross, by class name.
_RECORD_TYPES: tuple[type[Any], ...] = (
    AuditEvent, *EVENT_TYPES.values(), UnknownEvent, *REASON_TYPES.values(), AuditFilter,
    AuditPage, UsageRecord, CooldownRecord, ChangeToken, OverrideRecord, StateSnapshot,
    SessionSnapshot, CooldownChange, RecoveryReport, Run, RecoveredSession, RecoveryFinding,
    CheckReport, RowProblem, Policy, PolicyEntry, Session, SessionFilter, SessionPage,
    SessionUpdate)
RECORDS: dict[str, type[Any]] = {cls.__name__: cls for cls in _RECORD_TYPES}
#: Every enumeration that may cross, by class name.
ENUMS: dict[str, type[Enum]] = {cls.__name__: cls for cls in (Layout,)}
#: How deep values may nest (a report holds runs holding sessions: about six).
MAX_DEPTH = 32

_digest: str | None = None


def schema_digest() -> str:
    """A digest of every record's name and fields and every enumeration's values: equal on
    both sides exactly when each can build what the other sends."""
    global _digest
    if _digest is None:
        parts = [f"{name}({','.join(f.name for f in dataclasses.fields(cls))})"
                 for name, cls in sorted(RECORDS.items())]
        parts += [f"{name}[{','.join(str(m.value) for m in cls)}]"
                  for name, cls in sorted(ENUMS.items())]
        _digest = hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]
    return _digest


def encode_value(value: Any, depth: int = 0) -> Any:
    """The JSON form of `value`; raises `SerializationError` for a type that does not cross."""
    if depth > MAX_DEPTH:
        raise SerializationError("a value nests too deeply to send")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$td": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Enum) and ENUMS.get(type(value).__name__) is type(value):
        return {"$enum": type(value).__name__, "v": value.value}
    if dataclasses.is_dataclass(value) and RECORDS.get(type(value).__name__) is type(value):
        return {"$": type(value).__name__,
                "f": {f.name: encode_value(getattr(value, f.name), depth + 1)
                      for f in dataclasses.fields(value)}}
    if isinstance(value, list):
        return [encode_value(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode_value(v, depth + 1) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$set": [encode_value(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"$map": [[encode_value(k, depth + 1), encode_value(v, depth + 1)]
                         for k, v in value.items()]}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise SerializationError(f"a {type(value).__name__} cannot be sent to the other side")


def decode_value(obj: Any, depth: int = 0) -> Any:
    """The value `encode_value` gave `obj` for; raises `ProtocolError` for anything else."""
    if depth > MAX_DEPTH:
        raise ProtocolError("a value nests too deeply")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, list):
        return [decode_value(v, depth + 1) for v in obj]
    if not isinstance(obj, dict) or len(obj) not in (1, 2):
        raise ProtocolError(f"not a value this side knows: {str(obj)[:120]}")
    try:
        return _decode_tagged(obj, depth)
    except (TypeError, ValueError, KeyError, AttributeError, binascii.Error) as exc:
        raise ProtocolError(f"malformed value {str(obj)[:120]}: {exc}") from None


def _decode_tagged(obj: dict[str, Any], depth: int) -> Any:
    if "$" in obj:
        cls = RECORDS.get(obj["$"])
        fields = obj.get("f")
        if cls is None or not isinstance(fields, dict):
            raise ProtocolError(f"not a record this side knows: {str(obj.get('$'))[:60]}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(fields) - known
        if unknown:
            raise ProtocolError(f"{cls.__name__} has no field {sorted(unknown)[0]!r}")
        return cls(**{k: decode_value(v, depth + 1) for k, v in fields.items()})
    if "$enum" in obj:
        enum = ENUMS.get(obj["$enum"])
        if enum is None:
            raise ProtocolError(f"not an enumeration this side knows: {str(obj['$enum'])[:60]}")
        return enum(obj["v"])
    ((tag, raw),) = obj.items()
    if tag == "$dt":
        return datetime.fromisoformat(raw)
    if tag == "$date":
        return date.fromisoformat(raw)
    if tag == "$td":
        days, seconds, micros = raw
        return timedelta(days=days, seconds=seconds, microseconds=micros)
    if tag == "$tuple":
        return tuple(decode_value(v, depth + 1) for v in _items(raw))
    if tag == "$set":
        return frozenset(decode_value(v, depth + 1) for v in _items(raw))
    if tag == "$map":
        return {decode_value(k, depth + 1): decode_value(v, depth + 1) for k, v in _items(raw)}
    if tag == "$bytes":
        return base64.b64decode(raw, validate=True)
    raise ProtocolError(f"unknown value tag {tag[:40]!r}")


def _items(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise TypeError("expected a list")
    return raw
