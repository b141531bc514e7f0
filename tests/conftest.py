"""Suite-wide fixtures for hothat's own tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Give every test the logging it started with: a test (or a benchmark it runs) that quiets a logger must not
    hide the log lines a later test checks."""
    manager = logging.Logger.manager
    levels = {name: logger.level for name, logger in manager.loggerDict.items() if isinstance(logger, logging.Logger)}
    disabled = manager.disable
    yield
    logging.disable(disabled)
    for name, logger in list(manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))


# The headless-Chromium fixtures (see tests/browser_kit.py): available to every test under tests/.
from browser_kit import chromium, offline_page  # noqa: E402, F401
