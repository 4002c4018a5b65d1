"""The value guard: which readings of a lifetime total may reach Home Assistant.

No Home Assistant imports: pure rules on numbers and times (seconds since the epoch), so that the
rules are tested without a running instance and the last accepted values can be stored and
restored (see README, "How values are protected").

Per lifetime total (an energy, heat or volume counter that only ever grows):

* A reading is **accepted** when it is not lower than the last accepted one and its increase is
  plausible for the time elapsed: at most ``max_per_hour`` x hours elapsed, plus a slack of
  :data:`MIN_WINDOW` seconds at that rate and one step of the register's resolution (so a counter
  that moves in whole kWh is never held for one step).
* A **decrease** is never accepted (Home Assistant would read it as a meter reset and count the
  whole total again).
* An **implausible jump** is held back: the entity keeps showing the last accepted value. It is
  accepted only when :data:`CONFIRMATIONS` further readings continue plausibly from it (a real
  jump, e.g. after the meter was away for a while, is confirmed that way).
* A held outlier never blocks true values: a reading that continues plausibly from the last
  accepted value is accepted and the held candidates are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
import math
from typing import Any, Final

CONFIRMATIONS: Final = 2  # further readings that must continue from a jump before it counts
MIN_WINDOW: Final = 60.0  # seconds of slack at the maximum rate (clock jitter, slow reads)
MAX_ABS: Final = 1e15  # larger numbers are no meter's reading

# Generous defaults for the maximum rate a meter's totals can grow at, per base unit per hour.
DEFAULT_MAX_POWER_KW: Final = 100.0  # electricity and heat: 100 kW (kWh, kvarh, kVAh per hour)
DEFAULT_MAX_FLOW_M3_PER_H: Final = 50.0  # water and gas: 50 m³/h
DEFAULT_MAX_HOURS_PER_H: Final = 1.0  # operating-hours counters
POWER_HEADROOM: Final = 2.0  # twice the largest power a meter was seen to measure


class Verdict(StrEnum):
    """What the guard decided about one reading."""

    ACCEPTED = "accepted"  # published
    CONFIRMED = "confirmed"  # a held jump the following readings continued from: published
    HELD = "held"  # an implausible jump, waiting for confirmation: last accepted value shown
    DECREASE = "decrease"  # lower than the last accepted value: last accepted value shown
    INVALID = "invalid"  # not finite, out of range or negative: last accepted value shown


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of a total at a time (seconds since the epoch), in the entity's unit."""

    value: float
    time: float

    def as_dict(self) -> dict[str, float]:
        """JSON-friendly form (stored across restarts)."""
        return {"value": self.value, "time": self.time}


def is_sane(number: float) -> bool:
    """A finite number that a meter can really show."""
    return math.isfinite(number) and abs(number) < MAX_ABS


def _plausible(previous: Reading, reading: Reading, max_per_hour: float, step: float) -> bool:
    """Not lower than ``previous`` and not faster than ``max_per_hour`` (plus the slack)."""
    if reading.value < previous.value:
        return False
    elapsed = max(reading.time - previous.time, 0.0) + MIN_WINDOW
    return reading.value - previous.value <= max_per_hour * elapsed / 3600.0 + step


@dataclass(slots=True)
class TotalGuard:
    """The guard of one lifetime total (see the module's docstring)."""

    accepted: Reading | None = None
    held: list[Reading] = field(default_factory=list)

    def check(self, value: float, now: float, max_per_hour: float, step: float = 0.0) -> Verdict:
        """Decide about ``value`` read at ``now``; update the state accordingly."""
        if not is_sane(value) or value < 0 or (value == 0 and math.copysign(1.0, value) < 0):
            return Verdict.INVALID
        reading = Reading(value, now)
        last = self.accepted
        if last is None:
            self.accepted = reading
            return Verdict.ACCEPTED
        if _plausible(last, reading, max_per_hour, step):
            self.accepted = reading
            self.held.clear()
            return Verdict.ACCEPTED
        if reading.value < last.value:
            return Verdict.DECREASE
        if self.held and _plausible(self.held[-1], reading, max_per_hour, step):
            self.held.append(reading)
        else:
            self.held = [reading]
        if len(self.held) > CONFIRMATIONS:
            self.accepted = reading
            self.held.clear()
            return Verdict.CONFIRMED
        return Verdict.HELD

    @property
    def holding(self) -> bool:
        """Whether a jump is being held back."""
        return bool(self.held)

    def as_dict(self) -> dict[str, Any]:
        """What survives a restart (the last accepted reading)."""
        return {"accepted": None if self.accepted is None else self.accepted.as_dict()}

    @classmethod
    def from_dict(cls, data: Any) -> TotalGuard:
        """Restore a guard stored with :meth:`as_dict` (anything malformed: an empty guard)."""
        try:
            accepted = data["accepted"]
            reading = Reading(float(accepted["value"]), float(accepted["time"]))
        except KeyError, TypeError, ValueError:
            return cls()
        if not is_sane(reading.value) or reading.value < 0 or not is_sane(reading.time):
            return cls()
        return cls(accepted=reading)


def step_of(text: str) -> float:
    """One step of the register's resolution as written (``061561.289`` -> 0.001)."""
    decimals = text.strip().partition(".")[2]
    return 10.0 ** -len(decimals) if decimals.isdigit() else 1.0
