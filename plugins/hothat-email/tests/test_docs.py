"""The e-mail page's TOML examples are valid settings, so the documentation cannot drift from the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from hothat_email import SmtpChannel, SmtpSettings

ROOT = Path(__file__).parents[3]
PAGE = ROOT / "docs" / "plugins" / "email.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)


def _toml(block: str) -> str:
    """The block's TOML, with a ``--8<--`` snippet include replaced by the file it names."""
    return INCLUDE.sub(lambda m: (ROOT / m[1]).read_text(encoding="utf-8"), block)


def test_the_page_has_examples_and_includes_the_shipped_one() -> None:
    assert len(BLOCKS) >= 3
    assert any(INCLUDE.search(block) for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS)
def test_each_toml_example_validates(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _toml(block)
    for variable in re.findall(r'_env = "([A-Z_]+)"', text):
        monkeypatch.setenv(variable, "value-for-the-docs-test")
    for table in tomllib.loads(text)["channels"].values():
        assert table.pop("plugin") == SmtpChannel.name
        SmtpChannel(SmtpSettings.model_validate(table))
