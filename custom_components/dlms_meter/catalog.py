"""What the integration knows about OBIS codes, units and meter makers.

Pure data and pure functions: given a data-set key (the normalised OBIS code
``str(parse_obis(address))``, or the address itself for names that are not OBIS codes) and the
unit the meter sent, :func:`describe` says how the value is shown in Home Assistant.

Rules (in this order):

1. History values (F group 0..99: ``1.8.0*01``, the ``*VZ``/``&VZ`` billing-period entries) are
   disabled by default and never feed long-term statistics (state class ``None``).
2. The unit sent decides the device class (``kWh`` -> energy, ``V`` -> voltage, ...). Units are
   matched exactly first, then case-insensitively (``kVArh`` -> ``kvarh``, ``m3`` -> ``m³``).
3. No unit: an active-energy register (C 1, 2, 15, 16 or per phase, D 8) is taken as kWh, as
   every push meter that omits it (EMH and Hager eHZ, Pafal) means; a power factor (C 13, 33, 53,
   73, D 7) is unit-less by definition.
4. Current values with an energy, volume or hours unit are ``TOTAL_INCREASING``. Lifetime totals
   among them (D not 9/29, F absent or 255) are guarded: a reading lower than the last accepted
   one is not published. Running billing-period registers (D 9/29, F 100+) may reset.
5. Values without a unit in an abstract group (C 0 or 96..99, i.e. also the letters C/F/L/P:
   identification, firmware, time, date, status and error registers) and non-OBIS names without a
   unit are diagnostic text entities.
6. Known codes get a translated name (``entity.sensor.<translation_key>``), everything else the
   generic ``register`` name that shows the code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
import re
from typing import Final

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import (
    PERCENTAGE,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactiveEnergy,
    UnitOfReactivePower,
    UnitOfTemperature,
    UnitOfTime,
    UnitOfVolume,
    UnitOfVolumeFlowRate,
)

from .iec62056 import DataSet, ObisCode, Readout, parse_obis

# --- manufacturers ----------------------------------------------------------------------

MANUFACTURERS: Final[Mapping[str, str]] = {
    "ABB": "ABB",
    "ACE": "Itron (Actaris)",
    "AEG": "AEG",
    "AMT": "Aclara",
    "APA": "Apator",
    "BCE": "Berg Energiekontrollsysteme",
    "CTA": "ZIV (Circutor)",
    "DZG": "DZG Metering",
    "EBZ": "eBZ",
    "EFR": "EFR",
    "EKT": "Energomera",
    "ELS": "Elster",
    "EMH": "EMH metering",
    "ESY": "EasyMeter",
    "GMC": "Gossen Metrawatt",
    "HAG": "Hager",
    "HLY": "Holley",
    "ISK": "Iskraemeco",
    "ITF": "Itron",
    "ITR": "Itron",
    "KAM": "Kamstrup",
    "KFM": "Kaifa",
    "KMP": "Kamstrup",
    "LGF": "Landis+Gyr",
    "LGZ": "Landis+Gyr",
    "LOG": "Logarex",
    "NZR": "Nordwestdeutsche Zählerrevision",
    "PAF": "Pafal",
    "SAG": "Sagemcom",
    "SIE": "Siemens",
    "SLB": "Schlumberger",
    "SEN": "Sensus",
    "XMX": "Xemex",
    "ZIV": "ZIV",
    "ZPA": "ZPA Smart Energy",
}


def manufacturer_name(flag_id: str) -> str:
    """Name of the maker behind a 3-letter FLAG id (case-insensitive); unknown ids as sent."""
    flag = flag_id.strip()
    return MANUFACTURERS.get(flag.upper(), flag)


# --- units ------------------------------------------------------------------------------

_ENERGY_UNITS: Final = frozenset(
    {
        UnitOfEnergy.WATT_HOUR,
        UnitOfEnergy.KILO_WATT_HOUR,
        UnitOfEnergy.MEGA_WATT_HOUR,
        UnitOfEnergy.GIGA_WATT_HOUR,
        UnitOfEnergy.MEGA_JOULE,
        UnitOfEnergy.GIGA_JOULE,
    }
)

_UNITS: Final[Mapping[str, str]] = {
    unit.lower(): unit
    for unit in (
        *_ENERGY_UNITS,
        *UnitOfReactiveEnergy,
        UnitOfPower.WATT,
        UnitOfPower.KILO_WATT,
        UnitOfPower.MEGA_WATT,
        *UnitOfReactivePower,
        *UnitOfApparentPower,
        UnitOfElectricPotential.VOLT,
        UnitOfElectricPotential.KILOVOLT,
        UnitOfElectricCurrent.AMPERE,
        UnitOfElectricCurrent.MILLIAMPERE,
        UnitOfFrequency.HERTZ,
        UnitOfVolume.CUBIC_METERS,
        UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR,
        UnitOfTime.HOURS,
        UnitOfTime.SECONDS,
        UnitOfTemperature.CELSIUS,
        UnitOfTemperature.KELVIN,
        PERCENTAGE,
    )
} | {
    # what meters write instead
    "mwh": UnitOfEnergy.MEGA_WATT_HOUR,  # no meter counts milliwatt-hours
    "mw": UnitOfPower.MEGA_WATT,
    "mvar": UnitOfReactivePower.MILLIVOLT_AMPERE_REACTIVE,
    "m3": UnitOfVolume.CUBIC_METERS,
    "m3ph": UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR,
    "m3/h": UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR,
    "sec": UnitOfTime.SECONDS,
    "secs": UnitOfTime.SECONDS,
    "c": UnitOfTemperature.CELSIUS,
    "°c": UnitOfTemperature.CELSIUS,
    "deg": "°",
}

_EXACT: Final = frozenset(_UNITS.values())

_DEVICE_CLASS_BY_UNIT: Final[Mapping[str, SensorDeviceClass]] = {
    **dict.fromkeys(_ENERGY_UNITS, SensorDeviceClass.ENERGY),
    **dict.fromkeys(UnitOfReactiveEnergy, SensorDeviceClass.REACTIVE_ENERGY),
    **dict.fromkeys(
        (UnitOfPower.WATT, UnitOfPower.KILO_WATT, UnitOfPower.MEGA_WATT), SensorDeviceClass.POWER
    ),
    **dict.fromkeys(UnitOfReactivePower, SensorDeviceClass.REACTIVE_POWER),
    **dict.fromkeys(UnitOfApparentPower, SensorDeviceClass.APPARENT_POWER),
    UnitOfElectricPotential.VOLT: SensorDeviceClass.VOLTAGE,
    UnitOfElectricPotential.KILOVOLT: SensorDeviceClass.VOLTAGE,
    UnitOfElectricCurrent.AMPERE: SensorDeviceClass.CURRENT,
    UnitOfElectricCurrent.MILLIAMPERE: SensorDeviceClass.CURRENT,
    UnitOfFrequency.HERTZ: SensorDeviceClass.FREQUENCY,
    UnitOfVolume.CUBIC_METERS: SensorDeviceClass.VOLUME,
    UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR: SensorDeviceClass.VOLUME_FLOW_RATE,
    UnitOfTime.HOURS: SensorDeviceClass.DURATION,
    UnitOfTime.SECONDS: SensorDeviceClass.DURATION,
    UnitOfTemperature.CELSIUS: SensorDeviceClass.TEMPERATURE,
    UnitOfTemperature.KELVIN: SensorDeviceClass.TEMPERATURE,
}

# device classes whose current values are counters that only grow
_COUNTER_CLASSES: Final = frozenset(
    {
        SensorDeviceClass.ENERGY,
        SensorDeviceClass.REACTIVE_ENERGY,
        SensorDeviceClass.VOLUME,
    }
)


def normalize_unit(unit: str | None) -> str | None:
    """The Home Assistant spelling of a unit a meter sent (None for none or blank)."""
    if unit is None or not (text := unit.strip()):
        return None
    if text in _EXACT:
        return text
    return _UNITS.get(text.lower(), text)


# --- numbers ----------------------------------------------------------------------------

_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def parse_number(text: str | None) -> float | None:
    """The number in a value as meters write it (``  0012.5``, ``+00026``, ``-73.69``)."""
    if text is None:
        return None
    stripped = text.strip()
    if not _NUMBER.fullmatch(stripped):
        return None
    return float(stripped)


# --- OBIS groups ------------------------------------------------------------------------


def is_history(code: ObisCode | None) -> bool:
    """A stored billing-period value (F group 0..99: ``*VZ`` / ``&VZ``)."""
    return code is not None and code.f is not None and 0 <= code.f <= 99


def _is_current(code: ObisCode) -> bool:
    return code.f is None or code.f == 255


# --- descriptions -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """How one data set is shown."""

    key: str
    translation_key: str
    placeholders: dict[str, str] = field(default_factory=dict)
    device_class: SensorDeviceClass | None = None
    state_class: SensorStateClass | None = None
    unit: str | None = None
    numeric: bool = True
    diagnostic: bool = False
    enabled_default: bool = True
    guard_decrease: bool = False


GENERIC_KEY: Final = "register"

_PHASES: Final = ("L1", "L2", "L3")
_QUADRANTS: Final = ("Q1", "Q2", "Q3", "Q4")

# (base quantity, D) -> translation key; base quantity = C for totals, (C - 1) % 20 + 1 per phase
_TOTAL_NAMES: Final[Mapping[tuple[int, int], str]] = {
    (1, 8): "energy_import",
    (2, 8): "energy_export",
    (3, 8): "reactive_energy_import",
    (4, 8): "reactive_energy_export",
    (9, 8): "apparent_energy_import",
    (10, 8): "apparent_energy_export",
    (15, 8): "energy_absolute",
    (16, 8): "energy_net",
    (1, 7): "power_import",
    (2, 7): "power_export",
    (3, 7): "reactive_power_import",
    (4, 7): "reactive_power_export",
    (9, 7): "apparent_power_import",
    (10, 7): "apparent_power_export",
    (11, 7): "current",
    (12, 7): "voltage",
    (13, 7): "power_factor",
    (14, 7): "frequency",
    (15, 7): "power_absolute",
    (16, 7): "power_total",
    (1, 6): "demand_import_max",
    (2, 6): "demand_export_max",
}
_PHASE_NAMES: Final[Mapping[tuple[int, int], str]] = {
    (1, 8): "energy_import_phase",
    (2, 8): "energy_export_phase",
    (1, 7): "power_import_phase",
    (2, 7): "power_export_phase",
    (11, 7): "current_phase",
    (12, 7): "voltage_phase",
    (13, 7): "power_factor_phase",
    (16, 7): "power_total_phase",
}
# keys that also exist per tariff (E 1..9): key -> tariff key
_TARIFF_NAMES: Final[Mapping[str, str]] = {
    "energy_import": "energy_import_tariff",
    "energy_export": "energy_export_tariff",
}
# abstract codes (C, D, E) -> key; E None matches any E (letters as numbers: C=96, F=97)
_ABSTRACT_NAMES: Final[Mapping[tuple[int, int | None, int | None], str]] = {
    (96, 1, 0): "serial_number",  # C.1.0
    (96, 1, None): "equipment_id",  # C.1.1, 96.1.255 (EMH), DSMR 96.1.1
    (0, 0, 0): "meter_id",
    (0, 0, None): "meter_id",  # E350 writes 0.0
    (0, 2, 0): "firmware",
    (97, 97, None): "error_register",  # F.F
    (97, None, None): "error_register",  # F on heat meters
    (96, 5, None): "status_register",  # C.5.0, 96.5.5
    (96, 7, 0): "power_failures",  # C.7.0
    (0, 9, 1): "time",
    (0, 9, 2): "date",
}
SERIAL_NUMBER_KEYS: Final = frozenset({"serial_number", "meter_id", "equipment_id"})
_ACTIVE_ENERGY_C: Final = frozenset({1, 2, 15, 16, 21, 22, 41, 42, 61, 62})
_POWER_FACTOR_C: Final = frozenset({13, 33, 53, 73})
_ABSTRACT_C: Final = frozenset({0, 96, 97, 98, 99})
_PERIOD_D: Final = frozenset({9, 29})  # energy of the running billing / profile period: resets


def _electricity(code: ObisCode) -> bool:
    return code.a in (None, 1)


def _name(code: ObisCode) -> tuple[str, dict[str, str]] | None:
    """Translation key and placeholders of a known register (None: generic name)."""
    if not _is_current(code):
        return None
    if code.c in _ABSTRACT_C:
        key = _ABSTRACT_NAMES.get((code.c, code.d, code.e)) or _ABSTRACT_NAMES.get(
            (code.c, code.d, None)
        )
        return None if key is None else (key, {})
    c, d = code.c, code.d
    e = 0 if code.e in (None, 255) else code.e  # EasyMeter < V3.04 writes 21.7.255
    if d is None or not _electricity(code):
        return None
    if c == 91 and d == 7 and e == 0:
        return "current_neutral", {}
    if 5 <= c <= 8 and e == 0 and d in (7, 8):
        base = "reactive_energy_quadrant" if d == 8 else "reactive_power_quadrant"
        return base, {"quadrant": _QUADRANTS[c - 5]}
    if 1 <= c <= 16 and (name := _TOTAL_NAMES.get((c, d))):
        if e == 0:
            return name, {}
        if 1 <= e <= 9 and (tariff := _TARIFF_NAMES.get(name)):
            return tariff, {"tariff": str(e)}
        return None
    if 21 <= c <= 80 and e == 0 and (name := _PHASE_NAMES.get(((c - 1) % 20 + 1, d))):
        return name, {"phase": _PHASES[(c - 1) // 20 - 1]}
    return None


# what the unit of a named register must mean (by name prefix, first match wins)
_NAME_CLASSES: Final = (
    ("energy_", SensorDeviceClass.ENERGY),
    ("reactive_energy", SensorDeviceClass.REACTIVE_ENERGY),
    ("power_factor", SensorDeviceClass.POWER_FACTOR),
    ("power_", SensorDeviceClass.POWER),
    ("demand_", SensorDeviceClass.POWER),
    ("reactive_power", SensorDeviceClass.REACTIVE_POWER),
    ("apparent_power", SensorDeviceClass.APPARENT_POWER),
    ("current", SensorDeviceClass.CURRENT),
    ("voltage", SensorDeviceClass.VOLTAGE),
    ("frequency", SensorDeviceClass.FREQUENCY),
)


def _fits(name: str, unit: str | None) -> bool:
    """Whether a unit the meter sent fits the quantity a name stands for.

    A heat meter's ``6.8`` in GJ is heat energy, not reactive energy Q2: such a code gets the
    generic name (its device class still follows the unit).
    """
    device_class = _DEVICE_CLASS_BY_UNIT.get(unit) if unit else None
    if device_class is None:
        return True
    expected = next((cls for prefix, cls in _NAME_CLASSES if name.startswith(prefix)), None)
    return expected is None or expected == device_class


def describe(key: str, unit: str | None) -> SensorSpec:
    """How the data set ``key`` with the unit ``unit`` (as sent) is shown."""
    code = parse_obis(key)
    ha_unit = normalize_unit(unit)
    named = _name(code) if code is not None else None
    if named is not None and not _fits(named[0], ha_unit):
        named = None
    translation_key, placeholders = named or (GENERIC_KEY, {"code": key})
    history = is_history(code)

    if ha_unit is None and code is not None and _electricity(code):
        if code.c in _ACTIVE_ENERGY_C and code.d == 8:
            ha_unit = UnitOfEnergy.KILO_WATT_HOUR
        elif code.c in _POWER_FACTOR_C and code.d == 7:
            return SensorSpec(
                key,
                translation_key,
                placeholders,
                device_class=SensorDeviceClass.POWER_FACTOR,
                state_class=None if history else SensorStateClass.MEASUREMENT,
                enabled_default=not history,
            )

    if ha_unit is None and (code is None or code.c in _ABSTRACT_C):
        return SensorSpec(
            key,
            translation_key,
            placeholders,
            numeric=False,
            diagnostic=True,
            enabled_default=not history,
        )

    device_class = _DEVICE_CLASS_BY_UNIT.get(ha_unit) if ha_unit else None
    if ha_unit == PERCENTAGE and code is not None and code.c in _POWER_FACTOR_C:
        device_class = SensorDeviceClass.POWER_FACTOR
    state_class: SensorStateClass | None = None
    guard = False
    if history:
        state_class = None
    elif device_class in _COUNTER_CLASSES or ha_unit == UnitOfTime.HOURS:
        state_class = SensorStateClass.TOTAL_INCREASING
        guard = code is None or (_is_current(code) and code.d not in _PERIOD_D)
    elif ha_unit is not None:
        state_class = SensorStateClass.MEASUREMENT
    return SensorSpec(
        key,
        translation_key,
        placeholders,
        device_class=device_class,
        state_class=state_class,
        unit=ha_unit,
        enabled_default=not history,
        guard_decrease=guard,
    )


def is_serial_number(key: str) -> bool:
    """Whether the data set carries the meter's serial number or another id of the meter."""
    code = parse_obis(key)
    named = _name(code) if code is not None else None
    return named is not None and named[0] in SERIAL_NUMBER_KEYS


_FIRMWARE_CODES: Final = ((0, 2, 0), (96, 1, 1))  # 0.2.0, else C.1.1


def firmware(readout: Readout) -> str | None:
    """The firmware version a readout names (0.2.0, else C.1.1), if not blank."""
    found: dict[tuple[int, int | None, int | None], str] = {}
    for dataset in readout.datasets:
        code, value = dataset.obis, dataset.value
        if code is None or value is None or code.is_history or not (text := value.value.strip()):
            continue
        found.setdefault((code.c, code.d, code.e), text)
    return next((found[wanted] for wanted in _FIRMWARE_CODES if wanted in found), None)


# --- pre-selection ----------------------------------------------------------------------

_PRESELECTED_NAMES: Final = frozenset(
    {
        "energy_import",
        "energy_import_tariff",
        "energy_export",
        "energy_export_tariff",
        "power_import",
        "power_export",
        "power_total",
        "voltage_phase",
        "current_phase",
        "power_factor_phase",
        "power_factor",
        "frequency",
        "serial_number",
    }
)


def is_preselected(key: str) -> bool:
    """Whether a data set is chosen by default: energy totals, power, phases, frequency, serial."""
    code = parse_obis(key)
    if code is None or is_history(code):
        return False
    named = _name(code)
    return named is not None and named[0] in _PRESELECTED_NAMES


def preselect(keys: Iterable[str]) -> list[str]:
    """The keys (in order, without duplicates) chosen by default among those a meter sent."""
    return [key for key in dict.fromkeys(keys) if is_preselected(key)]


# --- data sets of a readout ---------------------------------------------------------------


def dataset_key(dataset: DataSet) -> str:
    """The key of a data set: its normalised OBIS code, or the address as sent if not OBIS."""
    code = dataset.obis
    return dataset.address.strip() if code is None else str(code)


def datasets_by_key(readout: Readout) -> dict[str, DataSet]:
    """The data sets of a readout by key; the first one wins when a key repeats."""
    found: dict[str, DataSet] = {}
    for dataset in readout.datasets:
        found.setdefault(dataset_key(dataset), dataset)
    return found
