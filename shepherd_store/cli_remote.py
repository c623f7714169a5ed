"""`shepherd-store --db ssh://[user@]host[:port]/path COMMAND`: a database on another
computer, through `shepherd_store.remote` (imported here, and only for such an address, so
a command on a local file does not pay for it before its first line).

The commands do not change: they read through a `RemoteStore`, which answers as a
`SqliteStore` does, so they print what they print on the file there. What is particular to
a remote database is here: connecting (the system ssh client with --ssh-option and
$SHEPHERD_SSH_OPTIONS; --bootstrap copies this library over when it is missing there),
edits only with --write, and an edit whose connection dropped sent once more after
reconnecting, with the same edit id, so that it is applied once.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import TypeVar

from .cli_common import EXIT_ERROR, EXIT_OPEN, EXIT_USAGE, CliError, _note
from .errors import (
    ConnectionLostError,
    ProtocolError,
    RemoteSetupError,
    RemoteTimeoutError,
    RemoteUrlError,
)
from .remote import RemoteStore, new_edit_id

__all__ = ["RECONNECT_ATTEMPTS", "open_remote", "remote_edit"]

T = TypeVar("T")
#: Connections tried after one dropped mid-edit, before the edit is given up as unknown.
RECONNECT_ATTEMPTS = 3


def open_remote(args: argparse.Namespace, address: str, *, write: bool) -> RemoteStore:
    """A connected `RemoteStore` on `address`; for an edit (`write`) only with --write, and
    only when the file there can be written. What stops it is a `CliError` with the exit
    status of the same trouble on a local file (3: cannot open it; 2: a malformed address);
    what the database itself says (missing, not a Shepherd database) is raised as it is."""
    if write and not getattr(args, "write", False):
        raise CliError(f"Cannot change {address}: a database on another computer is opened "
                       "read-only unless the command is given --write. Nothing was written.",
                       EXIT_OPEN)
    try:
        store = RemoteStore(address, write=write,
                            bootstrap=bool(getattr(args, "bootstrap", False)))
    except RemoteUrlError as exc:
        raise CliError(f"--db: {exc}", EXIT_USAGE) from None
    extra = [word for option in getattr(args, "ssh_option", None) or ()
             for word in ("-o", option)]
    if extra:  # (ssh keeps the first value of an option: these win over the environment's)
        store.settings = dataclasses.replace(
            store.settings, options=(*extra, *store.settings.options))
    try:
        store.connect()
    except (ConnectionLostError, RemoteTimeoutError, RemoteSetupError, ProtocolError) as exc:
        raise CliError(str(exc).replace("connect with bootstrap=True", "give --bootstrap"),
                       EXIT_OPEN) from None
    if write and store.read_only_reason is not None:
        reason = store.read_only_reason
        store.close()
        raise CliError(f"Cannot change {address}: {reason}. Nothing was written.", EXIT_OPEN)
    return store


def remote_edit(store: RemoteStore, send: Callable[[RemoteStore, str], T], *, see: str) -> T:
    """`send(store, edit_id)`: one edit. When the connection drops before its answer, the
    edit may or may not have been applied: connect again and send it with the same edit id,
    which the remote side applies at most once (or answers with its first outcome). When
    that fails too, say that the outcome is unknown and how to see it (`see`)."""
    edit_id = new_edit_id()
    try:
        return send(store, edit_id)
    except ConnectionLostError as exc:
        _note(f"shepherd-store: {_without_advice(exc)} Connecting again to send the edit once "
              "more (it is applied only once).")
    except RemoteTimeoutError as exc:
        raise _unknown(store, exc, see) from None
    try:
        store.reconnect(attempts=RECONNECT_ATTEMPTS)
        return send(store, edit_id)
    except (ConnectionLostError, RemoteTimeoutError, RemoteSetupError) as exc:
        raise _unknown(store, exc, see) from None


def _unknown(store: RemoteStore, exc: Exception, see: str) -> CliError:
    """An edit whose outcome is not known: what happened, and how to see the value."""
    return CliError(f"{_without_advice(exc)} The edit may or may not have been applied: see "
                    f"with `shepherd-store --db {store.path} {see}`.", EXIT_ERROR)


def _without_advice(exc: Exception) -> str:
    """The error's message without the library's advice about edit ids (this command acts
    on it itself)."""
    text = str(exc)
    for advice in (" The edit may or may not have been applied", "; try again"):
        cut = text.find(advice)
        text = text if cut < 0 else text[:cut] + ("." if advice.startswith(";") else "")
    return text
