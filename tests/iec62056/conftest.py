"""Library tests need no Home Assistant: replace the integration's autouse fixture."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override tests/conftest.py: the protocol library never touches Home Assistant."""
