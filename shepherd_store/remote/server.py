"""`python -m shepherd_store.remote serve --stdio --db PATH [--write]`: the database of this
computer, served to a `RemoteStore` on another one over the SSH connection that started it.

Requests arrive on stdin, one JSON line each (`protocol`); the answers and the change
notices leave on stdout, one line each, written under one lock; everything else (the log)
goes to stderr. The database is opened read-only (`mode=ro`: never a byte changed); edits
are possible only with `--write` and when the client asked for them, each on a short-lived
writable connection (`edits`). Requests run on a few worker threads, each with its own
read connection, so a long check does not hold up a page; every one of them is the
library's own bounded read (`ops`). The watcher (`watcher`) pushes change notices.

The server ends, after finishing the requests under way, at the end of its input (the
client closed the connection, or ssh died), and at SIGTERM or SIGHUP; a closed output
(SIGPIPE, ignored by Python, becomes EPIPE) only stops the answers.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ProtocolError, StoreError
from ..store import ChangeToken, SqliteStore
from ..store_open import user_name
from .codec import decode_value, encode_value, schema_digest
from .ops import Session, run_op
from .protocol import (
    MAX_REQUEST_BYTES,
    PROTOCOL_VERSION,
    decode_line,
    encode_line,
    error_response,
    hello_message,
    ok_response,
)
from .watcher import ChangeWatcher

__all__ = ["Server", "serve_main", "serve_parser"]

#: Requests answered at once (each worker has its own read connection).
WORKERS = 4
#: The longest "who" a client may give for the traces of its edits.
MAX_CLIENT_NAME = 120


class _Stop(BaseException):
    """SIGTERM or SIGHUP arrived: stop reading, finish what runs, exit."""


def _log(text: str) -> None:
    try:
        sys.stderr.write(f"shepherd-store serve: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # (stderr is gone with the connection)


class Server:
    """One client's session: reads `stdin`, answers on `stdout`."""

    def __init__(self, db: str, *, write: bool, stdin: BinaryIO, stdout: BinaryIO,
                 workers: int = WORKERS) -> None:
        self.db = db
        self.write = write
        self._in = stdin
        self._out = stdout
        self._out_lock = threading.Lock()
        self._output_closed = False
        self._pool = ThreadPoolExecutor(max_workers=workers,
                                        thread_name_prefix="shepherd-remote")
        self.session: Session | None = None

    def run(self) -> int:
        """Serve until the input ends or a signal stops it; the exit status."""
        library = Path(__file__).resolve().parent.parent
        self._send(hello_message(library=str(library), user=user_name(),
                                 host=socket.gethostname(), pid=os.getpid()))
        stopped = False
        try:
            while (line := self._read_line()) is not None:
                if line.strip():
                    self._dispatch(line)
        except (_Stop, KeyboardInterrupt):
            stopped = True
            _log("stopping on a signal")
        finally:
            self.close(cancel=stopped)
        return 0

    def close(self, *, cancel: bool = False) -> None:
        """Finish (or with `cancel`, drop the queued) requests, stop watching, close."""
        self._pool.shutdown(wait=True, cancel_futures=cancel)
        session, self.session = self.session, None
        if session is not None:
            if session.watcher is not None:
                session.watcher.stop()
            session.store.close()

    # --- input ---------------------------------------------------------------------------

    def _read_line(self) -> bytes | None:
        """The next request line (b"" for one to skip), None at the end of the input."""
        line = self._in.readline(MAX_REQUEST_BYTES + 1)
        if not line:
            return None
        if len(line) > MAX_REQUEST_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # the rest of the line, unread
                line = self._in.readline(MAX_REQUEST_BYTES)
            self._send(error_response(None, ProtocolError(
                f"a request longer than {MAX_REQUEST_BYTES} bytes was ignored")))
            return b""
        return line

    def _dispatch(self, line: bytes) -> None:
        try:
            message = decode_line(line)
        except ProtocolError as exc:
            self._send(error_response(None, exc))
            return
        rid = message.get("id")
        if isinstance(rid, bool) or not isinstance(rid, (int, str)):
            self._send(error_response(None, ProtocolError(
                "every request needs an id (a number or a string)")))
            return
        op, raw = message.get("op"), message.get("args", {})
        if not isinstance(op, str) or not isinstance(raw, dict):
            self._send(error_response(rid, ProtocolError(
                'a request is {"id": ..., "op": "name", "args": {...}}')))
            return
        try:
            args = {str(k): decode_value(v) for k, v in raw.items()}
        except ProtocolError as exc:
            self._send(error_response(rid, exc))
            return
        session = self.session
        if op == "open":
            self._answer(rid, lambda: self._open(args))
        elif op == "ping":
            self._send(ok_response(rid, "pong"))
        elif session is None:
            self._send(error_response(rid, ProtocolError(
                f"send open before {op[:60]!r}: no database is open yet")))
        else:
            self._pool.submit(self._answer, rid, lambda: run_op(session, op, args))

    def _answer(self, rid: Any, work: Callable[[], Any]) -> None:
        try:
            response = ok_response(rid, work())
        except Exception as exc:  # every failure is an answer; the server carries on
            if not isinstance(exc, StoreError):
                _log("".join(traceback.format_exception(exc)).rstrip())
            response = error_response(rid, exc)
        self._send(response)

    # --- the session ---------------------------------------------------------------------

    def _open(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.session is not None:
            raise ProtocolError("the database is open already")
        if args.get("protocol") != PROTOCOL_VERSION or args.get("schema") != schema_digest():
            raise ProtocolError(
                f"the client speaks protocol {args.get('protocol')} ({args.get('schema')}), "
                f"this server {PROTOCOL_VERSION} ({schema_digest()}): use the same version "
                "of shepherd_store on both computers")
        client = "".join(c for c in str(args.get("client") or "someone")
                         if c.isprintable())[:MAX_CLIENT_NAME]
        store = SqliteStore.open(self.db, read_only=True)
        try:
            session = Session(store=store, path=self.db,
                              write=self.write and args.get("write") is True,
                              who=f"{client} via SSH as {user_name()}")
            session.watcher = ChangeWatcher(store, self.db, self._changed, self._gone)
            session.watcher.start()
        except BaseException:
            store.close()
            raise
        self.session = session
        _log(f"serving {store.path} to {client}"
             + (" with write access" if session.write else " read-only"))
        return {**session.facts(), "user": user_name(), "host": socket.gethostname()}

    def _changed(self, token: ChangeToken) -> None:
        self._send({"notice": "changed", "token": encode_value(token)})

    def _gone(self) -> None:
        self._send({"notice": "gone"})

    # --- output --------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        data = encode_line(message)
        with self._out_lock:
            if self._output_closed:
                return
            try:
                self._out.write(data)
                self._out.flush()
            except (OSError, ValueError):  # EPIPE: the client is gone; the input ends soon
                self._output_closed = True


def serve_parser(prog: str = "shepherd-store serve") -> argparse.ArgumentParser:
    """The arguments of `serve` (everything after the word `serve`)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve a Shepherd database to a RemoteStore on another "
        "computer over this process's stdin and stdout (started through ssh by the client).")
    parser.add_argument("--stdio", action="store_true", required=True,
                        help="speak the JSON-lines protocol on stdin/stdout (the only mode)")
    parser.add_argument("--db", required=True, metavar="PATH",
                        help="the database file on this computer")
    parser.add_argument("--write", action="store_true",
                        help="allow edits (the client must ask for them too); without it "
                             "the database is opened read-only")
    return parser


def serve_main(argv: Sequence[str] | None = None, prog: str = "shepherd-store serve") -> int:
    """`serve --stdio --db PATH [--write]` (argv without the word `serve`): the exit status."""
    args = serve_parser(prog).parse_args(argv)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but the protocol may reach the real stdout
    if threading.current_thread() is threading.main_thread():
        def stop(_signum: int, _frame: object) -> None:
            raise _Stop
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGHUP, stop)
    server = Server(args.db, write=args.write, stdin=sys.stdin.buffer, stdout=out)
    return server.run()
