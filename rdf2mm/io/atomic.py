"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted run (Ctrl-C, kill, crash) therefore never leaves a half-written file:
the target either has its old content or its complete new content. The temporary
file or folder gets the mode a plain ``open``/``mkdir`` would give (0644/0755 under
the usual umask 022), not ``tempfile``'s private 0600/0700: the outputs are written
for downstream jobs, often of another user.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from rdf2mm.errors import InputError, Rdf2mmError, ResourceError

#: errors that mean "the disk is full": the run needs a resource the machine lacks (exit 6)
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
#: errors that mean "this place cannot be written": like an unreadable input (exit 3)
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def write_error(exc: BaseException, target: str | Path | None = None) -> Rdf2mmError | None:
    """The user-facing error for a failed write (disk full, read-only or forbidden place),
    or None when ``exc`` is not one of those (then it is a bug and stays as it is)."""
    if not isinstance(exc, OSError) or exc.errno not in _FULL | _READ_ONLY:
        return None
    where = target or exc.filename or "output"
    reason = exc.strerror or os.strerror(exc.errno or 0)
    if exc.errno in _FULL:
        return ResourceError(f"cannot write {where}: {reason}; free some space or write elsewhere "
                             "(nothing partial was left)")
    return InputError(f"cannot write {where}: {reason}; choose a writable output location")


def current_umask() -> int:
    """The process umask (read without changing it for longer than the call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def public_mode(path: str | Path, folder: bool = False) -> None:
    """Give ``path`` the mode ``open``/``mkdir`` would: 0o666 (files) or 0o777 (folders) less the umask."""
    os.chmod(path, (0o777 if folder else 0o666) & ~current_umask())


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on success it is renamed onto ``target``."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise (write_error(exc, target) or exc) from None
    os.close(fd)
    tmp_path = Path(tmp)
    public_mode(tmp_path)
    try:
        yield tmp_path
        public_mode(tmp_path)  # again: a writer may have replaced the file with a private one
        os.replace(tmp_path, target)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        err = write_error(exc, target)
        if err is not None:
            raise err from None
        raise


@contextlib.contextmanager
def atomic_open(target: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``target`` only if the block succeeds."""
    with atomic_path(target) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_json(target: str | Path, obj: Any) -> None:
    """Write ``obj`` as pretty JSON, atomically."""
    with atomic_open(target) as fh:
        json.dump(obj, fh, indent=2, sort_keys=False, default=str)
        fh.write("\n")


@contextlib.contextmanager
def atomic_dir(target: str | Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; renamed onto it when the block succeeds.

    With ``replace`` an existing ``target`` is swapped out only after the new folder is
    complete, so a failure leaves the old one intact. Whether ``target`` may be replaced
    at all is the caller's decision (see :mod:`rdf2mm.io.targets`).
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise (write_error(exc, target) or exc) from None
    public_mode(tmp, folder=True)
    try:
        yield tmp
        if target.exists() or target.is_symlink():
            if not replace:
                raise FileExistsError(str(target))
            # A fresh name for the old one: never clobbers anything else beside the target.
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old.tmp", dir=target.parent))
            os.replace(target, old / "old")
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(old / "old", target)
                raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        err = write_error(exc, target)
        if err is not None:
            raise err from None
        raise
