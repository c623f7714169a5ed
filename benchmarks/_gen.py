"""Large synthetic Shepherd databases for benchmarks, in both layouts, cached on disk.

`ensure_db("seed" | "rust", n_events)` returns the path of a database holding `n_events`
audit events of realistic mixed types over about two years (~30 entries, sessions with
UUIDs, America/New_York offsets like the fixtures), plus matching usage, a few cooldowns and
a snapshot. Files are cached under `bench-data/` (gitignored; $BENCH_DATA moves it), keyed
by layout, size and generator version; a lock file keeps concurrent benchmarks from
generating twice.

    .venv/bin/python benchmarks/_gen.py [--events N] [--layout seed|rust|both]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from shepherd_store import (  # noqa: E402
    AdminStop,
    ClientConnected,
    ClientDisconnected,
    ConfigReloaded,
    Event,
    Expired,
    LaunchDenied,
    LaunchFailed,
    PolicyLoaded,
    PolicyStop,
    ProcessExited,
    ServiceShutdown,
    ServiceStarted,
    ServiceStopped,
    SessionEnded,
    SessionEndReason,
    SessionExtended,
    SessionSnapshot,
    SessionStarted,
    SqliteStore,
    StateSnapshot,
    UserStop,
    WarningIssued,
    encode_event,
    encode_snapshot,
)
from shepherd_store.schema import RUST_DDL  # noqa: E402
from shepherd_store.timefmt import format_timestamp  # noqa: E402

#: BENCH_DATA moves the cache (the test suite's quick runs keep theirs in a temporary dir).
CACHE = Path(os.environ.get("BENCH_DATA") or REPO / "bench-data")
GEN_VERSION = 1
START = datetime(2024, 11, 1, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=730)
BATCH = 50_000

ENTRIES = [
    ("tuxmath", "Tux Math"), ("minecraft", "Minecraft"), ("scummvm-puttputt", "Putt-Putt"),
    ("supertuxkart", "SuperTuxKart"), ("gcompris", "GCompris"), ("tuxpaint", "Tux Paint"),
    ("childsplay", "Childsplay"), ("frozen-bubble", "Frozen Bubble"), ("kturtle", "KTurtle"),
    ("scratch", "Scratch"), ("stellarium", "Stellarium"), ("celestia", "Celestia"),
    ("marble", "Marble"), ("ktouch", "KTouch"), ("pingus", "Pingus"),
    ("neverball", "Neverball"), ("supertux", "SuperTux"), ("0ad", "0 A.D."),
    ("wesnoth", "Battle for Wesnoth"), ("minetest", "Minetest"), ("firefox-kids", "Firefox"),
    ("vlc", "VLC"), ("libreoffice", "LibreOffice"), ("inkscape", "Inkscape"),
    ("gimp", "GIMP"), ("blender", "Blender"), ("musescore", "MuseScore"),
    ("lmms", "LMMS"), ("krita", "Krita"), ("openttd", "OpenTTD"),
]
DENIALS = [
    "QuotaExhausted {{ used: {q}s, quota: {q}s }}",
    "CooldownActive {{ available_at: {t} }}",
    "OutsideTimeWindow {{ next_window_start: Some({t}) }}",
    "SessionActive {{ entry_id: EntryId(\"{e}\"), remaining: Some({r}s) }}",
]


def _local_zone() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/New_York")
    except Exception:  # no tz database: a fixed offset still exercises offsets
        from datetime import timezone

        return timezone(timedelta(hours=-5))


def _reason(rng: random.Random) -> SessionEndReason:
    roll = rng.random()
    if roll < 0.45:
        return Expired()
    if roll < 0.75:
        return UserStop()
    if roll < 0.82:
        return ProcessExited(rng.choice((0, 0, 0, 1, -9, None)))
    if roll < 0.88:
        return AdminStop()
    if roll < 0.93:
        return PolicyStop()
    if roll < 0.98:
        return ServiceShutdown()
    return LaunchFailed("spawn failed: No such file or directory (os error 2)")


def generate(n: int, seed: int = 20260110) -> Iterator[tuple[datetime, Event]]:
    """`n` events in time order: sessions with warnings, denials, clients, restarts."""
    rng = random.Random(seed)
    zone = _local_zone()
    gap = SPAN.total_seconds() / max(n, 1)
    t = START.timestamp()
    made = 0
    clients: list[str] = []

    def tick(scale: float = 1.0) -> datetime:
        nonlocal t
        t += rng.expovariate(1.0 / (gap * scale))
        return datetime.fromtimestamp(t, zone)

    while made < n:
        roll = rng.random()
        block: list[tuple[datetime, Event]] = []
        if roll < 0.62:
            entry, label = ENTRIES[min(int(rng.paretovariate(1.2)) - 1, len(ENTRIES) - 1)]
            sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            started = tick()
            limited = rng.random() < 0.9
            quota = rng.choice((900, 1800, 2700, 3600))
            deadline = started + timedelta(seconds=quota) if limited else None
            block.append((started, SessionStarted(sid, entry, label, deadline)))
            if limited:
                for threshold in (300, 60)[: rng.choice((0, 1, 2, 2, 2))]:
                    block.append((tick(0.5), WarningIssued(sid, threshold)))
                if rng.random() < 0.12:
                    extra = timedelta(seconds=rng.choice((300, 600, 900)))
                    assert deadline is not None
                    deadline += extra
                    block.append((tick(0.3), SessionExtended(sid, extra, deadline)))
            ended = tick()
            duration = timedelta(seconds=rng.uniform(1, quota),
                                 microseconds=rng.randrange(1_000_000))
            block.append((ended, SessionEnded(sid, entry, _reason(rng), duration)))
        elif roll < 0.80:
            entry = rng.choice(ENTRIES)[0]
            when = tick()
            texts = [DENIALS[i].format(q=rng.choice((1800, 3600)), e=entry,
                                       r=rng.randrange(60, 900),
                                       t=format_timestamp(when + timedelta(hours=1)))
                     for i in sorted(rng.sample(range(len(DENIALS)), rng.choice((1, 1, 2))))]
            block.append((when, LaunchDenied(entry, tuple(texts))))
        elif roll < 0.92:
            if clients and rng.random() < 0.5:
                block.append((tick(), ClientDisconnected(clients.pop(rng.randrange(len(clients))))))
            else:
                cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                clients.append(cid)
                role = rng.choice(("Shell", "Shell", "Shell", "Admin", "Observer"))
                uid = rng.choice((1000, 1001, 1002, None))
                block.append((tick(), ClientConnected(cid, role, uid)))
        elif roll < 0.96:
            block.append((tick(), ConfigReloaded(rng.random() < 0.9)))
        else:
            block.append((tick(), ServiceStopped()))
            block.append((tick(5), ServiceStarted()))
            block.append((tick(0.1), PolicyLoaded(len(ENTRIES))))
        for item in block:
            if made >= n:
                return
            yield item
            made += 1


def _rows(layout: str, n: int, usage: dict[tuple[str, str], int]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    rust = layout == "rust"
    for when, event in generate(n):
        stamp = format_timestamp(when)
        text = encode_event(event, rust=rust)
        if isinstance(event, SessionEnded):
            key = (event.entry_id, when.strftime("%Y-%m-%d"))
            usage[key] = usage.get(key, 0) + event.duration.days * 86400 + event.duration.seconds
        batch.append((stamp, text) if rust else (stamp, event.TYPE, text))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def build(layout: str, n: int, path: Path) -> None:
    """Write a new database at `path` (which must not exist)."""
    if layout == "seed":
        SqliteStore.open(path).close()  # the seed schema, indexes and WAL mode
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")
        if layout == "rust":
            conn.execute("BEGIN")
            for ddl in RUST_DDL:
                conn.execute(ddl)
            conn.execute("COMMIT")
        insert = ("INSERT INTO audit_log (timestamp, event_json) VALUES (?, ?)" if layout == "rust"
                  else "INSERT INTO audit_log (timestamp, event_type, event_data) VALUES (?, ?, ?)")
        usage: dict[tuple[str, str], int] = {}
        conn.execute("BEGIN")
        for batch in _rows(layout, n, usage):
            conn.executemany(insert, batch)
        conn.executemany("INSERT INTO usage (entry_id, day, duration_secs) VALUES (?, ?, ?)",
                         [(e, d, s) for (e, d), s in sorted(usage.items())])
        end = START + SPAN
        conn.executemany("INSERT INTO cooldowns (entry_id, until) VALUES (?, ?)",
                         [(entry, format_timestamp((end + timedelta(hours=i)).astimezone(
                             _local_zone()))) for i, (entry, _) in enumerate(ENTRIES[:5])])
        snap = StateSnapshot(end.astimezone(_local_zone()), SessionSnapshot(
            "33333333-3333-4333-8333-333333333333", "minecraft", end - timedelta(minutes=10),
            end + timedelta(minutes=50), (300,)))
        col = "snapshot_json" if layout == "rust" else "data"
        conn.execute(f"INSERT INTO snapshot (id, {col}) VALUES (1, ?)", (encode_snapshot(snap),))
        conn.execute("COMMIT")
        if layout == "seed":
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def ensure_db(layout: str, n_events: int) -> Path:
    """Path of a cached database of `layout` ("seed" or "rust") with `n_events` events."""
    if layout not in ("seed", "rust"):
        raise ValueError(f"layout must be 'seed' or 'rust', not {layout!r}")
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{layout}-{n_events}-v{GEN_VERSION}.db"
    with (CACHE / f".{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            for leftover in CACHE.glob(f".{path.name}.*.tmp*"):
                leftover.unlink()
            start = time.perf_counter()
            build(layout, n_events, tmp)
            for suffix in ("-wal", "-shm"):  # closed cleanly: nothing should be left
                Path(str(tmp) + suffix).unlink(missing_ok=True)
            tmp.rename(path)
            print(f"[gen] {path.name}: {n_events:,} events in "
                  f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--layout", choices=("seed", "rust", "both"), default="both")
    args = ap.parse_args()
    for layout in ("seed", "rust") if args.layout == "both" else (args.layout,):
        path = ensure_db(layout, args.events)
        print(f"{path} ({path.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
