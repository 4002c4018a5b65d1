"""Set-up and unload of a config entry (recorded readouts through the injected reader).

That the port itself is released after an unload or a stop mid-read is shown on a real pty in
tests/test_reliability.py; here the read task is shown cancelled.
"""

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
from custom_components.dlms_meter.coordinator import DATA_READER, DlmsCoordinator
from custom_components.dlms_meter.iec62056 import NoAnswerError, Readout, ReadSettings

from .meter import INTERVAL, ScriptedMeter, corpus_entry, corpus_readout

E350 = corpus_readout(5)
IMPORT = "sensor.landis_gyr_zmf100ac_m26_energy_import"


class Hanging:
    """A reader whose second read hangs until cancelled (a read in flight)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.calls = 0

    async def read(self, port: str, settings: ReadSettings) -> Readout:
        self.calls += 1
        if self.calls == 1:
            return E350
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        raise AssertionError("unreachable")  # pragma: no cover


async def test_setup_and_unload(hass: HomeAssistant, scripted: ScriptedMeter) -> None:
    """Set-up reads the meter once; unload stops the coordinator."""
    scripted.then(E350)
    entry = corpus_entry(5, title="Landis+Gyr ZMF100AC.M26", codes=["1.8.0"])
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert isinstance(entry.runtime_data, DlmsCoordinator)
    assert len(scripted.reads) == 1
    assert hass.states.get(IMPORT).state == "61561.289"

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get(IMPORT).state == "unavailable"


async def test_unload_cancels_a_read_in_flight(hass: HomeAssistant) -> None:
    """An unload during a read cancels it at once."""
    reader = Hanging()
    hass.data[DATA_READER] = reader.read
    entry = corpus_entry(5, title="Landis+Gyr ZMF100AC.M26", codes=["1.8.0"])
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data

    async_fire_time_changed(hass, dt_util.utcnow() + (coordinator.update_interval or INTERVAL))
    async with asyncio.timeout(30):
        await reader.started.wait()
    assert coordinator._read_task is not None

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert reader.cancelled.is_set()
    assert coordinator._read_task is None


async def test_stop_cancels_a_read_in_flight(hass: HomeAssistant) -> None:
    """Home Assistant stopping cancels a read in flight."""
    reader = Hanging()
    hass.data[DATA_READER] = reader.read
    entry = corpus_entry(5, title="Landis+Gyr ZMF100AC.M26", codes=["1.8.0"])
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data

    refresh = hass.async_create_task(coordinator.async_refresh())
    async with asyncio.timeout(30):
        await reader.started.wait()
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await refresh
    assert reader.cancelled.is_set()
    assert coordinator._read_task is None
    assert not coordinator.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_silent_meter_is_not_ready(hass: HomeAssistant, scripted: ScriptedMeter) -> None:
    """A meter that does not answer: set-up is retried later."""
    scripted.then(NoAnswerError("nothing came back"))
    entry = corpus_entry(5, title="Landis+Gyr ZMF100AC.M26", codes=["1.8.0"])
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "does not answer" in entry.reason
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_remove_entry_drops_its_issues(
    hass: HomeAssistant, scripted: ScriptedMeter, issue_registry: ir.IssueRegistry
) -> None:
    """Removing a meter removes its repair issues (also those per data set), not others'."""
    scripted.then(NoAnswerError("silent"))
    entry = corpus_entry(5, title="Landis+Gyr ZMF100AC.M26", codes=["1.8.0"])
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    for issue_id in (
        f"meter_not_answering_{entry.entry_id}",
        f"unit_changed_1.8.0_{entry.entry_id}",
        "meter_not_answering_other",
    ):
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="meter_not_answering",
        )
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert list(issue_registry.issues) == [(DOMAIN, "meter_not_answering_other")]


def test_package_imports_without_home_assistant() -> None:
    """Importing the integration package (and the protocol library) loads no Home Assistant."""
    code = (
        "import sys, custom_components.dlms_meter, custom_components.dlms_meter.iec62056;"
        "import custom_components.dlms_meter.guard, custom_components.dlms_meter.units;"
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
