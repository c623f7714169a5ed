"""`SessionIds`: every session id a scan has seen start, in a fraction of a set's memory.

A scan must remember each id it has read (a start that reuses one is a finding; an end of
one already ended adds no usage), and a long log has many: 243,000 at a million events.
As strings in a set they took 28 MB of the window's memory, more than anything else the
scan keeps. Past `COMPACT_FROM` ids, the service's ids (UUIDs in lowercase, as Rust's
`uuid` writes them) are kept as their 16 bytes, one `bytearray` of them per first two
characters, behind a bitmap of their hashes that answers "never seen" for nearly every new
id without looking at them (~17 bytes an id). Ids of any other form (another case, another
shape) stay in an ordinary set. Answers are exact.
"""

from __future__ import annotations

import re

#: Ids kept in an ordinary set before the compact form is worth its fixed 1 MB.
COMPACT_FROM = 4_096
#: Bits of the hash bitmap: at 243,000 ids one new id in 35 needs a look at its bucket.
_BITS = 1 << 23
_MASK = _BITS - 1
_WIDTH = 16  # bytes of a UUID
#: The service's form: a UUID's hex digits and dashes (their case: `str.islower`).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _compact_form(sid: str) -> bool:
    """Whether `sid` is kept as bytes: a UUID with at least one letter, all lowercase (so
    the bytes give back exactly this text; the scan's inner loop, whose ids already have
    the shape, asks `islower` alone)."""
    return sid.islower() and _UUID.fullmatch(sid) is not None


class SessionIds:
    """A set of session ids (`in` and `add`), compact once it is large."""

    __slots__ = ("_bits", "_buckets", "_other")

    def __init__(self) -> None:
        self._other: set[str] = set()  # every id while few; then those of another form
        self._bits: bytearray | None = None  # the compact form's hash bitmap, once made
        self._buckets: dict[str, bytearray] = {}  # first two characters -> their ids

    def hot_parts(self) -> tuple[bytearray, dict[str, bytearray], int] | None:
        """For a scan's inner loop, which tests and adds ids of the UUID shape itself: the
        bitmap, the buckets and the hash mask, once the ids are compact (None before: use
        `in` and `add`). To add `sid`: set bit `h = hash(sid) & mask` of the bitmap, then,
        if `sid.islower()` and bucket `sid[:2]` exists, append the 16 bytes of its hex
        digits to it, else call `add`. A set bit means "perhaps": ask `in`."""
        if self._bits is None:
            return None
        return self._bits, self._buckets, _MASK

    def __contains__(self, sid: object) -> bool:
        bits = self._bits
        if bits is None or not isinstance(sid, str):
            return sid in self._other
        h = hash(sid) & _MASK
        if not bits[h >> 3] >> (h & 7) & 1:
            return False  # (the id's bit is clear: it was never added)
        if not _compact_form(sid):
            return sid in self._other
        bucket = self._buckets.get(sid[:2])
        if bucket is None:
            return False
        needle = bytes.fromhex(sid.replace("-", ""))
        at = bucket.find(needle)
        while at >= 0 and at % _WIDTH:  # (a match across two ids is not one)
            at = bucket.find(needle, at + 1)
        return at >= 0

    def add(self, sid: str) -> None:
        """Remember `sid` (the caller knows it is not here yet, or does not mind a repeat)."""
        bits = self._bits
        if bits is None:
            self._other.add(sid)
            if len(self._other) >= COMPACT_FROM:
                self._compact()
            return
        h = hash(sid) & _MASK
        bits[h >> 3] |= 1 << (h & 7)
        if not _compact_form(sid):
            self._other.add(sid)
            return
        key = sid[:2]
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = bytearray.fromhex(sid.replace("-", ""))
        else:
            bucket += bytes.fromhex(sid.replace("-", ""))

    def _compact(self) -> None:
        """Move the ids of the service's form from the set into the compact form."""
        few, self._other = self._other, set()
        self._bits = bytearray(max(1, _BITS >> 3))
        for sid in few:
            self.add(sid)
