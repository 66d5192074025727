"""Validate one modality's literals in a forked child process and this one, side by side.

``rdf2mm inspect`` checks every literal. Images dominate that cost: decoding one (base64,
pillow's header parsing, the pixels) costs about 70 µs against at most a few µs for a
number, date, string or geometry, and most of it holds the GIL, so threads do not help.
On a graph with 20,000 images among 10^6 triples the image checks were 1.4 of 2.2 CPU
seconds of validation. A forked child inherits the literals without copying or pickling
them (copy-on-write) and checks images on the second core from the front of the list,
while this process does its other work (the other modalities, writing the parsed-graph
cache) and then checks images from the back; the two meet wherever the work happens to
balance, so no estimate of either side's cost is needed. The child sends back only the
verdicts of its chunks (a boolean per literal and the reasons).

Linux only (``fork`` is the safe, cheap start method there), and only with a second CPU
free for this process; anywhere else the check runs here alone. If the child fails for
any reason, this process checks the chunks it had taken: the result is always the same.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from rdf2mm.modalities.base import Modality, ParsedLiterals

#: below this many literals a child process costs more than it saves (about 10 ms to fork)
MIN_LITERALS = 1000
#: literals taken at a time from either end (about 20 ms of images)
CHUNK = 256


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether a forked check can run beside this process: Linux with two CPUs or more."""
    return sys.platform.startswith("linux") and usable_cpus() >= 2


def join(parts: Sequence[ParsedLiterals]) -> ParsedLiterals:
    """The checks of consecutive slices of one modality's literals, as one check."""
    if len(parts) == 1:
        return parts[0]
    sizes = [len(p) for p in parts]
    errors: Counter = Counter()
    for p in parts:
        errors.update(p.errors)
    lenient = {}
    for reason in {r for p in parts for r in p.lenient}:
        lenient[reason] = np.concatenate([p.lenient.get(reason, np.zeros(n, dtype=bool)) for p, n in zip(parts, sizes)])
    return ParsedLiterals(data=np.concatenate([p.data for p in parts]), valid=np.concatenate([p.valid for p in parts]),
                          errors=errors, meta=parts[0].meta, lenient=lenient)


class SharedCheck:
    """``modality.check`` over ``lexical``, shared between a forked child (taking chunks from
    the front) and this process (:meth:`result`, taking chunks from the back)."""

    def __init__(self, modality: Modality, lexical: Sequence[str], datatypes: Sequence[str],
                 groups: np.ndarray | None, fork: bool = True) -> None:
        self.modality, self.lexical, self.datatypes, self.groups = modality, lexical, datatypes, groups
        n = len(lexical)
        self.proc: Any = None
        self.bounds: Any = [0, n]  # [front, back): what neither side has taken yet
        self.lock: Any = None
        if not fork:
            return
        try:
            ctx = multiprocessing.get_context("fork")
            self.bounds = ctx.Array("q", [0, n], lock=False)
            self.lock = ctx.Lock()
            self.conn, send = ctx.Pipe(duplex=False)
            self.proc = ctx.Process(target=self._child, args=(send,), daemon=True)
            self.proc.start()
            send.close()
        except (OSError, ValueError):  # no fork here, or no resources for a process
            self.proc, self.bounds, self.lock = None, [0, n], None

    def _take(self, front: bool) -> tuple[int, int] | None:
        """Claim the next chunk from the front (the child) or the back (this process)."""
        if self.lock is not None:
            self.lock.acquire()
        try:
            lo, hi = self.bounds[0], self.bounds[1]
            if lo >= hi:
                return None
            if front:
                self.bounds[0] = min(lo + CHUNK, hi)
                return lo, self.bounds[0]
            self.bounds[1] = max(hi - CHUNK, lo)
            return self.bounds[1], hi
        finally:
            if self.lock is not None:
                self.lock.release()

    def _check(self, lo: int, hi: int) -> ParsedLiterals:
        groups = self.groups[lo:hi] if self.groups is not None else None
        return self.modality.check(self.lexical[lo:hi], self.datatypes[lo:hi], groups)

    def _child(self, conn: Any) -> None:
        done: list[tuple[int, ParsedLiterals]] = []
        try:
            while (chunk := self._take(front=True)) is not None:
                done.append((chunk[0], self._check(*chunk)))
            conn.send(done)
        except BaseException:  # noqa: BLE001 - this process then checks the child's chunks
            conn.send(None)
        finally:
            conn.close()

    def result(self) -> ParsedLiterals:
        """Check chunks from the back until the two sides meet; then the whole, in order."""
        mine: list[tuple[int, ParsedLiterals]] = []
        while (chunk := self._take(front=False)) is not None:
            mine.append((chunk[0], self._check(*chunk)))
        theirs = None
        if self.proc is not None:
            try:
                theirs = self.conn.recv()
            except (EOFError, OSError):
                theirs = None
            finally:
                self.conn.close()
                self.proc.join()
        if theirs is None:  # the child failed: check what it had taken
            front = self.bounds[0] if self.proc is not None else 0
            theirs = [(lo, self._check(lo, min(lo + CHUNK, front))) for lo in range(0, front, CHUNK)]
        parts = sorted(mine + theirs, key=lambda item: item[0])
        if not parts:
            return self.modality.check([], [], None)
        return join([p for _, p in parts])
