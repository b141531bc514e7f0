"""Read a municipality file (TOML) into the frozen domain, or say everything that is wrong with it.

```python
from hothat.config import load_config

municipality = load_config("oxelosund.toml")   # a hothat.domain.Municipality
```

Any problem raises `hothat.errors.ConfigurationError`, whose ``problems`` list every problem found
in one run: a TOML syntax error (with line and column), or every record that does not validate plus every
reference, duplicate, cycle and unreachable step among those that do. Each problem names the file, the path
of the field (``people[3].contact[1]``, 0-based as in the file's arrays) and what to write instead.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from hothat.config._channels import MissingSecrets, channel_settings, channel_settings_errors, source_folder
from hothat.config._check import ConfigCheck, check_document
from hothat.config._contact import parse_phone, validate_email
from hothat.config._schema import FileModel
from hothat.config._summary import summarize
from hothat.domain.municipality import Municipality
from hothat.errors import ConfigProblem, ConfigurationError

if TYPE_CHECKING:
    from hothat.plugins import HothatPlugins

__all__ = [
    "EXAMPLES",
    "ConfigCheck",
    "MissingSecrets",
    "channel_settings",
    "channel_settings_errors",
    "check_config",
    "check_config_text",
    "json_schema",
    "load_config",
    "load_config_text",
    "load_example",
    "parse_phone",
    "summarize",
    "validate_email",
]

log = logging.getLogger("hothat.config")

_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
_SYNTAX_HINTS = {
    "Cannot overwrite a value": "a key or table is given twice; keep one",
    "Cannot declare": "a table is declared twice; keep one (use [[name]] for a list of tables)",
    "Invalid value": 'write text in quotes ("..."), true/false, a number, an array [...] or a table { ... }',
    "Expected '=' after a key": "each line is key = value; a key with spaces or å, ä, ö needs quotes",
    "Invalid statement": "each line is key = value, a [table] or [[array of tables]] header, or a # comment",
    "Unclosed": "a bracket or quote is opened but never closed",
    "Illegal character": "a text may be missing its closing quote, or holds a character TOML does not allow",
}


def _syntax_problem(exc: tomllib.TOMLDecodeError, source: str) -> ConfigProblem:
    message = str(exc)
    match = _POSITION.search(message)
    where = "end of file"
    if match is not None:
        message = message[: match.start()]
        if match[1]:
            where = f"line {match[1]}, column {match[2]}"
    hint = next((h for prefix, h in _SYNTAX_HINTS.items() if message.startswith(prefix)), "")
    text = message[:1].lower() + message[1:]
    return ConfigProblem(source, where, f"TOML syntax error: {text}" + (f" ({hint})" if hint else ""))


def _parse(text: str, source: str) -> dict[str, Any] | ConfigProblem:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return _syntax_problem(exc, source)


def _read(source: str) -> str | ConfigProblem:
    """The text of a municipality file, or the problem that stops it being read."""
    file = Path(source)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return ConfigProblem(source, "", f"no such file (looked in {file.absolute().parent}): check the path")
    except IsADirectoryError:
        return ConfigProblem(source, "", "is a folder: give the path of the municipality's .toml file")
    except PermissionError:
        return ConfigProblem(source, "", "cannot be read: permission denied")
    except OSError as exc:
        return ConfigProblem(source, "", f"cannot be read: {exc.strerror or exc}")
    try:
        return data.decode("utf-8-sig")  # tolerate the byte-order mark some Windows editors write
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return ConfigProblem(
            source, f"line {line}", "the file is not UTF-8 text: save it as UTF-8 (å, ä and ö must be UTF-8)"
        )


def check_config_text(
    text: str,
    source: str = "<string>",
    *,
    base_dir: str | os.PathLike[str] | None = None,
    plugins: HothatPlugins | pluggy.PluginManager | None = None,
    missing_secrets: MissingSecrets = "error",
) -> ConfigCheck:
    """Check a municipality file's text and say everything found: the municipality, or the problems; warnings.

    Args:
        text: the TOML document.
        source: the name used in messages (and kept as ``Municipality.source``).
        base_dir: where relative paths in the file start (``x_file`` secrets); default: ``source``'s folder,
            or the current folder when ``source`` is not a path (``"<string>"``).
        plugins: the plugins whose channels the ``[channels.NAME]`` tables name; default: the installed ones
            (looked up only when the file has channels).
        missing_secrets: ``"error"`` (default): an unset ``x_env`` variable or a missing ``x_file`` is a
            problem; ``"warn"``: a warning (a file checked on a build machine without the secrets).
    """
    raw = _parse(text, source)
    if isinstance(raw, ConfigProblem):
        return ConfigCheck(None, (raw,))
    folder = Path(base_dir).absolute() if base_dir is not None else source_folder(source)
    return check_document(raw, source, base_dir=folder, plugins=plugins, missing_secrets=missing_secrets)


def check_config(
    path: str | os.PathLike[str],
    *,
    plugins: HothatPlugins | pluggy.PluginManager | None = None,
    missing_secrets: MissingSecrets = "error",
) -> ConfigCheck:
    """Check a municipality file (UTF-8 TOML), as `check_config_text` does; what ``hothat validate`` runs."""
    source = os.fspath(path)
    text = _read(source)
    if isinstance(text, ConfigProblem):
        return ConfigCheck(None, (text,))
    return check_config_text(text, source, plugins=plugins, missing_secrets=missing_secrets)


def _loaded(check: ConfigCheck) -> Municipality:
    for warning in check.warnings:
        log.warning("%s", warning)
    if check.municipality is None:
        raise ConfigurationError(check.problems)
    return check.municipality


def load_config_text(
    text: str,
    source: str = "<string>",
    *,
    base_dir: str | os.PathLike[str] | None = None,
    plugins: HothatPlugins | pluggy.PluginManager | None = None,
    missing_secrets: MissingSecrets = "error",
) -> Municipality:
    """Read a municipality file's text; the arguments are `check_config_text`'s. Warnings are logged.

    Raises:
        ConfigurationError: listing every problem found.
    """
    return _loaded(check_config_text(text, source, base_dir=base_dir, plugins=plugins, missing_secrets=missing_secrets))


def load_config(
    path: str | os.PathLike[str],
    *,
    plugins: HothatPlugins | pluggy.PluginManager | None = None,
    missing_secrets: MissingSecrets = "error",
) -> Municipality:
    """Read a municipality file (UTF-8 TOML).

    The path as given becomes ``Municipality.source``, so messages name the file as the user wrote it and a
    relative ``store`` can be found next to it. Every ``[channels.NAME]`` table is checked with the settings
    model of its plugin (``plugins``, by default the installed ones) and every secret it names is read; see
    `check_config_text` for ``missing_secrets``. Warnings are logged on the ``hothat.config`` logger.

    Raises:
        ConfigurationError: the file cannot be read, or listing every problem found in it.
    """
    return _loaded(check_config(path, plugins=plugins, missing_secrets=missing_secrets))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a municipality file (as data; editors such as taplo can use it for TOML)."""
    schema = FileModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "hothat municipality file"
    return schema


EXAMPLES = ("oxelosund",)
"""The example municipalities that ship inside the package (``hothat/data/NAME.toml``)."""


def load_example(name: str = "oxelosund") -> Municipality:
    """Load an example that ships with hothat, so a demo needs no files of its own.

    Its ``source`` is ``"NAME.toml (built in)"``.

    Raises:
        ConfigurationError: ``name`` is not one of `EXAMPLES`.
    """
    if name not in EXAMPLES:
        raise ConfigurationError(f"no built-in example {name!r}: choose one of {', '.join(EXAMPLES)}")
    text = resources.files("hothat").joinpath("data", f"{name}.toml").read_text(encoding="utf-8")
    return load_config_text(text, f"{name}.toml (built in)")
