"""Shared fixtures."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
import os
from unittest.mock import PropertyMock, patch

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.dlms_meter.coordinator import DATA_CLOCK, DATA_READER
from custom_components.dlms_meter.iec62056 import port as port_module
from meter_sim.simulator import PROFILES, MeterSimulator

from .meter import FakeClock, ScriptedMeter


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/dlms_meter in every test."""


async def _no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def shared_ports(request: pytest.FixtureRequest) -> Generator[None]:
    """Every Home Assistant test starts with no shared ports (no addresses registered).

    Ports that are not files (the recorded readouts' /dev/ttyUSB0) keep their scheduler but skip
    the real quiet time, so the tests do not sleep 1.5 s between reads; ptys keep it.
    """
    if "hass" not in request.fixturenames:
        yield
        return
    real = port_module.SharedPort

    def make(name: str) -> port_module.SharedPort:
        if os.path.exists(name):
            return real(name)
        return real(name, sleep=_no_wait)

    port_module.forget_ports()
    with patch.object(port_module, "SharedPort", make):
        yield
    port_module.forget_ports()


# --- meters on ptys (the project's simulator) and entries for them -------------------------------


@pytest.fixture
def sim_profile() -> str:
    """The simulator profile a test's meter uses (override with a fixture or parametrize)."""
    return "lgz_e350"


@pytest.fixture
def simulator(sim_profile: str) -> Generator[MeterSimulator]:
    """A simulated meter on a real pty, stopped (thread joined) after the test."""
    with MeterSimulator(PROFILES[sim_profile]) as sim:
        yield sim


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create entities that are disabled by default (history values) enabled, for snapshots."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots with Home Assistant's serializer (registry entries, states)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


# --- recorded readouts through the injected reader -----------------------------------------------


@pytest.fixture
def clock(hass: HomeAssistant) -> FakeClock:
    """The value guard's clock, injected into every coordinator of the test."""
    fake = FakeClock()
    hass.data[DATA_CLOCK] = fake
    return fake


@pytest.fixture
def scripted(hass: HomeAssistant, clock: FakeClock) -> ScriptedMeter:
    """The reader every coordinator of the test uses: script its readouts with ``.then()``."""
    meter = ScriptedMeter([])
    hass.data[DATA_READER] = meter.read
    return meter
