"""The window's process gives large freed blocks back to the system (`inspector.allocator`),
even after a large block raised glibc's thresholds. Runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

_SCENARIO = """
    import sys
    sys.path.insert(0, {repo!r})
    from inspector.allocator import return_freed_memory
    def rss_kb():
        return next(int(line.split()[1]) for line in open("/proc/self/status")
                    if line.startswith("VmRSS"))
    tuned = {tune} and return_freed_memory()
    big = bytes(4 << 20)  # (a large block freed: glibc raises its thresholds to its size)
    del big
    base = rss_kb()
    kept, blocks = [], []
    for _ in range(100):  # 30 MB in 300 KB blocks, a small object kept between each two
        blocks.append(bytearray(300_000))
        kept.append(bytearray(600))
    del blocks
    print(tuned, rss_kb() - base)
"""


def _left_after_free(tune: bool) -> tuple[bool, int]:
    code = textwrap.dedent(_SCENARIO.format(repo=str(REPO), tune=tune))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_large_blocks_go_back_to_the_system() -> None:
    tuned, left_kb = _left_after_free(True)
    assert tuned
    assert left_kb < 5_000  # (the small objects kept: ~100 KB)
    _untuned, untuned_kb = _left_after_free(False)
    assert untuned_kb > 20_000  # (the scenario shows the difference at all)
