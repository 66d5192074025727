"""The Typer application object and what every command shares.

Command modules (``rdf2mm/cli/<command>.py``) import :data:`app` and register
themselves with ``@app.command()``; :mod:`rdf2mm.cli` imports them all.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
from typing import Any, Iterator, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from rdf2mm.errors import ExitCode, Rdf2mmError

app = typer.Typer(
    name="rdf2mm",
    help="Learn from multimodal RDF knowledge graphs end to end (MR-GCN).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

#: human-facing output goes to stderr so that stdout stays clean for --json and pipes
console = Console(stderr=True, soft_wrap=True)
#: machine-facing output (tables the user asked for, JSON)
out = Console()

_state: dict[str, Any] = {"debug": False, "quiet": False}


def set_global(debug: bool, quiet: bool) -> None:
    _state["debug"] = debug or os.environ.get("RDF2MM_DEBUG") == "1"
    # Under torchrun only worker 0 talks: the others would repeat every line.
    _state["quiet"] = quiet or not is_main_worker()


def is_main_worker() -> bool:
    """False in the extra processes of a torchrun launch (RANK > 0)."""
    return os.environ.get("RANK", "0") in ("", "0")


def is_quiet() -> bool:
    return bool(_state["quiet"])


def info(message: str) -> None:
    """A progress/info line on stderr, silenced by ``--quiet``."""
    if not _state["quiet"]:
        console.print(message, highlight=False)


def warn(message: str) -> None:
    """A warning on stderr: shown even with ``--quiet`` (it is about the results)."""
    if is_main_worker():
        console.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False)


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None: JSON has no tokens for them."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def print_json(obj: Any) -> None:
    """One JSON object on stdout, nothing else (always valid JSON: non-finite numbers are null)."""
    sys.stdout.write(json.dumps(json_safe(obj), ensure_ascii=False, sort_keys=False, default=str,
                                allow_nan=False) + "\n")
    sys.stdout.flush()


def _sigterm_as_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # the same path as Ctrl-C: temporary output is removed on the way out


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (``kill``, a scheduler's stop) behaves like Ctrl-C while a command runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """Turn library errors into one-line messages and documented exit codes."""
    from rdf2mm.io.atomic import write_error

    try:
        with _sigterm_interrupts():
            yield
    except Rdf2mmError as exc:
        if _state["debug"]:
            console.print_exception()
        console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, markup=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        console.print("[bold red]interrupted:[/] no partial output was written", highlight=False)
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except MemoryError:
        if _state["debug"]:
            console.print_exception()
        console.print(
            "[bold red]error:[/] out of memory; try --batching mini, fewer modalities or a smaller graph",
            highlight=False,
        )
        raise typer.Exit(ExitCode.RESOURCE) from None
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except OSError as exc:
        err = write_error(exc)  # a full or read-only disk is the user's to fix, not a bug
        if err is None:
            _internal(exc)
        if _state["debug"]:
            console.print_exception()
        console.print(f"[bold red]error:[/] {escape(err.message)}", highlight=False, markup=True)
        raise typer.Exit(err.exit_code) from None
    except Exception as exc:  # noqa: BLE001 - last resort: a bug, reported without a traceback
        _internal(exc)


def _internal(exc: BaseException) -> NoReturn:
    """Report a bug (exit 1): the traceback with --debug, one line without."""
    if _state["debug"]:
        console.print_exception()
    else:
        console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} (rerun with --debug for a traceback)",
            highlight=False,
        )
    raise typer.Exit(ExitCode.INTERNAL) from None


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only results and errors."),
) -> None:
    """rdf2mm: read RDF as it is, encode every literal by its modality, train an MR-GCN."""
    set_global(debug, quiet)
