"""One `ssh` process speaking the protocol: requests from any thread, answers and notices
read by a thread of its own.

Requests are numbered; each waits for its answer with a timeout, and any number may be
under way at once (the server answers them in any order). A thread reads stdout: the
server's hello first (lines before it, such as a login banner a shell prints, are skipped),
then answers, handed to the request that waits for each, and notices. A third thread calls
`on_notice` with each notice, in order, and then `on_lost`: a callback may make requests of
its own (the reader is not waiting for it). Another thread keeps the last lines of stderr,
for the messages. When stdout ends (ssh exited: the link dropped, the server ended, the
process was killed) every waiting request fails with `ConnectionLostError`, and `on_lost`
hears of it unless the connection was being closed.
"""

from __future__ import annotations

import collections
import io
import logging
import queue
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any, cast

from ..errors import ConnectionLostError, ProtocolError, RemoteTimeoutError, StoreError
from .codec import decode_value, encode_value
from .protocol import decode_error, decode_line, encode_line

__all__ = ["Connection", "StartFailed"]

_LOG = logging.getLogger("shepherd_store.remote")
#: The longest answer line read (years of usage are a few MB).
MAX_ANSWER_BYTES = 256 << 20
#: Bytes the answers' reader asks the pipe for at a time.
READ_BUFFER = 1 << 16
#: Lines before the hello that are skipped (a login banner); more means it is not a server.
MAX_NOISE_LINES = 200
#: How long closing waits for the remote side to end after its input closed.
CLOSE_WAIT_S = 3.0


class StartFailed(Exception):
    """The remote side ended before its hello: ssh's exit status and what stderr said."""

    def __init__(self, status: int | None, stderr: str) -> None:
        super().__init__(f"exit status {status}: {stderr[-300:]}")
        self.status = status
        self.stderr = stderr


class _Waiting:
    """A request waiting for its answer."""

    __slots__ = ("answer", "done")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: dict[str, Any] | None = None  # None when the connection was lost



@dataclass(frozen=True)
class Pending:
    """A request sent and not yet answered."""

    rid: int
    op: str
    edit_id: str | None
    waiting: _Waiting

class Connection:
    """The ssh process `argv` and its two reader threads."""

    def __init__(self, argv: list[str], *, where: str,
                 on_notice: Callable[[dict[str, Any]], None],
                 on_lost: Callable[[Connection, ConnectionLostError], None]) -> None:
        self.where = where
        self._on_notice = on_notice
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._waiting: dict[int, _Waiting] = {}
        self._next_id = 0
        self._hello: dict[str, Any] | None = None
        self._said_hello = threading.Event()
        self._noise: collections.deque[str] = collections.deque(maxlen=20)
        self._stderr: collections.deque[str] = collections.deque(maxlen=60)
        self._lost: ConnectionLostError | None = None
        self._closing = False
        #: The callbacks to make, in order (None: no more).
        self._calls: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                bufsize=0, start_new_session=True)
        except OSError as exc:
            raise ConnectionLostError(f"Cannot start {argv[0]} to reach {where}: {exc}. "
                                      "Install the OpenSSH client (ssh).") from None
        self._threads = [
            threading.Thread(target=self._read_answers, name="shepherd-remote-reader",
                             daemon=True),
            threading.Thread(target=self._read_stderr, name="shepherd-remote-stderr",
                             daemon=True),
            threading.Thread(target=self._call_back, name="shepherd-remote-callbacks",
                             daemon=True)]
        for thread in self._threads:
            thread.start()

    # --- starting ------------------------------------------------------------------------

    def wait_hello(self, timeout: float) -> dict[str, Any]:
        """The server's hello; `StartFailed` if it ended first, `RemoteTimeoutError` if it
        said nothing for `timeout` seconds (ssh waiting for a password it cannot ask for?)."""
        if not self._said_hello.wait(timeout):
            raise RemoteTimeoutError(
                f"{self.where} did not answer within {timeout:g} s. If ssh asks for a "
                "password or a passphrase, load the key into ssh-agent first; check that "
                f"'ssh {self.where}' works.")
        if self._hello is None:
            status = self._exit_status()
            self._join_readers()
            noise = "\n".join(self._noise)
            raise StartFailed(status, "\n".join([*self._stderr, *([noise] if noise else [])]))
        return self._hello

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    @property
    def lost(self) -> ConnectionLostError | None:
        return self._lost

    # --- requests ------------------------------------------------------------------------

    def request(self, op: str, args: Mapping[str, Any], *, timeout: float | None,
                edit_id: str | None = None) -> Any:
        """Send one request and wait for its answer: the result, or the error it carries
        raised as itself. `ConnectionLostError` when the connection drops first,
        `RemoteTimeoutError` after `timeout` seconds (None: wait as long as it takes)."""
        return self.answer(self.send(op, args, edit_id=edit_id), timeout=timeout)

    def send(self, op: str, args: Mapping[str, Any], *,
             edit_id: str | None = None) -> Pending:
        """Send one request now; `answer` waits for it. (Sent before the server's hello has
        arrived, a request waits in the pipe until the server reads it: the round trip of
        the hello and the request's own overlap.)"""
        waiting = _Waiting()
        encoded = {k: encode_value(v) for k, v in args.items()}
        with self._lock:
            if self._lost is not None:
                raise self._lost_error(edit_id)
            self._next_id += 1
            rid = self._next_id
            self._waiting[rid] = waiting
        pending = Pending(rid, op, edit_id, waiting)
        line = encode_line({"id": rid, "op": op, "args": encoded})
        try:
            with self._write_lock:
                stdin = self.process.stdin
                assert stdin is not None
                stdin.write(line)
                stdin.flush()
        except (OSError, ValueError):  # (ssh is gone: the reader says why in a moment)
            waiting.done.wait(2.0)
            with self._lock:
                self._waiting.pop(rid, None)
            raise self._lost_error(edit_id) from None
        return pending

    def answer(self, pending: Pending, *, timeout: float | None) -> Any:
        """The answer to a request `send` sent (see `request`)."""
        waiting, edit_id = pending.waiting, pending.edit_id
        if not waiting.done.wait(timeout):
            with self._lock:
                self._waiting.pop(pending.rid, None)
            raise RemoteTimeoutError(
                f"{self.where} did not answer {pending.op} within {timeout:g} s (a slow link, "
                "or a long read there); try again"
                + (", with the same edit id" if edit_id else ""), edit_id=edit_id)
        answer = waiting.answer
        if answer is None:
            raise self._lost_error(edit_id)
        if answer.get("ok") is True:
            return decode_value(answer.get("result"))
        error = decode_error(answer.get("error"))
        raise error

    def _lost_error(self, edit_id: str | None) -> ConnectionLostError:
        lost = self._lost
        message = lost.message if lost is not None else f"The connection to {self.where} " \
            "was lost."
        if edit_id is not None:
            message += (" The edit may or may not have been applied: reconnect and send it "
                        "again with the same edit id, which applies it once.")
        return ConnectionLostError(message, path=lost.path if lost else None, edit_id=edit_id)

    # --- the reader threads --------------------------------------------------------------

    def _read_answers(self) -> None:
        assert self.process.stdout is not None
        # ssh's stdout is unbuffered (bufsize=0): its readline would make a system call per
        # byte (a year of usage, a line of 680 KB, spent 230 ms in it); a buffer reads at once
        # what has arrived.
        stdout = io.BufferedReader(cast(io.RawIOBase, self.process.stdout), READ_BUFFER)
        try:
            while True:
                line = stdout.readline(MAX_ANSWER_BYTES)
                if not line:
                    break
                if not line.endswith(b"\n") and len(line) >= MAX_ANSWER_BYTES:
                    _LOG.warning("%s sent a line longer than %d bytes; disconnecting",
                                 self.where, MAX_ANSWER_BYTES)
                    self.process.kill()
                    break
                if not self._handle(line):
                    self.process.kill()
                    break
        except (OSError, ValueError):
            pass
        finally:
            self._ended()

    def _handle(self, line: bytes) -> bool:
        """Take one line; False when the other side is not a server at all."""
        try:
            message = decode_line(line)
        except ProtocolError as exc:
            if self._hello is None:  # (a banner a login shell printed)
                self._noise.append(line[:300].decode("utf-8", "replace").rstrip())
                return len(self._noise) < MAX_NOISE_LINES
            _LOG.warning("%s sent a malformed line: %s", self.where, exc)
            return True
        if self._hello is None:
            if "hello" in message:
                self._hello = message
                self._said_hello.set()
            else:
                self._noise.append(str(message)[:300])
            return True
        if "notice" in message:
            self._calls.put(lambda: self._on_notice(message))
            return True
        rid = message.get("id")
        with self._lock:
            waiting = self._waiting.pop(rid, None) if isinstance(rid, int) else None
        if waiting is not None:
            waiting.answer = message
            waiting.done.set()
        elif rid is None and not message.get("ok", True):
            _LOG.warning("%s refused a request: %s", self.where, message.get("error"))
        return True

    def _read_stderr(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        try:
            for raw in iter(stderr.readline, b""):
                text = raw[:2000].decode("utf-8", "replace").rstrip()
                self._stderr.append(text)
                _LOG.debug("%s: %s", self.where, text)
        except (OSError, ValueError):
            pass

    def _ended(self) -> None:
        """stdout ended: fail every waiting request, and say so unless closing."""
        status = self._exit_status()
        tail = "\n".join(list(self._stderr)[-5:]).strip()
        detail = f" (ssh exit status {status}: {tail})" if tail else \
            f" (ssh exit status {status})" if status is not None else ""
        lost = ConnectionLostError(f"The connection to {self.where} was lost{detail}.")
        with self._lock:
            self._lost = lost
            waiting, self._waiting = self._waiting, {}
        for w in waiting.values():
            w.done.set()
        self._said_hello.set()
        if not self._closing and self._hello is not None:
            self._calls.put(lambda: self._on_lost(self, lost))
        self._calls.put(None)

    def _call_back(self) -> None:
        while (call := self._calls.get()) is not None:
            try:
                call()
            except Exception:  # a callback's failure must not stop the others
                _LOG.exception("a callback of the connection to %s failed", self.where)

    def _exit_status(self) -> int | None:
        try:
            return self.process.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            return None

    # --- ending --------------------------------------------------------------------------

    def kill(self) -> None:
        """End the ssh process at once, as a dropped link would (requests under way fail
        with `ConnectionLostError`; whatever the server was doing completes or not)."""
        if self.process.poll() is None:
            self.process.kill()

    def close(self) -> None:
        """Close the input (the server finishes its requests and ends), wait for the end,
        then stop the process if it lingers; the reader threads end with it."""
        self._closing = True
        with self._write_lock:
            try:
                if self.process.stdin is not None:
                    self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(CLOSE_WAIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._join_readers()

    def _join_readers(self) -> None:
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(CLOSE_WAIT_S)
        for pipe in (self.process.stdout, self.process.stderr):
            _close(pipe)


def _close(pipe: IO[bytes] | None) -> None:
    try:
        if pipe is not None:
            pipe.close()
    except OSError:
        pass


def is_retryable(exc: StoreError) -> bool:
    """Whether connecting again may help (the link, not the remote computer's setup)."""
    return isinstance(exc, (ConnectionLostError, RemoteTimeoutError))
