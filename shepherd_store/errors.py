"""Errors of the store: each names the file and says what a person can do about it.

SQLite errors are split, as qutebrowser does, into *environmental* ones (busy, read-only,
corrupt, disk full, cannot open, not a database) that become a specific `StoreError` subclass
with a friendly message, and everything else, which becomes a plain `DatabaseError`.
"""

from __future__ import annotations

import sqlite3


class StoreError(Exception):
    """Base class of every error the library raises on purpose."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class DatabaseError(StoreError):
    """SQLite failed for a reason that is not one of the more specific ones."""


class CorruptDatabaseError(DatabaseError):
    """The file is not a SQLite database, or it is damaged or truncated."""


class SerializationError(StoreError):
    """A value cannot be encoded in (or decoded from) the formats the Rust daemon reads."""


class NotFoundError(StoreError):
    """The database file (or a row the caller required) does not exist."""


class ReadOnlyError(StoreError):
    """A write was attempted on a read-only store or a file the process may not write."""


class LockedError(StoreError):
    """Another process held a lock on the database for longer than the busy timeout."""


class IncompatibleSchemaError(StoreError):
    """The file is a SQLite database but not one in a layout this library understands."""


class ConflictError(StoreError):
    """A value changed since the caller read it (optimistic concurrency check failed)."""


# --- a database on another computer (`shepherd_store.remote`) ----------------------------


class RemoteError(StoreError):
    """A database on another computer could not be used; the base of the remote errors, and
    what the remote side's unexpected failures arrive as.

    `edit_id` names the edit that was in flight when a connection dropped or a request timed
    out (None for a read): it may or may not have been applied, and sending it again with the
    same id (after `RemoteStore.reconnect()`) applies it once.
    """

    edit_id: str | None = None

    def __init__(self, message: str, *, path: str | None = None,
                 edit_id: str | None = None) -> None:
        super().__init__(message, path=path)
        self.edit_id = edit_id


class ConnectionLostError(RemoteError):
    """The SSH connection to the remote database could not be made, or it dropped."""


class RemoteTimeoutError(RemoteError):
    """The remote side did not answer a request in time (a slow link, or a long read)."""


class RemoteSetupError(RemoteError):
    """The remote computer lacks what serving the database needs (Python 3.11, this library);
    the message says what to install there."""


class ProtocolError(RemoteError):
    """A message between the two sides was malformed, or they speak different versions."""


class RemoteUrlError(StoreError, ValueError):
    """A malformed `ssh://[user@]host[:port]/path` address."""


# SQLite primary result codes (https://sqlite.org/rescode.html).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB, _PERM = (
    5, 6, 8, 10, 11, 13, 14, 26, 3,
)


def format_timeout(seconds: float) -> str:
    """A busy timeout as a person reads it: "5 s", "0.5 s", "250 ms", "2.25 s"."""
    millis = round(seconds * 1000, 3)
    if seconds >= 1 or millis % 100 == 0:  # whole tenths of a second read well as seconds
        return f"{_trimmed(seconds)} s"
    return f"{_trimmed(millis)} ms"


def _trimmed(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _locked_message(where: str, busy_timeout: float | None) -> str:
    if busy_timeout is None:
        waited = "stayed locked by another process for longer than its busy timeout"
    elif busy_timeout <= 0:
        waited = ("was locked by another process, and this connection does not wait for "
                  "locks (its busy timeout is 0)")
    else:
        waited = (f"stayed locked by another process for longer than the "
                  f"{format_timeout(busy_timeout)} busy timeout")
    return (f"Cannot {where}: the database {waited}. Try again in a moment; if it persists, "
            "check for a stuck process holding the file open.")


def translate(exc: sqlite3.Error, path: str, action: str, *,
              busy_timeout: float | None = None) -> StoreError:
    """Turn a `sqlite3` exception raised while doing `action` on `path` into a `StoreError`.

    `busy_timeout` is the seconds the failed statement waited for a lock (the connection's
    busy timeout), stated in the message of a `LockedError`; None when it is not known.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    where = f"{action} {path}"
    if primary in (_BUSY, _LOCKED) or "locked" in text or "busy" in text:
        return LockedError(_locked_message(where, busy_timeout), path=path)
    if primary == _READONLY or "readonly" in text or "read-only" in text:
        return ReadOnlyError(
            f"Cannot {where}: the file (or its directory) is read-only for this user. "
            "Open it as the database's owner (usually the account running shepherdd) to edit.",
            path=path,
        )
    if primary in (_NOTADB, _CORRUPT) or "not a database" in text or "malformed" in text:
        return CorruptDatabaseError(
            f"Cannot {where}: the file is not a SQLite database or is damaged ({text}). "
            "Restore it from a backup, or open a different file.",
            path=path,
        )
    if primary == _FULL:
        return DatabaseError(
            f"Cannot {where}: the disk is full. Free some space and try again.", path=path
        )
    if primary in (_CANTOPEN, _PERM):
        return NotFoundError(
            f"Cannot {where}: SQLite cannot open the file ({text}). Check that it exists and "
            "that this user may read it and its directory.",
            path=path,
        )
    if primary == _IOERR:
        return DatabaseError(
            f"Cannot {where}: input/output error ({text}). The disk or file system may be "
            "failing, or the file was removed while open.",
            path=path,
        )
    return DatabaseError(f"Cannot {where}: {text}", path=path)
