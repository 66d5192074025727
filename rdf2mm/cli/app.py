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
from typer.core import TyperGroup

# Typer 0.29 carries its own click; its classes are reached through the Typer objects.
Parameter = Any

from rdf2mm.cli.coercion import light_coercion
from rdf2mm.errors import ExitCode, Rdf2mmError

#: options of the rdf2mm group that may also be written after the command
GLOBAL_FLAGS = ("--debug", "--quiet", "-q")


def _default_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


class _Group(TyperGroup):
    """The rdf2mm group: global flags anywhere before ``--``, one way of showing defaults."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # `rdf2mm train g.ttl --debug` means `rdf2mm --debug train g.ttl`: no subcommand has these flags.
        # The group's own options take no values, so the first word not starting with "-" is the command.
        command = next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))
        cut = args.index("--") if "--" in args else len(args)
        moved = [i for i in range(command + 1, cut) if args[i] in GLOBAL_FLAGS]
        if moved:
            args = [args[i] for i in moved] + [a for i, a in enumerate(args) if i not in moved]
        light_coercion(self, ctx)  # no Pydantic for flags that were not given
        return super().parse_args(ctx, args)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _readable_help(command, ctx)
            light_coercion(command, ctx)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _readable_help(self, ctx)
        super().format_help(ctx, formatter)


def _readable_help(command: Any, ctx: Any) -> None:
    uniform_defaults(command)
    help_option = command.get_help_option(ctx)
    if help_option is not None:
        help_option.display_type_rich = _no_type


#: metavars by option or argument name: what to type, not the Python type
METAVARS: dict[str, str] = {
    "--target": "IRI", "--relation": "IRI", "--head": "IRI", "--tail": "IRI", "--node": "IRI", "--base": "IRI",
    "--run": "IRI", "--target-relations": "IRI[,IRI...]", "--modalities": "MOD[,MOD...]",
    "--signal": "MOD[,MOD...]", "--modalities-grid": "ROW[,ROW...]", "--train": "FILE", "--valid": "FILE",
    "--test": "FILE", "--config": "FILE", "--modality-map": "FILE", "--csv": "FILE", "--out": "DIR",
    "--resume": "RUN_DIR", "--store": "STORE", "--format": "FORMAT", "--output": "FORMAT[,FORMAT...]",
    "--fanout": "N[,N...]", "--threads": "N|auto", "--literals": "MODE", "--device": "DEVICE", "--task": "TASK",
    "--text-encoder": "ENCODER", "--image-encoder": "ENCODER", "--aggregation": "AGG", "--decoder": "DECODER", "--batching": "MODE",
    "--predictions-format": "FORMAT", "--split": "F,F,F", "--lp-split": "F,F,F", "--sparql-update": "URL",
    "--gsp": "URL", "--user": "USER", "--password": "PASSWORD", "--token": "TOKEN", "--vectors": "KIND",
    "--as": "KIND", "--image-format": "FORMAT", "--timeout": "SECONDS",
    "graph": "GRAPH", "sources": "SOURCE", "run_dir": "RUN_DIR", "store": "STORE", "sparql": "QUERY",
    "iri": "IRI", "out_dir": "DIR",
}
_TYPE_METAVARS = {"int": "N", "float": "X", "Path": "PATH", "str": "TEXT"}


def _metavar(param: Parameter) -> str | None:
    if param.param_type_name == "option":
        name = next((o for o in param.opts if o.startswith("--")), "")
        if param.is_flag:
            return None
        if name in METAVARS:
            return METAVARS[name]
    elif param.name in METAVARS:
        return METAVARS[param.name]
    bare = param.bare_type() if hasattr(param, "bare_type") else ""
    return _TYPE_METAVARS.get(bare.removeprefix("list[").removesuffix("]"))


def _no_type(ctx: Any = None) -> None:
    return None


def uniform_defaults(command: Any) -> None:
    """Write every option's default one way, ``(default: X)`` at the end of its help, and
    give every parameter a readable metavar (``FILE``, ``N``, ``MOD[,MOD...]``).

    Options whose default depends on the task already say so in their help text; flags
    that default to off and options without a default say nothing.
    """
    for param in command.params:
        if getattr(param, "_rdf2mm_defaults", False):
            continue
        if param.param_type_name != "option":
            param._rdf2mm_defaults = True  # type: ignore[attr-defined]
            if param.metavar is None:
                param.metavar = _metavar(param)
            param.display_type_rich = _no_type  # the name column already shows the metavar
            continue
        param._rdf2mm_defaults = True  # type: ignore[attr-defined]
        if param.metavar is None:
            param.metavar = _metavar(param)
        param.show_default = False
        default = param.default
        if param.is_flag:
            param.display_type_rich = _no_type  # a flag takes no value: no <bool>
            continue
        if default in (None, "", (), []) or param.hidden:
            continue
        help_text = param.help or ""
        if "default" not in help_text.lower():
            param.help = f"{help_text.rstrip()} (default: {_default_text(default)})".strip()


app = typer.Typer(
    name="rdf2mm",
    cls=_Group,
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


def _print_version(value: bool) -> None:
    if value:
        from rdf2mm import __version__

        sys.stdout.write(f"rdf2mm {__version__}\n")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors (also accepted after the command)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only results and errors (also accepted after the command)."),
    version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_print_version,
                                 help="Print the rdf2mm version and exit."),
) -> None:
    """rdf2mm: read RDF as it is, encode every literal by its modality, train an MR-GCN."""
    set_global(debug, quiet)
