"""Whatever is wrong in a municipality file, the user gets a ConfigurationError: never a crash, never a traceback.

Each example starts from the real Oxelösund file and breaks it at random places: a value replaced by one of
another type, a key deleted, an unknown key added.
"""

from __future__ import annotations

import json
import math
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hothat.config import load_config_text
from hothat.config._schema import FileModel
from hothat.errors import ConfigurationError

ORIGINAL = tomllib.loads((Path(__file__).parent.parent / "src/hothat/data/oxelosund.toml").read_text("utf-8"))


def toml_value(value: Any) -> str:
    """Write a value as inline TOML (enough for tests: no multi-line forms)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(data: dict[str, Any]) -> str:
    return "\n".join(f"{json.dumps(key)} = {toml_value(value)}" for key, value in data.items()) + "\n"


scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12),
    st.sampled_from(
        [
            "",
            "0s",
            "15m",
            "sms",
            "party_security_contact",
            "3.1.1",
            "per",
            "070-174 06 05",
            "mon-fri",
            "08:00",
            "24:00",
            "acute",
            "tree",
            "not x",
            "bilaga3",
            "+46 8 465 004 00",
            "a@b.example",
        ]
    ),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in a nested structure of dicts and lists."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.extend(paths(value, (*prefix, index)))
    return out


ALL_PATHS = paths(ORIGINAL)
KEYS = sorted({p[-1] for p in ALL_PATHS if isinstance(p[-1], str)} | set(FileModel.model_fields))


def mutate(data: Any, path: tuple[Any, ...], action: str, value: Any, key: str) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last][key] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(ALL_PATHS), st.sampled_from(["replace", "delete", "add"]), values, st.sampled_from(KEYS)
        ),
        min_size=1,
        max_size=4,
    )
)
def test_a_broken_file_only_ever_raises_configuration_error(edits: list[tuple[tuple[Any, ...], str, Any, str]]) -> None:
    data = json.loads(json.dumps(ORIGINAL, default=str))  # a deep copy with dates as text
    for path, action, value, key in edits:
        try:
            mutate(data, path, action, value, key)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced what this path pointed into
    try:
        load_config_text(toml_document(data), "fuzz.toml")
    except ConfigurationError as exc:
        problems = exc.problems
    else:
        return
    assert problems
    for problem in problems:
        assert problem.source == "fuzz.toml"
        assert problem.message
