"""Support of the remote-window tests (tests/test_window_remote*.py): a slow link, a
heartbeat that measures how long the GUI thread went without turning its event loop, and
windows on a database served by the real sshd of tests/sshd.py.

`SlowRelay` is a TCP relay on 127.0.0.1 in front of the sshd that holds every chunk for
`delay` seconds in each direction (order kept, throughput not limited), so a round trip
takes twice that. ssh reaches it as `127.0.0.1:RELAY_PORT`; the sshd's host key is written
to a known-hosts file for that port (`ssh_options`), given first on ssh's command line.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QTimer
from remote_fixtures import copy_fixture
from sshd import Sshd

from inspector.main_window import MainWindow

#: The client name the window's edits are traced with.
CLIENT = "tester@laptop"
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def shot_path(name: str, tmp_path: Path) -> str:
    """Where a test saves the screenshot `name`: docs/screenshots/ when SHEPHERD_SCREENSHOTS
    is set (to renew the committed pictures), else the test's own folder (still rendered)."""
    folder = SHOTS if os.environ.get("SHEPHERD_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / name)


@contextlib.contextmanager
def shot_database(name: str) -> Iterator[Path]:
    """A copy of the Rust fixture `name` as `shepherdd.db` in a short-named folder (the
    screenshots show its address), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="kids-pc-"))
    try:
        yield copy_fixture(folder, name).rename(folder / "shepherdd.db")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remote_options(sshd: Sshd, **more: Any) -> dict[str, Any]:
    """`RemoteStore` options (Database.remote_options) that reach `sshd` with this venv's
    python on the other side."""
    return {"ssh_config": str(sshd.ssh_config), "remote_python": [sys.executable],
            "client_name": CLIENT, "connect_timeout": 30.0, **more}


def remote_window(qtbot: Any, sshd: Sshd, path: Path, *, url: str | None = None,
                  wait: bool = True, **options: Any) -> MainWindow:
    """A shown main window opening the database at `path` through `sshd` (connected, with
    its first page read, when `wait`)."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.db.remote_options = remote_options(sshd, **options)
    window.show()
    window.open_path(url or sshd.url(path))
    if wait:
        qtbot.waitUntil(lambda: window.db.store is not None, timeout=30_000)
        qtbot.waitUntil(lambda: window.audit.model.rowCount() > 0, timeout=30_000)
    return window


def close_window(window: MainWindow) -> None:
    """Close `window` and wait for its remote connection's threads (no thread left)."""
    from inspector import workers

    window.close()
    workers.wait_all()
    assert window.db.wait_closed(15.0)


def spin_until(check: Callable[[], bool], timeout: float) -> bool:
    """Run the event loop until `check()` (True) or `timeout` seconds (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QCoreApplication.processEvents()
        if check():
            return True
        time.sleep(0.005)
    return check()


class Heartbeat:
    """A 10 ms QTimer on the GUI thread; `longest_gap_ms` is the longest time between two
    of its ticks (how long the event loop did not turn)."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.gaps: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last: int | None = None

    def start(self) -> None:
        self._clock.start()
        self._last = self._clock.elapsed()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = self._clock.elapsed()
        if self._last is not None:
            self.gaps.append(now - self._last)
        self._last = now

    @property
    def longest_gap_ms(self) -> float:
        return max(self.gaps, default=0.0)


class SlowRelay:
    """127.0.0.1:`port` → 127.0.0.1:`target`, every chunk held `delay` seconds (see module).
    `stop()` closes everything and ends its threads."""

    def __init__(self, target: int, delay: float) -> None:
        self.target = target
        self.delay = delay
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(8)
        self._server.settimeout(0.2)  # (accept looks at `_stopped` between waits)
        self.port = int(self._server.getsockname()[1])
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._start(self._accept, "relay-accept")

    def _start(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _addr = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            self._pipe(client, upstream)
            self._pipe(upstream, client)

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        """Read `src` on one thread; write to `dst` `delay` later on another."""
        queue: list[tuple[float, int, bytes]] = []
        ready = threading.Condition()
        order = itertools.count()

        def read() -> None:
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                with ready:
                    heapq.heappush(queue, (time.monotonic() + self.delay, next(order), data))
                    ready.notify()
                if not data:
                    return

        def write() -> None:
            while True:
                with ready:
                    while not queue:
                        ready.wait()
                    due, _n, data = queue[0]
                    wait = due - time.monotonic()
                    if wait > 0:
                        ready.wait(wait)
                        continue
                    heapq.heappop(queue)
                if not data:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    return
                try:
                    dst.sendall(data)
                except OSError:
                    return

        self._start(read, "relay-read")
        self._start(write, "relay-write")

    def known_hosts(self, sshd: Sshd, folder: Path) -> Path:
        """A known-hosts file naming the sshd's host key for the relay's address."""
        key = (sshd.folder / "host_key.pub").read_text().split()
        path = folder / f"known_hosts_relay_{self.port}"
        path.write_text(f"[127.0.0.1]:{self.port} {key[0]} {key[1]}\n")
        return path

    def ssh_options(self, sshd: Sshd, folder: Path) -> list[str]:
        """ssh options (before the config's) that accept the sshd's key at the relay."""
        return ["-o", f"UserKnownHostsFile={self.known_hosts(sshd, folder)}"]

    def url(self, sshd: Sshd, path: Path) -> str:
        return f"ssh://{sshd.user}@127.0.0.1:{self.port}{path.absolute()}"

    def stop(self) -> None:
        self._stopped.set()
        self._server.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in threads:
            thread.join(5)
