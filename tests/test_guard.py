"""The value guard's rules and the unit conversion, without Home Assistant."""

from __future__ import annotations

import math

import pytest

from custom_components.dlms_meter.guard import (
    CONFIRMATIONS,
    Reading,
    TotalGuard,
    Verdict,
    is_sane,
    step_of,
)
from custom_components.dlms_meter.units import convert, factor

KW100 = 100.0  # kWh per hour
T0 = 1_780_000_000.0


def _run(guard: TotalGuard, readings: list[tuple[float, float]]) -> list[Verdict]:
    return [guard.check(value, T0 + t, KW100, 0.001) for value, t in readings]


def test_the_first_reading_is_accepted() -> None:
    """Nothing to compare with: a sane, non-negative first reading is the floor."""
    guard = TotalGuard()
    assert guard.check(61561.289, T0, KW100) is Verdict.ACCEPTED
    assert guard.accepted == Reading(61561.289, T0)


@pytest.mark.parametrize("value", [-1.0, -0.0, math.inf, -math.inf, math.nan, 1e15, 1e300])
def test_invalid_readings_are_never_accepted(value: float) -> None:
    """Negative (also -0), non-finite and absurdly large readings: invalid, the state unchanged."""
    guard = TotalGuard()
    assert guard.check(value, T0, KW100) is Verdict.INVALID
    assert guard.accepted is None
    assert guard.check(5.0, T0, KW100) is Verdict.ACCEPTED
    assert guard.check(value, T0 + 60, KW100) is Verdict.INVALID
    assert guard.accepted == Reading(5.0, T0)


def test_finding_1_the_spike_never_latches() -> None:
    """061561.289 -> 961561.289 -> 061562.000 -> 061563.000 -> 061600.000, 30 min apart."""
    guard = TotalGuard()
    verdicts = _run(
        guard,
        [(61561.289, 0), (961561.289, 1800), (61562.0, 3600), (61563.0, 5400), (61600.0, 7200)],
    )
    assert verdicts == [
        Verdict.ACCEPTED,
        Verdict.HELD,
        Verdict.ACCEPTED,
        Verdict.ACCEPTED,
        Verdict.ACCEPTED,
    ]
    assert guard.accepted == Reading(61600.0, T0 + 7200)
    assert not guard.holding


def test_a_jump_is_confirmed_by_readings_that_continue_from_it() -> None:
    """Held until CONFIRMATIONS further readings continue from it; then accepted."""
    guard = TotalGuard()
    verdicts = _run(guard, [(100.0, 0), (5000.0, 60), (5000.5, 120), (5001.0, 180)])
    assert CONFIRMATIONS == 2
    assert verdicts == [Verdict.ACCEPTED, Verdict.HELD, Verdict.HELD, Verdict.CONFIRMED]
    assert guard.accepted == Reading(5001.0, T0 + 180)


def test_jumps_that_do_not_continue_restart_the_count() -> None:
    """Two spikes at different heights do not confirm each other."""
    guard = TotalGuard()
    verdicts = _run(guard, [(100.0, 0), (5000.0, 60), (9000.0, 120), (9000.5, 180)])
    assert verdicts == [Verdict.ACCEPTED, Verdict.HELD, Verdict.HELD, Verdict.HELD]
    assert [r.value for r in guard.held] == [9000.0, 9000.5]


def test_a_decrease_is_never_accepted() -> None:
    """Lower than the last accepted value: a decrease, whatever came before."""
    guard = TotalGuard()
    assert _run(guard, [(100.0, 0), (99.999, 60), (100.0, 120)]) == [
        Verdict.ACCEPTED,
        Verdict.DECREASE,
        Verdict.ACCEPTED,
    ]


def test_the_allowance_grows_with_time_and_the_resolution() -> None:
    """100 kW: 1 min slack (1.67 kWh) plus the time elapsed; one register step more."""
    guard = TotalGuard()
    guard.check(0.0, T0, KW100)
    assert guard.check(3.3, T0 + 60, KW100) is Verdict.ACCEPTED  # 100 kW x 2 min = 3.33
    assert guard.check(6.7, T0 + 120, KW100) is Verdict.HELD
    assert guard.check(4.0, T0 + 121, KW100, step=1.0) is Verdict.ACCEPTED  # whole-kWh register
    later = TotalGuard(accepted=Reading(0.0, T0))
    assert later.check(2400.0, T0 + 86400, KW100) is Verdict.ACCEPTED  # a day at 100 kW
    back = TotalGuard(accepted=Reading(0.0, T0))
    assert back.check(1.6, T0 - 3600, KW100) is Verdict.ACCEPTED  # clock went back: slack only


def test_stored_and_restored() -> None:
    """Only the accepted reading survives; malformed data gives an empty guard."""
    guard = TotalGuard()
    guard.check(10.0, T0, KW100)
    guard.check(99999.0, T0 + 1, KW100)
    restored = TotalGuard.from_dict(guard.as_dict())
    assert restored == TotalGuard(accepted=Reading(10.0, T0))
    assert TotalGuard().as_dict() == {"accepted": None}
    for bad in (
        None,
        {},
        {"accepted": None},
        {"accepted": {"value": "x", "time": 1}},
        {"accepted": {"value": -1, "time": 1}},
        {"accepted": {"value": 1, "time": math.inf}},
    ):
        assert TotalGuard.from_dict(bad) == TotalGuard(), bad


def test_helpers() -> None:
    """Resolution of a register as written; sane numbers."""
    assert step_of("061561.289") == pytest.approx(0.001)
    assert step_of(" 0012.5") == pytest.approx(0.1)
    assert step_of("0008") == 1.0
    assert step_of("1.") == 1.0
    assert is_sane(-5.0)
    assert not is_sane(math.nan)


@pytest.mark.parametrize(
    ("value", "unit", "target", "expected"),
    [
        (61561289.0, "Wh", "kWh", 61561.289),
        (61.561289, "MWh", "kWh", 61561.289),
        (1.0, "kWh", "kWh", 1.0),
        (3.6, "GJ", "kWh", 1000.0),
        (1000.0, "kWh", "GJ", 3.6),
        (3.6, "MJ", "kWh", 1.0),
        (1500.0, "W", "kW", 1.5),
        (2.0, "kvar", "var", 2000.0),
        (5.0, "kvarh", "varh", 5000.0),
        (1.0, "kVA", "VA", 1000.0),
        (1.0, "kVAh", "VAh", 1000.0),
        (1500.0, "L", "m³", 1.5),
        (1500.0, "l", "m³", 1.5),
        (2.0, "h", "s", 7200.0),
        (0.23, "kV", "V", 230.0),
        (-0.0, "Wh", "kWh", -0.0),
    ],
)
def test_units_convert_within_their_family(
    value: float, unit: str, target: str, expected: float
) -> None:
    """Energy, heat, power, reactive, apparent, volume, time and voltage units convert."""
    assert convert(value, unit, target) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("unit", "target"),
    [("m³", "kWh"), ("kWh", "kvarh"), ("W", "Wh"), (None, "kWh"), ("kWh", None), ("°C", "K")],
)
def test_units_of_other_quantities_do_not_convert(unit: str | None, target: str | None) -> None:
    """Different quantities (or a unit against none): no conversion."""
    assert factor(unit, target) is None
    assert convert(1.0, unit, target) is None


def test_conversion_keeps_the_digits_a_meter_sent() -> None:
    """61561289 Wh is 61561.289 kWh exactly as written, not 61561.289000000004."""
    assert str(convert(61561289.0, "Wh", "kWh")) == "61561.289"
    assert convert(None or 0.0, None, None) == 0.0
