"""MkDocs hooks: pages that are generated from the code at build time, so they cannot drift from it.

A page asks for generated content with an HTML comment on a line of its own:

- ``<!-- hothat:config-schema -->``: the municipality file format as tables, from ``hothat.config.json_schema()``;
- ``<!-- hothat:builtin-roles -->``: the built-in roles, from ``hothat.domain.roles.BUILTIN_ROLES``;
- ``<!-- hothat:validate PATH -->``: the output of ``hothat validate PATH`` (PATH relative to the repository).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

from hothat.cli import main as hothat_main
from hothat.config import json_schema
from hothat.domain.roles import BUILTIN_ROLES

_MARKER = re.compile(r"^<!-- hothat:(?P<what>[a-z-]+)(?: (?P<arg>\S+))? -->$", re.MULTILINE)

# The tables of the file, in the order a reader meets them, with the heading each gets.
_TABLES = {
    "FileModel": ("The file", "file", "file"),
    "MunicipalityModel": ("`[municipality]`", "municipality", "municipality table"),
    "RoleModel": ("`[[roles]]`", "roles", "role"),
    "PersonModel": ("`[[people]]`", "people", "person"),
    "ContactModel": ("A contact point: `people[].contact[]`", "contact", "contact point"),
    "AvailabilityModel": ("`availability`", "availability", "availability"),
    "WindowModel": ("A time window: `availability.windows[]`", "window", "time window"),
    "PartyModel": ("`[[parties]]`", "parties", "party"),
    "RoutineModel": ("`[[routines]]`", "routines", "routine"),
    "StepModel": ("`[[routines.steps]]`", "steps", "step"),
    "DeadlinesModel": ("Deadlines for one severity: `by_severity.SEVERITY`", "deadlines", "deadlines"),
    "TreeModel": ("A phone-tree node: `tree`", "tree", "tree node"),
    "ChecklistModel": ("A checklist item: `checklist[]`", "checklist", "checklist item"),
    "TextModel": ("A text in Swedish and English", "text", "text"),
    "RuleModel": ("`[[routine_rules]]`", "routine-rules", "routine rule"),
    "ChannelModel": ("`[channels.NAME]`", "channels", "channel"),
}


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A field's type in words, with links to the tables it refers to."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        target = defs[name]
        if "enum" in target:
            return "one of " + ", ".join(f"`{v}`" for v in target["enum"])
        _, anchor, label = _TABLES[name]
        return f"[{label}](#{anchor})"
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return " or ".join(_type(s, defs) for s in options)
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}), defs)}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if not isinstance(values, dict):  # keys checked by a pattern: one schema for every value
            values = next(iter(schema.get("patternProperties", {}).values()), None)
        keys = _type(schema["propertyNames"], defs).replace("one of", "keys") if "propertyNames" in schema else ""
        inner = f"table of {_type(values, defs)}" if isinstance(values, dict) else "table"
        return f"{inner} ({keys})" if keys else inner
    words = {"string": "text", "integer": "whole number", "boolean": "true/false"}
    return words.get(str(kind), str(kind))


def _default(field: dict[str, Any]) -> str:
    if "default" not in field or field["default"] is None:
        return ""
    value = field["default"]
    if value in ([], {}):
        return "`[]`" if value == [] else "`{}`"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_schema() -> str:
    """The municipality file format as one Markdown table per TOML table."""
    schema = json_schema()
    defs: dict[str, Any] = schema["$defs"]
    tables = {"FileModel": schema, **defs}
    out: list[str] = []
    for name, (title, anchor, _) in _TABLES.items():
        definition = tables[name]
        if "anyOf" in definition:  # the text table also accepts a plain string
            definition = next(d for d in definition["anyOf"] if d.get("type") == "object")
        out.append(f"## {title} {{#{anchor}}}\n")
        out.append(_cell(definition.get("description", "")).replace("``", "`") + "\n")
        if definition.get("additionalProperties") is True:
            out.append("Any other key is passed to the channel as one of its settings.\n")
        out.append("| Key | Type | Required | Default | Description |")
        out.append("|---|---|---|---|---|")
        required = set(definition.get("required", ()))
        for key, field in definition.get("properties", {}).items():
            row = [
                f"`{key}`",
                _cell(_type(field, defs)),
                "yes" if key in required else "",
                _cell(_default(field)),
                _cell(field.get("description", "")),
            ]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out)


def render_roles() -> str:
    """The built-in roles as a table."""
    out = ["| Role id | Scope | Svenska | English | Falls back to |", "|---|---|---|---|---|"]
    for role in BUILTIN_ROLES.values():
        fallbacks = ", ".join(f"`{f}`" for f in role.fallbacks)
        out.append(f"| `{role.id}` | {role.scope.value} | {role.name_sv} | {role.name_en} | {fallbacks} |")
    return "\n".join(out) + "\n"


def render_validate(path: str, root: Path) -> str:
    """The output of ``hothat validate PATH``, run from the repository root."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.chdir(root), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = hothat_main(["validate", path])
    if code != 0:
        raise RuntimeError(f"hothat validate {path} failed while building the docs:\n{stderr.getvalue()}")
    return f"```text\n$ hothat validate {path}\n{stdout.getvalue()}```\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace each ``<!-- hothat:... -->`` marker with what it asks for."""
    root = Path(config["config_file_path"]).parent

    def replace(match: re.Match[str]) -> str:
        what, arg = match["what"], match["arg"]
        if what == "config-schema":
            return render_schema()
        if what == "builtin-roles":
            return render_roles()
        if what == "validate" and arg:
            return render_validate(arg, root)
        raise ValueError(f"{page.file.src_path}: unknown marker {match[0]}")

    return _MARKER.sub(replace, markdown)
