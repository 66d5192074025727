"""The allocator setting training applies: glibc reuses freed memory instead of unmapping it."""
from __future__ import annotations

import subprocess
import sys

import pytest

from rdf2mm.training.allocator import keep_freed_memory

CHILD = r"""
import resource, sys
import numpy as np
if sys.argv[1] == "1":
    from rdf2mm.training.allocator import keep_freed_memory
    assert keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    # 64 MB, allocated and freed each time, as a training step does: above glibc's largest
    # self-adjusted mmap threshold (32 MiB), so without the setting each is a fresh mapping
    a = np.ones(8_000_000)
    del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_blocks_are_reused_instead_of_faulted_in_again():
    def faults(apply: str) -> int:
        out = subprocess.run([sys.executable, "-c", CHILD, apply], capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    plain, kept = faults("0"), faults("1")
    # 50 fresh mappings of 64 MB fault in ~800k pages; a reused heap block only once
    assert kept * 5 < plain, (plain, kept)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_applies_once_and_says_so():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True
