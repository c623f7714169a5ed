"""A separate writer process: appends N events to a database (as shepherdd would).

Usage: python -m tests.helpers.writer PATH COUNT DELAY_SECONDS
Prints `ack <id>` after each committed event, then `done`.
"""

from __future__ import annotations

import sys
import time
import uuid

from shepherd_store import AuditEvent, SessionStarted, SqliteStore


def main() -> int:
    path, count, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    with SqliteStore.open(path) as store:
        for i in range(count):
            event = AuditEvent.new(SessionStarted(session_id=str(uuid.uuid4()),
                                                  entry_id=f"writer-{i % 3}",
                                                  label=f"Writer {i % 3}", deadline=None))
            store.append_audit(event)
            print(f"ack {event.id}", flush=True)
            if delay:
                time.sleep(delay)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
