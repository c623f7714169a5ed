"""Entry colours of the Usage tab that stay put (pure: no Qt, tested without a display).

A colour hashed from the entry id alone repeats among the entries shown (16 colours), and
resolving the repeats by the set shown made colours jump whenever that set changed (a new
entry among the 15 busiest recoloured others, live). `ColorBook` remembers what it gave:

- an entry shown again gets the colour it had, unless another entry shown with it holds
  that colour (the one that was shown before keeps it; then the one whose hashed colour
  it is; then the smaller id);
- an entry without one gets its hashed colour (`preferred_color`) if no shown entry has
  it, else the next free colour after it: first among the nine most distinct colours
  (`FIRST_COLORS`), so that a few entries never get two near tones, then among the rest;
- the memory is a small JSON text, kept in the settings, so colours survive a restart.

"Other" (the entries summed into one layer) stays `OTHER_COLOR`, a grey no entry gets.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping

#: Qualitative colours that read on light and dark backgrounds, no grey among them (grey is
#: "Other"). First Tableau 10 without its grey, whose nine tones are told apart even by
#: most colour-blind people; then seven more for the 10th to 16th entry shown together.
FIRST_COLORS = ("#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1",
                "#FF9DA7", "#9C755F")
MORE_COLORS = ("#17BECF", "#BCBD22", "#7B4EA3", "#1F5FA8", "#B8561B", "#2E8B57", "#E377C2")
PALETTE = FIRST_COLORS + MORE_COLORS
OTHER_COLOR = "#B8B8B8"
MAX_REMEMBERED = 1000


def preferred_slot(entry: str) -> int:
    """The palette slot an entry's id hashes to, among `FIRST_COLORS` (CRC-32: the same in
    every run)."""
    return zlib.crc32(entry.encode("utf-8", "replace")) % len(FIRST_COLORS)


def preferred_color(entry: str) -> str:
    """The colour an entry gets when no other entry shown with it holds that colour."""
    return PALETTE[preferred_slot(entry)]


def _free_slot(entry: str, used: set[int]) -> int:
    """The first slot not in `used`: from the entry's own among the first colours, then
    from its hash among the others (every slot is used: its own)."""
    first = len(FIRST_COLORS)
    start = preferred_slot(entry)
    for k in range(first):
        slot = (start + k) % first
        if slot not in used:
            return slot
    more = len(MORE_COLORS)
    start = zlib.crc32(entry.encode("utf-8", "replace")) % more
    for k in range(more):
        slot = first + (start + k) % more
        if slot not in used:
            return slot
    return preferred_slot(entry)


class ColorBook:
    """The colour of every entry shown, kept across changes of what is shown (see module)."""

    def __init__(self, remembered: Mapping[str, str] | None = None) -> None:
        known = set(PALETTE)
        self._memory: dict[str, str] = {
            e: c.upper() for e, c in (remembered or {}).items()
            if isinstance(e, str) and isinstance(c, str) and c.upper() in known}
        self._last_shown: set[str] = set()
        #: True when `assign` changed what is remembered (save it).
        self.dirty = False

    @classmethod
    def from_json(cls, text: object) -> ColorBook:
        """A book from `to_json`'s text; anything unreadable gives an empty book."""
        try:
            data = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            data = {}
        return cls(data if isinstance(data, dict) else {})

    def to_json(self) -> str:
        return json.dumps(self._memory, ensure_ascii=False, separators=(",", ":"))

    @property
    def remembered(self) -> dict[str, str]:
        """Entry → colour for every entry the book has coloured (at most MAX_REMEMBERED)."""
        return dict(self._memory)

    def assign(self, shown: Iterable[str]) -> dict[str, str]:
        """Colours for the entries shown together (distinct while there are enough colours)."""
        entries = sorted(set(shown))
        out: dict[str, str] = {}
        claims: dict[str, list[str]] = {}
        for entry in entries:
            color = self._memory.get(entry)
            if color is not None:
                claims.setdefault(color, []).append(entry)
        for color, claimants in claims.items():
            keeper = min(claimants, key=lambda e: (e not in self._last_shown,
                                                   preferred_color(e) != color, e))
            out[keeper] = color
        used = {PALETTE.index(c) for c in out.values()}
        for entry in entries:
            if entry in out:
                continue
            if len(used) >= len(PALETTE):  # more entries than colours: repeats are unavoidable
                used = set()
            slot = _free_slot(entry, used)
            used.add(slot)
            out[entry] = PALETTE[slot]
        for entry in entries:
            if self._memory.get(entry) != out[entry]:
                self._memory.pop(entry, None)
                self._memory[entry] = out[entry]  # newest last: trimmed last
                self.dirty = True
        spare = [e for e in self._memory if e not in out]
        for entry in spare[:max(0, len(self._memory) - MAX_REMEMBERED)]:
            del self._memory[entry]  # the longest unchanged of those not shown
        self._last_shown = set(entries)
        return {e: out[e] for e in entries}
