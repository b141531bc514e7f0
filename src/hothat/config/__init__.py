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

import os
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from hothat.config._build import build_municipality
from hothat.config._checks import run_checks
from hothat.config._contact import parse_phone, validate_email
from hothat.config._errors import Report
from hothat.config._parse import parse_document
from hothat.config._schema import FileModel
from hothat.config._summary import summarize
from hothat.domain.municipality import Municipality
from hothat.errors import ConfigProblem, ConfigurationError

__all__ = [
    "EXAMPLES",
    "json_schema",
    "load_config",
    "load_config_text",
    "load_example",
    "parse_phone",
    "summarize",
    "validate_email",
]

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


def load_config_text(text: str, source: str = "<string>") -> Municipality:
    """Read a municipality file's text.

    Args:
        text: the TOML document.
        source: the name used in messages (and kept as ``Municipality.source``).

    Raises:
        ConfigurationError: listing every problem found.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError([_syntax_problem(exc, source)]) from None
    report = Report(source, list(FileModel.model_fields))
    parsed = parse_document(raw, report)
    run_checks(parsed, report)
    if report:
        raise ConfigurationError(report.problems())
    return build_municipality(parsed, source)


def load_config(path: str | os.PathLike[str]) -> Municipality:
    """Read a municipality file (UTF-8 TOML).

    The path as given becomes ``Municipality.source``, so messages name the file as the user wrote it and a
    relative ``store`` can be found next to it.

    Raises:
        ConfigurationError: the file cannot be read, or listing every problem found in it.
    """
    source = os.fspath(path)
    file = Path(source)

    def fail(message: str) -> ConfigurationError:
        return ConfigurationError([ConfigProblem(source, "", message)])

    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise fail(f"no such file (looked in {file.absolute().parent}): check the path") from None
    except IsADirectoryError:
        raise fail("is a folder: give the path of the municipality's .toml file") from None
    except PermissionError:
        raise fail("cannot be read: permission denied") from None
    except OSError as exc:
        raise fail(f"cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")  # tolerate the byte-order mark some Windows editors write
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigurationError(
            [
                ConfigProblem(
                    source,
                    f"line {line}",
                    "the file is not UTF-8 text: save it as UTF-8 (å, ä and ö must be UTF-8)",
                )
            ]
        ) from None
    return load_config_text(text, source)


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
