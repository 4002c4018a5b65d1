"""Fixtures of the browser tests: the demo's Home Assistant with simulated meters.

The browser tests run in the test venv (Playwright's Python package is a test requirement) and
start what ``scripts/setup demo`` installs: ``.venv-demo`` (Home Assistant 2026.11.0, run as a
separate process) and Debian's chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import sys

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_VENV = ROOT / ".venv-demo"


sys.path.insert(0, str(ROOT / "scripts"))

from demo_server import DemoServer, free_port  # noqa: E402


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No in-process ``hass`` here: Home Assistant runs as its own process."""


@pytest.fixture
def demo(socket_enabled: None, tmp_path: Path) -> Iterator[DemoServer]:
    """Simulated meters and an onboarded Home Assistant on 127.0.0.1 (stopped afterwards)."""
    if not (DEMO_VENV / "bin" / "python").exists() or not Path("/usr/bin/chromium").exists():
        pytest.fail(
            f"{DEMO_VENV} (Home Assistant 2026.11.0, Playwright) is missing: run scripts/setup demo"
        )
    with DemoServer(tmp_path / "config", port=free_port(), log=print) as server:
        yield server
