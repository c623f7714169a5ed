"""`RemoteStore`: a Shepherd database on another computer, read (and, when asked, edited)
over SSH with the same calls and the same answers as a local `SqliteStore`.

    store = RemoteStore.open("ssh://parent@kids-pc/var/lib/shepherdd/shepherdd.db",
                             on_change=lambda token: ...)
    page = store.find_audits(AuditFilter(entry_id="minecraft"))

It starts the system `ssh` client (`launch`), which runs `python -m shepherd_store.remote
serve --stdio` there (`server`). Made for a window: every method may be called from any
thread, each request has a timeout, commits made there arrive as `on_change(token)` (on the
connection's reader thread: hand it to the GUI thread, and return quickly), a dropped
connection raises `ConnectionLostError` (and calls `on_disconnect(error)`), and
`reconnect()` tries again with backoff. Calls block until the answer arrives: a window makes
them off its GUI thread, as it does for long local reads.

Edits need `write=True` here and the remote file writable; each is one request and one
transaction there, through `overrides.py` (the same expected-value check and trace as a
local edit; the trace names this side's `user@host`). Each carries an `edit_id`: when a
call fails with `ConnectionLostError` or `RemoteTimeoutError`, its `edit_id` says which
edit was in flight, and calling again with that `edit_id` after `reconnect()` applies it
once (the first outcome is answered if it had been applied).
"""

from __future__ import annotations

import getpass
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

from ..check import CheckReport
from ..errors import (
    ConnectionLostError,
    LockedError,
    ProtocolError,
    ReadOnlyError,
    RemoteSetupError,
    StoreError,
)
from ..events import AuditEvent
from ..overrides import CooldownChange
from ..policy import Policy
from ..query import AuditFilter, AuditPage
from ..recovery import RecoveryReport
from ..schema import Layout
from ..snapshot import StateSnapshot
from ..store import ChangeToken, CooldownRecord, OverrideRecord, UsageRecord
from ..store_queries import Progress
from .codec import decode_value, schema_digest
from .connection import Connection, StartFailed, is_retryable
from .launch import NEED_UPLOAD, LibraryZip, SshSettings, library_zip, startup_error
from .protocol import PROTOCOL_VERSION, check_hello
from .url import RemoteUrl, parse_url

__all__ = ["RemoteStore", "new_edit_id"]

T = TypeVar("T")
#: Seconds a request waits for its answer (an edit waits up to 5 s for the service's lock).
TIMEOUT_S = 30.0
#: Seconds a whole-log scan (recovery, check, a search no index serves) may take.
SCAN_TIMEOUT_S = 600.0
#: Seconds ssh may take to connect and the remote side to say hello.
CONNECT_TIMEOUT_S = 30.0
#: Seconds copying the library to the remote cache may take (a slow link).
UPLOAD_TIMEOUT_S = 300.0


def new_edit_id() -> str:
    """A new id for an edit (keep it to send the edit again after a dropped connection)."""
    return uuid.uuid4().hex


def _client_name() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "someone"
    return f"{user}@{socket.gethostname()}"


class RemoteStore:
    """A database on another computer, behind one ssh connection (see the module)."""

    def __init__(self, url: str | RemoteUrl, *, write: bool = False,
                 ssh_options: str | list[str] | None = None,
                 remote_python: str | list[str] | None = None, ssh_config: str | None = None,
                 ssh_command: str | list[str] | None = None, bootstrap: bool = False,
                 remote_cache: str | None = None, timeout: float = TIMEOUT_S,
                 scan_timeout: float = SCAN_TIMEOUT_S,
                 connect_timeout: float = CONNECT_TIMEOUT_S, client_name: str | None = None,
                 on_change: Callable[[ChangeToken], None] | None = None,
                 on_disconnect: Callable[[ConnectionLostError], None] | None = None,
                 on_gone: Callable[[], None] | None = None) -> None:
        """Nothing is connected yet: `connect()` (or use `RemoteStore.open`)."""
        self.url = url if isinstance(url, RemoteUrl) else parse_url(url)
        self.settings = SshSettings.make(
            self.url, ssh_options=ssh_options, remote_python=remote_python,
            ssh_config=ssh_config, ssh_command=ssh_command, remote_cache=remote_cache)
        #: The address, as messages and window titles show it.
        self.path = str(self.url)
        self.read_only = not write
        self.bootstrap = bootstrap
        self.timeout = timeout
        self.scan_timeout = scan_timeout
        self.connect_timeout = connect_timeout
        self.client_name = client_name or _client_name()
        self.on_change = on_change
        self.on_disconnect = on_disconnect
        self.on_gone = on_gone
        #: What the remote side said at the last connect: `hello` (its version, python,
        #: library folder, user, host) and `facts` (its path, layout, journal mode, ...).
        self.hello: dict[str, Any] = {}
        self.facts: dict[str, Any] = {}
        #: Reads that a lock there turned away so far (as `SqliteStore.lockouts`).
        self.lockouts = 0
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._connecting = threading.Lock()
        self._closed = threading.Event()

    @classmethod
    def open(cls, url: str | RemoteUrl, **options: Any) -> RemoteStore:
        """A connected store (`options` as the constructor's); raises a `StoreError`
        subclass saying what is wrong and what to do."""
        store = cls(url, **options)
        store.connect()
        return store

    # --- the connection ------------------------------------------------------------------

    def connect(self) -> None:
        """Connect (again): start ssh and the server, check versions, open the database."""
        with self._connecting:
            if self._closed.is_set():
                raise ConnectionLostError(f"the store for {self.path} is closed",
                                          path=self.path)
            self._drop_current()
            zip_ = library_zip() if self.bootstrap else None
            conn = self._start(zip_)
            if conn is None and zip_ is not None:
                self._upload(zip_)
                conn = self._start(zip_)
            if conn is None:
                raise RemoteSetupError(f"the library copied to {self.url.host} is not "
                                       "where it was put", path=self.path)
            with self._lock:
                self._conn = conn

    def _start(self, zip_: LibraryZip | None) -> Connection | None:
        """A connected, opened connection; None when the bootstrap copy is missing there."""
        argv = self.settings.argv(self.settings.serve_command(write=not self.read_only,
                                                              bootstrap=zip_))
        conn = Connection(argv, where=self.url.destination, on_notice=self._notice,
                          on_lost=self._lost)
        try:
            try:
                hello = conn.wait_hello(self.connect_timeout)
            except StartFailed as failed:
                if zip_ is not None and failed.status == NEED_UPLOAD:
                    return None
                raise self._start_error(failed, bootstrap=zip_ is not None) from None
            check_hello(hello, self.url.host)
            facts = conn.request("open", {
                "protocol": PROTOCOL_VERSION, "schema": schema_digest(),
                "client": self.client_name, "write": not self.read_only},
                timeout=self.connect_timeout)
        except BaseException:
            conn.close()
            raise
        if not isinstance(facts, dict) or not isinstance(facts.get("layout"), Layout):
            conn.close()
            raise ProtocolError(f"{self.url.host} answered open without the facts")
        self.hello, self.facts = hello, facts
        return conn

    def _start_error(self, failed: StartFailed, *, bootstrap: bool) -> StoreError:
        version = None
        if failed.status not in (126, 127, 255) and "No module named" not in failed.stderr:
            version = self._run(self.settings.version_command(), None, self.connect_timeout)[1]
        return startup_error(self.settings, failed.status, failed.stderr, version,
                             bootstrap=bootstrap)

    def _upload(self, zip_: LibraryZip) -> None:
        status, _out, err = self._run(self.settings.upload_command(zip_), zip_.data,
                                      UPLOAD_TIMEOUT_S)
        if status != 0:
            if status == 255:
                raise ConnectionLostError(f"Cannot connect to {self.url.destination} with "
                                          f"ssh: {err.strip()}", path=self.path)
            raise RemoteSetupError(
                f"Cannot copy the library to {self.settings.cache} on {self.url.host} "
                f"(exit status {status}): {err.strip()[-500:]}", path=self.path)

    def _run(self, command: str, data: bytes | None, timeout: float) -> tuple[int, str, str]:
        """Run one remote command to its end: (exit status, stdout, stderr)."""
        try:
            done = subprocess.run(self.settings.argv(command), input=data or b"",
                                  capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConnectionLostError(f"Cannot run ssh to {self.url.destination}: {exc}",
                                      path=self.path) from None
        return (done.returncode, done.stdout.decode("utf-8", "replace").strip(),
                done.stderr.decode("utf-8", "replace"))

    def reconnect(self, *, attempts: int = 6, delay: float = 0.5,
                  max_delay: float = 8.0) -> None:
        """Connect again, up to `attempts` times, waiting `delay` seconds after the first
        failure and twice as long after each next one (at most `max_delay`). Only a failure
        of the link is tried again; what a person must fix (no python there) is raised at
        once, and so is the last failure."""
        wait = delay
        for attempt in range(attempts):
            try:
                self.connect()
                return
            except StoreError as exc:
                if not is_retryable(exc) or attempt == attempts - 1 or self._closed.is_set():
                    raise
            self._closed.wait(wait)
            wait = min(wait * 2, max_delay)

    @property
    def connected(self) -> bool:
        conn = self._conn
        return conn is not None and conn.lost is None

    def drop_connection(self) -> None:
        """Cut the connection now, as a network failure would (tests; a window's
        "disconnect"): requests under way fail with `ConnectionLostError`."""
        conn = self._conn
        if conn is not None:
            conn.kill()

    def close(self) -> None:
        """Close the connection (the remote side finishes what it was asked and ends);
        further calls raise `ConnectionLostError`."""
        self._closed.set()
        with self._connecting:
            self._drop_current()

    def _drop_current(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _notice(self, message: dict[str, Any]) -> None:
        if message.get("notice") == "changed" and self.on_change is not None:
            token = decode_value(message.get("token"))
            if isinstance(token, ChangeToken):
                self.on_change(token)
        elif message.get("notice") == "gone" and self.on_gone is not None:
            self.on_gone()

    def _lost(self, conn: Connection, error: ConnectionLostError) -> None:
        if conn is self._conn and not self._closed.is_set() and self.on_disconnect:
            self.on_disconnect(error)

    # --- requests ------------------------------------------------------------------------

    def _call(self, op: str, args: Mapping[str, Any] | None = None, *,
              timeout: float | None = None, edit_id: str | None = None) -> Any:
        conn = self._conn
        if conn is None:
            raise ConnectionLostError(
                f"Not connected to {self.path}" + (": it was closed" if self._closed.is_set()
                                                   else "; call connect() or reconnect()"),
                path=self.path, edit_id=edit_id)
        try:
            return conn.request(op, args or {}, timeout=timeout or self.timeout,
                                edit_id=edit_id)
        except LockedError:
            self.lockouts += 1
            raise

    def _get(self, kind: type[T], op: str, args: Mapping[str, Any] | None = None, *,
             timeout: float | None = None) -> T:
        return _expect(self._call(op, args, timeout=timeout), kind, op)

    def _get_list(self, kind: type[T], op: str,
                  args: Mapping[str, Any] | None = None) -> list[T]:
        result = self._call(op, args)
        if not isinstance(result, list) or not all(isinstance(r, kind) for r in result):
            raise ProtocolError(f"{op} answered with something else than a list of "
                                f"{kind.__name__}")
        return result

    # --- facts ---------------------------------------------------------------------------

    @property
    def layout(self) -> Layout:
        """The database's layout (as of the last connect)."""
        return _expect(self.facts.get("layout"), Layout, "layout")

    @property
    def remote_path(self) -> str:
        """The database's path on the remote computer, as the server resolved it."""
        return str(self.facts.get("path", self.url.path))

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode there (as of the last connect or `refresh_facts`)."""
        return str(self.facts.get("journal_mode", "unknown"))

    @property
    def read_only_reason(self) -> str | None:
        """Why edits are impossible (as of the last connect or `refresh_facts`), or None."""
        if self.read_only:
            return "opened read-only"
        reason = self.facts.get("read_only_reason")
        return reason if isinstance(reason, str) else None

    @property
    def writable(self) -> bool:
        return self.read_only_reason is None

    def refresh_facts(self) -> dict[str, Any]:
        """Ask again for the journal mode and whether the file is writable there."""
        facts = self._get(dict, "facts")
        self.facts = {**self.facts, **facts}
        return facts

    def is_healthy(self) -> bool:
        """Whether the remote side answers and its connection reads."""
        try:
            return self._call("is_healthy") is True
        except StoreError:
            return False

    def change_token(self) -> ChangeToken:
        """The remote database's change token (commits there also arrive as `on_change`)."""
        return self._get(ChangeToken, "change_token")

    # --- reads (as `SqliteStore`'s) ------------------------------------------------------

    def find_audits(self, flt: AuditFilter | None = None, *, before_id: int | None = None,
                    after_id: int | None = None, limit: int = 200,
                    progress: Progress | None = None) -> AuditPage:
        """As `SqliteStore.find_audits` (at most `ops.MAX_PAGE` events). The scan runs
        there, so `progress` hears only of its end and cannot cancel it."""
        page = self._get(AuditPage, "find_audits", {
            "flt": flt, "before_id": before_id, "after_id": after_id, "limit": limit},
            timeout=self.scan_timeout)
        if progress is not None:
            progress(1, 1)
        return page

    def get_recent_audits(self, limit: int) -> list[AuditEvent]:
        """The newest `limit` events, newest first."""
        return self.find_audits(AuditFilter(), limit=limit).events

    def audit_id_range(self) -> tuple[int, int] | None:
        result = self._call("audit_id_range")
        if result is not None and not (isinstance(result, tuple) and len(result) == 2
                                       and all(isinstance(i, int) for i in result)):
            raise ProtocolError("audit_id_range answered with something else")
        return result

    def is_indexed(self, flt: AuditFilter) -> bool:
        return self._get(bool, "is_indexed", {"flt": flt})

    def usage_between(self, start: date | None = None, end: date | None = None,
                      entry_id: str | None = None) -> list[UsageRecord]:
        return self._get_list(UsageRecord, "usage_between",
                              {"start": start, "end": end, "entry_id": entry_id})

    def get_usage(self, entry_id: str, day: date) -> timedelta:
        return self._get(timedelta, "get_usage", {"entry_id": entry_id, "day": day})

    def all_cooldowns(self) -> list[CooldownRecord]:
        return self._get_list(CooldownRecord, "all_cooldowns")

    def get_cooldown_until(self, entry_id: str) -> datetime | None:
        result = self._call("get_cooldown_until", {"entry_id": entry_id})
        return None if result is None else _expect(result, datetime, "get_cooldown_until")

    def load_snapshot_text(self) -> str | None:
        result = self._call("load_snapshot_text")
        return None if result is None else _expect(result, str, "load_snapshot_text")

    def load_snapshot(self) -> StateSnapshot | None:
        result = self._call("load_snapshot")
        return None if result is None else _expect(result, StateSnapshot, "load_snapshot")

    def list_overrides(self) -> list[OverrideRecord]:
        return self._get_list(OverrideRecord, "list_overrides")

    def entry_labels(self) -> dict[str, str]:
        result = self._get(dict, "entry_labels", timeout=self.scan_timeout)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in result.items()):
            raise ProtocolError("entry_labels answered with something else")
        return result

    def known_entries(self) -> list[str]:
        return self._get_list(str, "known_entries")

    def recover(self, policy: Policy | None = None, *, since: datetime | None = None,
                now: datetime | None = None) -> RecoveryReport:
        """`recovery.recover` run there (its "local time" is the remote computer's, where
        the service runs)."""
        return self._get(RecoveryReport, "recover", {"policy": policy, "since": since,
                                                     "now": now}, timeout=self.scan_timeout)

    def check(self, *, quick: bool = False, full: bool = False,
              max_problems: int = 1000) -> CheckReport:
        """`check.check` run there."""
        return self._get(CheckReport, "check", {"quick": quick, "full": full,
                                                "max_problems": max_problems},
                         timeout=self.scan_timeout)

    # --- edits (as `overrides.py`'s) -----------------------------------------------------

    def _edit(self, op: str, args: dict[str, Any], edit_id: str | None) -> Any:
        if self.read_only:
            raise ReadOnlyError(f"Cannot change {self.path}: it was opened read-only. "
                                "Connect with write=True to edit. Nothing was written.",
                                path=self.path)
        edit_id = edit_id or new_edit_id()
        return self._call(op, {**args, "edit_id": edit_id}, edit_id=edit_id)

    def apply_cooldowns(self, changes: Sequence[CooldownChange], *,
                        edit_id: str | None = None) -> dict[str, str | None]:
        """`overrides.apply_cooldowns` there: all or none; the new raw texts by entry."""
        result = self._edit("apply_cooldowns", {"changes": list(changes)}, edit_id)
        return _expect(result, dict, "apply_cooldowns")

    def set_cooldown(self, entry_id: str, until: datetime, *, expected: str | None,
                     edit_id: str | None = None) -> str:
        """`overrides.set_cooldown` there; the stored text."""
        return _expect(self._edit("set_cooldown", {
            "entry_id": entry_id, "until": until, "expected": expected}, edit_id), str,
            "set_cooldown")

    def clear_cooldown(self, entry_id: str, *, expected: str | None,
                       edit_id: str | None = None) -> None:
        """`overrides.clear_cooldown` there."""
        self._edit("clear_cooldown", {"entry_id": entry_id, "expected": expected}, edit_id)

    def adjust_usage(self, entry_id: str, day: date, seconds: int, *, reason: str,
                     edit_id: str | None = None) -> int:
        """`overrides.add_usage` there (not the trait's `add_usage`): the new total."""
        return _expect(self._edit("add_usage", {
            "entry_id": entry_id, "day": day, "seconds": seconds, "reason": reason},
            edit_id), int, "add_usage")

    def save_snapshot(self, snapshot: StateSnapshot, *, expected: str | None,
                      edit_id: str | None = None) -> str:
        """`overrides.save_snapshot` there; the stored JSON."""
        return _expect(self._edit("save_snapshot", {"snapshot": snapshot,
                                                    "expected": expected}, edit_id), str,
                       "save_snapshot")

    def save_snapshot_text(self, text: str, *, expected: str | None,
                           edit_id: str | None = None) -> str:
        """`overrides.save_snapshot_text` there; the stored JSON."""
        return _expect(self._edit("save_snapshot_text", {"text": text, "expected": expected},
                                  edit_id), str, "save_snapshot_text")

    def clear_active_session(self, *, expected: str | None, now: datetime | None = None,
                             edit_id: str | None = None) -> str:
        """`overrides.clear_active_session` there; the stored JSON."""
        return _expect(self._edit("clear_active_session", {"expected": expected, "now": now},
                                  edit_id), str, "clear_active_session")

    def delete_snapshot(self, *, expected: str | None, edit_id: str | None = None) -> None:
        """`overrides.delete_snapshot` there."""
        self._edit("delete_snapshot", {"expected": expected}, edit_id)


def _expect(value: Any, kind: type[T], what: str) -> T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"{what} answered with a {type(value).__name__}, not a "
                            f"{kind.__name__}")
    return value

