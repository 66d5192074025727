"""Validate one modality's literals in a forked child process while the parent validates the rest.

``rdf2mm inspect`` checks every literal. Images dominate that cost: decoding one (base64,
pillow's header parsing, the pixels) costs about 70 µs against at most a few µs for a
number, date, string or geometry, and most of it holds the GIL, so threads do not help.
On a graph with 20,000 images among 10^6 triples the image checks were 1.4 of 2.2 CPU
seconds of validation. A forked child inherits the literals without copying or pickling
them (copy-on-write), checks a share of the images on the second core and sends back
only the verdicts (a boolean per literal and the reasons), while the parent checks the
other modalities and then the rest of the images. The share is set from rough costs per
literal (:data:`COSTLY_US`, :data:`OTHER_US`) so that both finish at about the same time.

Linux only (``fork`` is the safe, cheap start method there), and only with a second CPU
free for this process; anywhere else, or if the child fails for any reason, the check
runs in the parent as before, with the same result.
"""
from __future__ import annotations

import multiprocessing
from collections import Counter
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from rdf2mm.modalities.base import Modality, ParsedLiterals

#: below this many literals a child process costs more than it saves (about 10 ms to fork)
MIN_LITERALS = 1000
#: rough CPU microseconds to check one image and one literal of any other modality
#: (measured on 10^6 generated triples with 20,000 32x32 JPEGs: 70 µs an image, 1.1 µs on
#: average over the other 700k numbers, dates, strings, booleans and WKT geometries)
COSTLY_US = 70.0
OTHER_US = 1.1


def child_share(costly: int, other: int) -> float:
    """The share of ``costly`` literals (images) for the child, so that it and the parent,
    which also checks ``other`` literals, finish together (between a half and all)."""
    work_costly = costly * COSTLY_US
    if work_costly <= 0:
        return 1.0
    return min(1.0, max(0.5, (work_costly + other * OTHER_US) / (2 * work_costly)))


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


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether a forked check can run beside the parent: Linux with two CPUs or more."""
    return sys.platform.startswith("linux") and usable_cpus() >= 2


def _child(conn: Any, modality: Modality, lexical: Sequence[str], datatypes: Sequence[str],
           groups: np.ndarray | None) -> None:
    try:
        conn.send(modality.check(lexical, datatypes, groups))
    except BaseException:  # noqa: BLE001 - the parent then checks in-process
        conn.send(None)
    finally:
        conn.close()


class ForkedCheck:
    """``modality.check(lexical, datatypes, groups)`` started in a forked child; :meth:`result`
    waits for it (or runs it here when the child could not deliver)."""

    def __init__(self, modality: Modality, lexical: Sequence[str], datatypes: Sequence[str],
                 groups: np.ndarray | None) -> None:
        self.args = (modality, lexical, datatypes, groups)
        self.proc: Any = None
        try:
            ctx = multiprocessing.get_context("fork")
            self.conn, send = ctx.Pipe(duplex=False)
            self.proc = ctx.Process(target=_child, args=(send, *self.args), daemon=True)
            self.proc.start()
            send.close()
        except (OSError, ValueError):  # no fork here, or no resources for a process
            self.proc = None

    def result(self) -> ParsedLiterals:
        """The child's result, or the same check run in this process if it failed."""
        out = None
        if self.proc is not None:
            try:
                out = self.conn.recv()
            except (EOFError, OSError):
                out = None
            finally:
                self.conn.close()
                self.proc.join()
        if not isinstance(out, ParsedLiterals):
            modality, lexical, datatypes, groups = self.args
            out = modality.check(lexical, datatypes, groups)
        return out
