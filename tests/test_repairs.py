"""Repair flows: the interval issue sets the interval; the other-meter issue adopts or waits."""

from __future__ import annotations

import dataclasses
from typing import Any

from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dlms_meter.const import (
    CONF_PORT,
    CONF_SERIAL_NUMBER,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.dlms_meter.iec62056.identity import unique_id_for
from custom_components.dlms_meter.repairs import async_create_fix_flow

from .meter import ScriptedMeter, corpus_entry, corpus_readout, with_values

E350 = corpus_readout(5)
OTHER = with_values(E350, _96_1_0="99999999", _1_8_0="000010.000")
IMPORT = "sensor.e350_energy_import"


async def _load(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await async_setup_component(hass, "repairs", {})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def _start(hass: HomeAssistant, issue_id: str) -> dict[str, Any]:
    manager = repairs_flow_manager(hass)
    assert manager is not None
    # the issue id in both context and data (Home Assistant 2026.5 reads it from the data)
    result = await manager.async_init(
        DOMAIN, context={"issue_id": issue_id}, data={"issue_id": issue_id}
    )
    return dict(result)


async def _next(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> dict[str, Any]:
    manager = repairs_flow_manager(hass)
    assert manager is not None
    return dict(await manager.async_configure(flow_id, user_input))


async def test_interval_fix_sets_the_interval(
    hass: HomeAssistant, scripted: ScriptedMeter, issue_registry: ir.IssueRegistry
) -> None:
    """A 10 s read with a 5 s interval: the fix stores 12 s; after the reload the issue is gone."""
    slow = dataclasses.replace(E350, duration=10.0)
    scripted.then(slow)
    entry = corpus_entry(5, codes=["1.8.0"], title="E350", update_interval=5)
    await _load(hass, entry)
    issue_id = f"interval_too_short_{entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable

    result = await _start(hass, issue_id)
    assert result["type"] is FlowResultType.FORM
    assert result["description_placeholders"] == {"title": "E350", "needed": "12"}
    scripted.then(E350)  # read quickly from now on
    result = await _next(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert entry.options[CONF_UPDATE_INTERVAL] == 12
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.configured_interval == 12
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def _other_meter(
    hass: HomeAssistant, scripted: ScriptedMeter, issue_registry: ir.IssueRegistry
) -> tuple[MockConfigEntry, str]:
    entry = corpus_entry(5, codes=["1.8.0", "96.1.0"], title="E350")
    scripted.then(E350)
    await _load(hass, entry)
    scripted.then(OTHER)
    await entry.runtime_data.async_refresh()
    issue_id = f"other_meter_{entry.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    return entry, issue_id


async def test_other_meter_keep_waiting(
    hass: HomeAssistant, scripted: ScriptedMeter, issue_registry: ir.IssueRegistry
) -> None:
    """Keep waiting changes nothing; the issue stays while the other meter answers."""
    entry, issue_id = await _other_meter(hass, scripted, issue_registry)
    result = await _start(hass, issue_id)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["adopt", "wait"]
    assert result["description_placeholders"] == {
        "title": "E350",
        "serial": "99999999",
        "old_serial": "13647123",
    }
    result = await _next(hass, result["flow_id"], {"next_step_id": "wait"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "keep_waiting"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    assert entry.unique_id == "13647123"
    assert hass.states.get(IMPORT).state == "unavailable"


async def test_other_meter_adopted_after_confirmation(
    hass: HomeAssistant,
    scripted: ScriptedMeter,
    issue_registry: ir.IssueRegistry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Adopt needs the confirmation; then the ids move and the guard starts afresh."""
    entry, issue_id = await _other_meter(hass, scripted, issue_registry)
    result = await _start(hass, issue_id)
    result = await _next(hass, result["flow_id"], {"next_step_id": "adopt"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "adopt"
    result = await _next(hass, result["flow_id"], {"replacement": False})
    assert result["errors"] == {"replacement": "not_confirmed"}
    result = await _next(hass, result["flow_id"], {"replacement": True})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert entry.unique_id == "99999999"
    assert entry.data[CONF_SERIAL_NUMBER] == "99999999"
    assert entry.state is ConfigEntryState.LOADED
    reg = entity_registry.async_get(IMPORT)
    assert reg is not None
    assert reg.unique_id == "99999999_1.8.0"  # same entity id, history kept
    assert hass.states.get(IMPORT).state == "10.0"  # lower than the old meter: a fresh guard
    assert hass.states.get("sensor.e350_serial_number").state == "99999999"
    (device,) = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert device.identifiers == {(DOMAIN, "99999999")}
    assert device.serial_number == "99999999"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_adopt_a_meter_without_serial_number_takes_the_flows_unique_id(
    hass: HomeAssistant,
    scripted: ScriptedMeter,
    issue_registry: ir.IssueRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The new id is identity.unique_id_for (identification + port key); no serial is stored."""
    entry = corpus_entry(5, codes=["1.8.0"], title="E350")
    scripted.then(E350)
    await _load(hass, entry)
    ce301 = corpus_readout(15)  # no serial number at all
    scripted.then(ce301)
    await entry.runtime_data.async_refresh()
    issue_id = f"other_meter_{entry.entry_id}"
    new_id = unique_id_for(ce301, entry.data[CONF_PORT])
    result = await _start(hass, issue_id)
    assert result["description_placeholders"]["serial"] == new_id
    result = await _next(hass, result["flow_id"], {"next_step_id": "adopt"})
    result = await _next(hass, result["flow_id"], {"replacement": True})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.unique_id == new_id
    assert new_id.startswith("EKT5CE301v12@")
    assert entry.data[CONF_SERIAL_NUMBER] == ""
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.last_update_success  # the adopted meter is its entry's meter now
    reg = entity_registry.async_get(IMPORT)
    assert reg is not None
    assert reg.unique_id == f"{new_id}_1.8.0"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_adopt_refused_when_the_meter_has_its_own_entry(
    hass: HomeAssistant, scripted: ScriptedMeter, issue_registry: ir.IssueRegistry
) -> None:
    """The new serial number belongs to another entry already: nothing changes."""
    entry, issue_id = await _other_meter(hass, scripted, issue_registry)
    MockConfigEntry(domain=DOMAIN, unique_id="99999999", data={}).add_to_hass(hass)
    result = await _start(hass, issue_id)
    result = await _next(hass, result["flow_id"], {"next_step_id": "adopt"})
    result = await _next(hass, result["flow_id"], {"replacement": True})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.unique_id == "13647123"


async def test_adopt_while_not_loaded_removes_the_store(
    hass: HomeAssistant,
    scripted: ScriptedMeter,
    issue_registry: ir.IssueRegistry,
    hass_storage: dict[str, Any],
) -> None:
    """An unloaded entry: the stored totals of the old meter are removed."""
    entry, issue_id = await _other_meter(hass, scripted, issue_registry)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert f"dlms_meter.{entry.entry_id}" in hass_storage
    result = await _start(hass, issue_id)
    result = await _next(hass, result["flow_id"], {"next_step_id": "adopt"})
    result = await _next(hass, result["flow_id"], {"replacement": True})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.unique_id == "99999999"
    assert hass.states.get(IMPORT).state == "10.0"


@pytest.mark.parametrize("issue_id", ["interval_too_short_x", "other_meter_x"])
async def test_flows_of_a_removed_entry_abort(hass: HomeAssistant, issue_id: str) -> None:
    """The entry is gone: each step aborts."""
    flow = await async_create_fix_flow(
        hass, issue_id, {"entry_id": "x", "needed": 5, "serial": "1"}
    )
    flow.hass = hass
    result = await flow.async_step_init()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_removed"
    adopt = getattr(flow, "async_step_adopt", None)
    if adopt is not None:
        assert (await adopt())["reason"] == "entry_removed"


async def test_no_fix_flow_for_other_issues(hass: HomeAssistant) -> None:
    """Only the two fixable issues have a flow."""
    with pytest.raises(ValueError, match="no fix flow"):
        await async_create_fix_flow(hass, "meter_not_answering_x", None)
