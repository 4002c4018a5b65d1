"""The OBIS catalog: names, device/state classes, units, numbers, makers, pre-selection."""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass as Dc, SensorStateClass as Sc
import pytest

from custom_components.dlms_meter import catalog
from custom_components.dlms_meter.catalog import SensorSpec
from custom_components.dlms_meter.iec62056 import DataSet, Readout, Value

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
        ("", ""),
    ],
)
def test_manufacturer_name(flag: str, name: str) -> None:
    """FLAG ids map to makers case-insensitively; unknown ids stay as sent."""
    assert catalog.manufacturer_name(flag) == name


def test_manufacturer_table_is_large() -> None:
    """At least 20 makers, all keyed by upper-case 3-letter ids."""
    assert len(catalog.MANUFACTURERS) >= 20
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
        ("h", "h"),
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
        # heat meters: the unit decides; the reactive-quadrant name does not fit GJ
        ("6.8", "GJ", "register", {"code": "6.8"}, Dc.ENERGY, TI, "GJ"),
        ("6.8", "MWh", "register", {"code": "6.8"}, Dc.ENERGY, TI, "MWh"),
        ("6.26", "m3", "register", {"code": "6.26"}, Dc.VOLUME, TI, "m³"),
        ("6.31", "h", "register", {"code": "6.31"}, Dc.DURATION, TI, "h"),
        ("6.33", "m3ph", "register", {"code": "6.33"}, Dc.VOLUME_FLOW_RATE, M, "m³/h"),
        ("6.6", "kW", "register", {"code": "6.6"}, Dc.POWER, M, "kW"),
        # running billing period and the Logarex period registers may reset: no guard
        ("1.9.0", "kWh", "register", {"code": "1.9.0"}, Dc.ENERGY, TI, "kWh"),
        ("1.8.0*100", "kWh", "register", {"code": "1.8.0*100"}, Dc.ENERGY, TI, "kWh"),
        # unknown numeric register without a unit, and a named one with an unknown unit
        ("82.8.1", None, "register", {"code": "82.8.1"}, None, None, None),
        ("1.8.0", "kVAh", "energy_import", {}, None, M, "kVAh"),
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
    ],
)
def test_guarded_totals(key: str, guarded: bool) -> None:
    """Only lifetime totals are protected against going down."""
    unit = {"1.7.0": "kW", "3.8.0": "kvarh", "6.26": "m3"}.get(key, "kWh")
    assert _spec(key, unit).guard_decrease is guarded


@pytest.mark.parametrize(
    ("key", "unit"),
    [("1.8.0*01", "kWh"), ("1-0:1.8.0*15", None), ("1.6.0&01", "kW"), ("32.7*1", "V")],
)
def test_history_values(key: str, unit: str | None) -> None:
    """History entries are disabled, nameless (generic) and kept out of statistics."""
    spec = _spec(key, unit)
    assert not spec.enabled_default
    assert spec.state_class is None
    assert not spec.guard_decrease
    assert spec.translation_key == "register"


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
        ("0.1.0", "register"),
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
    [("C.1.0", True), ("0.0.0", True), ("96.1.255", True), ("1.8.0", False), ("ET0PE", False)],
)
def test_is_serial_number(key: str, serial: bool) -> None:
    """Data sets with an id of the meter (redacted in diagnostics)."""
    assert catalog.is_serial_number(key) is serial


def test_preselect() -> None:
    """Current energy totals, power, phases, frequency and serial; in order, no duplicates."""
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
        "96.1.0",
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
