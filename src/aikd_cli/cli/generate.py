"""Typer parameters generated from a task's options dataclass (:mod:`aikd_cli.options`), so every
flag, default, help text and group is declared once, on the field.

``command(OptionsClass, handler)`` returns a function Typer can register: its signature is made of
the dataclass fields; calling it builds the options (deprecated spellings mapped, typed text parsed)
and passes them to ``handler``.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from aikd_cli.cli.common import handle_errors
from aikd_cli.errors import AikdError
from aikd_cli.options import default_of, flag_of, spec_of


def _cli_type(annotation: Any, parse: bool) -> tuple[Any, bool]:
    """The type Typer reads for a field (and whether it is a list): ``str`` for values parsed from
    text, ``X`` for ``X | None``, ``str`` for ``Literal`` (choices are checked by the options)."""
    if parse:  # typed as text, parsed by the options (a sequence: the option may repeat)
        return (list[str], True) if typing.get_origin(annotation) in (tuple, list) else (str, False)
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and args:  # a list member if any: what the CLI collects
        return _cli_type(next((a for a in args if typing.get_origin(a) is list), args[0]), False)
    if origin is list:
        inner = args[0] if args else str
        return list[_cli_type(inner, False)[0]], True
    if origin is typing.Literal:
        return str, False
    if annotation in (bool, int, float, str, Path):
        return annotation, False
    return str, False


def _metavar(kind: Any, spec) -> str | None:
    if spec.metavar is not None:
        return spec.metavar
    if kind is bool:
        return ""
    base = typing.get_args(kind)[0] if typing.get_origin(kind) is list else kind
    if spec.choices:
        return "|".join(spec.choices)
    return {int: "INT", float: "NUMBER", Path: "PATH", str: "TEXT"}.get(base, "TEXT")


def parameters(cls: type, *, skip: tuple[str, ...] = (), given_only: bool = False) -> list[inspect.Parameter]:
    """One keyword-only parameter per CLI field of ``cls`` (plus hidden deprecated spellings).
    ``given_only``: every parameter defaults to ``None``, so that only what was typed is passed on
    (``aikd distill`` lays typed options over a ``--config`` file)."""
    hints = typing.get_type_hints(cls)
    params = []
    for f in fields(cls):
        spec = spec_of(f)
        if spec is None or not spec.cli or f.name in skip:
            continue
        kind, is_list = _cli_type(hints[f.name], spec.parse is not None)
        required = f.default is MISSING and f.default_factory is MISSING and not given_only
        default = None if required else default_of(f)
        shown = None if default in (None, [], ()) or kind is bool else default
        if isinstance(default, (list, tuple)) and default:
            shown = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in default)
        help_text = spec.help + (f" [dim]\\[default: {_escape(shown)}][/]" if shown not in (None, "") else "")
        if spec.argument:
            info = typer.Argument(help=help_text, show_default=False, metavar=f.name.upper() + ("..." if is_list else ""))
        else:
            negatable = kind is bool and (default is not False or given_only)  # True, or None (decided later)
            names = [f"{flag_of(f)}/--no-{flag_of(f)[2:]}"] if negatable else [flag_of(f)]
            if spec.short:
                names.append(spec.short)
            info = typer.Option(*names, help=help_text, rich_help_panel=spec.group, metavar=_metavar(kind, spec),
                                show_default=False)
        optional = (is_list or spec.parse or given_only) and not required
        params.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if required else None if optional else default,
            annotation=Annotated[kind | None if optional else kind, info]))
        for alias in spec.aliases:
            params.append(inspect.Parameter(_alias_name(f.name, alias), inspect.Parameter.KEYWORD_ONLY, default=None,
                                            annotation=Annotated[kind | None, typer.Option(alias, hidden=True)]))
    return params


def _escape(value: object) -> str:
    from rich.markup import escape

    return escape(str(value))


def _alias_name(field_name: str, alias: str) -> str:
    return f"_alias_{field_name}_{alias.strip('-').replace('-', '_')}"


def options_from(cls: type, values: dict[str, Any], command: str = "") -> Any:
    """The options ``values`` (as Typer passed them) describe; fields not given keep their defaults."""
    return cls(**given(cls, values, command))


def given(cls: type, values: dict[str, Any], command: str = "") -> dict[str, Any]:
    """The fields ``values`` (as Typer passed them) set: parsed, with deprecated spellings mapped onto
    their fields (one warning line each; a short flag is named with its ``command``, as ``-p``
    means another thing elsewhere)."""
    from aikd_cli.cli.options import use_alias

    kwargs = {}
    for f in fields(cls):
        spec = spec_of(f)
        if spec is None or not spec.cli or f.name not in values:
            continue
        value = values[f.name]
        new = flag_of(f) + (f"/{spec.short}" if spec.short else "")
        for alias in spec.aliases:
            old = alias if alias.startswith("--") or not command else f"{command} {alias}"
            value = use_alias(values.get(_alias_name(f.name, alias)), value, old, new)
        if value is None:
            continue
        if spec.parse is not None:
            try:
                value = spec.parse(value) if isinstance(value, str) else tuple(x for v in value for x in spec.parse(v))
            except AikdError as exc:
                raise AikdError(f"{flag_of(f)}: {exc.message}", exc.hint) from None
        if isinstance(value, list) and typing.get_origin(typing.get_type_hints(cls)[f.name]) is tuple:
            value = tuple(value)
        kwargs[f.name] = value
    return kwargs


def command(cls: type, *, extra: list[inspect.Parameter] | None = None, skip: tuple[str, ...] = ()):
    """Decorate ``handler(options, **extra)``: the result is a Typer command whose options are the
    fields of ``cls`` (``extra``: parameters that are not options of the task, e.g. ``--merge``)."""

    def decorate(handler: Callable[..., None]) -> Callable[..., None]:
        extra_names = {p.name for p in extra or ()}

        @functools.wraps(handler)
        def run(**values: Any) -> None:
            rest = {k: values.pop(k) for k in list(values) if k in extra_names}
            # a value the options cannot parse is one line, like every other mistake
            return handle_errors(lambda: handler(options_from(cls, values, handler.__name__), **rest))()

        params = [*(extra or []), *parameters(cls, skip=skip)]
        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        del run.__wrapped__
        return run

    return decorate
