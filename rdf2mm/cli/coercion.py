"""Option values that need no conversion skip Typer's Pydantic adapters (a quick start).

Typer 0.2x converts every parameter value through a Pydantic ``TypeAdapter``, built on
first use, and builds it even for a flag that was not given (value ``None``): so every
command, ``rdf2mm config --example`` and ``rdf2mm train --help`` included, paid for
importing Pydantic (0.15-0.2 s) before doing anything. :func:`light_coercion` gives each
parameter a converter that builds Typer's adapter only when a value needs it: ``None``
(not given) never does, and for a simple parameter (``str``, ``bool``, ``int``,
``float``, ``list[str]``, without a parser, range, path checks or choices) neither do
the values whose conversion is certain (a ``str`` for ``str``, the ``int`` default for
``int``, a plain decimal numeral for ``int`` or ``float``). Anything else goes through
Typer's own adapter, so results and error messages stay Typer's. With a Typer that
has no such adapters (older releases) it does nothing.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

try:  # Typer's internals of 0.2x; absent elsewhere, where there is nothing to skip
    from typer._coercion import RuntimeParam, build_runtime_param
except ImportError:  # pragma: no cover - depends on the installed Typer
    RuntimeParam = None  # type: ignore[assignment,misc]

# plain numerals only (no leading zeros, "1.", ".5", "1_000", spaces): every reader agrees on them
_INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NOT_DONE = object()


def _identity_value(annotation: Any, value: Any) -> Any:
    """``value`` converted where that is certain and cheap, else ``_NOT_DONE``."""
    if annotation is str:
        return value if isinstance(value, str) else _NOT_DONE
    if annotation is bool:
        return value if isinstance(value, bool) else _NOT_DONE
    if annotation is int:
        if type(value) is int:
            return value
        if isinstance(value, str) and _INT.fullmatch(value):
            return int(value)
        return _NOT_DONE
    if annotation is float:
        if type(value) is float and math.isfinite(value):
            return value
        if isinstance(value, str) and _FLOAT.fullmatch(value):
            number = float(value)
            return number if math.isfinite(number) else _NOT_DONE
        return _NOT_DONE
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
    return _NOT_DONE


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _LightParam(RuntimeParam):  # type: ignore[misc,valid-type]
        """Identity conversions here (simple parameters only); every other value through
        Typer's adapter, built when the first such value comes (``None`` never gets here)."""

        descriptor: Any = None
        simple: bool = False
        _typer: list = field(default_factory=list)  # Typer's converter, once built

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.simple:
                done = _identity_value(self.annotation, value)
                if done is not _NOT_DONE:
                    return done
            if not self._typer:
                self._typer.append(build_runtime_param(self.descriptor))
            return self._typer[0]._coerce_value(value, param=param, ctx=ctx)


def _simple(descriptor: Any) -> bool:
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return False
    if getattr(info, "min", None) is not None or getattr(info, "max", None) is not None:
        return False
    annotation = descriptor.annotation
    return annotation in (str, bool, int, float) or (get_origin(annotation) is list and get_args(annotation) == (str,))


def light_coercion(command: Any, ctx: Any) -> None:
    """Give ``command``'s parameters, its ``--help`` included, the light converter (once)."""
    if RuntimeParam is None:
        return
    params = list(getattr(command, "params", ()))
    try:
        params.append(command.get_help_option(ctx))  # made on demand (and kept) by click
    except Exception:  # noqa: BLE001, S110 - no help option: nothing to add
        pass
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", False) is not None:
            continue  # not a Typer parameter, or its converter is already built
        try:
            param._runtime_param = _LightParam(parameter_info=descriptor.parameter_info,
                                               annotation=descriptor.annotation, descriptor=descriptor,
                                               simple=_simple(descriptor))
        except Exception:  # noqa: BLE001, S112 - an unexpected Typer: keep its own conversion
            continue
