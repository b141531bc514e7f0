"""Get started (docs/get-started.md) and Kom igång (docs/kom-igang.md), followed word for word.

In a fresh folder, with the repository's virtualenv first on PATH (what ``make install`` and
``source .venv/bin/activate`` give a reader), every titled block is written to its file and every ``$`` command
is run in order, in the folder the page's own ``cd`` commands lead to. Each must exit 0 and print what the page
shows (a line ``...`` stands for any lines).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from docs_kit import DOCS, Block, blocks, matches

PAGES = [DOCS / "get-started.md", DOCS / "kom-igang.md"]


def commands(block: Block) -> list[tuple[str, str]]:
    """The ``$`` commands of a console block, each with the output shown after it."""
    out: list[tuple[str, str]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], ""))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + line + "\n")
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_page_works_word_for_word(page: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "80",
        "HOTHAT_DISABLED_PLUGINS": "",
    }
    cwd = tmp_path / "hothat"  # where the install commands leave the reader: in the clone
    cwd.mkdir()
    ran = 0
    for block in blocks(page):
        if block.not_run:
            continue
        if block.title:
            (cwd / block.title).write_text(block.text, encoding="utf-8")
            continue
        assert block.lang == "console", f"{block.where}: a block that is neither a file nor a console session"
        for command, expected in commands(block):
            words = shlex.split(command)
            if words[0] == "cd":
                cwd = (cwd / words[1]).resolve()
                assert cwd.is_dir(), f"{block.where}: {command}: no such folder"
                continue
            done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
            ran += 1
            assert done.returncode == 0, f"{block.where}: {command} exited {done.returncode}:\n{done.stderr}"
            assert matches(expected, done.stdout), (
                f"{block.where}: {command} printed something else.\n--- page:\n{expected}--- actual:\n{done.stdout}"
            )
    assert ran >= 4


def test_both_pages_give_the_same_files_and_commands() -> None:
    """Kom igång is Get started in Swedish: the files and commands are the same, only the prose differs."""

    def runnable(page: Path) -> list[tuple[str | None, str]]:
        return [(b.title, b.text) for b in blocks(page) if b.lang in ("console", "toml", "python")]

    english, swedish = (runnable(p) for p in PAGES)
    assert english == swedish
