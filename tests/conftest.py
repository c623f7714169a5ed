"""Shared fixtures: the Rust-written fixture databases, temp copies, fresh seed databases."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from shepherd_store import SqliteStore  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("SHEPHERD_FIXTURES", REPO.parent / "shared" / "fixtures"))


def fixture_path(name: str) -> Path:
    """Path of a read-only fixture written by the real Rust store (skips if absent)."""
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} not available")
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
