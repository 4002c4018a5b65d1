"""Sensors of recorded meters (the corpus through the injected reader): entities, device, values.

Entity snapshots over six meters of the corpus (electricity with and without units, push meters,
a heat meter) with the pre-selected data sets, or every numeric one for the heat meter.
"""

from __future__ import annotations

import dataclasses

from homeassistant.const import STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.dlms_meter import catalog
from custom_components.dlms_meter.const import DOMAIN
from custom_components.dlms_meter.coordinator import DlmsCoordinator

from .meter import E350_CODES, E350_SERIAL, ScriptedMeter, corpus_entry, corpus_readout, with_values

PREFIX = "sensor.landis_gyr_zmf100ac_m26"
E350 = corpus_readout(5)

# corpus meter -> data sets (None: the pre-selection, as the config flow offers it)
SNAPSHOT_METERS: dict[int, list[str] | None] = {
    5: None,  # Landis+Gyr E350, mode C, units glued
    8: None,  # Iskra MT174, full OBIS codes, history values
    10: None,  # Iskra ME162
    16: ["0.0", "6.8", "6.26", "6.31"],  # Kamstrup Multical 66 heat meter: GJ, m³, h
    18: None,  # EMH eHZ push meter without units
    20: None,  # EasyMeter Q3D push meter
}


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> DlmsCoordinator:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry.runtime_data


def _e350(**options: object) -> MockConfigEntry:
    return corpus_entry(5, title="Landis+Gyr ZMF100AC.M26", **options)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("nn", sorted(SNAPSHOT_METERS))
async def test_entities(
    hass: HomeAssistant,
    scripted: ScriptedMeter,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    nn: int,
) -> None:
    """One entity per chosen data set, named, classed and valued from the catalog."""
    entry = corpus_entry(nn, codes=SNAPSHOT_METERS[nn])
    scripted.then(corpus_readout(nn))
    await _setup(hass, entry)
    assert er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_device(
    hass: HomeAssistant, scripted: ScriptedMeter, device_registry: dr.DeviceRegistry
) -> None:
    """One device per meter: maker, model, serial number and firmware from the readout."""
    scripted.then(E350)
    entry = _e350(codes=E350_CODES)
    await _setup(hass, entry)
    devices = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert len(devices) == 1
    device = devices[0]
    assert device.identifiers == {(DOMAIN, E350_SERIAL)}
    assert device.manufacturer == "Landis+Gyr"
    assert device.model == "ZMF100AC.M26"
    assert device.serial_number == E350_SERIAL
    assert device.sw_version == "M26"
    assert device.name == "Landis+Gyr ZMF100AC.M26"


async def test_unique_ids_and_categories(
    hass: HomeAssistant, scripted: ScriptedMeter, entity_registry: er.EntityRegistry
) -> None:
    """unique_id = serial number + normalised code; identification is diagnostic."""
    scripted.then(E350)
    entry = _e350(codes=E350_CODES)
    await _setup(hass, entry)
    serial = entity_registry.async_get(f"{PREFIX}_serial_number")
    assert serial is not None
    assert serial.unique_id == f"{E350_SERIAL}_96.1.0"
    assert serial.entity_category is EntityCategory.DIAGNOSTIC
    energy = entity_registry.async_get(f"{PREFIX}_energy_import")
    assert energy is not None
    assert energy.unique_id == f"{E350_SERIAL}_1.8.0"
    assert energy.entity_category is None


async def test_value_that_is_no_number_is_unknown(
    hass: HomeAssistant, scripted: ScriptedMeter
) -> None:
    """A numeric register that does not parse is unknown, never 0; a code not sent too."""
    scripted.then(with_values(E350, _32_7="ERR"))
    await _setup(hass, _e350(codes=["32.7", "1.8.0", "1.8.3"]))
    assert hass.states.get(f"{PREFIX}_voltage_l1").state == STATE_UNKNOWN
    assert hass.states.get(f"{PREFIX}_energy_import").state == "61561.289"
    tariff_3 = hass.states.get(f"{PREFIX}_energy_import_tariff_3")
    assert tariff_3.state == STATE_UNKNOWN
    assert tariff_3.attributes["unit_of_measurement"] == "kWh"


async def test_a_total_missing_from_a_later_readout_keeps_its_value(
    hass: HomeAssistant, scripted: ScriptedMeter
) -> None:
    """A total absent or unreadable in one readout shows the last accepted value, never 0."""
    scripted.then(E350)
    coordinator = await _setup(hass, _e350(codes=["1.8.0"]))
    scripted.then(with_values(E350, _1_8_0="ERR"))
    await coordinator.async_refresh()
    assert hass.states.get(f"{PREFIX}_energy_import").state == "61561.289"


async def test_blank_text_is_unknown(hass: HomeAssistant, scripted: ScriptedMeter) -> None:
    """C.1.1 sent as spaces: unknown."""
    scripted.then(E350)
    await _setup(hass, _e350(codes=["96.1.1", "0.2.0"]))
    assert hass.states.get(f"{PREFIX}_equipment_id").state == STATE_UNKNOWN
    assert hass.states.get(f"{PREFIX}_firmware").state == "M26"


async def test_without_chosen_codes_the_defaults_are_used(
    hass: HomeAssistant, scripted: ScriptedMeter
) -> None:
    """An entry without codes gets the pre-selected ones of the first readout.

    Energy and power only: the serial number is no entity of its own (the device shows it).
    """
    scripted.then(E350)
    coordinator = await _setup(hass, _e350(codes=[]))
    assert list(coordinator.specs) == [
        "1.8.1",
        "1.8.2",
        "2.8.1",
        "2.8.2",
        "1.8.0",
        "2.8.0",
        "32.7",
        "52.7",
        "72.7",
        "31.7",
        "51.7",
        "71.7",
    ]


async def test_chosen_history_values_are_enabled(
    hass: HomeAssistant, scripted: ScriptedMeter, entity_registry: er.EntityRegistry
) -> None:
    """A history value (F 0..99) the user ticked is an enabled entity: the user's choice wins.

    It shows the stored value, as a plain number (no state class: it never counts as a total);
    full codes are named like the short ones.
    """
    codes = ["1-0:1.8.0*255", "1-0:1.8.0*1", "1-0:1.6.0*255", "0-0:96.1.0*255"]
    scripted.then(corpus_readout(8))
    entry = corpus_entry(8, codes=codes, title="Iskra MT174")
    await _setup(hass, entry)
    entries = {
        reg.unique_id.removeprefix("63355730_"): reg
        for reg in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert set(entries) == set(codes)
    assert all(reg.disabled_by is None for reg in entries.values())
    history = hass.states.get(entries["1-0:1.8.0*1"].entity_id)
    assert history is not None
    assert history.state == "7904.135"
    assert "state_class" not in history.attributes
    assert history.attributes["unit_of_measurement"] == "kWh"
    assert hass.states.get("sensor.iskra_mt174_energy_import").state == "8048.375"
    assert hass.states.get("sensor.iskra_mt174_maximum_demand_import").state == "2.468"
    assert hass.states.get("sensor.iskra_mt174_serial_number").state == "63355730"


async def test_push_meter_without_units(hass: HomeAssistant, scripted: ScriptedMeter) -> None:
    """An EMH eHZ sends 1.8.1 without a unit: kWh energy all the same."""
    scripted.then(corpus_readout(18))
    entry = corpus_entry(18, codes=["1-0:1.8.1*255", "1-0:96.5.5*255"], title="EMH eHZ")
    await _setup(hass, entry)
    energy = hass.states.get("sensor.emh_ehz_energy_import_tariff_1")
    assert energy.state == "32942.0231"
    assert energy.attributes["device_class"] == "energy"
    assert energy.attributes["state_class"] == "total_increasing"
    assert energy.attributes["unit_of_measurement"] == "kWh"
    assert hass.states.get("sensor.emh_ehz_status_register").state == "80"


async def test_heat_meter_totals_are_guarded(hass: HomeAssistant, scripted: ScriptedMeter) -> None:
    """Kamstrup heat meter: GJ heat, m³ volume and hours are lifetime totals under the guard."""
    heat = corpus_readout(16)
    scripted.then(heat)
    coordinator = await _setup(hass, corpus_entry(16, codes=["6.8", "6.26", "6.31"], title="Heat"))
    assert {key: spec.guard_decrease for key, spec in coordinator.specs.items()} == {
        "6.8": True,
        "6.26": True,
        "6.31": True,
    }
    scripted.then(with_values(heat, _6_8="99433.65", _6_26="03000.00", _6_31="0109869"))
    await coordinator.async_refresh()
    assert hass.states.get("sensor.heat_heat_energy").state == "433.65"  # jump held back
    assert hass.states.get("sensor.heat_volume").state == "3052.95"  # decrease
    assert hass.states.get("sensor.heat_operating_hours").state == "109869.0"


async def test_heat_meter_flow_and_return_temperatures(
    hass: HomeAssistant, scripted: ScriptedMeter, entity_registry: er.EntityRegistry
) -> None:
    """Ultraheat ``9.4(098.5*C&096.1*C)``: one sensor per value (``9.4`` and ``9.4#2``)."""
    scripted.then(corpus_readout(39))
    entry = corpus_entry(39, codes=["6.8", "9.4", "9.4#2"], title="UH50")
    coordinator = await _setup(hass, entry)
    assert coordinator.data.values["9.4#2"].value == "096.1"
    states = {}
    for reg in er.async_entries_for_config_entry(entity_registry, entry.entry_id):
        state = hass.states.get(reg.entity_id)
        assert state is not None
        states[reg.unique_id.removeprefix(f"{coordinator.serial_number}_")] = state
    assert set(states) == {"6.8", "9.4", "9.4#2"}
    assert states["6.8"].state == "328.871"
    assert states["6.8"].attributes["unit_of_measurement"] == "GJ"
    assert (states["9.4"].state, states["9.4#2"].state) == ("98.5", "96.1")
    assert states["9.4#2"].attributes["device_class"] == "temperature"
    assert states["9.4#2"].attributes["unit_of_measurement"] == "°C"


async def test_a_history_value_stored_under_its_old_star_key_keeps_its_value(
    hass: HomeAssistant, scripted: ScriptedMeter, entity_registry: er.EntityRegistry
) -> None:
    """An entry that stored ``1.8.0&12`` as ``1.8.0*12`` (earlier versions) still shows it."""
    zmd405 = corpus_readout(44)
    only_ampersand = dataclasses.replace(
        zmd405, datasets=tuple(ds for ds in zmd405.datasets if "*" not in ds.address)
    )
    assert "1.8.0*12" not in catalog.readout_values(only_ampersand)
    scripted.then(only_ampersand)
    entry = corpus_entry(44, codes=["0.1.0*12", "1.8.0*12"], title="ZMD405")
    coordinator = await _setup(hass, entry)
    states = {
        reg.unique_id.removeprefix(f"{coordinator.serial_number}_"): hass.states.get(reg.entity_id)
        for reg in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert set(states) == {"0.1.0*12", "1.8.0*12"}  # the entities keep their ids
    assert states["0.1.0*12"] is not None
    assert states["0.1.0*12"].state == "20-12-30 16:02"  # the & value, not unknown
    assert states["1.8.0*12"] is not None
    assert states["1.8.0*12"].state == "0.0"
    assert states["1.8.0*12"].attributes["unit_of_measurement"] == "kWh"
