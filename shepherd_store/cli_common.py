"""What every `shepherd-store` command shares: exit statuses, output, opening the database.

One place for the conventions of all the `cli_*` command modules: `CliError` and the exit
status of a library error (`exit_status`), `Output` (a terminal gets colours and fitted
tables; a pipe plain, unclipped lines) and the `ProgressLine` on stderr, opening the store
read-only or for an edit (`_open_read`, `_open_write`), the --config policy read once by
`main` (`_policy`) and the entry labels every command names entries by (`_labels`).

A --db of the form `ssh://[user@]host[:port]/path` opens a `RemoteStore` instead (through
`cli_remote`, imported only then): the commands read it with the same calls, so they print
the same; the few things done differently there (an edit, a recovery scan, a check) go
through `_edit` and the commands' own `isinstance(store, SqliteStore)`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar, cast

from .cli_text import Style
from .errors import (
    ConflictError,
    CorruptDatabaseError,
    IncompatibleSchemaError,
    LockedError,
    NotFoundError,
    ReadOnlyError,
    SerializationError,
    StoreError,
)
from .paths import candidate_paths, default_database
from .store import SqliteStore, file_read_only_reason

if TYPE_CHECKING:
    from .policy import Policy
    from .remote import RemoteStore

    #: What a command reads: the file here, or the database on another computer.
    CliStore = SqliteStore | RemoteStore

T = TypeVar("T")

__all__ = ["EXIT_ACTION", "EXIT_CORRUPT", "EXIT_ERROR", "EXIT_OK", "EXIT_OPEN", "EXIT_USAGE",
           "CliError", "Output", "ProgressLine", "exit_status", "remote_address", "write_refusal"]

EXIT_OK = 0
EXIT_ACTION = 1  # diagnose/check found something, or an edit was refused (value changed)
EXIT_USAGE = 2
EXIT_OPEN = 3  # missing, no permission, read-only for an edit, locked
EXIT_CORRUPT = 4  # not a Shepherd database, incompatible or damaged
EXIT_ERROR = 5  # any other database error (disk full, I/O)

#: Output to a pipe is flushed at the first event and then at least this often.
FLUSH_EVERY_S = 0.2


class CliError(Exception):
    """A message for stderr and the exit status that goes with it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def exit_status(exc: StoreError) -> int:
    """The exit status for a library error."""
    if isinstance(exc, IncompatibleSchemaError | CorruptDatabaseError):
        return EXIT_CORRUPT
    if isinstance(exc, NotFoundError | ReadOnlyError | LockedError):
        return EXIT_OPEN
    if isinstance(exc, ConflictError):
        return EXIT_ACTION
    if isinstance(exc, SerializationError):
        return EXIT_USAGE
    return EXIT_ERROR


# --- output ---------------------------------------------------------------------------------


@dataclass
class Output:
    """Where results go and how: terminal width (None for a pipe), colours, progress."""

    stream: TextIO
    width: int | None
    style: Style
    progress: bool
    _flushed: float = 0.0

    @classmethod
    def for_streams(cls, stream: TextIO, err: TextIO) -> Output:
        tty = _isatty(stream)
        colour = tty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        width = _terminal_width(stream) if tty else None
        return cls(stream, width, Style(colour), tty and _isatty(err))

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def row_written(self, n: int) -> bool:
        """After each streamed row: flush the first one, then every `FLUSH_EVERY_S`."""
        now = time.monotonic()
        if n == 1 or now - self._flushed >= FLUSH_EVERY_S:
            self.stream.flush()
            self._flushed = now
        return True


def _terminal_width(stream: TextIO) -> int:
    """Columns of the terminal: $COLUMNS if set (as `shutil.get_terminal_size`), else asked."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressLine:
    """A progress line on stderr while a long scan runs (only when both ends are terminals).

    Callable as the library's progress callback; `clear` erases it before results print.
    """

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled = enabled
        self.label = label
        self.shown = False
        self._last = 0.0

    def __call__(self, done: int, total: int) -> bool:
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.1:
            self._last = now
            pct = min(100, 100 * done // max(total, 1))
            sys.stderr.write(f"\r{self.label} {pct:3d}%")
            sys.stderr.flush()
            self.shown = True
        return True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


def _note(text: str) -> None:
    print(text, file=sys.stderr)


# --- opening the database -------------------------------------------------------------------


def _db_path(args: argparse.Namespace) -> Path:
    given = getattr(args, "db", None)
    if given:
        return Path(given).expanduser()
    found = default_database()
    if found is None:
        places = ", ".join(str(p) for p in candidate_paths())
        raise CliError(f"no Shepherd database found (looked in: {places}). Give one with "
                       "--db PATH or $SHEPHERD_DB.", EXIT_OPEN)
    return found


def remote_address(args: argparse.Namespace) -> str | None:
    """The `ssh://` address of the database, when --db (else $SHEPHERD_DB) is one."""
    given = getattr(args, "db", None) or os.environ.get("SHEPHERD_DB")
    if not given or given[:4].lower() != "ssh:":  # (a local file: the remote package, even
        return None  # its `url`, is imported only for what may be an address)
    from .remote.url import looks_remote

    return given if looks_remote(given) else None


def _open_read(args: argparse.Namespace) -> CliStore:
    address = remote_address(args)
    if address is not None:
        from .cli_remote import open_remote

        return open_remote(args, address, write=False)
    return SqliteStore.open(_db_path(args), read_only=True)


def _open_write(args: argparse.Namespace) -> CliStore:
    """A store to edit: a remote one only with --write (`cli_remote`), else the file."""
    address = remote_address(args)
    if address is not None:
        from .cli_remote import open_remote

        return open_remote(args, address, write=True)
    return _open_write_local(args)


def _open_write_local(args: argparse.Namespace) -> SqliteStore:
    """A writable store on an existing database, refusing write-protected files early."""
    path = _db_path(args)
    if not path.exists():
        raise CliError(f"{path} does not exist; nothing to change.", EXIT_OPEN)
    reason = write_refusal(path)
    if reason is not None:
        raise CliError(f"Cannot change {path}: {reason}. Nothing was written.", EXIT_OPEN)
    return SqliteStore.open(path)


def _reads(store: CliStore) -> SqliteStore:
    """`store` for a library function typed for a `SqliteStore` that only reads through
    calls a `RemoteStore` answers the same way (`find_audits`, `all_cooldowns`,
    `load_snapshot_text`, `get_usage`, `list_overrides`): nothing is converted."""
    return cast("SqliteStore", store)


def _edit(store: CliStore, local: Callable[[SqliteStore], T],
          remote: Callable[[RemoteStore, str], T], *, see: str) -> T:
    """One edit: `local(store)` on a file; on a remote database `remote(store, edit_id)`,
    sent once more after a dropped connection (`cli_remote.remote_edit`; `see` is the
    command that shows the value, named when the outcome is unknown)."""
    if isinstance(store, SqliteStore):
        return local(store)
    from .cli_remote import remote_edit

    return remote_edit(store, remote, see=see)


def write_refusal(path: Path) -> str | None:
    """Why the CLI will not write `path`: no permission, or write-protected by its mode bits
    (which root ignores, so a file made read-only on purpose is honoured for root too)."""
    reason = file_read_only_reason(path)
    if reason is not None:
        return reason
    try:
        mode, folder = path.stat().st_mode, path.absolute().parent.stat().st_mode
    except OSError as exc:
        return f"cannot read its permissions ({exc.strerror})"
    if not mode & 0o222:
        return f"the file is write-protected (mode {mode & 0o777:04o})"
    if not folder & 0o222:
        return f"its folder is write-protected (mode {folder & 0o777:04o})"
    return None


def _policy(args: argparse.Namespace) -> Policy | None:
    """The --config policy: `main` reads it once before any command runs, so a missing or
    invalid file is the same usage error (exit status 2) for every command."""
    if not hasattr(args, "policy"):
        args.policy = _load_config(args)
    policy: Policy | None = args.policy
    return policy


def _load_config(args: argparse.Namespace) -> Policy | None:
    from .policy import load_policy

    given = getattr(args, "config", None)
    if given is None:
        return None
    try:
        return load_policy(given)
    except StoreError as exc:
        raise CliError(f"--config: {exc}", EXIT_USAGE) from None


def _labels(store: CliStore, policy: Policy | None, entries: Collection[str] | None = None,
            *, upto: int | None = None) -> dict[str, str]:
    """Entry labels for `entry_name`, the one rule every command names entries by: the
    policy's (--config) over the newest the log recorded.

    With `entries`, a local store looks up only those the policy does not name, newest
    first as the log stood at id `upto` (`SqliteStore.entry_labels`); a remote one answers
    every label."""
    if entries is None or not isinstance(store, SqliteStore):
        labels = store.entry_labels()
    else:
        named = {} if policy is None else policy.entries
        labels = store.entry_labels([e for e in entries if e not in named], upto=upto)
    if policy is not None:
        labels.update({e.id: e.label for e in policy.entries.values()})
    return labels
