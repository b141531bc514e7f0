"""Collect configuration problems; turn pydantic's errors into messages a municipal developer can act on."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any

import pydantic
from pydantic_core import ErrorDetails

from hothat.config._contact import quoted
from hothat.config._schema import TextModel
from hothat.errors import ConfigProblem

__all__ = ["Path", "Report", "did_you_mean", "drop_misspelled", "render_path", "translate"]

Path = tuple[str | int, ...]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def render_path(parts: Sequence[str | int]) -> str:
    """Write a path the way TOML readers think of it: ``people[3].contact[1]``, ``channels."sms.46elks"``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else f'"{part}"'
            out += f".{key}" if out else key
    return out


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``'; did you mean "x"?'`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


class Report:
    """The problems found so far in one file, kept with their paths so they can be listed in file order."""

    def __init__(self, source: str, order: Sequence[str]) -> None:
        self.source = source
        self._order = {name: rank for rank, name in enumerate(order)}
        self._items: list[tuple[Path, str]] = []

    def add(self, path: Path, message: str) -> None:
        """Record one problem at ``path``."""
        if (path, message) not in self._items:
            self._items.append((path, message))

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def problems(self) -> list[ConfigProblem]:
        """The problems in file order: by section, then by the position of the record."""

        def key(item: tuple[Path, str]) -> tuple[int, list[int]]:
            path = item[0]
            rank = self._order.get(str(path[0]), len(self._order)) if path else -1
            return rank, [p for p in path if isinstance(p, int)]

        return [ConfigProblem(self.source, render_path(p), m) for p, m in sorted(self._items, key=key)]


# ----------------------------------------------------------------------------------------------------------
# pydantic errors → messages
# ----------------------------------------------------------------------------------------------------------


def _strip(annotation: Any) -> Any:
    """Remove ``Annotated`` and ``| None`` around a type."""
    while True:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            annotation = args[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _field(model: type[pydantic.BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


def _model_at(root: type[pydantic.BaseModel], loc: Sequence[str | int]) -> type[pydantic.BaseModel] | None:
    """The model class of the table at ``loc`` below ``root``, if there is one."""
    current: Any = root
    for part in loc:
        current = _strip(current)
        if _is_model(current):
            info = _field(current, part) if isinstance(part, str) else None
            if info is None:
                return None
            current = info.annotation
            continue
        origin, args = typing.get_origin(current), typing.get_args(current)
        if origin is list and isinstance(part, int):
            current = args[0]
        elif origin is dict and isinstance(part, str):
            current = args[1]
        else:
            return None
    current = _strip(current)
    return current if _is_model(current) else None


def _keys(model: type[pydantic.BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _kind(value: Any) -> str:
    """What a TOML value is, in words."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {quoted(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return f"the date/time {value}"
    return type(value).__name__


def _choices(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def drop_misspelled(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Leave out "required key X is missing" where an unknown key in the same table is X misspelled.

    ``nmae = "Per"`` is one mistake, reported once as the unknown key with its suggestion.
    """
    missing = {(tuple(e["loc"][:-1]), e["loc"][-1]) for e in errors if e["type"] == "missing" and e["loc"]}
    explained: set[tuple[Path, str | int]] = set()
    for error in errors:
        if error["type"] == "extra_forbidden" and error["loc"]:
            parent = tuple(error["loc"][:-1])
            keys = [str(key) for where, key in missing if where == parent]
            close = difflib.get_close_matches(str(error["loc"][-1]), keys, n=1, cutoff=0.6)
            explained.update((parent, key) for key in close)
    return [e for e in errors if not (e["type"] == "missing" and (tuple(e["loc"][:-1]), e["loc"][-1]) in explained)]


def translate(error: ErrorDetails, root: type[pydantic.BaseModel]) -> tuple[Path, str]:
    """Turn one pydantic error (``loc`` relative to ``root``) into a path and a message saying what to do."""
    loc: Path = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
        if kind == "enum":
            key = str(loc[-1]) if loc else ""
            options = _choices(str(ctx.get("expected", "")))
            return loc, (
                f'"{key}" is not allowed as a key here: use one of {", ".join(options)}{did_you_mean(key, options)}'
            )
    if kind == "missing" and loc:
        parent = _model_at(root, loc[:-1])
        info = _field(parent, str(loc[-1])) if parent is not None else None
        why = ""
        if info is not None and info.description:
            text = info.description
            why = ": " + (text[0].lower() + text[1:] if text[1:2].islower() else text)
        return loc[:-1], f'required key "{loc[-1]}" is missing{why}'
    if kind == "extra_forbidden" and loc:
        parent = _model_at(root, loc[:-1])
        allowed = _keys(parent) if parent is not None else []
        hint = did_you_mean(str(loc[-1]), allowed) or "."
        listing = f" The keys allowed here are: {', '.join(allowed)}." if allowed else ""
        return loc[:-1], f'unknown key "{loc[-1]}"{hint}{listing}'
    if kind in ("value_error", "assertion_error"):
        cause = ctx.get("error")
        return loc, str(cause) if cause is not None else error["msg"]
    if kind == "string_type":
        hint = ' with a unit, e.g. "15m"' if isinstance(value, int | float) and _is_duration(loc) else ""
        return loc, f"expected text in quotes{hint}, got {_kind(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return loc, f"expected a whole number, got {_kind(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return loc, f"expected true or false (without quotes), got {_kind(value)}"
    if kind == "list_type":
        return loc, f'expected an array, e.g. ["a", "b"], got {_kind(value)}'
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        if _model_at(root, loc) is TextModel:
            return (
                loc,
                f'expected text in quotes, or a table {{ sv = "...", en = "..." }}, got {_kind(value)}',
            )
        return loc, f"expected a table {{ key = value, ... }}, got {_kind(value)}"
    if kind in ("literal_error", "enum"):
        options = _choices(str(ctx.get("expected", "")))
        shown = quoted(value) if isinstance(value, str) else _kind(value)
        return (
            loc,
            f"{shown} is not allowed here: use one of {', '.join(options)}" + did_you_mean(str(value), options),
        )
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return loc, f"needs at least {least} {'entry' if least == 1 else 'entries'}"
    if kind == "string_too_short":
        return loc, "must not be empty"
    if kind == "greater_than_equal":
        return loc, f"must be at least {ctx.get('ge')}, got {value}"
    if kind == "less_than_equal":
        return loc, f"must be at most {ctx.get('le')}, got {value}"
    return loc, error["msg"]


def _is_duration(loc: Path) -> bool:
    return bool(loc) and str(loc[-1]) in {"ack_within", "done_within", "delay", "retention"}
