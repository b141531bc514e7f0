"""Settings: secrets from the environment, never shown; the example file validates; the plugin is found."""

from __future__ import annotations

from .conftest import elks, settings


def test_placeholder() -> None:
    assert settings(elks()).providers[0].name == "46elks"
