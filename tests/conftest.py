"""Shared fixtures: the Rust-written fixture databases, temp copies, fresh seed databases."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if os.environ["QT_QPA_PLATFORM"] == "offscreen":
    # Qt's offscreen screen is 800×800 unless told otherwise: test on a common desktop size.
    os.environ["QT_QPA_PLATFORM"] = (
        f"offscreen:configfile={Path(__file__).resolve().parent / 'offscreen-screens.json'}")
# Keep QSettings (recent files, window state) of test windows out of the user's config, in
# a folder removed when the session ends (CONFIG_HOME, below).
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="shepherd-test-config-")

from shepherd_store import SqliteStore

REPO = Path(__file__).resolve().parent.parent
# The databases written by the real Rust store (tests/fixtures/README.md says what each holds).
FIXTURES = REPO / "tests" / "fixtures"


def fixture_path(name: str) -> Path:
    """Path of a fixture written by the real Rust store; a missing one fails the test."""
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"fixture {path} is missing from the repository")
    return path


@pytest.fixture
def rust_v0() -> Path:
    """The read-only Rust fixture with an active session in its snapshot."""
    return fixture_path("rust-v0.db")


@pytest.fixture
def rust_v0_nosession() -> Path:
    """The read-only Rust fixture whose snapshot has no active session."""
    return fixture_path("rust-v0-nosession.db")


@pytest.fixture
def rust_copy(tmp_path: Path) -> Path:
    """A writable copy of rust-v0.db (the fixtures themselves are read-only)."""
    dest = tmp_path / "rust-copy.db"
    shutil.copyfile(fixture_path("rust-v0.db"), dest)
    dest.chmod(0o644)
    return dest


@pytest.fixture
def seed_path(tmp_path: Path) -> Path:
    """Path of a new, empty seed-layout database file (created by the store)."""
    path = tmp_path / "seed.db"
    SqliteStore.open(path).close()
    return path


@pytest.fixture
def seed_store(seed_path: Path) -> Iterator[SqliteStore]:
    """A writable store on a new seed-layout database file, closed after the test."""
    store = SqliteStore.open(seed_path)
    yield store
    store.close()


@pytest.fixture(autouse=True)
def no_threads_left_behind() -> Iterator[None]:
    """Fail a test that leaves a worker or a thread running (napari's rule)."""
    before = set(threading.enumerate())
    yield
    if "PySide6.QtCore" in sys.modules:
        from PySide6.QtCore import QCoreApplication, QThreadPool

        if QCoreApplication.instance() is not None:
            QCoreApplication.processEvents()  # start tasks queued for the next loop turn
        assert QThreadPool.globalInstance().waitForDone(10_000), "a pool task never finished"
    deadline = 50
    while deadline and any(not isinstance(t, threading._DummyThread)
                           for t in set(threading.enumerate()) - before):
        threading.Event().wait(0.1)
        deadline -= 1
    # Qt's pool threads show up as dummies once they call threading.current_thread();
    # waitForDone above already proved they are idle.
    left = [t.name for t in set(threading.enumerate()) - before
            if t.is_alive() and not isinstance(t, threading._DummyThread)]
    assert not left, f"threads left running: {left}"


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Each test starts with no remembered window state or recent files."""
    if "PySide6.QtCore" in sys.modules:
        from PySide6.QtCore import QSettings

        QSettings("Shepherd", "shepherd-inspector").clear()
    yield


#: The session's configuration folder: removed when the session ends, and again at exit
#: should Qt write to it once more while tearing down.
CONFIG_HOME = os.environ["XDG_CONFIG_HOME"]
atexit.register(shutil.rmtree, CONFIG_HOME, ignore_errors=True)


def _fixture_digests() -> dict[str, str]:
    return {str(p.relative_to(FIXTURES)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(FIXTURES.rglob("*")) if p.is_file()}


#: The Rust-written fixtures as the session found them: tests must work on copies.
FIXTURE_DIGESTS = _fixture_digests()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the session's configuration folder (CONFIG_HOME); fail the session when a test
    changed a fixture written by the real Rust store (they are read-only evidence)."""
    shutil.rmtree(CONFIG_HOME, ignore_errors=True)
    changed = sorted(name for name, digest in _fixture_digests().items()
                     if FIXTURE_DIGESTS.get(name) != digest)
    changed += sorted(set(FIXTURE_DIGESTS) - set(_fixture_digests()))
    if changed:
        sys.stderr.write(f"\nERROR: the test session changed fixtures in {FIXTURES}: "
                         f"{', '.join(changed)} (restore them with git checkout)\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
