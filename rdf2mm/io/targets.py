"""Output targets: what rdf2mm may replace, and what it must leave alone.

A command that writes a folder (``train --out``, ``encode --out``, ``ablate --out``,
``export --out``) or a file (``report --output``, ``ablate --csv``) replaces only what it
recognises as its own output: a run directory it wrote, an encode or export folder it
wrote, a report page it wrote. Anything else (a folder holding a user's file, a plain
file where a folder goes) is refused with a :class:`~rdf2mm.errors.UsageError` unless
the caller passes ``force``. Nothing is ever renamed aside or deleted silently.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from rdf2mm.errors import UsageError
from rdf2mm.runs import layout as L

#: every name a run directory may hold (defined by the run directory's owner)
RUN_DIR_NAMES = L.RUN_DIR_NAMES

#: the files ``rdf2mm export`` writes into its folder
EXPORT_NAMES = frozenset({
    "export.json", "embeddings.parquet", "relation_embeddings.parquet", "predictions.parquet",
    "link_predictions.parquet", "ranks.parquet", "run.nt", "run.ttl", "run.trig", "run.nq",
})

#: a page written by ``rdf2mm report`` carries this in its head
REPORT_MARK = '<meta name="generator" content="rdf2mm report">'

# Leftovers of rdf2mm's own atomic writes (``.NAME.XXXX.tmp``) after a hard kill.
_TEMP = re.compile(r"^\..+\.tmp$")


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a run directory written by ``rdf2mm train`` (and nothing else)."""
    try:
        prov = json.loads((path / L.PROVENANCE).read_text(encoding="utf-8"))
        names = {p.name for p in path.iterdir()}
    except (OSError, ValueError):
        return False
    if not (isinstance(prov, dict) and isinstance(prov.get("versions"), dict) and "rdf2mm" in prov["versions"]):
        return False
    if L.EXPORT in names and not ((path / L.EXPORT).is_dir() and is_export_dir(path / L.EXPORT)):
        return False
    return all(n in RUN_DIR_NAMES or _TEMP.match(n) for n in names)


def is_checkpoint_dir(path: Path) -> bool:
    """Whether ``path`` is a training checkpoint folder (``RUN_DIR.checkpoint``)."""
    return (path / "config.json").is_file()


def is_export_dir(path: Path) -> bool:
    """Whether ``path`` holds only files ``rdf2mm export`` writes."""
    try:
        names = {p.name for p in path.iterdir()}
    except OSError:
        return False
    return bool(names) and all(n in EXPORT_NAMES or _TEMP.match(n) for n in names)


def is_ablation_dir(path: Path) -> bool:
    """Whether ``path`` is an ``rdf2mm ablate`` output: its summary and the cells' run
    directories (with their checkpoint folders while a cell trains)."""
    try:
        entries = list(path.iterdir())
    except OSError:
        return False
    for p in entries:
        if p.name in ("ablation.json", "report.html", "tracking.csv") or _TEMP.match(p.name):
            continue
        if p.is_dir() and (is_run_dir(p) or (p.name.endswith(".checkpoint") and (p / "config.json").is_file())):
            continue
        return False
    return True


def is_report_file(path: Path) -> bool:
    """Whether ``path`` is an HTML page written by ``rdf2mm report``."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    # pages from before the mark: rdf2mm's own head and title
    return REPORT_MARK in head or bool(re.match(r'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                                                r'<title>rdf2mm (run|ablation) ', head))


def is_ablation_csv(path: Path) -> bool:
    """Whether ``path`` is a table written by ``rdf2mm ablate --csv``."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
    except OSError:
        return False
    # tables from before the model column start with config
    return first.startswith(("model,config,literals,", "config,literals,"))


def check_folder_target(path: str | Path, ours: Callable[[Path], bool], what: str, force: bool = False) -> bool:
    """Check that the folder ``path`` may be written; returns whether something is there
    to replace. An empty folder, or one ``ours`` recognises, may be replaced; anything else
    only with ``force``."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return False
    if force:
        return True
    if not path.is_dir():
        raise UsageError(f"{path} exists and is not a folder; refusing to replace it with {what} "
                         "(choose another path, or pass --force)")
    try:
        empty = not any(path.iterdir())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the output folder: {exc.strerror or exc}") from None
    if empty or ours(path):
        return True
    raise UsageError(f"{path} holds files rdf2mm did not write; refusing to replace it with {what} "
                     "(choose another path, or pass --force to replace it and everything in it)")


def check_file_target(path: str | Path, ours: Callable[[Path], bool], what: str, force: bool = False) -> None:
    """Check that the file ``path`` may be written: absent, or ``ours``, or ``force``."""
    path = Path(path)
    if force or not path.exists():
        return
    if path.is_dir():
        raise UsageError(f"{path} is a folder; {what} is written to a file (give a file name)")
    if not ours(path):
        raise UsageError(f"{path} exists and was not written by rdf2mm; refusing to overwrite it with {what} "
                         "(choose another path, or pass --force)")
