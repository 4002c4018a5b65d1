"""What the integration knows about OBIS codes, units and meter makers.

Pure data and pure functions: given a data-set key and the unit and value the meter sent,
:func:`describe` says how the value is shown in Home Assistant, as a
:class:`DlmsSensorEntityDescription` (a Home Assistant ``SensorEntityDescription``).

Keys
----
A data set's key (:func:`dataset_key`) is its normalised OBIS code ``str(parse_obis(address))``
(``C.1.0`` -> ``96.1.0``, ``F.F`` -> ``97.97``, ``1.8.1*02`` -> ``1.8.1*2``), or the address as
sent for names that are not OBIS codes (``ET0PE``). History values written with ``&``
(``0.1.0&12``) keep the ``&`` (``0.1.0&12``), so they stay apart from the ``*`` ones
(``0.1.0*12``), which some meters send with other values. A data set that carries several
measurements (``9.4(098.5*C&096.1*C)``: flow and return temperature) gives one key per value:
``9.4`` for the first, ``9.4#2`` for the second (:func:`readout_values`, :func:`entries`).

Rules of :func:`describe` (in this order):

1. History values (F group 0..99: ``1.8.0*01``, the ``*VZ``/``&VZ`` billing-period entries)
   never feed long-term statistics (state class ``None``) and are grouped as history. They are
   enabled like every other entity: an entity exists only for a data set the user ticked (or the
   pre-selection, which holds no history), so the user's choice wins.
2. The unit sent decides the device class (``kWh`` -> energy, ``V`` -> voltage, ...). Units are
   matched exactly first, then case-insensitively (``kVArh`` -> ``kvarh``, ``m3`` -> ``m³``,
   ``m3ph`` -> ``m³/h``; ``m`` is minutes: no meter measures lengths, heat meters write ``m`` for
   their measuring period). Apparent energy (``VAh``, ``kVAh``) has no Home Assistant device
   class: it is a counter (``TOTAL_INCREASING``) with the unit as sent and no device class.
3. No unit: an active-energy register (C 1, 2, 15, 16 or per phase, D 8) is taken as kWh, as
   every push meter that omits it (EMH and Hager eHZ, Pafal) means; a power factor (C 13, 33, 53,
   73, D 7) is unit-less by definition.
4. Current values with an energy, apparent-energy, volume or hours unit are
   ``TOTAL_INCREASING``. Lifetime totals among them (D not 9/29, F absent or 255) are guarded
   (``lifetime_total``): a reading lower than the last accepted one is not published. Running
   billing-period registers (D 9/29, F 100+) may reset.
5. Text: ids, firmware, dates, clocks and status registers are text sensors (``numeric`` False),
   diagnostic, in the meter-information group. A code is text when its name says so (serial
   number, clock, ...), or when it has no unit and is not a quantity the catalog knows and either
   the value seen is not a number (``2013-11-28``, ``V01.69#EEA3546C``, ``230101120000W``) or it
   is an abstract register (C 0 or 96..99, i.e. also the letters C/F/L/P; non-OBIS names; the
   heat meters' C 9 settings and ids and their C 6 D 36 dates).
6. Names: electricity names only for electricity codes (A absent or 1) whose unit fits the
   quantity; the Landis+Gyr/Siemens heat-meter registers (A absent or 6: 6.8 heat, 6.26 volume,
   6.6 maximum power, 6.33 maximum flow, 9.4 maximum flow/return temperature, 6.31/6.32
   operating/fault hours, 9.20/9.21 ids, ...) get heat names when their unit fits. Everything
   else gets the generic ``register`` name that shows the code.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
import re
from typing import Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
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

from .iec62056 import DataSet, ObisCode, Readout, Value, parse_obis

# --- manufacturers ----------------------------------------------------------------------

# FLAG ids (the three letters after "/" in the identification) of makers of electricity, gas,
# heat and water meters, from the FLAG manufacturer id list the DLMS User Association keeps
# (as used by open-source meter readers, e.g. wmbusmeters' src/manufacturers.h, CC0), plus the
# ids Dutch/Belgian DSMR meters use in practice (KMP, CTA).
MANUFACTURERS: Final[Mapping[str, str]] = {
    "ABB": "ABB",
    "ABN": "ABN Braun",
    "ABR": "ABB",
    "ACE": "Itron (Actaris)",
    "ACG": "Itron (Actaris gas)",
    "ACL": "Aclara",
    "ACW": "Itron (Actaris water and heat)",
    "ADN": "Aidon",
    "AEG": "AEG",
    "AMB": "Würth Elektronik (Amber)",
    "AMT": "Aquametro",
    "AMX": "Apator Metrix",
    "APA": "Apator",
    "APT": "Apator",
    "AQM": "Integra Metering (Aquametro)",
    "ARF": "Adeunis RF",
    "AXI": "Axis Industries",
    "BEC": "Berg Energiekontrollsysteme",
    "BHG": "Brunata",
    "BMT": "B METERS",
    "BSX": "BS Messtechnik",
    "BYL": "Baylan",
    "CIR": "Circutor",
    "CLO": "Clorius",
    "CTA": "ZIV (Circutor)",
    "CZM": "Cazzaniga",
    "DAN": "Danubia",
    "DFS": "Danfoss",
    "DGM": "Diehl Gas Metering",
    "DME": "Diehl Metering",
    "DWZ": "Lorenz",
    "DZG": "DZG Metering",
    "EBZ": "eBZ",
    "EDM": "EDMI",
    "EFE": "Engelmann",
    "EFR": "EFR",
    "EGM": "Elgama-Elektronika",
    "EHL": "Secure Meters",
    "EKT": "Energomera",
    "ELE": "Elster Electricity",
    "ELR": "Elster Metering",
    "ELS": "Elster",
    "ELT": "Eltako",
    "ELV": "Elvaco",
    "EMH": "EMH metering",
    "EML": "Emlite",
    "EMO": "Enermet",
    "EMR": "Energomera",
    "EMT": "Elster Messtechnik",
    "EMU": "EMU Elektronik",
    "ESY": "EasyMeter",
    "EWT": "Elin Wasserwerkstechnik",
    "FIN": "Finder",
    "FML": "Siemens Measurements",
    "GAV": "Carlo Gavazzi",
    "GEC": "GEC Meters",
    "GMC": "Gossen Metrawatt",
    "GWF": "GWF MessSysteme",
    "HAG": "Hager",
    "HEG": "Hamburger Elektronik Gesellschaft",
    "HEL": "Heliowatt",
    "HLY": "Holley",
    "HML": "Holley",
    "HON": "Honeywell",
    "HXE": "Hexing Electrical",
    "HYD": "Diehl Metering (Hydrometer)",
    "HYG": "Hydrometer",
    "IMT": "Integra Metering",
    "INV": "Sensus",
    "ISK": "Iskraemeco",
    "ISS": "Iskra",
    "IST": "ista",
    "ITE": "Itron",
    "ITF": "ITF Fröschl",
    "ITG": "Itron",
    "ITK": "Itron",
    "ITR": "Itron",
    "ITW": "Itron",
    "JAN": "Janitza",
    "KAM": "Kamstrup",
    "KFM": "Kaifa",
    "KMP": "Kamstrup",
    "KRO": "Kromschröder",
    "KST": "Kundo SystemTechnik",
    "LGB": "Landis+Gyr",
    "LGD": "Landis+Gyr",
    "LGF": "Landis+Gyr",
    "LGS": "Landis+Gyr",
    "LGZ": "Landis+Gyr",
    "LOG": "Logarex",
    "LSE": "Landis & Staefa",
    "LSP": "Landis+Gyr",
    "LSZ": "Siemens Building Technologies",
    "LUG": "Landis+Gyr",
    "LUN": "Luna Elektrik Elektronik",
    "LYE": "Linyang Electronics",
    "MAD": "Maddalena",
    "MEI": "Sensus (Meinecke)",
    "MET": "METRA Energie-Messtechnik",
    "MIS": "Iskra MIS",
    "MTS": "MeteRSit",
    "MWU": "Metrona",
    "NIS": "Nisko",
    "NZR": "Nordwestdeutsche Zählerrevision",
    "PAF": "Pafal",
    "PIK": "pikkerton",
    "PMG": "Sensus (Spanner-Pollux)",
    "POZ": "Pozyton",
    "QDS": "Qundis",
    "RAM": "Rossweiner Armaturen und Messgeräte",
    "RKE": "ista (Raab Karcher)",
    "RMG": "RMG Messtechnik",
    "SAG": "Sagemcom",
    "SAM": "Siemens (AMIS)",
    "SAP": "Sappel",
    "SEN": "Sensus",
    "SIE": "Siemens",
    "SLB": "Schlumberger",
    "SML": "Siemens Measurements",
    "SOC": "Socomec",
    "SON": "Sontex",
    "SPL": "Sappel",
    "SPX": "Sensus (Spanner-Pollux)",
    "SVM": "Svensk Värmemätning",
    "TCH": "Techem",
    "TIP": "TIP Thüringer Industrie Produkte",
    "VES": "ista (Viterra)",
    "WSE": "Wasion",
    "WZG": "Neumann Wasserzähler Glaubitz",
    "XMX": "Xemex",
    "ZAG": "Zellweger Uster",
    "ZIV": "ZIV",
    "ZPA": "ZPA Smart Energy",
    "ZRI": "Zenner",
    "ZRM": "Zenner",
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
# Home Assistant has no apparent-energy device class: these are counters without one
APPARENT_ENERGY_UNITS: Final = frozenset({"VAh", "kVAh", "MVAh"})

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
        UnitOfTime.MINUTES,
        UnitOfTime.SECONDS,
        UnitOfTemperature.CELSIUS,
        UnitOfTemperature.KELVIN,
        PERCENTAGE,
        "VAh",
        "kVAh",
    )
} | {
    # what meters write instead
    "mwh": UnitOfEnergy.MEGA_WATT_HOUR,  # no meter counts milliwatt-hours
    "mw": UnitOfPower.MEGA_WATT,
    "mvar": UnitOfReactivePower.MILLIVOLT_AMPERE_REACTIVE,
    "mvah": "MVAh",  # nor milli-volt-ampere-hours
    "m3": UnitOfVolume.CUBIC_METERS,
    "m3ph": UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR,
    "m3/h": UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR,
    "m": UnitOfTime.MINUTES,  # heat meters' measuring period 6.35(60*m); no meter sends metres
    "mins": UnitOfTime.MINUTES,
    "sec": UnitOfTime.SECONDS,
    "secs": UnitOfTime.SECONDS,
    "c": UnitOfTemperature.CELSIUS,
    "°c": UnitOfTemperature.CELSIUS,
    "deg": "°",
}

_EXACT: Final = frozenset(_UNITS.values()) - {"MVAh"}

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
    UnitOfTime.MINUTES: SensorDeviceClass.DURATION,
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


GENERIC_KEY: Final = "register"


class Group(StrEnum):
    """Where the picker shows a data set (in this order)."""

    ENERGY = "energy"
    POWER = "power"
    GRID_QUALITY = "grid_quality"
    HISTORY = "history"
    METER_INFORMATION = "meter_information"
    OTHER = "other"


GROUPS: Final = tuple(Group)


@dataclass(frozen=True, kw_only=True)
class DlmsSensorEntityDescription(SensorEntityDescription):
    """How one data set (or one value of it) is shown: a Home Assistant sensor description.

    Besides the Home Assistant fields: ``numeric`` (a number, else text as sent),
    ``lifetime_total`` (a counter that never goes down: a lower reading is not published),
    ``history`` (a stored billing-period value) and ``group`` (for the picker). The names of the
    former ``SensorSpec`` stay available as read-only properties.
    """

    translation_key: str = GENERIC_KEY  # always set: a known name or the generic one
    numeric: bool = True
    lifetime_total: bool = False
    history: bool = False
    group: Group = Group.OTHER

    @property
    def unit(self) -> str | None:
        """The Home Assistant unit (``native_unit_of_measurement``)."""
        return self.native_unit_of_measurement

    @property
    def placeholders(self) -> dict[str, str]:
        """The name's placeholders (``translation_placeholders``)."""
        return dict(self.translation_placeholders or {})

    @property
    def guard_decrease(self) -> bool:
        """Former name of ``lifetime_total``."""
        return self.lifetime_total

    @property
    def diagnostic(self) -> bool:
        """Whether the entity is in the diagnostic category."""
        return self.entity_category is EntityCategory.DIAGNOSTIC

    @property
    def enabled_default(self) -> bool:
        """``entity_registry_enabled_default``."""
        return self.entity_registry_enabled_default


SensorSpec = DlmsSensorEntityDescription  # the former name

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
    (3, 7): "reactive_power_import_phase",
    (4, 7): "reactive_power_export_phase",
    (9, 7): "apparent_power_import_phase",
    (10, 7): "apparent_power_export_phase",
    (11, 7): "current_phase",
    (12, 7): "voltage_phase",
    (13, 7): "power_factor_phase",
    (14, 7): "frequency_phase",
    (16, 7): "power_total_phase",
    (12, 32): "voltage_sags_phase",  # DSMR 32.32.0
    (12, 36): "voltage_swells_phase",  # DSMR 32.36.0
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
    (0, 0, None): "meter_id",  # E350 and heat meters write 0.0
    (0, 1, 0): "billing_period_counter",  # 0.1.0 (VZ)
    (0, 1, 2): "billing_period_date",  # time stamp of the last billing period
    (0, 2, 0): "firmware",
    (97, 97, None): "error_register",  # F.F
    (97, None, None): "error_register",  # F on heat meters
    (96, 5, None): "status_register",  # C.5.0, 96.5.5
    (96, 7, 9): "long_power_failures",  # DSMR 96.7.9
    (96, 7, None): "power_failures",  # C.7.0, DSMR 96.7.21
    (96, 13, None): "text_message",  # DSMR 96.13.0
    (96, 14, None): "tariff_indicator",  # DSMR 96.14.0
    (0, 9, 1): "time",
    (0, 9, 2): "date",
}
SERIAL_NUMBER_KEYS: Final = frozenset(
    {"serial_number", "meter_id", "equipment_id", "device_number", "ownership_number"}
)
_ACTIVE_ENERGY_C: Final = frozenset({1, 2, 15, 16, 21, 22, 41, 42, 61, 62})
_POWER_FACTOR_C: Final = frozenset({13, 33, 53, 73})
_ABSTRACT_C: Final = frozenset({0, 96, 97, 98, 99})
_PERIOD_D: Final = frozenset({9, 29})  # energy of the running billing / profile period: resets

# Landis+Gyr Ultraheat (UH50, T550) and Siemens 2WR5 heat meters (no A-B prefix): (C, D) ->
# (names of the values in order, the device class their unit must have). Meanings as in
# ultraheat-api and Home Assistant's landisgyr_heat_meter: 6.6, 6.33 and 9.4 are maxima.
_HEAT_QUANTITIES: Final[Mapping[tuple[int, int], tuple[tuple[str, ...], SensorDeviceClass]]] = {
    (6, 8): (("heat_energy",), SensorDeviceClass.ENERGY),
    (6, 26): (("volume",), SensorDeviceClass.VOLUME),
    (6, 6): (("heat_power_max",), SensorDeviceClass.POWER),
    (6, 33): (("flow_rate_max",), SensorDeviceClass.VOLUME_FLOW_RATE),
    (9, 24): (("measuring_range",), SensorDeviceClass.VOLUME_FLOW_RATE),
    (9, 4): (
        ("flow_temperature_max", "return_temperature_max"),
        SensorDeviceClass.TEMPERATURE,
    ),
    (6, 31): (("operating_hours",), SensorDeviceClass.DURATION),
    (6, 32): (("fault_hours",), SensorDeviceClass.DURATION),
    (9, 31): (("flow_hours",), SensorDeviceClass.DURATION),
    (6, 35): (("measuring_period",), SensorDeviceClass.DURATION),
}
# heat-meter text registers without a unit: (C, D) -> key
_HEAT_TEXT_NAMES: Final[Mapping[tuple[int, int], str]] = {
    (9, 20): "device_number",
    (9, 21): "ownership_number",
    (9, 1): "settings_and_firmware",
    (9, 36): "meter_date_time",
    (6, 36): "billing_date",
}
# names of text registers: always text, diagnostic
_TEXT_NAMES: Final = frozenset(
    {
        *_HEAT_TEXT_NAMES.values(),
        *_ABSTRACT_NAMES.values(),
        "clock",
    }
)
# numeric registers that describe the meter rather than what it measures
_DIAGNOSTIC_NAMES: Final = frozenset(
    {
        "operating_hours",
        "fault_hours",
        "flow_hours",
        "measuring_period",
        "measuring_range",
    }
)

SUBMETER_KEY: Final = "submeter"  # DSMR 0-n:24.2.1, the reading of M-Bus device n

TRANSLATION_KEYS: Final = frozenset(
    {
        *_TOTAL_NAMES.values(),
        *_PHASE_NAMES.values(),
        *_TARIFF_NAMES.values(),
        *_ABSTRACT_NAMES.values(),
        *(name for names, _ in _HEAT_QUANTITIES.values() for name in names),
        *_HEAT_TEXT_NAMES.values(),
        "heat_energy_tariff",
        "current_neutral",
        "reactive_energy_quadrant",
        "reactive_power_quadrant",
        "clock",
        SUBMETER_KEY,
        GENERIC_KEY,
    }
)


def _electricity(code: ObisCode) -> bool:
    return code.a in (None, 1)


def _heat(code: ObisCode) -> bool:
    return code.a in (None, 6)


def _heat_text(code: ObisCode) -> bool:
    """A heat meter's setting, id or date register (used only when it carries no unit)."""
    if not _heat(code):
        return False
    if code.c == 6:
        return code.d == 36
    # C 9 without E are heat-meter registers; 9.x.E with D 6..9/29 is apparent electricity
    return code.c == 9 and (code.e is None or code.d not in {6, 7, 8, 9, 29})


def _heat_name(
    code: ObisCode, device_class: SensorDeviceClass | None, index: int
) -> tuple[str, dict[str, str]] | None:
    if code.d is None or not _heat(code):
        return None
    if device_class is None:
        if code.e is None and index == 1 and (text := _HEAT_TEXT_NAMES.get((code.c, code.d))):
            return text, {}
        return None
    entry = _HEAT_QUANTITIES.get((code.c, code.d))
    if entry is None or entry[1] != device_class or index > len(entry[0]):
        return None
    if code.e is None:
        return entry[0][index - 1], {}
    if (code.c, code.d) == (6, 8) and 1 <= code.e <= 9:
        return "heat_energy_tariff", {"tariff": str(code.e)}
    return None


def _electricity_name(code: ObisCode) -> tuple[str, dict[str, str]] | None:
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


def _abstract_name(code: ObisCode) -> tuple[str, dict[str, str]] | None:
    if code.a == 0 and code.c == 1 and code.d == 0:
        return "clock", {}  # 0-0:1.0.0, the clock object (DSMR time stamp)
    if code.a == 0 and code.c == 24 and code.d == 2 and code.b:
        return SUBMETER_KEY, {"channel": str(code.b)}  # 0-1:24.2.1 gas, water, heat
    if code.c not in _ABSTRACT_C:
        return None
    key = _ABSTRACT_NAMES.get((code.c, code.d, code.e)) or _ABSTRACT_NAMES.get(
        (code.c, code.d, None)
    )
    return None if key is None else (key, {})


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
    ("voltage_phase", SensorDeviceClass.VOLTAGE),
    ("voltage", SensorDeviceClass.VOLTAGE),
    ("frequency", SensorDeviceClass.FREQUENCY),
)


def _fits(name: str, unit: str | None) -> bool:
    """Whether a unit the meter sent fits the electricity quantity a name stands for.

    A heat meter's ``6.8`` in GJ is heat energy, not reactive energy Q2: such a code does not get
    the electricity name (its device class still follows the unit).
    """
    if unit in APPARENT_ENERGY_UNITS:
        return name.startswith("apparent_energy")
    if name.startswith("apparent_energy"):
        return unit is None
    device_class = _DEVICE_CLASS_BY_UNIT.get(unit) if unit else None
    if device_class is None:
        return True
    expected = next((cls for prefix, cls in _NAME_CLASSES if name.startswith(prefix)), None)
    return expected is None or expected == device_class


def _name(code: ObisCode, unit: str | None, index: int = 1) -> tuple[str, dict[str, str]] | None:
    """Translation key and placeholders of a known current register (None: generic name)."""
    if not _is_current(code):
        return None
    device_class = _DEVICE_CLASS_BY_UNIT.get(unit) if unit else None
    if (heat := _heat_name(code, device_class, index)) is not None:
        return heat
    if index > 1:
        return None
    if (abstract := _abstract_name(code)) is not None:
        # a text register never carries a unit: Itron's C.13.21 in s is no DSMR text message
        return None if unit is not None and abstract[0] in _TEXT_NAMES else abstract
    if code.c in _ABSTRACT_C:
        return None
    if unit is None and _heat_text(code):
        return None  # 9.7(20000) on a heat meter is no apparent power
    named = _electricity_name(code)
    if named is not None and not _fits(named[0], unit):
        return None
    return named


def split_key(key: str) -> tuple[str, int]:
    """A key's data-set key and value position: ``9.4#2`` -> (``9.4``, 2), ``1.8.0`` -> 1."""
    base, sep, index = key.rpartition("#")
    if sep and index.isdigit() and int(index) >= 2 and base:
        return base, int(index)
    return key, 1


def _is_text(code: ObisCode | None, unit: str | None, named: str | None, value: str | None) -> bool:
    """Whether a register is text (see rule 5 of the module doc)."""
    if named in _TEXT_NAMES:
        return True
    if unit is not None or named is not None:
        return False
    if value and parse_number(value) is None:
        return True
    return code is None or code.c in _ABSTRACT_C or _heat_text(code)


def _group(
    description_class: SensorDeviceClass | None,
    unit: str | None,
    translation_key: str,
) -> Group:
    if description_class in _COUNTER_CLASSES or unit in APPARENT_ENERGY_UNITS:
        return Group.ENERGY
    if description_class in {
        SensorDeviceClass.POWER,
        SensorDeviceClass.REACTIVE_POWER,
        SensorDeviceClass.APPARENT_POWER,
        SensorDeviceClass.VOLUME_FLOW_RATE,
        SensorDeviceClass.TEMPERATURE,
    }:
        return Group.POWER
    if description_class in {
        SensorDeviceClass.VOLTAGE,
        SensorDeviceClass.CURRENT,
        SensorDeviceClass.FREQUENCY,
        SensorDeviceClass.POWER_FACTOR,
    } or translation_key in {"voltage_sags_phase", "voltage_swells_phase"}:
        return Group.GRID_QUALITY
    return Group.OTHER


def describe(
    key: str, unit: str | None = None, value: str | None = None
) -> DlmsSensorEntityDescription:
    """How the data set ``key`` with the unit and value seen (as sent) is shown.

    ``value`` is the text of the value seen in the probe (or first readout); without it, the
    code and unit alone decide (as before).
    """
    base, index = split_key(key)
    code = parse_obis(base)
    ha_unit = normalize_unit(unit)
    named = _name(code, ha_unit, index) if code is not None else None
    translation_key, placeholders = named or (GENERIC_KEY, {"code": key})
    history = is_history(code)
    text = value.strip() if value is not None else None

    if ha_unit is None and code is not None and _electricity(code):
        if code.c in _ACTIVE_ENERGY_C and code.d == 8:
            ha_unit = UnitOfEnergy.KILO_WATT_HOUR
        elif code.c in _POWER_FACTOR_C and code.d == 7:
            return DlmsSensorEntityDescription(
                key=key,
                translation_key=translation_key,
                translation_placeholders=placeholders,
                device_class=SensorDeviceClass.POWER_FACTOR,
                state_class=None if history else SensorStateClass.MEASUREMENT,
                history=history,
                group=Group.HISTORY if history else Group.GRID_QUALITY,
            )

    if ha_unit is None and _is_text(code, ha_unit, translation_key if named else None, text):
        return DlmsSensorEntityDescription(
            key=key,
            translation_key=translation_key,
            translation_placeholders=placeholders,
            numeric=False,
            entity_category=EntityCategory.DIAGNOSTIC,
            history=history,
            group=Group.HISTORY if history else Group.METER_INFORMATION,
        )

    device_class = _DEVICE_CLASS_BY_UNIT.get(ha_unit) if ha_unit else None
    if ha_unit == PERCENTAGE and code is not None and code.c in _POWER_FACTOR_C:
        device_class = SensorDeviceClass.POWER_FACTOR
    state_class: SensorStateClass | None = None
    lifetime = False
    counter = device_class in _COUNTER_CLASSES or ha_unit in APPARENT_ENERGY_UNITS
    if history:
        state_class = None
    elif counter or ha_unit == UnitOfTime.HOURS:
        state_class = SensorStateClass.TOTAL_INCREASING
        lifetime = code is None or (_is_current(code) and code.d not in _PERIOD_D)
    elif ha_unit is not None:
        state_class = SensorStateClass.MEASUREMENT
    diagnostic = translation_key in _DIAGNOSTIC_NAMES
    if history:
        group = Group.HISTORY
    elif diagnostic or device_class is SensorDeviceClass.DURATION:
        group = Group.METER_INFORMATION
    else:
        group = _group(device_class, ha_unit, translation_key)
    return DlmsSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        translation_placeholders=placeholders,
        device_class=device_class,
        state_class=state_class,
        native_unit_of_measurement=ha_unit,
        entity_category=EntityCategory.DIAGNOSTIC if diagnostic else None,
        lifetime_total=lifetime,
        history=history,
        group=group,
    )


def group(key: str, unit: str | None = None, value: str | None = None) -> Group:
    """The picker group of a data set (see :func:`describe`)."""
    return describe(key, unit, value).group


def name_of(key: str, unit: str | None = None) -> tuple[str, dict[str, str]]:
    """Translation key and placeholders of the register a key belongs to, history or not.

    For the picker: ``1.8.1*2`` is named like ``1.8.1`` (energy import tariff 1), while its
    entity keeps the generic name that shows the code. Unknown codes: the generic name.
    """
    base, index = split_key(key)
    code = parse_obis(base)
    if code is not None:
        current = ObisCode(a=code.a, b=code.b, c=code.c, d=code.d, e=code.e)
        named = _name(current, normalize_unit(unit), index)
        if named is not None:
            return named
    return GENERIC_KEY, {"code": key}


def is_serial_number(key: str) -> bool:
    """Whether the data set carries the meter's serial number or another id of the meter."""
    code = parse_obis(key)
    named = _name(code, None) if code is not None else None
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
        "heat_energy",
        "volume",
    }
)


def is_preselected(key: str, unit: str | None = None) -> bool:
    """Whether a data set is chosen by default: energy totals, power, phases, frequency.

    Heat meters: heat energy and volume. Never history values, never the serial number (the
    device shows it). ``unit`` (as sent) is needed for heat-meter codes.
    """
    base, index = split_key(key)
    code = parse_obis(base)
    if code is None or is_history(code):
        return False
    named = _name(code, normalize_unit(unit), index)
    return named is not None and named[0] in _PRESELECTED_NAMES


def preselect(keys: Iterable[str] | Mapping[str, Value | DataSet | None]) -> list[str]:
    """The keys (in order, without duplicates) chosen by default among those a meter sent.

    Pass :func:`readout_values` (key -> value) or :func:`datasets_by_key` so that units count
    (heat meters); plain keys are judged by the code alone.
    """
    if not isinstance(keys, Mapping):
        return [key for key in dict.fromkeys(keys) if is_preselected(key)]
    chosen = []
    for key, item in keys.items():
        value = item.value if isinstance(item, DataSet) else item
        if is_preselected(key, value.unit if value is not None else None):
            chosen.append(key)
    return chosen


# --- data sets of a readout ---------------------------------------------------------------


def dataset_key(dataset: DataSet) -> str:
    """The key of a data set: its normalised OBIS code, or the address as sent if not OBIS.

    A history value written with ``&`` keeps it (``0.1.0&12``), apart from ``0.1.0*12``.
    """
    code = dataset.obis
    if code is None:
        return dataset.address.strip()
    key = str(code)
    if code.is_history and "&" in dataset.address:
        head, _, period = key.rpartition("*")
        key = f"{head}&{period}"
    return key


def datasets_by_key(readout: Readout) -> dict[str, DataSet]:
    """The data sets of a readout by key; the first one wins when a key repeats."""
    found: dict[str, DataSet] = {}
    for dataset in readout.datasets:
        found.setdefault(dataset_key(dataset), dataset)
    return found


_DSMR_TIME: Final = re.compile(r"\d{12}[SW]?")


def shown_values(values: Sequence[Value]) -> list[Value]:
    """The values a data set shows, in order (the first has the data set's key).

    * Several values that are all numbers with a unit (``9.4(098.5*C&096.1*C)``): each one.
    * A DSMR time stamp and a reading (``0-1:24.2.1(230101120000W)(00012.345*m3)``): the reading.
    * A number with a unit followed by values without one (the time stamp of a maximum demand,
      ``1-0:1.6.0*255(02.468*kW)(1703100930)``): the number.
    * Otherwise several parts are one text (``9.36(2017-01-18&01:36:47)`` ->
      ``2017-01-18 01:36:47``).
    """
    if len(values) <= 1:
        return list(values)
    if all(v.unit and parse_number(v.value) is not None for v in values):
        return list(values)
    if (
        len(values) == 2
        and _DSMR_TIME.fullmatch(values[0].value.strip())
        and parse_number(values[1].value) is not None
    ):
        return [values[1]]
    first = values[0]
    if first.unit and parse_number(first.value) is not None and not any(v.unit for v in values[1:]):
        return [first]
    text = " ".join(part for v in values if (part := v.value.strip()))
    return [Value(text, next((v.unit for v in values if v.unit), None))]


def value_key(key: str, index: int) -> str:
    """The key of the ``index``-th value (1-based) of the data set ``key``."""
    return key if index == 1 else f"{key}#{index}"


def readout_values(readout: Readout) -> dict[str, Value]:
    """Key -> value shown, in the meter's order (the first of repeated keys wins)."""
    found: dict[str, Value] = {}
    for dataset in readout.datasets:
        key = dataset_key(dataset)
        for index, value in enumerate(shown_values(dataset.values), 1):
            found.setdefault(value_key(key, index), value)
    return found


def current_key(key: str, values: Collection[str]) -> str:
    """The key under which a code stored by an earlier version is found now.

    Earlier versions keyed ``1.6.0&01`` as ``1.6.0*1``; it is ``1.6.0&1`` now. A stored ``*``
    history key that the readout does not hold, while it holds the ``&`` one, maps to that one
    (the entity keeps its stored key and unique id). Any other key is returned unchanged.
    """
    if key in values:
        return key
    base, index = split_key(key)
    head, star, period = base.rpartition("*")
    if star and head and period.isdigit():
        ampersand = value_key(f"{head}&{period}", index)
        if ampersand in values:
            return ampersand
    return key


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSetEntry:
    """One choice in the picker: a data set (or one of its values) as the meter wrote it."""

    key: str  # the stable key (entity unique id, stored in the entry's codes)
    address: str  # as the meter wrote it: "C.1.0", "1.8.1*02", "0.1.0&12"
    index: int  # value position in the data set (2: the return temperature of 9.4)
    value: Value | None
    description: DlmsSensorEntityDescription

    @property
    def group(self) -> Group:
        """The picker group."""
        return self.description.group

    @property
    def code_text(self) -> str:
        """The code as written, with the normalised code where it differs.

        ``C.1.0 (96.1.0)``, ``1.8.1*02 (1.8.1*2)``, ``1.8.0``, ``9.4 #2``.
        """
        base = split_key(self.key)[0]
        text = self.address if self.address == base else f"{self.address} ({base})"
        return text if self.index == 1 else f"{text} #{self.index}"


def entries(readout: Readout) -> list[DataSetEntry]:
    """Every choice a readout offers, in the meter's order, one per key."""
    found: dict[str, DataSetEntry] = {}
    for dataset in readout.datasets:
        key = dataset_key(dataset)
        shown: list[Value | None] = [*shown_values(dataset.values)] or [None]
        for index, value in enumerate(shown, 1):
            entry_key = value_key(key, index)
            if entry_key in found or not entry_key:
                continue
            found[entry_key] = DataSetEntry(
                key=entry_key,
                address=dataset.address.strip(),
                index=index,
                value=value,
                description=describe(
                    entry_key,
                    value.unit if value is not None else None,
                    value.value if value is not None else None,
                ),
            )
    return list(found.values())


def grouped(choices: Iterable[DataSetEntry]) -> dict[Group, list[DataSetEntry]]:
    """The choices by group, groups in :data:`GROUPS` order (empty groups left out)."""
    by_group: dict[Group, list[DataSetEntry]] = {kind: [] for kind in GROUPS}
    for entry in choices:
        by_group[entry.group].append(entry)
    return {kind: items for kind, items in by_group.items() if items}
