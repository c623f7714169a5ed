"""The JSON-lines protocol between `RemoteStore` (the parent's computer) and `serve --stdio`
(the computer that holds the database), one JSON object per line each way.

1. The server speaks first, before it opens anything: `{"hello": "shepherd-store",
   "protocol": 1, "schema": "<digest>", "version": "0.1.0", "python": "3.11.7", ...}`.
   `schema` is a digest of the types that cross (`codec.schema_digest`): two libraries with
   the same protocol number but different fields in what they send refuse each other with a
   clear message instead of misreading.
2. The client then sends requests, the first of them `open`: `{"id": 1, "op": "open",
   "args": {...}}`. Every answer names its request: `{"id": 1, "ok": true, "result": ...}`
   or `{"id": 1, "ok": false, "error": {"type": "LockedError", "message": "...", ...}}`;
   a line the server cannot read at all is answered with `"id": null`.
3. Unasked, the server pushes notices: `{"notice": "changed", "token": ...}` when another
   connection committed, `{"notice": "gone"}` when the file went away.

Values in `args`, `result` and `token` are in the typed form of `codec`; errors carry the
library's own error type, its message and its attributes (an `OverrideConflict`'s current
values), so the client raises the same `StoreError` subclass with the same message.
"""

from __future__ import annotations

import json
import platform
from typing import Any

from .. import __version__
from ..errors import (
    ConflictError,
    ConnectionLostError,
    CorruptDatabaseError,
    DatabaseError,
    IncompatibleSchemaError,
    LockedError,
    NotFoundError,
    ProtocolError,
    ReadOnlyError,
    RemoteError,
    RemoteSetupError,
    RemoteTimeoutError,
    SerializationError,
    StoreError,
)
from ..overrides import OverrideConflict
from ..recovery import RecoveryConflict
from .codec import decode_value, encode_value, schema_digest

__all__ = [
    "HELLO",
    "MAX_REQUEST_BYTES",
    "PROTOCOL_VERSION",
    "decode_error",
    "decode_line",
    "encode_error",
    "encode_line",
    "error_response",
    "hello_message",
    "ok_response",
]

#: The wire format's version: a change to the messages' shape (not to the types that cross:
#: `schema` covers those) raises it.
PROTOCOL_VERSION = 1
HELLO = "shepherd-store"
#: The longest request line the server reads (a snapshot text is a few hundred bytes).
MAX_REQUEST_BYTES = 1 << 20

#: The errors that cross by name: each arrives as itself, with its attributes.
ERRORS: dict[str, type[StoreError]] = {cls.__name__: cls for cls in (
    StoreError, DatabaseError, CorruptDatabaseError, SerializationError, NotFoundError,
    ReadOnlyError, LockedError, IncompatibleSchemaError, ConflictError, OverrideConflict,
    RecoveryConflict, RemoteError, ConnectionLostError, RemoteTimeoutError, RemoteSetupError,
    ProtocolError)}

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def encode_line(message: dict[str, Any]) -> bytes:
    """One message as a line of ASCII JSON (lone surrogates and all, escaped)."""
    return (_ENCODER.encode(message) + "\n").encode("ascii")


def decode_line(line: bytes) -> dict[str, Any]:
    """The message on one line; raises `ProtocolError` for anything but a JSON object."""
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"not a JSON line: {str(exc)[:200]}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a message must be a JSON object, got {type(message).__name__}")
    return message


def hello_message(**extra: Any) -> dict[str, Any]:
    """What the server says first: who it is and what it speaks."""
    return {"hello": HELLO, "protocol": PROTOCOL_VERSION, "schema": schema_digest(),
            "version": __version__, "python": platform.python_version(), **extra}


def check_hello(hello: dict[str, Any], where: str) -> None:
    """Refuse a server that does not speak this side's protocol, saying what to install."""
    if hello.get("hello") != HELLO:
        raise ProtocolError(f"{where} did not answer as shepherd-store serve does: "
                            f"{str(hello)[:200]}")
    theirs, ours = hello.get("version"), __version__
    fix = (f"Install shepherd_store {ours} there, or connect with bootstrap=True to run this "
           "copy of the library there from a per-user cache.")
    if hello.get("protocol") != PROTOCOL_VERSION:
        raise ProtocolError(
            f"{where} runs shepherd_store {theirs} speaking protocol {hello.get('protocol')}; "
            f"this side ({ours}) speaks protocol {PROTOCOL_VERSION}. {fix}")
    if hello.get("schema") != schema_digest():
        raise ProtocolError(
            f"{where} runs shepherd_store {theirs}, whose records differ from this side's "
            f"({ours}); neither could read the other's answers. {fix}")


def ok_response(request_id: Any, result: Any) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": encode_value(result)}


def error_response(request_id: Any, exc: BaseException) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": encode_error(exc)}


def encode_error(exc: BaseException) -> dict[str, Any]:
    """An error as it crosses: the library's type (the nearest one that crosses), its message,
    its path and its other attributes. Anything else is the remote side's failure."""
    if not isinstance(exc, StoreError):
        return {"type": "RemoteError", "path": None, "attrs": {},
                "message": f"The remote side failed: {type(exc).__name__}: {exc}"[:2000]}
    cls = next(c for c in type(exc).__mro__ if ERRORS.get(c.__name__) is c)
    attrs: dict[str, Any] = {}
    for key, value in vars(exc).items():
        if key != "path":
            try:
                attrs[key] = encode_value(value)
            except SerializationError:
                continue  # (an attribute of no use on the other side)
    return {"type": cls.__name__, "message": exc.message, "path": exc.path, "attrs": attrs}


def decode_error(obj: object) -> StoreError:
    """The error an answer carries, as its own type (a `RemoteError` if unknown here)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("message"), str):
        return ProtocolError(f"a malformed error arrived: {str(obj)[:200]}")
    cls = ERRORS.get(str(obj.get("type")), RemoteError)
    path = obj.get("path")
    exc = cls.__new__(cls)
    StoreError.__init__(exc, obj["message"], path=path if isinstance(path, str) else None)
    attrs = obj.get("attrs")
    for key, value in (attrs.items() if isinstance(attrs, dict) else ()):
        if isinstance(key, str) and key.isidentifier() and not key.startswith("_"):
            try:
                setattr(exc, key, decode_value(value))
            except ProtocolError:
                continue
    return exc
