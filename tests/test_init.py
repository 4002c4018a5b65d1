"""Set-up and unload of a config entry on a simulated meter: the port is always released."""

from __future__ import annotations

import asyncio
from pathlib import Path
import subprocess
import sys

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.dlms_meter import iec62056
from custom_components.dlms_meter.const import DOMAIN
from custom_components.dlms_meter.coordinator import DlmsCoordinator
from custom_components.dlms_meter.iec62056 import ReadSettings, read_meter
from meter_sim.simulator import Fault, MeterSimulator

from .meter import INTERVAL, meter_entry


async def _until_requests(sim: MeterSimulator, count: int, limit: float = 10) -> None:
    """Let the event loop run until the simulator has seen ``count`` sign-on requests."""
    async with asyncio.timeout(limit):
        # The simulator counts in its own thread: there is no event to await, so poll.
        while sim.stats().requests < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def _port_is_free(sim: MeterSimulator) -> bool:
    """A complete read of our own (serialx opens ports exclusively) works."""
    readout = await read_meter(sim.port, ReadSettings())
    return bool(readout.datasets)


async def test_setup_and_unload(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """Set-up reads the meter once; unload releases the port at once."""
    entry = meter_entry(simulator)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert isinstance(entry.runtime_data, DlmsCoordinator)
    assert simulator.stats().sessions == 1
    assert hass.states.get("sensor.landis_gyr_zmf100ac_m26_energy_import").state == "61561.289"

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert await _port_is_free(simulator)


async def test_unload_cancels_a_read_in_flight(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """An unload during a read cancels it: the port is free right after."""
    entry = meter_entry(simulator)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data

    async_fire_time_changed(hass, dt_util.utcnow() + (coordinator.update_interval or INTERVAL))
    await _until_requests(simulator, 2)
    assert coordinator._read_task is not None

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert coordinator._read_task is None
    assert simulator.stats().sessions == 1  # the second readout never completed
    assert await _port_is_free(simulator)


async def test_stop_cancels_a_read_in_flight(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """Home Assistant stopping cancels a read in flight."""
    entry = meter_entry(simulator)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data

    refresh = hass.async_create_task(coordinator.async_refresh())
    await _until_requests(simulator, 2)
    assert coordinator._read_task is not None
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await refresh
    assert coordinator._read_task is None
    assert not coordinator.last_update_success
    assert simulator.stats().sessions == 1
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_silent_meter_is_not_ready(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """A meter that does not answer: set-up is retried later, and the port is released."""
    simulator.inject(Fault.SILENCE)
    entry = meter_entry(simulator)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "does not answer" in entry.reason
    assert await _port_is_free(simulator)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_remove_entry_drops_its_issues(
    hass: HomeAssistant, simulator: MeterSimulator, issue_registry: ir.IssueRegistry
) -> None:
    """Removing a meter removes its repair issues."""
    simulator.unplug()
    entry = meter_entry(simulator)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"meter_not_answering_{entry.entry_id}",
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="meter_not_answering",
    )
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert not issue_registry.issues


def test_package_imports_without_home_assistant() -> None:
    """Importing the integration package (and the protocol library) loads no Home Assistant."""
    code = (
        "import sys, custom_components.dlms_meter, custom_components.dlms_meter.iec62056;"
        "assert not [m for m in sys.modules if m.startswith('homeassistant')], 'HA imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_protocol_cli_runs_without_home_assistant() -> None:
    """``python -m custom_components.dlms_meter.iec62056`` starts (the package allows it)."""
    if not (Path(iec62056.__file__).parent / "__main__.py").exists():
        pytest.skip("the protocol CLI (iec62056/__main__.py) is not written yet")
    result = subprocess.run(
        [sys.executable, "-m", "custom_components.dlms_meter.iec62056", "--help"],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert "usage" in result.stdout.lower()
