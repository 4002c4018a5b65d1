"""Fixtures of the browser tests: the demo's Home Assistant with simulated meters.

The browser tests run in the test venv but need what ``scripts/setup demo`` installs:
``.venv-demo`` (Home Assistant 2026.11.0, run as a separate process) and Playwright's Python
package, which this conftest makes importable from ``.venv-demo`` when the test venv lacks it.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from pathlib import Path
import sys
import sysconfig

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_VENV = ROOT / ".venv-demo"


def _demo_site_packages() -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(DEMO_VENV)}))


sys.path.insert(0, str(ROOT / "scripts"))
try:
    import playwright
except ImportError:
    # Same interpreter build as the demo venv (both from scripts/python314): its Playwright
    # (pure Python + its node driver) and pyee load here; the test venv's packages keep priority.
    sys.path.append(str(_demo_site_packages()))
    with contextlib.suppress(ImportError):
        import playwright  # noqa: F401

from demo_server import DemoServer, free_port  # noqa: E402


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No in-process ``hass`` here: Home Assistant runs as its own process."""


@pytest.fixture
def demo(socket_enabled: None, tmp_path: Path) -> Iterator[DemoServer]:
    """Simulated meters and an onboarded Home Assistant on 127.0.0.1 (stopped afterwards)."""
    if not (DEMO_VENV / "bin" / "python").exists() or "playwright" not in sys.modules:
        pytest.fail(
            f"{DEMO_VENV} (Home Assistant 2026.11.0, Playwright) is missing: run scripts/setup demo"
        )
    with DemoServer(tmp_path / "config", port=free_port(), log=print) as server:
        yield server
