"""The table of `shepherd-store audit` names entries by labels it looks up as rows need them
(issue 14): `entry_labels(entries, upto=...)` searches the log newest first and stops once
those entries are found, remembers what it searched (an entry the log never started costs
one search of the log), and gives exactly what the whole answer has for them; the table
prints byte for byte what it printed with every label read first.

The early stop is proved by where the statements go: with fixed ranges of 50 ids, the
search never reads below the range holding the oldest of the labels it needs.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import REPO, fixture_path
from test_bounded_reads import _add_bad_audit_rows

import shepherd_store.store as store_module
from shepherd_store import AuditFilter, SqliteStore, cli_audit
from shepherd_store.cli import main
from shepherd_store.cli_audit import _entries_named
from shepherd_store.cli_text import event_summary
from shepherd_store.events import ManualOverride, encode_event
from shepherd_store.store_reads import BoundedReads

sys.path.insert(0, str(REPO / "benchmarks"))

from _gen import build

#: Every statement of the newest-first search covers this many ids.
CHUNK = 50
SID = "99999999-9999-4999-8999-9999999999{:02d}"
FIXTURES = ("rust-v0", "rust-v0-nosession", "rust-clean", "rust-crash-down",
            "rust-crash-restarted")


def started(entry: str, label: str | None, n: int) -> str:
    text = "null" if label is None else f'"{label}"'
    return ('{"type":"session_started","session_id":"' + SID.format(n) + '","entry_id":"'
            + entry + '","label":' + text + ',"deadline":null}')


def denied(entry: str) -> str:
    return '{"type":"launch_denied","entry_id":"' + entry + '","reasons":["CooldownActive"]}'


def append(path: Path, *texts: str) -> None:
    """Rows as another program appends them (the Rust layout's or the seed layout's)."""
    conn = sqlite3.connect(path, isolation_level=None)
    seed = "event_data" in {r[1] for r in conn.execute("PRAGMA table_info(audit_log)")}
    for text in texts:
        if seed:
            kind = text.split('"type":"', 1)[1].split('"', 1)[0]
            conn.execute("INSERT INTO audit_log (timestamp, event_type, event_data) VALUES "
                         "('2026-12-02T10:00:00-05:00', ?, ?)", (kind, text))
        else:
            conn.execute("INSERT INTO audit_log (timestamp, event_json) VALUES "
                         "('2026-12-02T10:00:00-05:00', ?)", (text,))
    conn.close()


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """3,000 generated events per layout, malformed rows and a gap of 5,000 ids (as
    test_bounded_reads'), then a label that is null, an entry never started at the top."""
    out = {}
    for layout in ("rust", "seed"):
        path = tmp_path_factory.mktemp(layout) / f"{layout}.db"
        build(layout, 3000, path)
        _add_bad_audit_rows(path, layout)
        append(path, started("tuxmath", None, 1), denied("ghost"))
        out[layout] = path
    return out


@pytest.fixture
def fixed_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SCAN_START", "SCAN_LOWEST", "SCAN_CHUNK"):
        monkeypatch.setattr(store_module, name, CHUNK)


class LabelReads:
    """The (low, high] id ranges of the label statements the store runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ranges: list[tuple[int, int]] = []
        real = BoundedReads._statement

        def statement(store: BoundedReads, sql: str, params: tuple[Any, ...], action: str,
                      **kw: Any) -> tuple[list[Any], float]:
            if "'$.label'" in sql:
                self.ranges.append((int(params[0]), int(params[1])))
            return real(store, sql, params, action, **kw)

        monkeypatch.setattr(BoundedReads, "_statement", statement)

    def lowest(self) -> int:
        return min(lo for lo, _hi in self.ranges)


def newest_label_ids(path: Path) -> dict[str, int]:
    """Each entry's newest session_started with a text label: the row its label is in."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    col = "event_json" if "event_json" in {
        r[1] for r in conn.execute("PRAGMA table_info(audit_log)")} else "event_data"
    rows = conn.execute(
        f"SELECT json_extract({col}, '$.entry_id'), max(id) FROM audit_log WHERE "
        f"json_valid({col}) AND json_extract({col}, '$.type') = 'session_started' AND "
        f"typeof(json_extract({col}, '$.label')) = 'text' AND id > 0 GROUP BY 1").fetchall()
    conn.close()
    return {e: i for e, i in rows if isinstance(e, str)}


# --- the library ----------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["rust", "seed"])
def test_the_labels_of_some_entries_are_the_whole_answers(logs: dict[str, Path], layout: str,
                                                          fixed_ranges: None) -> None:
    with SqliteStore.open(logs[layout], read_only=True) as store:
        whole = store.entry_labels()
        top = store._newest_id()
    assert whole["minecraft"] == "Mine craft" and "ghost" not in whole  # (the newest label)
    subsets = [{e} for e in whole] + [set(whole), set(whole) | {"ghost", "nobody"},
                                      {"ghost"}, set()]
    for wanted in subsets:
        with SqliteStore.open(logs[layout], read_only=True) as store:  # nothing remembered
            got = store.entry_labels(wanted, upto=top)
        assert got == {e: whole[e] for e in wanted if e in whole}, wanted
    with SqliteStore.open(logs[layout], read_only=True) as store:  # one after the other
        for wanted in subsets:
            assert store.entry_labels(wanted) == {e: whole[e] for e in wanted if e in whole}


@pytest.mark.parametrize("name", FIXTURES)
def test_the_fixtures_labels_found_newest_first_are_the_same(name: str) -> None:
    with SqliteStore.open(fixture_path(f"{name}.db"), read_only=True) as store:
        whole = store.entry_labels()
    with SqliteStore.open(fixture_path(f"{name}.db"), read_only=True) as store:
        assert store.entry_labels([*whole, "nobody"]) == whole


@pytest.mark.parametrize("layout", ["rust", "seed"])
def test_the_search_stops_once_the_entries_are_found(
        logs: dict[str, Path], layout: str, fixed_ranges: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    newest = newest_label_ids(logs[layout])
    with SqliteStore.open(logs[layout], read_only=True) as store:
        top = store._newest_id()
        page = store.find_audits(limit=40).events
        wanted = set().union(*(_entries_named(e.event) for e in page)) - {"ghost"}
        reads = LabelReads(monkeypatch)
        assert set(store.entry_labels(wanted, upto=top)) == wanted
    need = min(newest[e] for e in wanted)  # the oldest row the answer needs
    assert need > 2 * CHUNK, "the test needs labels that are not all at the bottom"
    assert need - CHUNK <= reads.lowest() < need  # not one range more
    assert all(hi - lo == CHUNK for lo, hi in reads.ranges[:-1])


@pytest.mark.parametrize("layout", ["rust", "seed"])
def test_an_entry_never_started_is_searched_for_once(
        logs: dict[str, Path], layout: str, fixed_ranges: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with SqliteStore.open(logs[layout], read_only=True) as store:
        whole = store.entry_labels()
    with SqliteStore.open(logs[layout], read_only=True) as store:
        top = store._newest_id()
        reads = LabelReads(monkeypatch)
        assert store.entry_labels({"ghost"}, upto=top) == {}
        assert reads.lowest() == 0 and len(reads.ranges) >= top // CHUNK  # the whole log
        spans = sorted(reads.ranges)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
        reads.ranges.clear()
        assert store.entry_labels({"ghost", "nobody", "minecraft"}, upto=top) == {
            "minecraft": whole["minecraft"]}
        assert store.entry_labels({"ghost", "other"}, upto=top) == {}
        assert reads.ranges == []  # all searched: not one statement more


@pytest.mark.parametrize("layout", ["rust", "seed"])
def test_rows_added_since_are_searched_first_and_an_older_view_stays_older(
        logs: dict[str, Path], layout: str, tmp_path: Path, fixed_ranges: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.db"
    shutil.copyfile(logs[layout], path)
    with SqliteStore.open(path, read_only=True) as store:
        before = store._newest_id()
        assert store.entry_labels({"minecraft", "ghost"}) == {"minecraft": "Mine craft"}
        append(path, started("minecraft", "Minecraft 2", 2), started("newgame", "New", 3),
               denied("ghost"))
        reads = LabelReads(monkeypatch)
        assert store.entry_labels({"minecraft", "newgame", "ghost"}) == {
            "minecraft": "Minecraft 2", "newgame": "New"}
        assert reads.lowest() >= before  # only the new rows: the rest is remembered
        assert store.entry_labels({"minecraft", "newgame"}, upto=before) == {
            "minecraft": "Mine craft"}  # as the log stood at `before`
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("DELETE FROM audit_log")  # emptied in place: nothing stale is kept
        conn.close()
        assert store.entry_labels({"minecraft"}) == {}


def test_upto_needs_entries(logs: dict[str, Path]) -> None:
    with SqliteStore.open(logs["rust"], read_only=True) as store, \
            pytest.raises(ValueError, match="upto"):
        store.entry_labels(upto=5)


# --- the entries a row names ----------------------------------------------------------------


class Asked(dict[str, str]):
    """Labels that note every entry a summary looks up."""

    def __init__(self) -> None:
        super().__init__({"\x00": "not empty"})  # (an empty dict is replaced by `{}`)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None, /) -> Any:
        self.asked.add(key)
        return super().get(key, default)


def snapshot(entry: str) -> str:
    return ('{"timestamp":"2026-03-01T10:00:00-05:00","active_session":{"session_id":"'
            + SID.format(4) + '","entry_id":"' + entry + '","started_at":'
            '"2026-03-01T09:00:00-05:00","deadline":"2026-03-01T11:00:00-05:00",'
            '"warnings_issued":[]}}')


def overrides() -> list[ManualOverride]:
    empty = '{"timestamp":"2026-03-01T10:00:00-05:00","active_session":null}'
    return [ManualOverride("snapshot", None, snapshot("before"), snapshot("after"), "me"),
            ManualOverride("snapshot", None, None, empty, "me"),
            ManualOverride("snapshot", None, "not json", snapshot("after"), "me"),
            ManualOverride("cooldown", "tuxmath", None, "2026-03-01T12:00:00-05:00", "me"),
            ManualOverride("usage", "minecraft", None, '{"day":"2026-03-01",'
                           '"duration_secs":60}', "me")]


def test_the_entries_a_row_names_are_those_its_summary_looks_up(
        logs: dict[str, Path]) -> None:
    events: list[Any] = list(overrides())
    for path in [logs["rust"], logs["seed"], *(fixture_path(f"{n}.db") for n in FIXTURES)]:
        with SqliteStore.open(path, read_only=True) as store:
            events.extend(e.event for e in store.find_audits(limit=100_000).events)
    kinds = {type(e).__name__ for e in events}
    assert {"SessionStarted", "SessionEnded", "LaunchDenied", "ManualOverride", "WarningIssued",
            "UnknownEvent", "ServiceStarted"} <= kinds
    named_some = 0
    for event in events:
        labels = Asked()
        event_summary(event, labels)
        asked = labels.asked - {"\x00"}
        assert asked <= _entries_named(event), event
        named_some += bool(asked)
    assert named_some > 100
    assert _entries_named(overrides()[0]) == {"before", "after"}


# --- the table ------------------------------------------------------------------------------


def table(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


class NoStore:
    """Nothing is one: the table reads every label first, as it did before issue 14."""


@pytest.fixture
def crafted(logs: dict[str, Path], tmp_path: Path) -> Path:
    """The seed log with manual changes of the snapshot naming entries of their own."""
    path = tmp_path / "crafted.db"
    shutil.copyfile(logs["seed"], path)
    conn = sqlite3.connect(path, isolation_level=None)
    for change in overrides():
        conn.execute("INSERT INTO audit_log (timestamp, event_type, event_data) VALUES "
                     "('2026-12-02T11:00:00-05:00', 'manual_override', ?)",
                     (encode_event(change),))
    conn.close()
    append(path, started("before", "Before", 5), denied("after"))
    return path


ARGS: list[list[str]] = [[], ["--limit", "20"], ["--limit", "1"], ["--type", "session_ended"],
                         ["--type", "service_started"], ["--entry", "minecraft"],
                         ["--grep", "Mine"], ["--type", "manual_override,launch_denied"]]


def test_the_table_prints_what_it_printed_with_every_label_read_first(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        logs: dict[str, Path], crafted: Path, tmp_path: Path, fixed_ranges: None) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[[entries]]\nid = "minecraft"\nlabel = "From the policy"\n\n'
                      '[[entries]]\nid = "ghost"\nlabel = "Ghost"\n')
    dbs = [logs["rust"], crafted, *(fixture_path(f"{n}.db") for n in FIXTURES[:2])]
    for db in dbs:
        for args in ARGS:
            for config in ([], ["--config", str(policy)]):
                words = [*config, "--db", str(db), "audit", *args]
                new = table(capsys, *words)
                with monkeypatch.context() as m:
                    m.setattr(cli_audit, "SqliteStore", NoStore)
                    old = table(capsys, *words)
                assert new == old, (db.name, words)
                assert new[0] == 0 and new[1].split()[:1] == ["ID"], (db.name, words)


def test_the_first_page_reads_only_the_labels_it_names(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        logs: dict[str, Path], fixed_ranges: None) -> None:
    newest = newest_label_ids(logs["rust"])
    with SqliteStore.open(logs["rust"], read_only=True) as store:
        page = store.find_audits(limit=20).events
    named = set().union(*(_entries_named(e.event) for e in page))
    assert named - {"ghost"} and "ghost" in named  # (one never started: see below)
    reads = LabelReads(monkeypatch)
    status, out, _err = table(capsys, "--db", logs["rust"], "audit", "--limit", "20",
                              "--type", "session_started,session_ended")
    assert status == 0 and len(out.splitlines()) == 21
    rows = store_rows(logs["rust"], AuditFilter(event_types=frozenset(
        {"session_started", "session_ended"})), 20)
    need = min(newest[e] for e in set().union(*(_entries_named(e) for e in rows)))
    assert need - CHUNK <= reads.lowest() < need
    # Every row: the entry never started is searched for down to the first id, once.
    reads.ranges.clear()
    status, out, _err = table(capsys, "--db", logs["rust"], "audit")
    assert status == 0 and "ghost was not allowed" in out
    spans = sorted(reads.ranges)
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def store_rows(path: Path, flt: AuditFilter, limit: int) -> list[Any]:
    with SqliteStore.open(path, read_only=True) as store:
        return [e.event for e in store.find_audits(flt, limit=limit).events]


def test_follow_names_new_rows_as_it_did(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        logs: dict[str, Path], tmp_path: Path) -> None:
    """Rows appended while following: a label renamed since the start is not taken (the
    start's labels stay), an entry first seen live is named by its session_started row,
    one never started by its id; filtered out or shown, as before."""
    live = [started("minecraft", "Renamed", 6), denied("minecraft"),
            started("brandnew", "Brand New", 7), denied("brandnew"), denied("ghost2"),
            started("hidden", "Hidden", 8), denied("hidden"), denied("scummvm-puttputt")]
    for args in ([], ["--type", "launch_denied"], ["--limit", "3"]):
        outputs = []
        for mode in ("new", "old"):
            path = tmp_path / f"{mode}.db"
            shutil.copyfile(logs["rust"], path)
            rows: Iterator[str] = iter(live)

            def sleep(_seconds: float, rows: Iterator[str] = rows, path: Path = path) -> None:
                row = next(rows, None)
                if row is None:
                    raise KeyboardInterrupt
                append(path, row)

            with monkeypatch.context() as m:
                m.setattr(cli_audit, "time", SimpleNamespace(sleep=sleep))
                if mode == "old":
                    m.setattr(cli_audit, "SqliteStore", NoStore)
                outputs.append(table(capsys, "--db", path, "audit", "-f", *args))
        assert outputs[0] == outputs[1], args
        assert outputs[0][0] == 0
        if not args:
            out = outputs[0][1]
            assert "Mine craft was not allowed" in out and "Brand New was not allowed" in out
            assert "ghost2 was not allowed" in out and "Hidden was not allowed" in out
