"""Errors that end a run with a clear message and a documented exit code.

The CLI catches :class:`Rdf2mmError` and prints ``error: <message>`` on one line
(no traceback unless ``--debug``), then exits with ``exit_code``.
"""
from __future__ import annotations


class ExitCode:
    """Documented process exit codes (also listed in the README)."""

    OK = 0
    INTERNAL = 1  # a bug: please report it (traceback with --debug)
    USAGE = 2  # bad command-line usage (unknown option, bad value)
    INPUT = 3  # input cannot be read: missing file, syntax error, unknown format, empty graph
    DATA = 4  # input is readable but unusable for the task: labels, target predicate, splits
    REMOTE = 5  # a SPARQL endpoint or store failed: down, slow, HTTP error, garbage
    RESOURCE = 6  # the run would not fit in memory / the device is unavailable
    INTERRUPTED = 130  # Ctrl-C or SIGTERM; no partial output is left behind


class Rdf2mmError(Exception):
    """Base class: a user-facing error with a one-line message."""

    exit_code: int = ExitCode.INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InputError(Rdf2mmError):
    """The input cannot be read (missing, unreadable, malformed, unknown format, empty)."""

    exit_code = ExitCode.INPUT


class DataError(Rdf2mmError):
    """The input is readable but cannot be used for the task (labels, targets, splits)."""

    exit_code = ExitCode.DATA


class RemoteError(Rdf2mmError):
    """A remote SPARQL endpoint or store failed."""

    exit_code = ExitCode.REMOTE


class ResourceError(Rdf2mmError):
    """The run would exceed the machine's memory, or the requested device is absent."""

    exit_code = ExitCode.RESOURCE


class UsageError(Rdf2mmError):
    """An option has an invalid value or options conflict."""

    exit_code = ExitCode.USAGE


class DivergedError(DataError):
    """Training produced a non-finite loss or weights: nothing of the run is kept."""


def did_you_mean(options: list[str]) -> str:
    """``"; did you mean <a> or <b>?"`` for an error message, or ``""`` without options."""
    if not options:
        return ""
    names = [f"<{o}>" for o in options]
    return "; did you mean " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]) + "?"
