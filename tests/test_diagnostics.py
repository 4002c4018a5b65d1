"""Diagnostics of a recorded meter: settings, identification, raw readout, statistics, guard."""

from __future__ import annotations

import dataclasses
from typing import Any

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.dlms_meter.diagnostics import readout_text
from custom_components.dlms_meter.iec62056 import NoAnswerError, SmlStreamError

from .meter import E350_CODES, E350_SERIAL, ScriptedMeter, corpus_entry, corpus_readout

E350 = corpus_readout(5)


def _entry(**options: Any) -> MockConfigEntry:
    return corpus_entry(5, title="Landis+Gyr ZMF100AC.M26", codes=E350_CODES, **options)


def _stable(diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Replace the wall-clock time of the last success after checking its type."""
    if "statistics" in diagnostics:
        stats = diagnostics["statistics"]
        assert isinstance(stats["last_success"], str)
        stats["last_success"] = "<time>"
    return diagnostics


async def test_diagnostics(
    hass: HomeAssistant, hass_client: Any, scripted: ScriptedMeter, snapshot: SnapshotAssertion
) -> None:
    """Everything needed to debug a meter, with its ids redacted everywhere."""
    scripted.then(E350)
    entry = _entry(address=E350_SERIAL)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    text = str(diagnostics)
    assert E350_SERIAL not in text
    assert "120858" not in text  # 0.0, the meter id
    assert "1.8.0(061561.289*kWh)" in diagnostics["last_readout"]["text"]
    assert diagnostics["guard"]["totals"]["1.8.0"] == {"accepted": 61561.289, "held_readings": 0}
    assert _stable(diagnostics) == snapshot


async def test_diagnostics_count_skipped_lines_and_failures_per_kind(
    hass: HomeAssistant, hass_client: Any, scripted: ScriptedMeter
) -> None:
    """The lines the parser dropped from the last readout; failed reads counted per kind."""
    scripted.then(dataclasses.replace(E350, skipped_lines=2))
    entry = _entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data
    for error in (SmlStreamError("sml"), NoAnswerError("silent"), NoAnswerError("silent")):
        scripted.then(error)
        await coordinator.async_refresh()

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert diagnostics["last_readout"]["skipped_lines"] == 2
    failures = diagnostics["statistics"]["failures"]
    assert failures["sml"] == 1
    assert failures["no_answer"] == 2
    assert failures["readout_too_long"] == 0
    assert failures["read_time_limit"] == 0
    assert sum(failures.values()) == 3


async def test_diagnostics_not_loaded(
    hass: HomeAssistant, hass_client: Any, scripted: ScriptedMeter, snapshot: SnapshotAssertion
) -> None:
    """An entry that is not set up: its settings only."""
    scripted.then(NoAnswerError("silent"))
    entry = _entry(password="hunter4")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert diagnostics["loaded"] is False
    assert "hunter4" not in str(diagnostics)
    assert _stable(diagnostics) == snapshot
    assert await hass.config_entries.async_unload(entry.entry_id)


def test_readout_text_marks_control_bytes() -> None:
    """STX, ETX and the check byte are visible; CR LF stay line ends."""
    assert readout_text(b"\x021.8.0(1*kWh)\r\n!\r\n\x03\x15") == (
        "<STX>1.8.0(1*kWh)\r\n!\r\n<ETX><0x15>"
    )
    assert readout_text(b"\xff\x7f") == "<0xFF><0x7F>"
