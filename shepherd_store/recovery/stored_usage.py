"""The usage table as recovery reads it: keyset statements of a bounded number of rows,
each returning its rows as two texts joined in SQLite; a later read splits only what changed.
"""

from __future__ import annotations

import itertools
import operator
import sys
from array import array
from collections.abc import Iterable
from typing import Any

from .. import store as store_module
from ..query import ChunkSizer
from ..store import SqliteStore

#: Usage rows from a rowid on: how many, how many with a key, the last rowid, the keys
#: (`entry + _SEP + day`) joined by `_USAGE_SEP` and the seconds joined by commas.
_USAGE_SEP = "\x1e"
_USAGE_SQL = (
    "SELECT count(*), count(k), max(r), group_concat(k, char(30)), group_concat(d) FROM "
    "(SELECT rowid AS r, entry_id || char(31) || day AS k, duration_secs AS d FROM usage "
    "WHERE rowid >= ? AND typeof(duration_secs) = 'integer' ORDER BY rowid LIMIT ?)")
_USAGE_ROWS_SQL = ("SELECT entry_id || char(31) || day, duration_secs FROM usage WHERE "
                   "rowid >= ? AND rowid <= ? AND typeof(duration_secs) = 'integer' "
                   "ORDER BY rowid")
_ROWID_MIN, _ROWID_MAX = -(2**63), 2**63 - 1


class _UsagePart:
    """What one statement of `_StoredUsage.read` read: from rowid `lo` on, its `texts`
    (None when read row by row), and its rows: as the keys split from the texts and their
    seconds (when each key is there once), else as a dict. A long history has tens of
    thousands of rows, kept between reads: the keys are shared with the scan's own
    (`sys.intern`), the seconds kept in an array."""

    __slots__ = ("keys", "lo", "nums", "rows", "texts")

    def __init__(self, lo: int, texts: tuple[Any, ...] | None, *,
                 keys: list[str] | None = None, nums: array[int] | None = None,
                 rows: dict[str, int] | None = None) -> None:
        self.lo = lo
        self.texts = texts
        self.keys = keys
        self.nums = nums
        self.rows = rows

    def items(self) -> Iterable[tuple[str, int]]:
        """Its (key, seconds) rows."""
        if self.keys is not None and self.nums is not None:
            return zip(self.keys, self.nums, strict=True)
        return (self.rows or {}).items()


class _StoredUsage:
    """The usage table as last read: per statement (`parts`) and all of it (`rows`)."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        #: What `read` read last, per statement, and all of it as one dict.
        self.parts: list[_UsagePart] = []
        self.rows: dict[str, int] = {}

    def read(self) -> tuple[dict[str, int], set[str]]:
        """Stored usage by key (`entry + _SEP + day`), rows the service can read, and the
        keys whose value may differ from the previous call's (a superset).

        Read in rowid order as keyset statements of a bounded number of rows, each
        returning its rows as two texts joined in SQLite (two Python objects per statement
        instead of three per row: an update reads the whole table). Texts the same as at
        the previous call are not split again, and when only the seconds changed (the
        service adds to a day), only the changed ones are looked at. Texts that cannot be
        split back exactly (a key holding the separator, NULL or text that is not UTF-8)
        are read again row by row."""
        store = self.store
        old = self.parts
        parts: list[_UsagePart] = []
        changed: set[str] = set()
        if store._has("usage"):
            # (sized as the store's keyset walks: at most `ROW_CHUNK` rows a statement)
            sizes = ChunkSizer(store_module.ROW_START, store_module.ROW_LOWEST,
                               store_module.ROW_CHUNK)
            lo = _ROWID_MIN
            while True:
                want = sizes.size
                rows, held = store._statement(_USAGE_SQL, (lo, want), "read", columns=5)
                texts: tuple[Any, ...] = rows[0]
                count, last = texts[0], texts[2]
                sizes.record(count, held)
                before = old[len(parts)] if len(parts) < len(old) else None
                if before is not None and before.lo != lo:
                    before = None
                parts.append(self._part(lo, texts, before, changed))
                if count < want or last >= _ROWID_MAX:
                    break
                lo = last + 1
        for gone in old[len(parts):]:
            changed.update(key for key, _secs in gone.items())
        self.parts = parts
        if changed or len(old) != len(parts):
            self.rows = {}
            for part in parts:
                self.rows.update(part.items())
        return self.rows, changed

    def _part(self, lo: int, texts: tuple[Any, ...], before: _UsagePart | None,
                    changed: set[str]) -> _UsagePart:
        """The usage rows of one `_usage` statement, `texts`, from rowid `lo` on; the keys
        that differ from `before` (the same statement's at the previous call) are added to
        `changed`."""
        count, named, last, keys, values = texts
        if before is not None and before.texts is not None:
            if texts == before.texts:
                return before
            if before.keys is not None and before.nums is not None and \
                    texts[:4] == before.texts[:4]:
                nums = values.split(",")  # the same keys (each once): look at the seconds
                if len(nums) == count:
                    seconds = array("q", map(int, nums))
                    changed.update(itertools.compress(before.keys, map(
                        operator.ne, seconds, before.nums)))
                    return _UsagePart(lo, texts, keys=before.keys, nums=seconds)
        part = _UsagePart(lo, texts)
        if count:
            split = keys.split(_USAGE_SEP) if isinstance(keys, str) else []
            nums = values.split(",") if isinstance(values, str) else []
            if named == count == len(split) == len(nums) and "\ufffd" not in keys:
                if len(set(split)) == count:
                    part.keys = list(map(sys.intern, split))
                    part.nums = array("q", map(int, nums))
                else:
                    part.rows = dict(zip(split, map(int, nums), strict=True))
            else:  # (read apart from `texts`: never taken as unchanged)
                part.rows = dict(self.store._read(_USAGE_ROWS_SQL, (lo, last)))
                part.texts = None
        new_rows = dict(part.items())
        old_rows = dict(before.items()) if before is not None else {}
        changed.update(k for k, v in new_rows.items() if old_rows.get(k, v) != v)
        changed.update(new_rows.keys() ^ old_rows.keys())
        return part
