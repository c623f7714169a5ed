"""The connection behind a `RemoteStore`: connecting (ssh, the handshake, the library
copied over first when `bootstrap` asks for it), reconnecting with backoff, closing, the
callbacks, and requests whose answers are checked to be of the type asked for.
"""

from __future__ import annotations

import contextlib
import getpass
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from ..errors import (
    ConnectionLostError,
    LockedError,
    ProtocolError,
    RemoteSetupError,
    StoreError,
)
from ..schema import Layout
from ..store import ChangeToken
from .codec import decode_value, schema_digest
from .connection import Connection, Pending, StartFailed, is_retryable
from .launch import NEED_UPLOAD, LibraryZip, SshSettings, library_zip, startup_error
from .protocol import PROTOCOL_VERSION, check_hello
from .url import RemoteUrl, parse_url

__all__ = ["RemoteLink"]

T = TypeVar("T")
#: Seconds a request waits for its answer (an edit waits up to 5 s for the service's lock).
TIMEOUT_S = 30.0
#: Seconds a whole-log scan (recovery, check, a search no index serves) may take.
SCAN_TIMEOUT_S = 600.0
#: Seconds ssh may take to connect and the remote side to say hello.
CONNECT_TIMEOUT_S = 30.0
#: Seconds copying the library to the remote cache may take (a slow link).
UPLOAD_TIMEOUT_S = 300.0


def _client_name() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "someone"
    return f"{user}@{socket.gethostname()}"


class RemoteLink:
    """The connection of a `RemoteStore` (see the module), and its typed requests."""

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
    def open(cls, url: str | RemoteUrl, **options: Any) -> Self:
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
            # Sent at once, not after the hello: it waits in the pipe until the server reads
            # it, so its round trip overlaps the hello's (one round trip less to connect).
            # Its answer is read only once the hello has shown a server of ours.
            args = {"protocol": PROTOCOL_VERSION, "schema": schema_digest(),
                    "client": self.client_name, "write": not self.read_only}
            opening: Pending | None = None
            with contextlib.suppress(ConnectionLostError):  # (ended at once: the hello says why)
                opening = conn.send("open", args)
            try:
                hello = conn.wait_hello(self.connect_timeout)
            except StartFailed as failed:
                if zip_ is not None and failed.status == NEED_UPLOAD:
                    return None
                raise self._start_error(failed, bootstrap=zip_ is not None) from None
            check_hello(hello, self.url.host)
            facts = conn.answer(opening or conn.send("open", args), timeout=self.connect_timeout)
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
        return expect(self._call(op, args, timeout=timeout), kind, op)

    def _get_list(self, kind: type[T], op: str,
                  args: Mapping[str, Any] | None = None) -> list[T]:
        result = self._call(op, args)
        if not isinstance(result, list) or not all(isinstance(r, kind) for r in result):
            raise ProtocolError(f"{op} answered with something else than a list of "
                                f"{kind.__name__}")
        return result


def expect(value: Any, kind: type[T], what: str) -> T:
    """`value`, when it is a `kind` (an answer of the type asked for); else `ProtocolError`."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"{what} answered with a {type(value).__name__}, not a "
                            f"{kind.__name__}")
    return value
