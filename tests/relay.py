"""A local TCP relay that slows a link down and cuts it on demand (issue #17: the fault and
speed tests of remote databases; used by tests/test_remote_relay.py, tests/test_remote_cli.py
and benchmarks/bench_remote.py, which puts tests/ on its path).

`Relay(target_port, delay=0.05)` listens on a free port of 127.0.0.1 and forwards every
connection to 127.0.0.1:target_port (the test sshd), holding each chunk `delay` seconds in
each direction (so 0.05 makes a 100 ms round trip) without limiting the throughput: chunks
are stamped when they arrive and sent when their time comes, in order. `cut()` closes every
connection under way at once (both ends see the link go down, as after a reset); with
`refuse(True)` new connections are closed as soon as they are accepted (a computer that
cannot be reached), until `refuse(False)`. `set_delay` changes the delay of what arrives
from then on.

ssh reaches the sshd through it with `ssh_options(sshd)`: `-F` the sshd's client config,
`-o Port=<relay port>`, and `-o HostKeyAlias=[127.0.0.1]:<sshd port>` so the host key is
checked against the sshd's known-hosts line (ssh would look up the relay's port). Give the
address without a port (`url(sshd, path)`): a port in it would come after the options.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import struct
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

__all__ = ["Relay", "ssh_options", "url"]

#: The most bytes read at once from either side.
CHUNK = 256 * 1024


class _Server(Protocol):  # what of tests/sshd.py's Sshd the helpers use
    port: int
    user: str
    ssh_config: Path


class _Pipe:
    """One direction of one connection: a reader stamps chunks, a writer sends them when
    their time comes."""

    def __init__(self, relay: Relay, src: socket.socket, dst: socket.socket,
                 done: threading.Barrier) -> None:
        self.relay = relay
        self.src = src
        self.dst = dst
        self.done = done
        self.cond = threading.Condition()
        self.queue: list[tuple[float, int, bytes]] = []  # (due, order, data); b"" = the end
        self.order = itertools.count()
        self.threads = [threading.Thread(target=self._read, daemon=True, name="relay-read"),
                        threading.Thread(target=self._write, daemon=True, name="relay-write")]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _put(self, data: bytes) -> None:
        with self.cond:
            heapq.heappush(self.queue, (time.monotonic() + self.relay.delay, next(self.order),
                                        data))
            self.cond.notify()

    def _read(self) -> None:
        try:
            while data := self.src.recv(CHUNK):
                self._put(data)
        except OSError:
            pass
        self._put(b"")  # the end: passed on after the same delay, as a FIN would be

    def _write(self) -> None:
        try:
            self._send_all()
        finally:
            self.done.wait()  # (both directions ended: the relay forgets the connection)

    def _send_all(self) -> None:
        while True:
            with self.cond:
                while not self.queue or self.queue[0][0] > time.monotonic():
                    wait = None if not self.queue else self.queue[0][0] - time.monotonic()
                    self.cond.wait(wait)
                _due, _order, data = heapq.heappop(self.queue)
            try:
                if not data:
                    self.dst.shutdown(socket.SHUT_WR)
                    return
                self.dst.sendall(data)
            except OSError:
                return


class Relay:
    """A slow, breakable link from a port of 127.0.0.1 to `target_port` (see the module)."""

    def __init__(self, target_port: int, delay: float = 0.05) -> None:
        self.target_port = target_port
        self.delay = delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._refusing = False
        self._closed = False
        #: Connections accepted so far, and connections cut by `cut()`.
        self.accepted = 0
        self.cuts = 0
        self._thread = threading.Thread(target=self._accept, daemon=True, name="relay-accept")
        self._thread.start()

    # --- control -------------------------------------------------------------------------

    def set_delay(self, delay: float) -> None:
        """The one-way delay (seconds) of what arrives from now on."""
        self.delay = delay

    def cut(self) -> int:
        """Close every connection under way at once (a reset, both ways); how many."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _reset(sock)
        self.cuts += len(sockets) // 2
        return len(sockets) // 2

    def refuse(self, refusing: bool = True) -> None:
        """Close new connections as soon as they arrive (`True`), or relay them again."""
        self._refusing = refusing

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._sockets) // 2

    def close(self) -> None:
        """Stop listening and cut every connection."""
        self._closed = True
        with contextlib.suppress(OSError):  # (wakes the accepting thread)
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut()
        self._thread.join(2)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- relaying ------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            if self._refusing:
                _reset(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, server]
                self.accepted += 1
            done = threading.Barrier(2, action=lambda c=client, s=server: self._ended(c, s))
            _Pipe(self, client, server, done).start()
            _Pipe(self, server, client, done).start()

    def _ended(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._sockets = [s for s in self._sockets if s not in sockets]
        for sock in sockets:
            sock.close()


def _reset(sock: socket.socket) -> None:
    """Close `sock` with a reset (SO_LINGER 0), so the peer's next read fails at once."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):  # (wakes this relay's reader of it)
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def ssh_options(sshd: _Server, relay: Relay) -> list[str]:
    """ssh options that reach `sshd` through `relay` (the address without a port)."""
    return ["-F", str(sshd.ssh_config), "-o", f"Port={relay.port}",
            "-o", f"HostKeyAlias=[127.0.0.1]:{sshd.port}"]


def url(sshd: _Server, path: str | Path) -> str:
    """The address of `path` for `ssh_options`: `ssh://user@127.0.0.1/path` (no port)."""
    return f"ssh://{sshd.user}@127.0.0.1{Path(path).absolute()}"
