"""The demo the README's run command opens: a living database, never in the future."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from inspector.app import open_window
from inspector.demo import DemoService
from shepherd_store import AuditFilter, SqliteStore
from shepherd_store.policy import load_policy


def test_demo_history_policy_and_live_service(qtbot, tmp_path: Path) -> None:
    demo = DemoService(tmp_path, interval=0.05)
    try:
        policy = load_policy(demo.policy_path)
        assert policy.entries["minecraft"].daily_quota_seconds
        with SqliteStore.open(demo.path, read_only=True) as store:
            history = store.find_audits(AuditFilter(), limit=100_000).events
            days = {e.timestamp.date() for e in history}
        assert len(days) >= 55  # about 60 days of history
        window = open_window(demo.path, config=demo.policy_path)
        qtbot.addWidget(window)
        window.show()
        before = window.audit.model.rowCount()
        demo.start()
        qtbot.waitUntil(lambda: window.audit.model.rowCount() > before + 10, timeout=15_000)
    finally:
        demo.stop()
    assert demo.errors == []
    now = datetime.now().astimezone()
    with SqliteStore.open(demo.path, read_only=True) as store:
        newest = store.get_recent_audits(50)
        snapshot = store.load_snapshot()
    # At most one short simulated session beyond the wall clock, never hours.
    assert all(e.timestamp <= now + timedelta(minutes=1) for e in newest)
    assert snapshot is not None and snapshot.timestamp <= now + timedelta(minutes=1)
    window.close()
