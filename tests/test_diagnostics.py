"""Diagnostics of a simulated meter: settings, identification, raw readout, statistics."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.dlms_meter.diagnostics import readout_text
from meter_sim.simulator import MeterSimulator

from .meter import E350_SERIAL, meter_entry


def _stable(diagnostics: dict[str, Any], port: str) -> dict[str, Any]:
    """Replace what changes from run to run (pty path, times) after checking its type."""
    assert diagnostics["entry"]["data"]["port"] == port
    diagnostics["entry"]["data"]["port"] = "<pty>"
    if "statistics" in diagnostics:
        stats = diagnostics["statistics"]
        assert stats["last_read_duration"] > 0
        assert isinstance(stats["last_success"], str)
        stats["last_read_duration"] = stats["last_success"] = "<time>"
        assert diagnostics["last_readout"]["duration"] > 0
        diagnostics["last_readout"]["duration"] = "<time>"
    return diagnostics


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: Any,
    simulator: MeterSimulator,
    snapshot: SnapshotAssertion,
) -> None:
    """Everything needed to debug a meter, with its ids redacted everywhere."""
    entry = meter_entry(simulator, address=E350_SERIAL)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    text = str(diagnostics)
    assert E350_SERIAL not in text
    assert "120858" not in text  # 0.0, the meter id
    assert "1.8.0(061561.289*kWh)" in diagnostics["last_readout"]["text"]
    assert _stable(diagnostics, simulator.port) == snapshot


async def test_diagnostics_not_loaded(
    hass: HomeAssistant, hass_client: Any, simulator: MeterSimulator, snapshot: SnapshotAssertion
) -> None:
    """An entry that is not set up: its settings only."""
    simulator.unplug()
    entry: MockConfigEntry = meter_entry(simulator)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert diagnostics["loaded"] is False
    assert _stable(diagnostics, simulator.port) == snapshot
    assert await hass.config_entries.async_unload(entry.entry_id)


def test_readout_text_marks_control_bytes() -> None:
    """STX, ETX and the check byte are visible; CR LF stay line ends."""
    assert readout_text(b"\x021.8.0(1*kWh)\r\n!\r\n\x03\x15") == (
        "<STX>1.8.0(1*kWh)\r\n!\r\n<ETX><0x15>"
    )
    assert readout_text(b"\xff\x7f") == "<0xFF><0x7F>"
