"""Audit event types and their JSON, exactly as serde writes them in the Rust daemon.

Every variant is a frozen dataclass whose fields carry a *kind* (string, UUID, unsigned int,
timestamp, duration, ...). One generic encoder and one generic decoder walk those kinds, so
the rules of DESIGN.md ("What the Rust daemon cannot read") live in one place and apply to
writes in both layouts. Decoding never raises for a single bad row: it yields an
`UnknownEvent` (flagged `malformed` when the row is broken rather than merely newer).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeAlias

from .errors import SerializationError
from .timefmt import (
    format_duration,
    format_timestamp,
    local_now,
    parse_duration,
    parse_json_timestamp,
)

_HYPHENATED = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
#: The forms the daemon's `uuid` crate parses (simple, hyphenated, braced, URN); Python's
#: `uuid.UUID` accepts more (hyphens anywhere, `urn:`/`uuid:` prefixes, nested braces).
_RUST_UUID = re.compile(
    rf"[0-9a-fA-F]{{32}}|{_HYPHENATED}|\{{{_HYPHENATED}\}}|urn:uuid:{_HYPHENATED}")

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def _kind(name: str, *, optional: bool = False) -> Any:
    """Field metadata: how the value is checked and converted to and from JSON."""
    return field(metadata={"kind": name, "optional": optional})


# --- Session end reasons -----------------------------------------------------------------


@dataclass(frozen=True)
class Expired:
    """The session reached its deadline."""

    TYPE: ClassVar[str] = "expired"


@dataclass(frozen=True)
class UserStop:
    """The child stopped the application."""

    TYPE: ClassVar[str] = "user_stop"


@dataclass(frozen=True)
class AdminStop:
    """A parent stopped the session."""

    TYPE: ClassVar[str] = "admin_stop"


@dataclass(frozen=True)
class ProcessExited:
    """The application's process exited on its own (exit code unknown when None)."""

    exit_code: int | None = _kind("i32", optional=True)
    TYPE: ClassVar[str] = "process_exited"


@dataclass(frozen=True)
class PolicyStop:
    """A policy change (e.g. an availability window closing) ended the session."""

    TYPE: ClassVar[str] = "policy_stop"


@dataclass(frozen=True)
class ServiceShutdown:
    """The service shut down while the session ran."""

    TYPE: ClassVar[str] = "service_shutdown"


@dataclass(frozen=True)
class LaunchFailed:
    """The application could not be started."""

    error: str = _kind("str")
    TYPE: ClassVar[str] = "launch_failed"


SessionEndReason: TypeAlias = (
    Expired | UserStop | AdminStop | ProcessExited | PolicyStop | ServiceShutdown | LaunchFailed
)
REASON_TYPES: dict[str, type[Any]] = {
    cls.TYPE: cls
    for cls in (Expired, UserStop, AdminStop, ProcessExited, PolicyStop, ServiceShutdown,
                LaunchFailed)
}


# --- Events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceStarted:
    """shepherdd started."""

    TYPE: ClassVar[str] = "service_started"


@dataclass(frozen=True)
class ServiceStopped:
    """shepherdd stopped cleanly."""

    TYPE: ClassVar[str] = "service_stopped"


@dataclass(frozen=True)
class PolicyLoaded:
    """The policy file was (re)loaded with `entry_count` entries."""

    entry_count: int = _kind("u64")
    TYPE: ClassVar[str] = "policy_loaded"


@dataclass(frozen=True)
class SessionStarted:
    """An entry was launched; `deadline` None means unlimited."""

    session_id: str = _kind("uuid")
    entry_id: str = _kind("str")
    label: str = _kind("str")
    deadline: datetime | None = _kind("datetime", optional=True)
    TYPE: ClassVar[str] = "session_started"


@dataclass(frozen=True)
class WarningIssued:
    """The child was warned `threshold_seconds` before the deadline."""

    session_id: str = _kind("uuid")
    threshold_seconds: int = _kind("u64")
    TYPE: ClassVar[str] = "warning_issued"


@dataclass(frozen=True)
class SessionEnded:
    """A session ended after `duration`, for `reason`."""

    session_id: str = _kind("uuid")
    entry_id: str = _kind("str")
    reason: SessionEndReason = _kind("reason")
    duration: timedelta = _kind("duration")
    TYPE: ClassVar[str] = "session_ended"


@dataclass(frozen=True)
class LaunchDenied:
    """A launch was refused; `reasons` are the daemon's Debug texts."""

    entry_id: str = _kind("str")
    reasons: tuple[str, ...] = _kind("str_list")
    TYPE: ClassVar[str] = "launch_denied"


@dataclass(frozen=True)
class SessionExtended:
    """A parent extended a running session."""

    session_id: str = _kind("uuid")
    extended_by: timedelta = _kind("duration")
    new_deadline: datetime = _kind("datetime")
    TYPE: ClassVar[str] = "session_extended"


@dataclass(frozen=True)
class ConfigReloaded:
    """A configuration reload was requested; `success` tells whether it worked."""

    success: bool = _kind("bool")
    TYPE: ClassVar[str] = "config_reloaded"


@dataclass(frozen=True)
class ClientConnected:
    """A client (shell, admin tool) connected to the daemon's socket."""

    client_id: str = _kind("str")
    role: str = _kind("str")
    uid: int | None = _kind("u32", optional=True)
    TYPE: ClassVar[str] = "client_connected"


@dataclass(frozen=True)
class ClientDisconnected:
    """A client disconnected."""

    client_id: str = _kind("str")
    TYPE: ClassVar[str] = "client_disconnected"


@dataclass(frozen=True)
class ManualOverride:
    """A person changed a cooldown, the snapshot or usage by hand (this library's own type).

    `what` is `cooldown`, `snapshot` or `usage`; `previous` and `new` are the stored texts
    (None when absent). Written as an audit event only in the seed layout: the Rust daemon
    cannot read it, so Rust-layout databases keep it in a side table instead.
    """

    what: str = _kind("str")
    entry_id: str | None = _kind("str", optional=True)
    previous: str | None = _kind("str", optional=True)
    new: str | None = _kind("str", optional=True)
    user: str = _kind("str")
    TYPE: ClassVar[str] = "manual_override"


@dataclass(frozen=True)
class UnknownEvent:
    """A row the library could not decode into a known variant.

    `malformed` is False for a well-formed event of a type a newer daemon added (kept as is),
    True for a broken row (bad JSON, missing or wrong fields, bad timestamp); `error` says why.
    """

    type: str
    raw: str
    malformed: bool = False
    error: str | None = None
    TYPE: ClassVar[str] = ""


Event: TypeAlias = (
    ServiceStarted | ServiceStopped | PolicyLoaded | SessionStarted | WarningIssued
    | SessionEnded | LaunchDenied | SessionExtended | ConfigReloaded | ClientConnected
    | ClientDisconnected | ManualOverride | UnknownEvent
)

#: The variants the Rust daemon knows, by tag.
RUST_EVENT_TYPES: dict[str, type[Any]] = {
    cls.TYPE: cls
    for cls in (ServiceStarted, ServiceStopped, PolicyLoaded, SessionStarted, WarningIssued,
                SessionEnded, LaunchDenied, SessionExtended, ConfigReloaded, ClientConnected,
                ClientDisconnected)
}
#: Every variant this library decodes, by tag (the Rust ones plus its own).
EVENT_TYPES: dict[str, type[Any]] = {**RUST_EVENT_TYPES, ManualOverride.TYPE: ManualOverride}


@dataclass
class AuditEvent:
    """One row of the audit log. `id` is 0 until `append_audit` stores it."""

    id: int
    timestamp: datetime
    event: Event
    #: The stored texts (timestamp column, event JSON) when read from a database.
    raw_timestamp: str | None = field(default=None, compare=False, repr=False)
    raw_json: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def new(cls, event: Event) -> AuditEvent:
        """An event stamped now, in local time, not yet stored."""
        return cls(0, local_now(), event)

    @property
    def type(self) -> str:
        """The event's tag (`session_started`, ...), or the unknown row's tag."""
        return self.event.type if isinstance(self.event, UnknownEvent) else self.event.TYPE


# --- Encoding ----------------------------------------------------------------------------


def _check_value(kind: str, value: Any, where: str) -> Any:
    """Validate one field value and return its JSON form; raise ValueError if invalid."""
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string")
        return _check_utf8(value, where)
    if kind == "uuid":
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a UUID string")
        if not is_uuid(value):
            raise ValueError(f"{where} is not a UUID: {value[:64]!r}")
        return value
    if kind in ("u64", "u32", "i32"):
        lo, hi = {"u64": (0, U64_MAX), "u32": (0, U32_MAX), "i32": (I32_MIN, I32_MAX)}[kind]
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ValueError(f"{where} must be an integer from {lo} to {hi}, got {value!r:.40}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false")
        return value
    if kind == "datetime":
        return format_timestamp(value, zulu=True)
    if kind == "duration":
        return format_duration(value)
    if kind == "str_list":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where} must be a list of strings")
        return [_check_utf8(v, where) for v in value]
    if kind == "reason":
        cls = REASON_TYPES.get(getattr(value, "TYPE", ""))
        if cls is None or type(value) is not cls:
            raise ValueError(f"{where} must be a session end reason, got {value!r:.60}")
        return _to_json_obj(value)
    raise AssertionError(f"unknown field kind {kind}")


def is_uuid(value: object) -> bool:
    """Whether the daemon's `uuid` crate would parse `value`."""
    return isinstance(value, str) and _RUST_UUID.fullmatch(value) is not None


def _check_utf8(value: str, where: str) -> str:
    """Refuse lone surrogates: SQLite cannot store them and serde_json rejects them."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where} contains a lone surrogate, not valid UTF-8") from None
    return value


#: Per class: (field name, kind, optional, "type.field") - `fields()` is slow on hot paths.
_SPECS: dict[type[Any], tuple[tuple[str, str, bool, str], ...]] = {}


def _specs(cls: type[Any]) -> tuple[tuple[str, str, bool, str], ...]:
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = tuple(
            (f.name, f.metadata["kind"], f.metadata["optional"], f"{cls.TYPE}.{f.name}")
            for f in fields(cls))
    return spec


def _to_json_obj(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": obj.TYPE}
    for name, kind, optional, where in _specs(type(obj)):
        value = getattr(obj, name)
        if value is None and optional:
            out[name] = None
            continue
        out[name] = _check_value(kind, value, where)
    return out


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(obj: dict[str, Any]) -> str:
    """JSON text the way serde_json writes it: compact, UTF-8, no NaN."""
    return _check_utf8(_ENCODER.encode(obj), "the JSON text")


def encode_event(event: Event, *, rust: bool = False) -> str:
    """The tagged JSON text of an event; raise SerializationError for what must not be written.

    With `rust`, only the variants the Rust daemon can read are accepted.
    """
    if isinstance(event, UnknownEvent):
        if rust:
            raise SerializationError(
                f"refusing to write an event of unknown type {event.type!r}: the Rust daemon "
                "would fail to read the whole audit log around it"
            )
        if event.malformed:
            raise SerializationError("refusing to write a malformed event back to the log")
        return event.raw
    known = RUST_EVENT_TYPES if rust else EVENT_TYPES
    if known.get(getattr(event, "TYPE", "")) is not type(event):
        raise SerializationError(
            f"refusing to write {type(event).__name__}: "
            + ("the Rust daemon cannot read this event type; it would fail to read the log"
               if rust else "not an audit event variant")
        )
    try:
        return dumps(_to_json_obj(event))
    except ValueError as exc:
        raise SerializationError(f"refusing to write {event.TYPE}: {exc}") from None


# --- Decoding ----------------------------------------------------------------------------


def _from_json_value(kind: str, value: Any, where: str) -> Any:
    if kind == "datetime":
        try:
            return parse_json_timestamp(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    if kind == "duration":
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    if kind == "reason":
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be an object with a type")
        cls = REASON_TYPES.get(value.get("type"))  # type: ignore[arg-type]
        if cls is None:
            raise ValueError(f"{where} has an unknown type {value.get('type')!r:.40}")
        return _from_json_obj(cls, value)
    if kind == "str_list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where} must be a list of strings")
        return tuple(value)
    return _check_value(kind, value, where)


def _from_json_obj(cls: type[Any], obj: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for name, kind, optional, where in _specs(cls):
        value = obj.get(name)
        if value is None:
            if not optional:
                raise ValueError(f"{where} is missing")
            kwargs[name] = None
            continue
        kwargs[name] = _from_json_value(kind, value, where)
    return cls(**kwargs)


def decode_event(text: object) -> Event:
    """Decode one row's JSON. Never raises: bad rows become a malformed `UnknownEvent`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return UnknownEvent("", str(text), malformed=True, error="event is not text")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return UnknownEvent("", text, malformed=True, error=f"invalid JSON: {exc}"[:300])
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        return UnknownEvent("", text, malformed=True, error="not an object with a string type")
    tag = obj["type"]
    cls = EVENT_TYPES.get(tag)
    if cls is None:
        return UnknownEvent(tag, text)
    try:
        event: Event = _from_json_obj(cls, obj)
    except (ValueError, OverflowError) as exc:
        return UnknownEvent(tag, text, malformed=True, error=str(exc)[:300])
    return event


def event_session_id(event: Event) -> str | None:
    """The session an event is about, when it names one."""
    value = getattr(event, "session_id", None)
    return value if isinstance(value, str) else None
