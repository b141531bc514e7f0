"""Every python, toml and console block in the documentation runs, or says why not.

A block passes when it is one of:

(a) a snippet include (``--8<-- "path:section"``) of a file that its own test runs; the included file and section
    must exist;
(b) run here: TOML is parsed, and a whole municipality file is loaded with ``load_config``; Python is executed
    (top-level ``await`` allowed) in a scratch folder where ``examples/`` is at hand and ``municipality.toml`` /
    ``kommun.toml`` are the Oxelösund example, the blocks of one page sharing one namespace, in order; a console
    session's ``hothat`` commands are run there and must exit 0;
(c) marked ``<!-- not run: REASON -->`` on the line before it, or, on pages other helpers own, listed in
    ``NOT_RUN`` below with the reason.

Get started and Kom igång are run word for word, output included, by ``test_docs_get_started.py``.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import shlex
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
from docs_kit import ROOT, Block, blocks, pages

from hothat.config import load_config_text

RUN_ELSEWHERE = {"get-started.md", "kom-igang.md"}
CHECKED = {"python", "py", "toml", "console"}

# Blocks on pages this suite does not own, by (page, start of the first line): fragments that cannot run alone.
NOT_RUN = {
    ("operations/sqlite.md", 'await store.backup("/var/backups/hothat/hothat-2026-03-02.db")'): (
        "a fragment: the store of the block above, and a backup folder of a real server"
    ),
    ("plugins/sms.md", 'result = await engine.inbound("sms", method, url, headers, body)'): (
        "a fragment of a web app's handler; the intranet example runs the same call"
    ),
    ("plugins/sms.md", "from hothat_sms import SmsChannel, SmsSettings"): (
        "needs a message to deliver; the plugin's own tests run FakeGateway"
    ),
    ("plugins/phonetree.md", 'result = await engine.inbound("voice", method, url, headers, body)'): (
        "a fragment of a web app's handler"
    ),
    ("plugins/phonetree.md", "async with WebhookServer.for_engine(engine) as app:"): (
        "needs a running engine; the plugin's own tests run WebhookServer"
    ),
    ("testing/drills.md", "$ hothat drill municipality.toml [--format text|json] [--lang sv|en]"): (
        "the command's synopsis, not a command"
    ),
}


def checked_blocks() -> list[Block]:
    return [b for p in pages() for b in blocks(p) if b.lang in CHECKED and p.name not in RUN_ELSEWHERE]


def page_of(block: Block) -> str:
    return block.page.relative_to(ROOT / "docs").as_posix()


def first_line(block: Block) -> str:
    return next((line.strip() for line in block.text.splitlines() if line.strip()), "")


def listed(block: Block) -> tuple[str, str] | None:
    """The ``NOT_RUN`` entry for a block, if any."""
    return next((k for k in NOT_RUN if k[0] == page_of(block) and first_line(block).startswith(k[1])), None)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder that looks like a municipality's: the examples at hand, and a municipality file by two names."""
    folder = tmp_path_factory.mktemp("docs-code")
    (folder / "examples").symlink_to(ROOT / "examples")
    for name in ("municipality.toml", "kommun.toml"):
        (folder / name).symlink_to(ROOT / "examples" / "oxelosund" / "municipality.toml")
    return folder


def check_snippet(block: Block) -> None:
    for line in filter(str.strip, block.text.splitlines()):
        match = re.match(r'\s*--8<--\s+"(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"', line)
        assert match is not None, f"{block.where}: not a snippet line: {line}"
        path = ROOT / match["path"]
        assert path.is_file(), f"{block.where}: {match['path']} does not exist"
        if match["section"]:
            text = path.read_text(encoding="utf-8")
            assert f"--8<-- [start:{match['section']}]" in text, f"{block.where}: no section {match['section']}"


def check_toml(block: Block) -> None:
    try:
        document = tomllib.loads(block.text)
    except tomllib.TOMLDecodeError as exc:
        raise AssertionError(f"{block.where}: not valid TOML: {exc}") from None
    if {"municipality", "people", "routines"} <= document.keys():
        load_config_text(block.text, source=block.where)


def run_python(block: Block, namespace: dict[str, object], folder: Path) -> None:
    code = compile(block.text, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        result = eval(code, namespace)
        if isinstance(result, types.CoroutineType):
            asyncio.run(result)
    finally:
        os.chdir(cwd)


def run_console(block: Block, folder: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for line in block.text.replace("\\\n", " ").splitlines():
        if not line.startswith("$ "):
            continue
        words = shlex.split(line[2:])
        assert words[0] == "hothat", f"{block.where}: only hothat commands are run here; mark others not run"
        done = subprocess.run(words, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{block.where}: {line} exited {done.returncode}:\n{done.stderr}"


def test_every_block_runs_or_says_why_not(scratch: Path) -> None:
    namespaces: dict[Path, dict[str, object]] = {}
    excused: list[str] = []
    for block in checked_blocks():
        entry = listed(block)
        reason = block.not_run or (NOT_RUN[entry] if entry else None)
        if block.is_snippet:
            check_snippet(block)
        elif reason:
            excused.append(f"{block.where}: {reason}")
        elif block.lang == "toml":
            check_toml(block)
        elif block.lang == "console":
            run_console(block, scratch)
        else:
            namespace = namespaces.setdefault(block.page, {"__name__": f"docs_{block.page.stem}"})
            run_python(block, namespace, scratch)
    total = len(checked_blocks())
    assert len(excused) <= total // 5, "not-run blocks should stay rare:\n" + "\n".join(excused)


def test_the_not_run_list_names_only_blocks_that_exist() -> None:
    present = {listed(b) for b in checked_blocks()}
    assert set(NOT_RUN) <= present, set(NOT_RUN) - present


@pytest.mark.parametrize("page", ["get-started.md", "kom-igang.md"])
def test_get_started_has_no_block_this_test_skips_unrun(page: str) -> None:
    """The pages run elsewhere hold only what that test can run: files, console sessions, or marked blocks."""
    for block in blocks(ROOT / "docs" / page):
        assert block.lang in ("console", "toml", "python"), block.where
        assert block.title or block.lang == "console", f"{block.where}: a file block needs a title"
