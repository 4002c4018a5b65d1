"""The coordinator on a simulated meter: cycles, failures, recovery, energy guard, repairs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import logging

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.dlms_meter.const import DOMAIN, FAILURES_BEFORE_ISSUE
from custom_components.dlms_meter.coordinator import DlmsCoordinator
from meter_sim.simulator import Fault, MeterSimulator

from .meter import INTERVAL, meter_entry

IMPORT = "sensor.landis_gyr_zmf100ac_m26_energy_import"
VOLTAGE = "sensor.landis_gyr_zmf100ac_m26_voltage_l1"


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> DlmsCoordinator:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry.runtime_data


async def _next_cycle(hass: HomeAssistant, coordinator: DlmsCoordinator) -> None:
    """Let the scheduled update run (time moves on by one interval)."""
    interval = coordinator.update_interval or timedelta(seconds=INTERVAL)
    async_fire_time_changed(hass, dt_util.utcnow() + interval + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_scheduled_cycles_read_the_meter(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """Each update interval runs one read cycle; the values follow the meter."""
    coordinator = await _setup(hass, meter_entry(simulator))
    assert coordinator.update_interval == timedelta(seconds=INTERVAL)
    simulator.set_value("1.8.0", "061600.000")

    await _next_cycle(hass, coordinator)

    assert simulator.stats().sessions == 2
    assert hass.states.get(IMPORT).state == "61600.0"
    stats = coordinator.stats.as_dict()
    assert stats["reads"] == stats["successes"] == 2
    assert stats["negotiated_baudrate"] == 4800
    assert stats["last_read_duration"] > 0
    assert coordinator.last_read_time == coordinator.stats.last_duration


async def test_reads_never_overlap(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """Two refreshes at once: the second waits for the first (no 'port busy')."""
    coordinator = await _setup(hass, meter_entry(simulator))

    await asyncio.gather(coordinator.async_refresh(), coordinator.async_refresh())

    assert coordinator.last_update_success
    assert coordinator.stats.failures == {}
    assert simulator.stats().sessions == 3


async def test_failure_makes_entities_unavailable_then_recovers(
    hass: HomeAssistant, simulator: MeterSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """No answer: unavailable (never 0), logged once; the next good read brings them back."""
    coordinator = await _setup(hass, meter_entry(simulator))
    simulator.unplug()

    with caplog.at_level(logging.INFO):
        await _next_cycle(hass, coordinator)
        assert hass.states.get(IMPORT).state == STATE_UNAVAILABLE
        assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
        await _next_cycle(hass, coordinator)
        assert hass.states.get(IMPORT).state == STATE_UNAVAILABLE

        simulator.replug()
        await _next_cycle(hass, coordinator)

    assert hass.states.get(IMPORT).state == "61561.289"
    assert coordinator.stats.failures == {"port_not_found": 2}
    assert caplog.text.count("Error fetching") == 1
    assert caplog.text.count("recovered") == 1


@pytest.mark.parametrize(
    ("fault", "kind"),
    [(Fault.CORRUPT, "checksum"), (Fault.SILENCE, "no_answer"), (Fault.GARBAGE, "not_iec62056")],
)
async def test_bad_readout_is_never_published(
    hass: HomeAssistant, simulator: MeterSimulator, fault: Fault, kind: str
) -> None:
    """A corrupted, missing or foreign answer: the last values are not replaced by it."""
    coordinator = await _setup(hass, meter_entry(simulator))
    simulator.set_value("1.8.0", "061999.999")
    simulator.inject(fault)

    await _next_cycle(hass, coordinator)

    assert coordinator.stats.failures == {kind: 1}
    assert not coordinator.last_update_success
    assert hass.states.get(IMPORT).state == STATE_UNAVAILABLE
    assert coordinator.data.values["1.8.0"].value == "061561.289"
    err = coordinator.last_exception
    assert err is not None
    assert err.translation_key == kind  # type: ignore[attr-defined]


async def test_energy_total_never_goes_down(
    hass: HomeAssistant, simulator: MeterSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A lower import total is not published; the last value stays; counted and logged."""
    coordinator = await _setup(hass, meter_entry(simulator))
    simulator.set_value("1.8.0", "000100.000")
    simulator.set_value("32.7", "200")

    await _next_cycle(hass, coordinator)

    assert hass.states.get(IMPORT).state == "61561.289"
    assert hass.states.get(VOLTAGE).state == "200.0"  # other values are published
    assert coordinator.stats.rejected_decreases == 1
    assert "went down from 61561.289 to 100.0" in caplog.text

    simulator.set_value("1.8.0", "061562.000")
    await _next_cycle(hass, coordinator)
    assert hass.states.get(IMPORT).state == "61562.0"
    assert coordinator.stats.rejected_decreases == 1


async def test_meter_not_answering_issue(
    hass: HomeAssistant, simulator: MeterSimulator, issue_registry: ir.IssueRegistry
) -> None:
    """Raised after N failed cycles in a row, deleted by the first good read."""
    entry = meter_entry(simulator)
    coordinator = await _setup(hass, entry)
    issue_id = f"meter_not_answering_{entry.entry_id}"
    simulator.unplug()

    for _ in range(FAILURES_BEFORE_ISSUE - 1):
        await _next_cycle(hass, coordinator)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await _next_cycle(hass, coordinator)

    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["failures"] == str(FAILURES_BEFORE_ISSUE)
    assert issue.translation_placeholders["port"] == simulator.port

    simulator.replug()
    await _next_cycle(hass, coordinator)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert coordinator.stats.consecutive_failures == 0


@pytest.mark.parametrize("sim_profile", ["lgz_zmd120"])
async def test_interval_never_shorter_than_a_read(
    hass: HomeAssistant, simulator: MeterSimulator, issue_registry: ir.IssueRegistry
) -> None:
    """A 300 Bd meter read every 5 s: the interval becomes read time + 1.5 s, with an issue."""
    entry = meter_entry(simulator, codes=["1.8.1"], update_interval=5)
    coordinator = await _setup(hass, entry)
    issue_id = f"interval_too_short_{entry.entry_id}"

    read_time = coordinator.stats.last_duration
    assert read_time is not None
    assert read_time > 5
    assert coordinator.update_interval is not None
    assert coordinator.update_interval.total_seconds() >= read_time + 1.5
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["configured"] == "5"

    # the user lengthens the interval: the issue goes with the next read
    coordinator.configured_interval = 60
    await coordinator.async_refresh()
    assert coordinator.update_interval == timedelta(seconds=60)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert await hass.config_entries.async_unload(entry.entry_id)
