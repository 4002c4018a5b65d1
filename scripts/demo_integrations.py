"""What the demo's Home Assistant loads, and the Python requirements that brings.

``scripts/setup demo`` runs this with the demo venv's Python and installs what it prints (one
requirement a line) with Home Assistant's package_constraints.txt, so Home Assistant never has
to install anything when the demo starts (it runs with ``--skip-pip``). The requirements are
derived from the manifests: the integrations Home Assistant always sets up (bootstrap's core and
default sets), the ones the demo's configuration.yaml names, and all their dependencies.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys
from typing import Any

# The top-level keys of the demo's configuration.yaml (scripts/demo_server.py writes it).
CONFIGURED_DOMAINS: tuple[str, ...] = (
    "frontend",
    "config",
    "recorder",
    "history",
    "logbook",
    "energy",
    "usb",
    "logger",
)


def loaded_domains() -> set[str]:
    """Every integration the demo's Home Assistant sets up, dependencies included."""
    import homeassistant
    from homeassistant import bootstrap

    components = Path(homeassistant.__file__).parent / "components"
    todo = [
        *bootstrap.CORE_INTEGRATIONS,
        *bootstrap.DEFAULT_INTEGRATIONS,
        *CONFIGURED_DOMAINS,
    ]
    seen: set[str] = set()
    while todo:
        domain = todo.pop()
        manifest_path = components / domain / "manifest.json"
        if domain in seen or not manifest_path.is_file():
            continue
        seen.add(domain)
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        todo.extend(manifest.get("dependencies", []))
    return seen


def requirements() -> list[str]:
    """The requirements of :func:`loaded_domains` and of their ``after_dependencies``, sorted.

    Home Assistant processes the requirements of after_dependencies too (their modules may be
    imported, e.g. ``usb`` imports ``hassio`` helpers), so they are installed as well.
    """
    import homeassistant

    components = Path(homeassistant.__file__).parent / "components"

    def manifest(domain: str) -> dict[str, Any]:
        path = components / domain / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    domains = loaded_domains()
    for domain in list(domains):
        domains.update(manifest(domain).get("after_dependencies", []))
    return sorted({req for domain in domains for req in manifest(domain).get("requirements", [])})


if __name__ == "__main__":
    sys.stdout.write("".join(f"{req}\n" for req in requirements()))
