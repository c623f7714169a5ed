"""Exporting audit events from a process of its own, for a window that must stay responsive.

An export written by one of the window's threads shares the GIL with its GUI thread: the
60 s soak saw the window wait 100-140 ms at a time while a worker turned rows into CSV
or JSON in Python. `export_in_child` runs `python -m shepherd_store.export_job` instead,
which writes the file (at a lower CPU priority) and reports its progress on a pipe; the
calling thread only waits on that pipe, which costs the GUI thread nothing.

The child reads one JSON job from stdin (`job_json`), writes the events to the job's
`out` file with `write_csv` / `write_json`, prints the count written every
`PROGRESS_ROWS` rows and `done N` at the end; on a `StoreError` or `OSError` it prints
the message on stderr and exits with status 3.

The child ignores SIGINT (Ctrl-C in a terminal reaches the whole process group: the window
decides about its export, and cancels it when it quits), and on Linux it dies with the
thread that started it (`PR_SET_PDEATHSIG`), so an export never outlives a killed window;
elsewhere its next progress line fails on the closed pipe instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import DatabaseError, StoreError
from .export import iter_events, write_csv, write_json
from .query import AuditFilter
from .store import SqliteStore

PROGRESS_ROWS = 500
NICENESS = 5  # added to the child's nice value (lower CPU priority)
FORMATS = ("csv", "json")
_POLL_S = 0.1  # how often the waiting thread looks at `cancelled`
_FAILED = 3
_PARENT_ENV = "SHEPHERD_EXPORT_PARENT"  # the pid of the process that started the child
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def filter_to_json(flt: AuditFilter) -> dict[str, Any]:
    """`flt` as plain JSON values (times as ISO 8601 with their offsets)."""
    return {
        "event_types": sorted(flt.event_types),
        "entry_id": flt.entry_id,
        "session_id": flt.session_id,
        "since": flt.since.isoformat() if flt.since is not None else None,
        "until": flt.until.isoformat() if flt.until is not None else None,
        "text": flt.text,
    }


def filter_from_json(data: dict[str, Any]) -> AuditFilter:
    """The `AuditFilter` that `filter_to_json` wrote."""
    def when(value: Any) -> datetime | None:
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    return AuditFilter(event_types=frozenset(data.get("event_types") or ()),
                       entry_id=data.get("entry_id"), session_id=data.get("session_id"),
                       since=when(data.get("since")), until=when(data.get("until")),
                       text=data.get("text"))


def job_json(db: str | os.PathLike[str], flt: AuditFilter, fmt: str,
             out: str | os.PathLike[str]) -> str:
    """The job the child reads: which database, which events, which format, which file."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    return json.dumps({"db": os.fspath(db), "filter": filter_to_json(flt), "format": fmt,
                       "out": os.fspath(out)})


def run_job(text: str, progress: Callable[[int], None]) -> int:
    """Do the job of `job_json` text here; returns how many events were written."""
    job = json.loads(text)
    flt = filter_from_json(job["filter"])

    def on_row(n: int) -> bool:
        if n % PROGRESS_ROWS == 0:
            progress(n)
        return True

    with SqliteStore.open(job["db"], read_only=True) as store, \
            open(job["out"], "w", encoding="utf-8", newline="") as out:
        events = iter_events(store, flt)
        if job["format"] == "csv":
            return write_csv(events, out, on_row)
        return write_json(events, out, on_row=on_row)


def export_in_child(db: str | os.PathLike[str], flt: AuditFilter, fmt: str,
                    out: str | os.PathLike[str], *, report: Callable[[int], None],
                    cancelled: Callable[[], bool]) -> int | None:
    """Write the matching events to `out` from a child process; the count written, or None
    when `cancelled()` turned true first (the child is killed; `out` may hold a part).

    Raises `StoreError` with the child's message when it failed.
    """
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env[_PARENT_ENV] = str(os.getpid())
    proc = subprocess.Popen(
        [sys.executable, "-m", "shepherd_store.export_job"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(job_json(db, flt, fmt, out).encode("utf-8"))
        proc.stdin.close()
        written: int | None = None
        pending = b""
        while True:
            if cancelled():
                return None
            ready, _, _ = select.select([proc.stdout], [], [], _POLL_S)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if line.startswith(b"done "):
                    written = int(line[5:])
                elif line.strip().isdigit():
                    report(int(line))
        status = proc.wait()
        if status != 0 or written is None:
            message = proc.stderr.read().decode("utf-8", "replace").strip()
            raise DatabaseError(message or f"the export stopped (exit status {status})")
        return written
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            stream.close()


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this child when the thread that started it ends (it
    waits for the child until then): a window killed with SIGKILL leaves no export behind."""
    parent = os.environ.get(_PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != parent:  # the parent died before prctl: nobody waits for this
        os._exit(_FAILED)


def main() -> int:
    """The child: read the job on stdin, write the file, report on stdout.

    At a lower CPU priority: on a small machine a background export must not slow the
    window that started it, nor the service writing the same database.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    with contextlib.suppress(AttributeError, OSError):
        os.nice(NICENESS)

    def progress(n: int) -> None:
        print(n, flush=True)

    try:
        n = run_job(sys.stdin.read(), progress)
    except (StoreError, OSError) as exc:
        print(str(exc), file=sys.stderr)
        return _FAILED
    print(f"done {n}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
