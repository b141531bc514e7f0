"""Reading the documentation's fenced code blocks, for the docs tests.

A block is a fenced block (```` ```lang ```` … ```` ``` ````) at any indentation. It may carry a title
(```` ```toml title="kommun.toml" ````), and may be preceded, on the line before, by an HTML comment:
``<!-- not run: REASON -->`` excuses it from being run, with the reason shown to the reader of the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
_NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.+?)\s*-->")
_TITLE = re.compile(r'title="(?P<title>[^"]+)"')


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int
    lang: str
    title: str | None
    text: str
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def is_snippet(self) -> bool:
        """The block only includes files (``--8<-- "path"``), which their own tests run."""
        lines = [line for line in self.text.splitlines() if line.strip()]
        return bool(lines) and all(line.strip().startswith("--8<--") for line in lines)


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a Markdown page, in order."""
    out: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        previous = lines[i - 1] if i > 0 else ""
        not_run = _NOT_RUN.search(previous)
        title = _TITLE.search(info)
        out.append(
            Block(
                page=page,
                line=i + 1,
                lang=(info.split() or [""])[0].lstrip("{").lstrip(".").lower(),
                title=title["title"] if title else None,
                text="\n".join(body) + ("\n" if body else ""),
                not_run=not_run["reason"] if not_run else None,
            )
        )
        i = j + 1
    return out


def pages() -> list[Path]:
    """Every Markdown page of the documentation."""
    return sorted(DOCS.rglob("*.md"))


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` output matches ``expected``, where a line ``...`` stands for any number of lines."""
    pattern = ""
    for line in expected.rstrip("\n").split("\n"):
        pattern += r"(?:.*\n)*" if line.strip() == "..." else re.escape(line.rstrip()) + r"[ \t]*\n"
    return re.fullmatch(pattern, actual.rstrip("\n") + "\n") is not None
