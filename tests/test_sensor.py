"""Sensors of simulated meters: entities, device, values, and the Energy dashboard's verdict."""

from __future__ import annotations

from homeassistant.const import STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.dlms_meter.const import DOMAIN
from custom_components.dlms_meter.coordinator import DlmsCoordinator
from meter_sim.simulator import MeterSimulator

from .meter import E350_SERIAL, meter_entry

PREFIX = "sensor.landis_gyr_zmf100ac_m26"


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> DlmsCoordinator:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry.runtime_data


async def test_entities(
    hass: HomeAssistant,
    simulator: MeterSimulator,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """One entity per data set of the E350, named, classed and valued from the catalog."""
    entry = meter_entry(simulator)
    await _setup(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_device(
    hass: HomeAssistant, simulator: MeterSimulator, device_registry: dr.DeviceRegistry
) -> None:
    """One device per meter: maker, model, serial number and firmware from the readout."""
    entry = meter_entry(simulator)
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
    hass: HomeAssistant, simulator: MeterSimulator, entity_registry: er.EntityRegistry
) -> None:
    """unique_id = serial number + normalised code; identification is diagnostic."""
    entry = meter_entry(simulator)
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
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """A numeric register that does not parse is unknown, never 0; a code not sent too."""
    simulator.set_value("32.7", "ERR")
    await _setup(hass, meter_entry(simulator, codes=["32.7", "1.8.0", "1.8.3"]))
    assert hass.states.get(f"{PREFIX}_voltage_l1").state == STATE_UNKNOWN
    assert hass.states.get(f"{PREFIX}_energy_import").state == "61561.289"
    tariff_3 = hass.states.get(f"{PREFIX}_energy_import_tariff_3")
    assert tariff_3.state == STATE_UNKNOWN
    assert tariff_3.attributes["unit_of_measurement"] == "kWh"


async def test_blank_text_is_unknown(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """C.1.1 sent as spaces: unknown."""
    await _setup(hass, meter_entry(simulator, codes=["96.1.1", "0.2.0"]))
    assert hass.states.get(f"{PREFIX}_equipment_id").state == STATE_UNKNOWN
    assert hass.states.get(f"{PREFIX}_firmware").state == "M26"


async def test_without_chosen_codes_the_defaults_are_used(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """An entry without codes gets the pre-selected ones of the first readout."""
    coordinator = await _setup(hass, meter_entry(simulator, codes=[]))
    assert list(coordinator.specs) == [
        "96.1.0",
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


@pytest.mark.parametrize("sim_profile", ["iskra_mt174"])
async def test_history_values_are_disabled(
    hass: HomeAssistant, simulator: MeterSimulator, entity_registry: er.EntityRegistry
) -> None:
    """History entries (F 0..99) exist but are disabled by default; full codes are named."""
    codes = ["1-0:1.8.0*255", "1-0:1.8.0*1", "1-0:1.6.0*255", "0-0:96.1.0*255"]
    entry = meter_entry(simulator, codes=codes, serial="63355730", title="Iskra MT174")
    await _setup(hass, entry)
    entries = {
        reg.unique_id.removeprefix("63355730_"): reg
        for reg in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert set(entries) == set(codes)
    assert entries["1-0:1.8.0*1"].disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert entries["1-0:1.8.0*255"].disabled_by is None
    assert hass.states.get("sensor.iskra_mt174_energy_import").state == "8048.375"
    assert hass.states.get("sensor.iskra_mt174_maximum_demand_import").state == "2.468"
    assert hass.states.get("sensor.iskra_mt174_serial_number").state == "63355730"


@pytest.mark.parametrize("sim_profile", ["emh_ehz"])
async def test_push_meter_without_units(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """An EMH eHZ (mode D, 9600 Bd) sends 1.8.1 without a unit: kWh energy all the same."""
    entry = meter_entry(
        simulator,
        codes=["1-0:1.8.1*255", "1-0:96.5.5*255"],
        serial="331200-5009810",
        title="EMH eHZ",
        mode="D",
        baudrate="9600",
        checksum="none",
    )
    await _setup(hass, entry)
    energy = hass.states.get("sensor.emh_ehz_energy_import_tariff_1")
    assert energy.state == "32942.0231"
    assert energy.attributes["device_class"] == "energy"
    assert energy.attributes["state_class"] == "total_increasing"
    assert energy.attributes["unit_of_measurement"] == "kWh"
    assert hass.states.get("sensor.emh_ehz_status_register").state == "80"
