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

from hothat._secrets import SECRET_INVALID, SECRET_MISSING, secret_fields, secret_keys
from hothat._text import quoted
from hothat.config._schema import TextModel
from hothat.errors import ConfigProblem

__all__ = ["Path", "Report", "did_you_mean", "drop_misspelled", "render_path", "translate", "walk"]

Path = tuple[str | int, ...]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def render_path(parts: Sequence[str | int]) -> str:
    """Write a path the way TOML readers think of it: ``people[3].contact[1]``, ``channels."sms.46elks"``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else quoted(part)
            out += f".{key}" if out else key
    return out


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``'; did you mean "x"?'`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {quoted(close[0])}?" if close else ""


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

        # Tables of named tables ([channels.NAME]) keep each name's problems together, in the file's order.
        names: dict[tuple[str | int, str], int] = {}
        for path, _ in self._items:
            if len(path) > 1 and isinstance(path[1], str):
                names.setdefault((path[0], path[1]), len(names))

        def key(item: tuple[Path, str]) -> tuple[int, int, list[int]]:
            path = item[0]
            rank = self._order.get(str(path[0]), len(self._order)) if path else -1
            named = names.get((path[0], path[1]), -1) if len(path) > 1 and isinstance(path[1], str) else -1
            return rank, named, [p for p in path if isinstance(p, int)]

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


def _member(union: Any, tag: str | int) -> Any:
    """The model of a union that ``tag`` (a discriminator value or a class name, as pydantic writes it) names."""
    for member in typing.get_args(union):
        member = _strip(member)
        if not _is_model(member):
            continue
        if member.__name__ == tag:
            return member
        for info in member.model_fields.values():
            annotation = _strip(info.annotation)
            if typing.get_origin(annotation) is typing.Literal and tag in typing.get_args(annotation):
                return member
    return None


def walk(root: type[pydantic.BaseModel], loc: Sequence[str | int]) -> tuple[Path, Any]:
    """Follow a pydantic ``loc`` below ``root``: the path without union tags, and the type found at its end.

    A discriminated union puts the member's tag in the ``loc`` (``providers.0.46elks.sender``); the file has no
    such level, so it is left out of the path (``providers[0].sender``). The type is ``None`` where it cannot
    be followed.
    """
    current: Any = root
    path: list[str | int] = []
    for part in loc:
        current = _strip(current)
        if typing.get_origin(current) in (typing.Union, types.UnionType):
            member = _member(current, part)
            if member is not None:
                current = member
                continue
        path.append(part)
        if current is None:
            continue
        if _is_model(current):
            info = _field(current, part) if isinstance(part, str) else None
            current = info.annotation if info is not None else None
            continue
        origin, args = typing.get_origin(current), typing.get_args(current)
        if origin in (list, tuple, set, frozenset) and isinstance(part, int) and args:
            current = args[0]
        elif origin is dict and isinstance(part, str) and len(args) == 2:
            current = args[1]
        else:
            current = None
    return tuple(path), _strip(current) if current is not None else None


def _model_at(root: type[pydantic.BaseModel], loc: Sequence[str | int]) -> type[pydantic.BaseModel] | None:
    """The model class of the table at ``loc`` below ``root``, if there is one."""
    found = walk(root, loc)[1]
    return found if _is_model(found) else None


def _keys(model: type[pydantic.BaseModel]) -> list[str]:
    """The keys of a table as a reader writes them: a secret with its other spellings."""
    secrets = set(secret_fields(model))
    return [
        f"{key} (or {key}_env, {key}_file)" if key in secrets else key
        for key in (info.alias or name for name, info in model.model_fields.items())
    ]


def _candidates(model: type[pydantic.BaseModel]) -> list[str]:
    """Every key a table takes, for "did you mean": the secrets' ``_env`` and ``_file`` spellings included."""
    keys = [info.alias or name for name, info in model.model_fields.items()]
    return keys + [k for name in secret_fields(model) for k in secret_keys(name)[1:]]


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


def _secret_names(root: type[pydantic.BaseModel]) -> set[str]:
    """Every key below ``root`` that holds a secret, in any of its spellings."""
    found: set[str] = set()
    seen: set[type[pydantic.BaseModel]] = set()

    def visit(tp: Any) -> None:
        tp = _strip(tp)
        if _is_model(tp):
            if tp in seen:
                return
            seen.add(tp)
            for name in secret_fields(tp):
                found.update(secret_keys(name))
            for info in tp.model_fields.values():
                visit(info.annotation)
        else:
            for arg in typing.get_args(tp):
                visit(arg)

    visit(root)
    return found


def translate(error: ErrorDetails, root: type[pydantic.BaseModel]) -> tuple[Path, str]:
    """Turn one pydantic error (``loc`` relative to ``root``) into a path and a message saying what to do.

    The value is never shown where the key holds a secret (nor for a secret given under an unknown key).
    """
    raw: Path = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if raw and raw[-1] == "[key]":
        raw = raw[:-1]
        loc, _ = walk(root, raw)
        if kind == "enum":
            key = str(loc[-1]) if loc else ""
            options = _choices(str(ctx.get("expected", "")))
            return loc, (
                f'"{key}" is not allowed as a key here: use one of {", ".join(options)}{did_you_mean(key, options)}'
            )
    loc, _ = walk(root, raw)
    secret = bool(loc) and str(loc[-1]) in _secret_names(root)
    value = None if secret else error.get("input")
    if kind in (SECRET_MISSING, SECRET_INVALID) and loc:
        return (*loc[:-1], str(ctx.get("key", loc[-1]))), str(ctx.get("reason", error["msg"]))
    if kind == "missing" and loc:
        parent = _model_at(root, raw[:-1])
        info = _field(parent, str(loc[-1])) if parent is not None else None
        why = ""
        if info is not None and info.description:
            text = info.description
            why = ": " + (text[0].lower() + text[1:] if text[1:2].islower() else text)
        if parent is not None and str(loc[-1]) in secret_fields(parent):
            why = why or f" (or give {loc[-1]}_env, an environment variable, or {loc[-1]}_file, a file holding it)"
        return loc[:-1], f'required key "{loc[-1]}" is missing{why}'
    if kind == "extra_forbidden" and loc:
        parent = _model_at(root, raw[:-1])
        allowed = _keys(parent) if parent is not None else []
        hint = did_you_mean(str(loc[-1]), _candidates(parent) if parent is not None else []) or "."
        listing = f" The keys allowed here are: {', '.join(allowed)}." if allowed else ""
        return loc[:-1], f"unknown key {quoted(str(loc[-1]))}{hint}{listing}"
    if kind == "union_tag_invalid":
        key = str(ctx.get("discriminator", "")).strip("'")
        options = _choices(str(ctx.get("expected_tags", "")))
        tag = str(ctx.get("tag", ""))
        return (*loc, key), f"{quoted(tag)} is not allowed here: use one of {', '.join(options)}" + did_you_mean(
            tag, options
        )
    if kind == "union_tag_not_found":
        return loc, f'required key "{str(ctx.get("discriminator", "")).strip(chr(39))}" is missing'
    if kind in ("value_error", "assertion_error"):
        cause = ctx.get("error")
        return loc, str(cause) if cause is not None else error["msg"]
    got = "" if secret else f", got {_kind(value)}"
    if kind == "string_type":
        hint = ' with a unit, e.g. "15m"' if isinstance(value, int | float) and _is_duration(loc) else ""
        return loc, f"expected text in quotes{hint}{got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return loc, f"expected a whole number{got}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return loc, f"expected a number{got}"
    if kind in ("bool_type", "bool_parsing"):
        return loc, f"expected true or false (without quotes){got}"
    if kind in ("list_type", "tuple_type"):
        return loc, f'expected an array, e.g. ["a", "b"]{got}'
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        if _model_at(root, raw) is TextModel:
            return loc, f'expected text in quotes, or a table {{ sv = "...", en = "..." }}{got}'
        return loc, f"expected a table {{ key = value, ... }}{got}"
    if kind in ("literal_error", "enum"):
        options = _choices(str(ctx.get("expected", "")))
        shown = "this value" if secret else quoted(value) if isinstance(value, str) else _kind(value)
        hint = "" if secret else did_you_mean(str(value), options)
        return loc, f"{shown} is not allowed here: use one of {', '.join(options)}{hint}"
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return loc, f"needs at least {least} {'entry' if least == 1 else 'entries'}"
    if kind == "string_too_short":
        return loc, "must not be empty"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {"greater_than_equal": "at least", "greater_than": "more than", "less_than_equal": "at most"}
        limit = ctx.get({"greater_than_equal": "ge", "greater_than": "gt", "less_than_equal": "le"}.get(kind, "lt"))
        return loc, f"must be {words.get(kind, 'less than')} {limit}" + ("" if secret else f", got {value}")
    if kind == "string_pattern_mismatch":
        return loc, f"does not have the expected form (it must match {ctx.get('pattern')})"
    return loc, error["msg"]


def _is_duration(loc: Path) -> bool:
    return bool(loc) and str(loc[-1]) in {"ack_within", "done_within", "delay", "retention"}
