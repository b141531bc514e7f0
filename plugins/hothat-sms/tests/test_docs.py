"""The SMS page's TOML examples are valid settings, so the documentation cannot drift from the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from hothat_sms import SmsChannel, SmsSettings

PAGE = Path(__file__).parents[3] / "docs" / "plugins" / "sms.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS)
def test_each_toml_example_validates(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in re.findall(r'_env = "([A-Z_]+)"', block):
        monkeypatch.setenv(variable, f"value-of-{variable.lower()}-for-the-docs-test")
    data = tomllib.loads(block)
    if "plugin" in data.get("channels", {}).get("sms", {}):
        table = dict(data["channels"]["sms"])
        assert table.pop("plugin") == SmsChannel.name
    else:  # a provider table on its own
        table = {"providers": data["channels"]["sms"]["providers"]}
    SmsSettings.model_validate(table)
