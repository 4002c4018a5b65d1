"""The OBIS catalog: names, device/state classes, units, numbers, makers, pre-selection."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
import json
from pathlib import Path
import re

from homeassistant.components.sensor import (
    SensorDeviceClass as Dc,
    SensorEntityDescription,
    SensorStateClass as Sc,
)
from homeassistant.const import EntityCategory
import pytest

from custom_components.dlms_meter import catalog
from custom_components.dlms_meter.catalog import DlmsSensorEntityDescription, Group, SensorSpec
from custom_components.dlms_meter.iec62056 import (
    Checksum,
    DataSet,
    Readout,
    Value,
    parse_capture,
    parse_data_lines,
)
from tests.iec62056.corpus import raw_bytes

TI = Sc.TOTAL_INCREASING
M = Sc.MEASUREMENT


@pytest.mark.parametrize(
    ("flag", "name"),
    [
        ("LGZ", "Landis+Gyr"),
        ("ISk", "Iskraemeco"),
        ("isk", "Iskraemeco"),
        ("EMH", "EMH metering"),
        ("HAG", "Hager"),
        ("ESY", "EasyMeter"),
        ("EBZ", "eBZ"),
        ("KAM", "Kamstrup"),
        ("ITR", "Itron"),
        ("ACE", "Itron (Actaris)"),
        ("LOG", "Logarex"),
        ("SAG", "Sagemcom"),
        ("XYZ", "XYZ"),
        (" dzg ", "DZG Metering"),
        ("LUG", "Landis+Gyr"),
        ("LUN", "Luna Elektrik Elektronik"),
        ("ADN", "Aidon"),
        ("KFM", "Kaifa"),
        ("ZRI", "Zenner"),
        ("DME", "Diehl Metering"),
        ("", ""),
    ],
)
def test_manufacturer_name(flag: str, name: str) -> None:
    """FLAG ids map to makers case-insensitively; unknown ids stay as sent."""
    assert catalog.manufacturer_name(flag) == name


def test_manufacturer_table_is_large() -> None:
    """At least 100 makers (electricity, gas, heat, water), keyed by upper-case 3-letter ids."""
    assert len(catalog.MANUFACTURERS) >= 100
    assert all(name.strip() for name in catalog.MANUFACTURERS.values())
    assert all(len(flag) == 3 and flag.isupper() for flag in catalog.MANUFACTURERS)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("kWh", "kWh"),
        ("KWH", "kWh"),
        ("kwh", "kWh"),
        ("MWh", "MWh"),
        ("Wh", "Wh"),
        ("kVArh", "kvarh"),
        ("kvarh", "kvarh"),
        ("kVAr", "kvar"),
        ("VA", "VA"),
        ("kVA", "kVA"),
        ("w", "W"),
        ("kW", "kW"),
        ("V", "V"),
        ("A", "A"),
        ("hz", "Hz"),
        ("GJ", "GJ"),
        ("m3", "m³"),
        ("m3ph", "m³/h"),
        ("m3/h", "m³/h"),
        ("h", "h"),
        ("min", "min"),
        ("m", "min"),
        ("kVAh", "kVAh"),
        ("kvah", "kVAh"),
        ("VAh", "VAh"),
        ("MVAh", "MVAh"),
        ("secs", "s"),
        ("C", "°C"),
        ("deg", "°"),
        ("%", "%"),
        ("furlong", "furlong"),
        (" kWh ", "kWh"),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_normalize_unit(sent: str | None, expected: str | None) -> None:
    """Units are matched exactly, then case-insensitively; unknown ones stay as sent."""
    assert catalog.normalize_unit(sent) == expected


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("000219.252", 219.252),
        ("        18438636", 18438636.0),
        ("+00026", 26.0),
        ("-000073.69", -73.69),
        ("0.000", 0.0),
        (".5", 0.5),
        ("7.", 7.0),
        ("", None),
        ("        ", None),
        ("A2", None),
        ("1.2.3", None),
        ("331200-5009810", None),
        ("+", None),
        ("12,5", None),
        (None, None),
    ],
)
def test_parse_number(text: str | None, number: float | None) -> None:
    """Leading spaces, signs and decimals parse; anything else is None, never 0."""
    assert catalog.parse_number(text) == number


def _spec(key: str, unit: str | None) -> SensorSpec:
    return catalog.describe(key, unit)


@pytest.mark.parametrize(
    ("key", "unit", "name", "placeholders", "device_class", "state_class", "ha_unit"),
    [
        ("1.8.0", "kWh", "energy_import", {}, Dc.ENERGY, TI, "kWh"),
        ("1-0:1.8.0*255", "kWh", "energy_import", {}, Dc.ENERGY, TI, "kWh"),
        ("1.8.2", "kWh", "energy_import_tariff", {"tariff": "2"}, Dc.ENERGY, TI, "kWh"),
        ("2.8.0", "kWh", "energy_export", {}, Dc.ENERGY, TI, "kWh"),
        ("2.8.4", "kWh", "energy_export_tariff", {"tariff": "4"}, Dc.ENERGY, TI, "kWh"),
        ("21.8.0", "kWh", "energy_import_phase", {"phase": "L1"}, Dc.ENERGY, TI, "kWh"),
        ("15.8.0", "kWh", "energy_absolute", {}, Dc.ENERGY, TI, "kWh"),
        ("16.8.0", "Wh", "energy_net", {}, Dc.ENERGY, TI, "Wh"),
        ("1-0:1.8.1*255", None, "energy_import_tariff", {"tariff": "1"}, Dc.ENERGY, TI, "kWh"),
        ("3.8.0", "kVArh", "reactive_energy_import", {}, Dc.REACTIVE_ENERGY, TI, "kvarh"),
        ("4.8.0", "kvarh", "reactive_energy_export", {}, Dc.REACTIVE_ENERGY, TI, "kvarh"),
        (
            "5.8.0",
            "kvarh",
            "reactive_energy_quadrant",
            {"quadrant": "Q1"},
            Dc.REACTIVE_ENERGY,
            TI,
            "kvarh",
        ),
        ("1.7.0", "kW", "power_import", {}, Dc.POWER, M, "kW"),
        ("2.7.0", "W", "power_export", {}, Dc.POWER, M, "W"),
        ("16.7", "kW", "power_total", {}, Dc.POWER, M, "kW"),
        ("15.7.0", "W", "power_absolute", {}, Dc.POWER, M, "W"),
        ("1-0:21.7.255*255", "W", "power_import_phase", {"phase": "L1"}, Dc.POWER, M, "W"),
        ("56.7.0", "W", "power_total_phase", {"phase": "L2"}, Dc.POWER, M, "W"),
        ("3.7.0", "kvar", "reactive_power_import", {}, Dc.REACTIVE_POWER, M, "kvar"),
        (
            "7.7.0",
            "var",
            "reactive_power_quadrant",
            {"quadrant": "Q3"},
            Dc.REACTIVE_POWER,
            M,
            "var",
        ),
        ("9.7.0", "VA", "apparent_power_import", {}, Dc.APPARENT_POWER, M, "VA"),
        ("32.7", "V", "voltage_phase", {"phase": "L1"}, Dc.VOLTAGE, M, "V"),
        ("52.7.0", "V", "voltage_phase", {"phase": "L2"}, Dc.VOLTAGE, M, "V"),
        ("71.7", "A", "current_phase", {"phase": "L3"}, Dc.CURRENT, M, "A"),
        ("11.7.0", "A", "current", {}, Dc.CURRENT, M, "A"),
        ("12.7.0", "V", "voltage", {}, Dc.VOLTAGE, M, "V"),
        ("91.7.0", "A", "current_neutral", {}, Dc.CURRENT, M, "A"),
        ("13.7.0", None, "power_factor", {}, Dc.POWER_FACTOR, M, None),
        ("73.7.0", None, "power_factor_phase", {"phase": "L3"}, Dc.POWER_FACTOR, M, None),
        ("33.7", "%", "power_factor_phase", {"phase": "L1"}, Dc.POWER_FACTOR, M, "%"),
        ("14.7.0", "Hz", "frequency", {}, Dc.FREQUENCY, M, "Hz"),
        ("1.6.0", "kW", "demand_import_max", {}, Dc.POWER, M, "kW"),
        ("2.6.0", "kW", "demand_export_max", {}, Dc.POWER, M, "kW"),
        # heat meters (no A-B prefix): heat names when the unit fits, never electricity names
        ("6.8", "GJ", "heat_energy", {}, Dc.ENERGY, TI, "GJ"),
        ("6.8", "MWh", "heat_energy", {}, Dc.ENERGY, TI, "MWh"),
        ("6.8", "kWh", "heat_energy", {}, Dc.ENERGY, TI, "kWh"),
        ("6-0:6.8", "GJ", "heat_energy", {}, Dc.ENERGY, TI, "GJ"),
        ("6.8.2", "MWh", "heat_energy_tariff", {"tariff": "2"}, Dc.ENERGY, TI, "MWh"),
        ("6.26", "m3", "volume", {}, Dc.VOLUME, TI, "m³"),
        ("6.6", "kW", "heat_power_max", {}, Dc.POWER, M, "kW"),
        ("6.33", "m3ph", "flow_rate_max", {}, Dc.VOLUME_FLOW_RATE, M, "m³/h"),
        ("9.4", "C", "flow_temperature_max", {}, Dc.TEMPERATURE, M, "°C"),
        ("9.4#2", "C", "return_temperature_max", {}, Dc.TEMPERATURE, M, "°C"),
        ("9.4#3", "C", "register", {"code": "9.4#3"}, Dc.TEMPERATURE, M, "°C"),
        ("6.26.1", "m3", "register", {"code": "6.26.1"}, Dc.VOLUME, TI, "m³"),
        ("6.26", "GJ", "register", {"code": "6.26"}, Dc.ENERGY, TI, "GJ"),
        (
            "1-0:6.8.0",
            "kvarh",
            "reactive_energy_quadrant",
            {"quadrant": "Q2"},
            Dc.REACTIVE_ENERGY,
            TI,
            "kvarh",
        ),
        # apparent energy: a counter without a device class (Home Assistant has none for it)
        ("9.8.0", "kVAh", "apparent_energy_import", {}, None, TI, "kVAh"),
        ("1-0:10.8.0", "VAh", "apparent_energy_export", {}, None, TI, "VAh"),
        ("1.8.0", "kVAh", "register", {"code": "1.8.0"}, None, TI, "kVAh"),
        ("9.8.0", "kWh", "register", {"code": "9.8.0"}, Dc.ENERGY, TI, "kWh"),
        ("9.7.0", "kVA", "apparent_power_import", {}, Dc.APPARENT_POWER, M, "kVA"),
        # per phase
        ("34.7.0", "Hz", "frequency_phase", {"phase": "L1"}, Dc.FREQUENCY, M, "Hz"),
        ("54.7", "Hz", "frequency_phase", {"phase": "L2"}, Dc.FREQUENCY, M, "Hz"),
        ("1-0:74.7.0", "Hz", "frequency_phase", {"phase": "L3"}, Dc.FREQUENCY, M, "Hz"),
        (
            "1-0:23.7.0",
            "kVAr",
            "reactive_power_import_phase",
            {"phase": "L1"},
            Dc.REACTIVE_POWER,
            M,
            "kvar",
        ),
        (
            "64.7.0",
            "kvar",
            "reactive_power_export_phase",
            {"phase": "L3"},
            Dc.REACTIVE_POWER,
            M,
            "kvar",
        ),
        (
            "49.7.0",
            "VA",
            "apparent_power_import_phase",
            {"phase": "L2"},
            Dc.APPARENT_POWER,
            M,
            "VA",
        ),
        (
            "30.7.0",
            "VA",
            "apparent_power_export_phase",
            {"phase": "L1"},
            Dc.APPARENT_POWER,
            M,
            "VA",
        ),
        ("0-1:24.2.1", "m3", "submeter", {"channel": "1"}, Dc.VOLUME, TI, "m³"),
        ("0-2:24.2.1", "GJ", "submeter", {"channel": "2"}, Dc.ENERGY, TI, "GJ"),
        # running billing period and the Logarex period registers may reset: no guard
        ("1.9.0", "kWh", "register", {"code": "1.9.0"}, Dc.ENERGY, TI, "kWh"),
        ("1.8.0*100", "kWh", "register", {"code": "1.8.0*100"}, Dc.ENERGY, TI, "kWh"),
        ("1.7.1", "kW", "register", {"code": "1.7.1"}, Dc.POWER, M, "kW"),
        # unknown numeric register without a unit, and a named one with an unknown unit
        ("82.8.1", None, "register", {"code": "82.8.1"}, None, None, None),
        ("ET0PE", "kWh", "register", {"code": "ET0PE"}, Dc.ENERGY, TI, "kWh"),
    ],
)
def test_describe_measurements(
    key: str,
    unit: str | None,
    name: str,
    placeholders: dict[str, str],
    device_class: Dc | None,
    state_class: Sc | None,
    ha_unit: str | None,
) -> None:
    """Numeric registers: name from the code, device and state class from the unit."""
    spec = _spec(key, unit)
    assert (spec.translation_key, spec.placeholders) == (name, placeholders)
    assert spec.device_class == device_class
    assert spec.state_class == state_class
    assert spec.unit == ha_unit
    assert spec.numeric
    assert not spec.diagnostic
    assert spec.enabled_default


@pytest.mark.parametrize(
    ("key", "guarded"),
    [
        ("1.8.0", True),
        ("1-0:2.8.0*255", True),
        ("3.8.0", True),
        ("6.26", True),
        ("1.9.0", False),
        ("1.29.0", False),
        ("1.8.0*100", False),
        ("1.8.0*01", False),
        ("1.7.0", False),
        ("ET0PE", True),
        ("6.31", True),
        ("9.8.0", True),
        ("6.35", False),
    ],
)
def test_guarded_totals(key: str, guarded: bool) -> None:
    """Only lifetime totals are protected against going down."""
    unit = {
        "1.7.0": "kW",
        "3.8.0": "kvarh",
        "6.26": "m3",
        "6.31": "h",
        "9.8.0": "kVAh",
        "6.35": "m",
    }.get(key, "kWh")
    spec = _spec(key, unit)
    assert spec.guard_decrease is guarded
    assert spec.lifetime_total is guarded


@pytest.mark.parametrize(
    ("key", "unit"),
    [
        ("1.8.0*01", "kWh"),
        ("1-0:1.8.0*15", None),
        ("1.6.0&01", "kW"),
        ("32.7*1", "V"),
        ("13.7.0*1", None),
        ("9.4*1#2", "C"),
    ],
)
def test_history_values(key: str, unit: str | None) -> None:
    """History entries are enabled (only ticked ones exist), generic and out of statistics."""
    spec = _spec(key, unit)
    assert spec.enabled_default
    assert spec.entity_registry_enabled_default
    assert spec.history
    assert spec.group is Group.HISTORY
    assert spec.state_class is None
    assert not spec.guard_decrease
    assert spec.translation_key == "register"
    assert spec.placeholders == {"code": key}


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("C.1.0", "serial_number"),
        ("0-0:C.1.0*255", "serial_number"),
        ("96.1.0", "serial_number"),
        ("C.1.1", "equipment_id"),
        ("0-0:96.1.255*255", "equipment_id"),
        ("0.0.0", "meter_id"),
        ("1-0:0.0.0*255", "meter_id"),
        ("0.0", "meter_id"),
        ("0.2.0", "firmware"),
        ("F.F", "error_register"),
        ("0-0:F.F.0*255", "error_register"),
        ("F", "error_register"),
        ("C.5.0", "status_register"),
        ("1-0:96.5.5*255", "status_register"),
        ("C.7.0", "power_failures"),
        ("0.9.1", "time"),
        ("1-0:0.9.2*255", "date"),
        ("0.1.0", "billing_period_counter"),
        ("1-1:0.1.2", "billing_period_date"),
        ("0-0:1.0.0", "clock"),
        ("0-0:96.14.0", "tariff_indicator"),
        ("0-0:96.13.0", "text_message"),
        ("0-0:96.7.21", "power_failures"),
        ("0-0:96.7.9", "long_power_failures"),
        ("9.20", "device_number"),
        ("9.21", "ownership_number"),
        ("9.1", "settings_and_firmware"),
        ("9.36", "meter_date_time"),
        ("6.36", "billing_date"),
        ("6.36.1", "register"),
        ("9.7", "register"),
        ("9.22", "register"),
        ("9.0.1", "register"),
        ("C.51.2*01", "register"),
        ("ET0PE", "register"),
        ("HELLO", "register"),
    ],
)
def test_describe_text(key: str, name: str) -> None:
    """Identification, firmware, status, time: diagnostic text entities."""
    spec = _spec(key, None)
    assert spec.translation_key == name
    assert not spec.numeric
    assert spec.diagnostic
    assert spec.entity_category is EntityCategory.DIAGNOSTIC
    assert spec.group is (Group.HISTORY if spec.history else Group.METER_INFORMATION)
    assert spec.device_class is None
    assert spec.state_class is None
    assert spec.unit is None
    if name == "register":
        assert spec.placeholders == {"code": key}


def test_abstract_with_unit_is_numeric() -> None:
    """An abstract code that carries a unit is a number (Itron's C.13.21 in secs)."""
    spec = _spec("C.13.21", "secs")
    assert spec.numeric
    assert not spec.diagnostic
    assert (spec.device_class, spec.unit) == (Dc.DURATION, "s")


@pytest.mark.parametrize(
    ("key", "serial"),
    [
        ("C.1.0", True),
        ("0.0.0", True),
        ("96.1.255", True),
        ("9.20", True),
        ("9.21", True),
        ("0-1:96.1.0", True),
        ("1.8.0", False),
        ("ET0PE", False),
        ("9.7", False),
    ],
)
def test_is_serial_number(key: str, serial: bool) -> None:
    """Data sets with an id of the meter (redacted in diagnostics)."""
    assert catalog.is_serial_number(key) is serial


def test_preselect() -> None:
    """Current energy totals, power, phases and frequency; in order, no duplicates; no serial."""
    keys = [
        "1.8.0",
        "1.8.0*1",
        "2.8.0",
        "96.1.0",
        "97.97",
        "32.7",
        "1.8.1",
        "ET0PE",
        "1.8.0",
        "16.7",
        "0.2.0",
        "14.7.0",
        "1.6.0",
    ]
    assert catalog.preselect(keys) == [
        "1.8.0",
        "2.8.0",
        "32.7",
        "1.8.1",
        "16.7",
        "14.7.0",
    ]


def _readout(*pairs: tuple[str, str]) -> Readout:
    return Readout(
        identification=None,
        datasets=tuple(DataSet(address, (Value(value, None),)) for address, value in pairs),
    )


def test_datasets_by_key() -> None:
    """Keys are normalised OBIS codes (or the name as sent); the first of a repeated key wins."""
    readout = Readout(
        identification=None,
        datasets=(
            DataSet("0-0:C.1.0*255", (Value("123", None),)),
            DataSet("1.8.0", (Value("1.0", "kWh"),)),
            DataSet("1.8.0", (Value("2.0", "kWh"),)),
            DataSet(" ET0PE", (Value("5", None),)),
            DataSet("6.8.1", ()),
        ),
    )
    found = catalog.datasets_by_key(readout)
    assert list(found) == ["0-0:96.1.0*255", "1.8.0", "ET0PE", "6.8.1"]
    assert found["1.8.0"].values[0].value == "1.0"
    assert catalog.readout_values(readout) == {
        "0-0:96.1.0*255": Value("123", None),
        "1.8.0": Value("1.0", "kWh"),
        "ET0PE": Value("5", None),
    }


@pytest.mark.parametrize(
    ("pairs", "firmware"),
    [
        ((("0.2.0", "M27"), ("C.1.1", "X")), "M27"),
        ((("C.1.1", "V1.2"), ("0.2.0", "M26")), "M26"),
        ((("0.2.0", "   "), ("C.1.1", "V1.2")), "V1.2"),
        ((("C.1.1", "        "),), None),
        ((("0.2.0*01", "OLD"),), None),
        ((("1.8.0", "1"),), None),
    ],
)
def test_firmware(pairs: tuple[tuple[str, str], ...], firmware: str | None) -> None:
    """0.2.0 first, then C.1.1; blanks and history entries do not count."""
    assert catalog.firmware(_readout(*pairs)) == firmware


def test_firmware_without_values() -> None:
    """A firmware data set without a value is skipped."""
    readout = Readout(identification=None, datasets=(DataSet("0.2.0", ()),))
    assert catalog.firmware(readout) is None


# --- the entity description ---------------------------------------------------------------


def test_description_is_a_home_assistant_sensor_description() -> None:
    """describe() builds the entity description itself; the SensorSpec names still work."""
    spec = catalog.describe("1-0:21.7.0*255", "W")
    assert SensorSpec is DlmsSensorEntityDescription
    assert isinstance(spec, SensorEntityDescription)
    assert spec.key == "1-0:21.7.0*255"
    assert spec.translation_key == "power_import_phase"
    assert spec.translation_placeholders == {"phase": "L1"}
    assert spec.placeholders == {"phase": "L1"}
    assert spec.native_unit_of_measurement == spec.unit == "W"
    assert spec.device_class is Dc.POWER
    assert spec.state_class is Sc.MEASUREMENT
    assert spec.entity_category is None
    assert not spec.diagnostic
    assert spec.enabled_default
    assert spec.numeric
    assert not spec.lifetime_total
    assert not spec.guard_decrease
    assert not spec.history
    assert spec.group is Group.POWER
    with pytest.raises(FrozenInstanceError):
        spec.numeric = False  # type: ignore[misc]
    assert replace(spec, numeric=False).numeric is False


def test_placeholders_are_a_copy() -> None:
    """Changing the placeholders one gets never changes the description."""
    spec = catalog.describe("1.8.2", "kWh")
    spec.placeholders["tariff"] = "9"
    assert spec.placeholders == {"tariff": "2"}


# --- text or number: the value seen decides -------------------------------------------------


@pytest.mark.parametrize(
    ("key", "unit", "value", "numeric", "name"),
    [
        # a value that is no number, on a code the catalog has no quantity for: text
        ("82.8.1", None, "2013-11-28", False, "register"),
        ("82.8.1", None, "V01.69#EEA3546C", False, "register"),
        ("82.8.1", None, "0012.5", True, "register"),
        ("82.8.1", None, "", True, "register"),
        ("82.8.1", None, None, True, "register"),
        ("0-0:1.0.0", None, "230101120000W", False, "clock"),
        ("0-0:1.0.0", None, None, False, "clock"),
        ("0-1:24.1.0", None, "003", True, "register"),
        # known quantities stay numbers (shown unknown when a value is no number)
        ("1.8.0", "kWh", "ERR", True, "energy_import"),
        ("1.8.1", None, "ERR", True, "energy_import_tariff"),
        ("32.7", "V", "---", True, "voltage_phase"),
        ("6.8", "GJ", "ERR", True, "heat_energy"),
        # heat-meter settings and ids: text, even when they look like numbers
        ("9.7", None, "20000", False, "register"),
        ("9.21", None, "66153690", False, "ownership_number"),
        ("6.36.1", None, "2018-03-03", False, "register"),
        # a text value with a unit is still a number (the unit says so)
        ("C.13.21", "secs", "abc", True, "register"),
    ],
)
def test_text_or_number_from_the_value(
    key: str, unit: str | None, value: str | None, numeric: bool, name: str
) -> None:
    """Text registers never become numeric sensors; quantities never become text."""
    spec = catalog.describe(key, unit, value)
    assert spec.numeric is numeric
    assert spec.translation_key == name
    if not numeric:
        assert spec.diagnostic
        assert (spec.device_class, spec.state_class, spec.unit) == (None, None, None)
        assert spec.group is Group.METER_INFORMATION


def test_unit_less_apparent_code_on_a_heat_meter_is_no_apparent_power() -> None:
    """9.7(20000) on a Landis+Gyr heat meter is no electricity register; 9.7.0 in kVA is."""
    heat = catalog.describe("9.7", None, "20000")
    assert heat.translation_key == "register"
    assert not heat.numeric
    electricity = catalog.describe("1-0:9.7.0", "kVA", "0.5")
    assert electricity.translation_key == "apparent_power_import"
    assert electricity.numeric
    unit_less = catalog.describe("9.7.0", None, "0.5")
    assert unit_less.translation_key == "apparent_power_import"


def test_minutes_and_heat_meter_diagnostics() -> None:
    """6.35(60*m): the measuring period in minutes, a diagnostic duration; hours are counters."""
    period = catalog.describe("6.35", "m", "60")
    assert (period.translation_key, period.unit, period.device_class) == (
        "measuring_period",
        "min",
        Dc.DURATION,
    )
    assert period.state_class is Sc.MEASUREMENT
    assert period.diagnostic
    assert period.group is Group.METER_INFORMATION
    hours = catalog.describe("6.31", "h", "0107988")
    assert (hours.translation_key, hours.state_class, hours.diagnostic) == (
        "operating_hours",
        TI,
        True,
    )
    assert hours.group is Group.METER_INFORMATION
    generic_minutes = catalog.describe("C.13.22", "min")
    assert generic_minutes.group is Group.METER_INFORMATION
    assert not generic_minutes.diagnostic


# --- keys of history and multi-value data sets ------------------------------------------------


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("1.8.0", "1.8.0"),
        ("1-0:1.8.0*255", "1-0:1.8.0*255"),
        ("C.1.0", "96.1.0"),
        ("F.F", "97.97"),
        ("0-0:C.1.0*255", "0-0:96.1.0*255"),
        ("1.8.1*02", "1.8.1*2"),
        ("0.1.0*12", "0.1.0*12"),
        ("0.1.0&12", "0.1.0&12"),
        ("1-0:1.6.0&01", "1-0:1.6.0&1"),
        (" ET0PE", "ET0PE"),
    ],
)
def test_dataset_key(address: str, key: str) -> None:
    """Current codes keep today's keys; & history values keep their & and stay apart."""
    assert catalog.dataset_key(DataSet(address, (Value("1", None),))) == key


def test_star_and_ampersand_history_values_stay_apart() -> None:
    """A ZMD405 sends 0.1.0*12 and 0.1.0&12 with different values: both can be chosen."""
    readout = Readout(
        identification=None,
        datasets=(
            DataSet("0.1.0*12", (Value("21-01-01 00:00", None),)),
            DataSet("0.1.0&12", (Value("20-12-30 16:02", None),)),
            DataSet("0.1.0&12", (Value("later repeat", None),)),
        ),
    )
    assert catalog.readout_values(readout) == {
        "0.1.0*12": Value("21-01-01 00:00", None),
        "0.1.0&12": Value("20-12-30 16:02", None),
    }
    choices = catalog.entries(readout)
    assert [(c.key, c.address, c.code_text) for c in choices] == [
        ("0.1.0*12", "0.1.0*12", "0.1.0*12"),
        ("0.1.0&12", "0.1.0&12", "0.1.0&12"),
    ]
    assert all(c.group is Group.HISTORY for c in choices)
    assert all(c.description.enabled_default for c in choices)


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ((), []),
        ((Value("1.0", "kWh"),), [Value("1.0", "kWh")]),
        (
            (Value("098.5", "C"), Value("096.1", "C")),
            [Value("098.5", "C"), Value("096.1", "C")],
        ),
        ((Value("230101120000W", None), Value("00012.345", "m3")), [Value("00012.345", "m3")]),
        ((Value("180104231507S", None), Value("00212.529", None)), [Value("00212.529", None)]),
        ((Value("2017-01-18", None), Value("01:36:47", None)), [Value("2017-01-18 01:36:47")]),
        (
            (Value("000", None), Value("00010213", None), Value("0", None)),
            [Value("000 00010213 0")],
        ),
        ((Value("", None), Value("", None), Value("", None)), [Value("")]),
        ((Value("2", None), Value("0.5", "kW"), Value("x", None)), [Value("2 0.5 x", "kW")]),
        ((Value("02.468", "kW"), Value("1703100930", None)), [Value("02.468", "kW")]),
    ],
)
def test_shown_values(values: tuple[Value, ...], shown: list[Value]) -> None:
    """Measurements with units each; a DSMR time stamp dropped; text parts joined."""
    assert catalog.shown_values(values) == shown


@pytest.mark.parametrize(
    ("key", "split"),
    [
        ("9.4", ("9.4", 1)),
        ("9.4#2", ("9.4", 2)),
        ("9.4*1#2", ("9.4*1", 2)),
        ("9.4#1", ("9.4#1", 1)),
        ("9.4#x", ("9.4#x", 1)),
        ("#2", ("#2", 1)),
        ("ET0PE", ("ET0PE", 1)),
    ],
)
def test_split_key(key: str, split: tuple[str, int]) -> None:
    """Only #2, #3, ... after a data-set key address a further value."""
    assert catalog.split_key(key) == split
    assert catalog.value_key(*catalog.split_key(key)) == key


# --- heat meters, end to end ------------------------------------------------------------------

# Landis+Gyr Ultraheat UH50 readout published with ultraheat-api (the library Home Assistant's
# landisgyr_heat_meter uses): github.com/vpathuis/ultraheat, tests/LUGCUH50_dummy_utf8.txt.
UH50 = """/LUGCUH50
6.8(0328.871*GJ)6.26(03329.67*m3)9.21(66153690)
6.26*01(03188.07*m3)6.8*01(0314.658*GJ)
F(0)9.20(66153690)6.35(60*m)
6.6(0022.4*kW)6.6*01(0022.4*kW)6.33(000.744*m3ph)9.4(098.5*C&096.1*C)
6.31(0107988*h)6.32(0000005*h)9.22(R)9.6(000&66153690&0&000&66153690&0)
9.7(20000)6.32*01(0000005*h)6.36(01-01&00:00)6.33*01(000.744*m3ph)
6.8.1()6.8.2()6.8.3()6.8.4()6.8.5()
6.8.1*01()6.8.2*01()6.8.3*01()
6.8.4*01()6.8.5*01()
9.4*01(098.5*C&096.1*C)
6.36.1(2018-03-03)6.36.1*01(2018-03-03)
6.36.2(2020-06-23)6.36.2*01(2020-06-23)
6.36.3(2012-02-03)6.36.3*01(2012-02-03)
6.36.4(2017-01-18)6.36.4*01(2017-01-18)
6.36.5()6.36*02(01&00:00)9.36(2022-05-19&19:41:17)9.24(1.5*m3ph)
9.17(0)9.18()9.19()9.25()
9.1(0&1&0&0000&CECV&CECV&1&5.16&5.16&F&101008&040404&08&0)
9.2(&&)9.29()9.31(0028849*h)
9.0.1(00000000)9.0.2(00000000)9.34.1(000.00000*m3)9.34.2(000.00000*m3)
8.26.1(00000000*m3)8.26.2(00000000*m3)
8.26.1*01(00000000*m3)8.26.2*01(00000000*m3)
6.26.1()6.26.4()6.26.5()
6.26.1*01()6.26.4*01()6.26.5*01()0.0(66153690)
!
"""

_VALUE_WITH_UNIT = re.compile(r"(?P<value>[^*]*)(?:\*(?P<unit>.*))?")


def _split_ampersands(dataset: DataSet) -> DataSet:
    """The data set in the shape of the library's contract: one Value per &-separated part.

    The parser splits ``098.5*C&096.1*C`` itself once it implements that contract; until then
    this does it here, so the catalog is tested on the shape it will get.
    """
    values: list[Value] = []
    for value in dataset.values:
        if value.unit is not None or "&" not in value.value:
            values.append(value)
            continue
        for part in value.value.split("&"):
            match = _VALUE_WITH_UNIT.fullmatch(part)
            assert match is not None
            values.append(Value(match["value"], match["unit"] or None))
    return DataSet(dataset.address, tuple(values))


def _heat_readout(text: str) -> Readout:
    body = text.split("\n", 1)[1].replace("\n", "\r\n")
    datasets = tuple(_split_ampersands(ds) for ds in parse_data_lines(body))
    return Readout(identification=None, datasets=datasets)


def _table(readout: Readout) -> dict[str, tuple[str, str | None, bool, Group]]:
    return {
        entry.key: (
            entry.description.translation_key,
            entry.description.unit,
            entry.description.numeric,
            entry.group,
        )
        for entry in catalog.entries(readout)
    }


def test_ultraheat_uh50_readout() -> None:
    """Heat, volume, power, flow, temperatures, hours as numbers; dates and ids as text."""
    readout = _heat_readout(UH50)
    table = _table(readout)
    expected = {
        "6.8": ("heat_energy", "GJ", True, Group.ENERGY),
        "6.26": ("volume", "m³", True, Group.ENERGY),
        "9.21": ("ownership_number", None, False, Group.METER_INFORMATION),
        "6.26*1": ("register", "m³", True, Group.HISTORY),
        "97": ("error_register", None, False, Group.METER_INFORMATION),
        "9.20": ("device_number", None, False, Group.METER_INFORMATION),
        "6.35": ("measuring_period", "min", True, Group.METER_INFORMATION),
        "6.6": ("heat_power_max", "kW", True, Group.POWER),
        "6.33": ("flow_rate_max", "m³/h", True, Group.POWER),
        "9.4": ("flow_temperature_max", "°C", True, Group.POWER),
        "9.4#2": ("return_temperature_max", "°C", True, Group.POWER),
        "6.31": ("operating_hours", "h", True, Group.METER_INFORMATION),
        "6.32": ("fault_hours", "h", True, Group.METER_INFORMATION),
        "9.22": ("register", None, False, Group.METER_INFORMATION),
        "9.6": ("register", None, False, Group.METER_INFORMATION),
        "9.7": ("register", None, False, Group.METER_INFORMATION),
        "6.36": ("billing_date", None, False, Group.METER_INFORMATION),
        "9.4*1": ("register", "°C", True, Group.HISTORY),
        "9.4*1#2": ("register", "°C", True, Group.HISTORY),
        "6.36.1": ("register", None, False, Group.METER_INFORMATION),
        "6.36.1*1": ("register", None, False, Group.HISTORY),
        "9.36": ("meter_date_time", None, False, Group.METER_INFORMATION),
        "9.24": ("measuring_range", "m³/h", True, Group.METER_INFORMATION),
        "9.1": ("settings_and_firmware", None, False, Group.METER_INFORMATION),
        "9.31": ("flow_hours", "h", True, Group.METER_INFORMATION),
        "9.0.1": ("register", None, False, Group.METER_INFORMATION),
        "8.26.1": ("register", "m³", True, Group.ENERGY),
        "0.0": ("meter_id", None, False, Group.METER_INFORMATION),
    }
    assert {key: table[key] for key in expected} == expected
    values = catalog.readout_values(readout)
    assert values["9.4"] == Value("098.5", "C")
    assert values["9.4#2"] == Value("096.1", "C")
    assert values["9.36"].value == "2022-05-19 19:41:17"
    assert values["9.1"].value.startswith("0 1 0 0000 CECV")
    # no electricity name anywhere on a heat meter
    electricity = {"apparent_power_import", "reactive_energy_quadrant", "reactive_power_quadrant"}
    assert not {name for name, *_ in table.values()} & electricity
    assert catalog.preselect(values) == ["6.8", "6.26"]
    heat = catalog.describe("6.8", "GJ", "0328.871")
    assert heat.lifetime_total
    assert heat.state_class is Sc.TOTAL_INCREASING


def test_siemens_2wr5_capture() -> None:
    """The Siemens 2WR5 (the UH50's predecessor) from the corpus: MWh heat, integer temperatures."""
    (readout,) = parse_capture(raw_bytes(17), Checksum.NONE)
    readout = replace(readout, datasets=tuple(_split_ampersands(d) for d in readout.datasets))
    table = _table(readout)
    assert table["6.8"] == ("heat_energy", "MWh", True, Group.ENERGY)
    assert table["9.4"] == ("flow_temperature_max", "°C", True, Group.POWER)
    assert table["9.4#2"] == ("return_temperature_max", "°C", True, Group.POWER)
    assert table["9.7"] == ("register", None, False, Group.METER_INFORMATION)
    assert table["6.36.5"] == ("register", None, False, Group.METER_INFORMATION)
    assert table["0.0"] == ("meter_id", None, False, Group.METER_INFORMATION)
    assert catalog.readout_values(readout)["9.4#2"] == Value("082", "C")
    assert catalog.manufacturer_name(readout.identification.manufacturer) == "Siemens"  # type: ignore[union-attr]


def test_kamstrup_multical_capture() -> None:
    """The Kamstrup Multical 66 from the corpus: GJ, m³ and hours without A-B prefix."""
    (readout,) = parse_capture(raw_bytes(16), Checksum.NONE)
    table = _table(readout)
    assert table == {
        "0.0": ("meter_id", None, False, Group.METER_INFORMATION),
        "6.8": ("heat_energy", "GJ", True, Group.ENERGY),
        "6.26": ("volume", "m³", True, Group.ENERGY),
        "6.31": ("operating_hours", "h", True, Group.METER_INFORMATION),
    }
    assert catalog.preselect(catalog.datasets_by_key(readout)) == ["6.8", "6.26"]


def test_dsmr_gas_and_clock_capture() -> None:
    """A DSMR meter: the clock is text, the gas reading (after its time stamp) a volume."""
    (readout,) = parse_capture(raw_bytes(28), Checksum.NONE)
    values = catalog.readout_values(readout)
    assert values["0-1:24.2.1"] == Value("00212.529", "m3")
    table = _table(readout)
    assert table["0-1:24.2.1"] == ("submeter", "m³", True, Group.ENERGY)
    assert table["0-0:1.0.0"] == ("clock", None, False, Group.METER_INFORMATION)
    assert table["1-0:32.32.0"][0] == "voltage_sags_phase"
    assert table["1-0:32.32.0"][3] is Group.GRID_QUALITY


# --- the picker -------------------------------------------------------------------------------


def test_picker_entries_as_the_meter_wrote_them() -> None:
    """Each data set as written, the normalised code where it differs, grouped in order."""
    readout = Readout(
        identification=None,
        datasets=(
            DataSet("F.F", (Value("00", None),)),
            DataSet("C.1.0", (Value("12345678", None),)),
            DataSet("1.8.1", (Value("001234.5", "kWh"),)),
            DataSet("1.8.1*02", (Value("001200.0", "kWh"),)),
            DataSet("32.7", (Value("230.1", "V"),)),
            DataSet("16.7", (Value("0.42", "kW"),)),
            DataSet("9.4", (Value("55.0", "C"), Value("40.0", "C"))),
            DataSet("82.8.1", (Value("7", None),)),
            DataSet("0.9.1", ()),
            DataSet("1.8.1", (Value("repeat", "kWh"),)),
        ),
    )
    choices = catalog.entries(readout)
    assert [(c.key, c.code_text, c.index) for c in choices] == [
        ("97.97", "F.F (97.97)", 1),
        ("96.1.0", "C.1.0 (96.1.0)", 1),
        ("1.8.1", "1.8.1", 1),
        ("1.8.1*2", "1.8.1*02 (1.8.1*2)", 1),
        ("32.7", "32.7", 1),
        ("16.7", "16.7", 1),
        ("9.4", "9.4", 1),
        ("9.4#2", "9.4 #2", 2),
        ("82.8.1", "82.8.1", 1),
        ("0.9.1", "0.9.1", 1),
    ]
    assert choices[2].value == Value("001234.5", "kWh")
    assert choices[-1].value is None
    assert choices[-1].description.translation_key == "time"
    groups = catalog.grouped(choices)
    assert list(groups) == [
        Group.ENERGY,
        Group.POWER,
        Group.GRID_QUALITY,
        Group.HISTORY,
        Group.METER_INFORMATION,
        Group.OTHER,
    ]
    assert [c.key for c in groups[Group.ENERGY]] == ["1.8.1"]
    assert [c.key for c in groups[Group.POWER]] == ["16.7", "9.4", "9.4#2"]
    assert [c.key for c in groups[Group.GRID_QUALITY]] == ["32.7"]
    assert [c.key for c in groups[Group.HISTORY]] == ["1.8.1*2"]
    assert [c.key for c in groups[Group.METER_INFORMATION]] == ["97.97", "96.1.0", "0.9.1"]
    assert [c.key for c in groups[Group.OTHER]] == ["82.8.1"]
    assert catalog.grouped([]) == {}
    assert catalog.GROUPS[0] is Group.ENERGY
    assert catalog.group("32.7", "V") is Group.GRID_QUALITY


@pytest.mark.parametrize(
    ("key", "unit", "name", "placeholders"),
    [
        ("1.8.1*2", "kWh", "energy_import_tariff", {"tariff": "1"}),
        ("1.8.1", "kWh", "energy_import_tariff", {"tariff": "1"}),
        ("0.1.0&12", None, "billing_period_counter", {}),
        ("9.4*1#2", "C", "return_temperature_max", {}),
        ("82.8.1*3", None, "register", {"code": "82.8.1*3"}),
        ("ET0PE", None, "register", {"code": "ET0PE"}),
    ],
)
def test_name_of_history_values(
    key: str, unit: str | None, name: str, placeholders: dict[str, str]
) -> None:
    """The picker names a history value like the register it stores (its entity stays generic)."""
    assert catalog.name_of(key, unit) == (name, placeholders)


@pytest.mark.parametrize(
    ("key", "group"),
    [
        ("1.8.0", Group.ENERGY),
        ("3.8.0", Group.ENERGY),
        ("1.7.0", Group.POWER),
        ("3.7.0", Group.POWER),
        ("9.7.0", Group.POWER),
        ("1.6.0", Group.POWER),
        ("32.7.0", Group.GRID_QUALITY),
        ("31.7.0", Group.GRID_QUALITY),
        ("14.7.0", Group.GRID_QUALITY),
        ("13.7.0", Group.GRID_QUALITY),
        ("1.8.0*1", Group.HISTORY),
        ("13.7.0*1", Group.HISTORY),
        ("96.1.0", Group.METER_INFORMATION),
        ("82.8.1", Group.OTHER),
    ],
)
def test_groups(key: str, group: Group) -> None:
    """Energy, power, grid quality, history, meter information; the rest under other."""
    unit = {
        "1.8.0": "kWh",
        "3.8.0": "kvarh",
        "1.7.0": "kW",
        "3.7.0": "kvar",
        "9.7.0": "kVA",
        "1.6.0": "kW",
        "32.7.0": "V",
        "31.7.0": "A",
        "14.7.0": "Hz",
        "1.8.0*1": "kWh",
    }.get(key)
    assert catalog.group(key, unit) is group


def test_preselect_takes_units_from_values_or_data_sets() -> None:
    """With values the units count: heat energy and volume; never the ids."""
    values: dict[str, Value | None] = {
        "6.8": Value("1", "MWh"),
        "6.26": Value("2", "m3"),
        "9.20": Value("3", None),
        "1.8.0": None,
        "1.8.0*1": Value("1", "kWh"),
    }
    assert catalog.preselect(values) == ["6.8", "6.26", "1.8.0"]
    assert catalog.preselect(["6.8", "6.26"]) == []
    datasets = {"6.8": DataSet("6.8", (Value("1", "GJ"),)), "6.26": DataSet("6.26", ())}
    assert catalog.preselect(datasets) == ["6.8"]
    assert not catalog.is_preselected("ET0PE")
    assert not catalog.is_preselected("96.1.0")


# --- translations -----------------------------------------------------------------------------

_TRANSLATIONS = Path(catalog.__file__).parent / "translations"
_PLACEHOLDER = re.compile(r"{(\w+)}")


@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_name_is_translated(lang: str) -> None:
    """Every translation key the catalog can give has a name in both languages."""
    names = json.loads((_TRANSLATIONS / f"{lang}.json").read_text(encoding="utf-8"))
    sensors = names["entity"]["sensor"]
    missing = sorted(key for key in catalog.TRANSLATION_KEYS if key not in sensors)
    assert not missing


def _placeholders_given(key: str, unit: str | None) -> set[str]:
    return set(catalog.describe(key, unit).placeholders)


@pytest.mark.parametrize(
    ("key", "unit"),
    [
        ("21.7.0", "W"),
        ("1.8.3", "kWh"),
        ("6.8.1", "GJ"),
        ("5.8.0", "kvarh"),
        ("0-2:24.2.1", "m3"),
        ("82.8.1", None),
        ("34.7.0", "Hz"),
    ],
)
def test_placeholders_match_the_names(key: str, unit: str | None) -> None:
    """The placeholders a description gives are exactly those its name uses (en and de)."""
    spec = catalog.describe(key, unit)
    for lang in ("en", "de"):
        names = json.loads((_TRANSLATIONS / f"{lang}.json").read_text(encoding="utf-8"))
        text = names["entity"]["sensor"][spec.translation_key]["name"]
        assert set(_PLACEHOLDER.findall(text)) == _placeholders_given(key, unit)


@pytest.mark.parametrize(
    ("stored", "found"),
    [
        ("1.6.0*1", "1.6.0&1"),
        ("9.4*1#2", "9.4&1#2"),
        ("1.8.0*1", "1.8.0*1"),
        ("1.8.0", "1.8.0"),
        ("2.8.0*3", "2.8.0*3"),
        ("ET0PE", "ET0PE"),
    ],
)
def test_current_key_of_codes_stored_before(stored: str, found: str) -> None:
    """Entries that stored a & history value under its * key keep finding it."""
    values = {"1.6.0&1": 1, "9.4&1": 2, "9.4&1#2": 3, "1.8.0*1": 4, "1.8.0&1": 5, "1.8.0": 6}
    assert catalog.current_key(stored, values) == found
