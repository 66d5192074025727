"""Naming run directories: claiming a fresh ``<time>-<task>`` folder, releasing it unused."""
from __future__ import annotations

import datetime as dt
from pathlib import Path


def claim_run_dir(root: str | Path, task: str, now: dt.datetime | None = None) -> Path:
    """A new, empty run directory ``root/<time>-<task>`` (``-2``, ``-3``... when taken).

    Creating it claims the name atomically, so two runs started in the same second never
    share a run directory or its checkpoint folder; the run later replaces it whole.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    for n in range(1, 10_000):
        path = root / (f"{stamp}-{task}" if n == 1 else f"{stamp}-{task}-{n}")
        if path.with_name(path.name + ".checkpoint").exists():
            continue
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free run directory name under {root} for {stamp}-{task}")


def release_run_dir(path: str | Path, remove_root: bool = False) -> None:
    """Remove a claimed run directory that a failed run left empty; with ``remove_root``
    (the claim created the root), the root too when nothing else is in it.

    A directory holding anything is kept: a failed run never deletes what it did not make.
    """
    path = Path(path)
    for folder in (path, path.parent) if remove_root else (path,):
        try:
            folder.rmdir()  # only ever removes an empty directory
        except OSError:
            return
