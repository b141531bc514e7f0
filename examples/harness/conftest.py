"""Point hothat's pytest fixtures at the municipality's configuration.

Copy this folder next to your own municipality file and change CONFIG. (Instead of this fixture you can write
``hothat_config = "municipality.toml"`` under ``[tool.pytest.ini_options]`` in pyproject.toml.)
"""

from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parent.parent / "oxelosund" / "municipality.toml"


@pytest.fixture
def hothat_config() -> Path:
    """The configuration every ``hothat_sim`` in this folder simulates."""
    return CONFIG
