"""Secrets in settings tables: each ``SecretStr`` field ``x`` may be written ``x``, ``x_env`` or ``x_file``.

This is the one place hothat reads a secret from the environment or from a file. :class:`SecretSettings` is the
base of every settings table that holds secrets (``ChannelSettings`` and the provider tables inside it): for
each field annotated ``SecretStr``, the table may give

- ``x = "..."``, the secret itself (best kept out of files that are shared or versioned);
- ``x_env = "NAME"``, the environment variable that holds it;
- ``x_file = "path"``, a file that holds it (container and systemd credentials), relative to the municipality
  file or absolute; read once, trailing line breaks stripped, at most 64 KiB of UTF-8.

Exactly one of the three. The value becomes a ``SecretStr``, so it never shows in a repr, a log line or an error.
An unset variable or a missing file is an error of its own kind (``secret_missing``), naming the variable or
the file and never a value, which ``hothat validate --allow-missing-secrets`` lowers to a warning on a machine
that does not hold the secrets. Any other mistake (two spellings at once, a secret where a variable name
belongs, an empty or unreadable file) is a ``secret_invalid`` error.

How one validation reads secrets is passed in pydantic's validation context as a :class:`SecretReading`
(:func:`secret_context`); without one, relative paths start in the current folder and warnings are logged.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import stat
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pydantic
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from hothat._text import quoted

__all__ = [
    "SECRET_INVALID",
    "SECRET_MISSING",
    "SecretError",
    "SecretReading",
    "SecretSettings",
    "is_secret_annotation",
    "read_secret",
    "secret_context",
    "secret_fields",
    "secret_keys",
]

log = logging.getLogger("hothat.config")

SECRET_MISSING = "secret_missing"
"""The pydantic error type of an unset (or empty) environment variable or a missing file."""
SECRET_INVALID = "secret_invalid"
"""The pydantic error type of every other mistake in giving a secret."""

_CONTEXT_KEY = "hothat.secrets"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_MAX_FILE = 64 * 1024
# A stand-in that passes the usual checks of a secret's form (length, base64), so the rest of a table is checked
# when a secret cannot be read; the table fails validation all the same, so the stand-in is never used.
_PLACEHOLDER = "A" * 64


@attrs.define
class SecretReading:
    """How one validation reads secrets.

    Attributes:
        base_dir: where a relative ``x_file`` path starts (the municipality file's folder); ``None``: the
            current folder.
        warnings: ``(key, given, message)`` for what is allowed but unwise (a secret file every user can read);
            ``None`` logs them on the ``hothat.config`` logger instead.
        environ: where ``x_env`` variables are looked up; ``None``: ``os.environ``.
    """

    base_dir: Path | None = None
    warnings: list[tuple[str, str, str]] | None = None
    environ: Mapping[str, str] | None = None

    def warn(self, key: str, given: str, message: str) -> None:
        """Note a warning about the secret given as ``key = given``."""
        if self.warnings is None:
            log.warning("%s = %s: %s", key, quoted(given), message)
        else:
            self.warnings.append((key, given, message))


def secret_context(reading: SecretReading) -> dict[str, Any]:
    """A pydantic validation context carrying ``reading``: ``Model.model_validate(table, context=...)``."""
    return {_CONTEXT_KEY: reading}


def is_secret_annotation(annotation: Any) -> bool:
    """Whether a field's type is ``SecretStr``, possibly optional or annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return is_secret_annotation(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(is_secret_annotation(a) for a in typing.get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, pydantic.SecretStr)


@functools.cache
def secret_fields(model: type[pydantic.BaseModel]) -> tuple[str, ...]:
    """The keys of ``model``'s secret fields, in declaration order."""
    return tuple(
        info.alias or name for name, info in model.model_fields.items() if is_secret_annotation(info.annotation)
    )


def secret_keys(name: str) -> tuple[str, str, str]:
    """The three spellings of the secret ``name``: ``(name, name_env, name_file)``."""
    return name, f"{name}_env", f"{name}_file"


class SecretError(ValueError):
    """A secret could not be read. The message names the key and the variable or file, never a value.

    Attributes:
        kind: ``secret_missing`` (an unset variable, a missing file) or ``secret_invalid``.
        key: the key that gave it (``password_env``).
        reason: what is wrong and what to do.
    """

    def __init__(self, kind: str, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.kind = kind
        self.key = key
        self.reason = reason


def _env(key: str, given: Any, other: str, reading: SecretReading) -> pydantic.SecretStr:
    if not isinstance(given, str) or not _ENV_NAME.fullmatch(given):
        # Never echoed: a secret written here by mistake must not end up in an error message.
        raise SecretError(
            SECRET_INVALID,
            key,
            "must be the name of an environment variable (letters, digits and _, e.g. HOTHAT_SMTP_PASSWORD), "
            "not the secret itself",
        )
    value = (os.environ if reading.environ is None else reading.environ).get(given)
    if not value:
        state = "is not set" if value is None else "is not set (it is empty)"
        raise SecretError(
            SECRET_MISSING,
            key,
            f"the environment variable {given} {state}: set it in the service's environment, or give {other} "
            "(a file holding the secret)",
        )
    return pydantic.SecretStr(value)


def _read_file(path: Path, shown: str, key: str) -> tuple[bytes, os.stat_result]:
    """The bytes of a secret file and its status, after the checks that need no content."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise SecretError(SECRET_INVALID, key, f"{shown} is not a file: give the file that holds the secret")
        if info.st_size > _MAX_FILE:
            raise SecretError(
                SECRET_INVALID, key, f"the file {shown} is larger than 64 KiB: give the file that holds only the secret"
            )
        with path.open("rb") as handle:
            return handle.read(_MAX_FILE + 1), info
    except PermissionError:
        raise SecretError(
            SECRET_INVALID,
            key,
            f"the file {shown} cannot be read: permission denied; let the service's user read it "
            "(e.g. chmod 640 and the service's group)",
        ) from None
    except OSError as exc:
        raise SecretError(SECRET_INVALID, key, f"the file {shown} cannot be read: {exc.strerror or exc}") from None


def _file(key: str, given: Any, other: str, reading: SecretReading) -> pydantic.SecretStr:
    if not isinstance(given, str) or not given.strip():
        raise SecretError(SECRET_INVALID, key, 'must be the path of a file holding the secret, e.g. "/run/secrets/x"')
    shown = quoted(given)
    base = reading.base_dir or Path.cwd()
    path = Path(given) if Path(given).is_absolute() else base / given
    if not path.exists():
        where = "" if Path(given).is_absolute() else f" (looked in {base})"
        raise SecretError(
            SECRET_MISSING, key, f"the file {shown} does not exist{where}: check the path, or give {other}"
        )
    data, info = _read_file(path, shown, key)
    try:
        value = data.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise SecretError(SECRET_INVALID, key, f"the file {shown} is not UTF-8 text") from None
    if not value:
        raise SecretError(SECRET_INVALID, key, f"the file {shown} is empty: write the secret in it")
    if os.name == "posix" and info.st_mode & stat.S_IROTH:
        reading.warn(
            key,
            given,
            f"the file {shown} can be read by every user of this machine: restrict it, e.g. chmod 600 "
            "(or 640 with the service's group)",
        )
    return pydantic.SecretStr(value)


def read_secret(name: str, table: Mapping[str, Any], reading: SecretReading | None = None) -> pydantic.SecretStr | None:
    """Read the secret ``name`` of a table from whichever of ``name``, ``name_env``, ``name_file`` it gives.

    Returns the secret, or ``None`` when the table gives none of the three.

    Raises:
        SecretError: it cannot be read (naming the key and the variable or file, never a value).
    """
    reading = reading or SecretReading()
    keys = secret_keys(name)
    given = [k for k in keys if k in table]
    if not given:
        return None
    if len(given) > 1:
        which = f"either {given[0]} or {given[1]}, not both" if len(given) == 2 else f"only one of {', '.join(keys)}"
        raise SecretError(SECRET_INVALID, given[-1], f"give {which}")
    key = given[0]
    value = table[key]
    if key == name:
        return pydantic.SecretStr(value) if isinstance(value, str) else value
    other = keys[2] if key == keys[1] else keys[1]
    return _env(key, value, other, reading) if key == keys[1] else _file(key, value, other, reading)


class SecretSettings(pydantic.BaseModel):
    """A settings table whose ``SecretStr`` fields may each be given as ``x``, ``x_env`` or ``x_file``.

    Subclass it (``ChannelSettings`` does) and annotate a field ``SecretStr`` (or ``SecretStr | None``): the
    ``_env`` and ``_file`` spellings come with it, and are read when the table is validated. Unknown keys are
    refused, the model is frozen, and validation errors never echo their input.
    """

    # hide_input_in_errors: a validation error must never echo a password given in the table.
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    @pydantic.model_validator(mode="wrap")
    @classmethod
    def _read_secrets(
        cls, data: Any, handler: pydantic.ValidatorFunctionWrapHandler, info: pydantic.ValidationInfo
    ) -> Any:
        names = secret_fields(cls)
        if not isinstance(data, Mapping) or not names:
            return handler(data)
        reading = (info.context or {}).get(_CONTEXT_KEY) or SecretReading()
        table = dict(data)
        failed: list[SecretError] = []
        failed_fields: set[str] = set()
        for name in names:
            try:
                found = read_secret(name, table, reading)
            except SecretError as exc:
                # The rest of the table is still checked, with a stand-in for the secret that could not be read.
                failed.append(exc)
                failed_fields.add(name)
                found = pydantic.SecretStr(_PLACEHOLDER)
            for key in secret_keys(name)[1:]:
                table.pop(key, None)
            if found is not None:
                table[name] = found
        if not failed:
            return handler(table)
        errors: list[InitErrorDetails] = [
            {
                "type": PydanticCustomError(exc.kind, "{key}: {reason}", {"key": exc.key, "reason": exc.reason}),
                "loc": (exc.key,),
                "input": exc.key,
            }
            for exc in failed
        ]
        try:
            handler(table)
        except pydantic.ValidationError as exc:
            errors += [
                _again(e) for e in exc.errors(include_url=False) if not (e["loc"] and e["loc"][0] in failed_fields)
            ]
        raise pydantic.ValidationError.from_exception_data(cls.__name__, errors, hide_input=True)


def _again(error: ErrorDetails) -> InitErrorDetails:
    """One error of a ``ValidationError`` as the details that raise it again, in another error."""
    again: InitErrorDetails = {"type": error["type"], "loc": error["loc"], "input": error.get("input")}
    if "ctx" in error:
        again["ctx"] = error["ctx"]
    try:
        pydantic.ValidationError.from_exception_data("check", [again])
    except (KeyError, TypeError, ValueError):  # not one of pydantic's own error types: a custom one
        again["type"] = PydanticCustomError(error["type"], error["msg"], error.get("ctx"))
    return again
