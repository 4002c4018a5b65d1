"""Unit conversion: every reading in the unit its entity was created with.

Units are compared in Home Assistant's spelling (``catalog.normalize_unit``). Each family maps a
unit to its factor to the family's base unit; a reading converts only within its family (heat in
GJ, MJ, kWh or MWh is energy). No Home Assistant imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

_WH_PER_MJ: Final = 1e6 / 3600.0

FAMILIES: Final[tuple[Mapping[str, float], ...]] = (
    # energy and heat, base Wh
    {
        "Wh": 1.0,
        "kWh": 1e3,
        "MWh": 1e6,
        "GWh": 1e9,
        "MJ": _WH_PER_MJ,
        "GJ": _WH_PER_MJ * 1e3,
    },
    {"W": 1.0, "kW": 1e3, "MW": 1e6},  # active power
    {"mvar": 1e-3, "var": 1.0, "kvar": 1e3, "Mvar": 1e6},  # reactive power
    {"varh": 1.0, "kvarh": 1e3, "Mvarh": 1e6},  # reactive energy
    {"mVA": 1e-3, "VA": 1.0, "kVA": 1e3, "MVA": 1e6},  # apparent power
    {"VAh": 1.0, "kVAh": 1e3, "MVAh": 1e6},  # apparent energy
    {"m³": 1.0, "L": 1e-3, "l": 1e-3, "dm³": 1e-3},  # volume
    {"m³/h": 1.0, "L/h": 1e-3, "l/h": 1e-3},  # volume flow
    {"mV": 1e-3, "V": 1.0, "kV": 1e3},  # voltage
    {"mA": 1e-3, "A": 1.0, "kA": 1e3},  # current
    {"s": 1 / 3600.0, "min": 1 / 60.0, "h": 1.0, "d": 24.0},  # time, base h
)


def factor(unit: str | None, base: str | None) -> float | None:
    """How many ``base`` one ``unit`` is (1.0 for the same unit; None: not convertible)."""
    if unit == base:
        return 1.0
    if unit is None or base is None:
        return None
    for family in FAMILIES:
        if unit in family and base in family:
            return family[unit] / family[base]
    return None


def convert(value: float, unit: str | None, target: str | None) -> float | None:
    """``value`` in ``unit`` expressed in ``target`` (None when the units do not convert)."""
    scale = factor(unit, target)
    if scale is None:
        return None
    if scale == 1.0:
        return value
    # keep the digits a meter sent: 61561289 Wh is 61561.289 kWh, not 61561.289000000004
    return float(f"{value * scale:.15g}")
