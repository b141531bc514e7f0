"""The public facade: one sorted list of names, each importable and documented."""

from __future__ import annotations

import hothat


def test_all_is_sorted_and_unique() -> None:
    assert hothat.__all__ == sorted(set(hothat.__all__))


def test_every_public_name_is_exported_and_every_export_exists() -> None:
    public = {name for name in vars(hothat) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(hothat, name)).__name__ == "module"}
    assert public - modules == set(hothat.__all__)


def test_every_export_has_a_docstring() -> None:
    missing = [name for name in hothat.__all__ if not (getattr(hothat, name).__doc__ or "").strip()]
    assert missing == []


def test_every_command_is_in_the_command_line_reference() -> None:
    from pathlib import Path

    from hothat.cli import COMMANDS

    page = (Path(__file__).resolve().parent.parent / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert [name for name in COMMANDS if f"`hothat {name}" not in page] == []
