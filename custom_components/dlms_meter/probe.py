"""Find settings that read a meter, the way a patient user would by hand (no Home Assistant).

The config flow calls :func:`probe_meter` with the settings the user asked for. When a read
with those settings fails, the probe tries what the old plugin's setup procedure told users to
try: wake the meter up first, use the other block check (SUM instead of XOR), stay at 300 Bd
instead of switching, and listen for a meter that pushes on its own (mode D at 2400 and 9600 Bd).
Each fallback is derived from the attempt that failed, so fixes add up (wake-up *and* SUM). The
first settings that give a complete readout win.

Also here: the translation between the option dict stored in a config entry and
:class:`ReadSettings`, and the identity (serial number) of a meter in a readout, because the flow
and the coordinator must agree on both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
import time
from typing import Any, Final

from .const import (
    CONF_ADDRESS,
    CONF_ANSWER_BAUDRATE,
    CONF_BAUDRATE,
    CONF_CHECKSUM,
    CONF_MODE,
    CONF_NO_WAITING,
    CONF_RESET_BAUDRATE,
    CONF_WAKEUP,
)
from .iec62056 import (
    Checksum,
    Iec62056Error,
    ProtocolError,
    Readout,
    ReadSettings,
    read_meter,
)

type AttemptCallback = Callable[[int, ReadSettings], None]

MODE_AUTO: Final = "auto"
BAUDRATE_AUTO: Final = "auto"
# Selector keys as stored in entries (hassfest: translation keys are lowercase); the library's
# letters are their upper case ("c" -> "C").
MODES: Final = (MODE_AUTO, "a", "b", "c", "d")
BAUDRATES: Final = (300, 600, 1200, 2400, 4800, 9600, 19200)
PUSH_BAUDRATES: Final = (2400, 9600)
MAX_ATTEMPTS: Final = 8

# Errors no other setting can fix: the port itself is missing or taken. (A port_error can come from
# a rate switch the transport refuses, e.g. a raw socket: staying at 300 Bd may help.)
FATAL_KINDS: Final = frozenset({"port_not_found", "port_busy"})
# All attempts failed: report the one that got furthest (a checksum error: the meter talked).
_PROGRESS_RANK: Final = {"no_answer": 1, "not_iec62056": 2, "timeout": 3, "checksum": 4}

# Data sets that name the meter, best first: the maker's serial number C.1.0 (= 96.1.0, also
# 96.1.255), then the device address / property number 0.0.0 (also 0.0), often set by the utility.
SERIAL_CODES: Final = ("96.1.0", "0.0.0")


class EmptyReadoutError(ProtocolError):
    """The meter answered but sent no data sets: nothing to offer the user."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What worked: the settings, the readout they produced and how long the read took (s)."""

    settings: ReadSettings
    readout: Readout
    duration: float
    attempts: int


def fallbacks(failed: ReadSettings, kind: str, *, try_other_modes: bool) -> list[ReadSettings]:
    """Settings worth trying after ``failed`` ended with an error of ``kind``, best guess first."""
    if failed.mode == "D":
        return []  # A push meter is only listened to; the other push rate is already queued.
    found: list[ReadSettings] = []
    if kind == "no_answer" and not failed.wakeup:
        found.append(replace(failed, wakeup=True))  # Battery or sleepy meters.
    if kind == "checksum" and failed.checksum is Checksum.XOR:
        found.append(replace(failed, checksum=Checksum.SUM))  # Kamstrup, Energomera: 7-bit sum.
    if kind in ("checksum", "timeout") and failed.no_waiting:
        found.append(replace(failed, no_waiting=False))  # The shortcut was too fast.
    if kind in ("checksum", "timeout", "port_error") and failed.baudrate != 300:
        found.append(replace(failed, baudrate=300))  # The speed switch failed: stay at 300.
    if kind in ("no_answer", "not_iec62056", "timeout") and try_other_modes:
        found.extend(push_settings(failed))
    return found


def push_settings(base: ReadSettings) -> list[ReadSettings]:
    """Listen-only settings for a meter that pushes its readout (mode D) at the usual rates."""
    return [replace(base, mode="D", baudrate=rate, wakeup=False) for rate in PUSH_BAUDRATES]


def first_attempts(settings: ReadSettings) -> list[ReadSettings]:
    """What to try first: the settings as given; mode D without a rate listens at both rates."""
    if settings.mode == "D" and settings.baudrate is None:
        return push_settings(settings)
    return [settings]


async def probe_meter(
    port: str,
    settings: ReadSettings,
    *,
    try_other_modes: bool = True,
    on_attempt: AttemptCallback | None = None,
) -> ProbeResult:
    """Read the meter on ``port``, falling back to what a user would try by hand.

    Raises the error of the attempt that got furthest when nothing works, or at once when the port
    itself cannot be used (missing, busy): no protocol setting fixes that.
    """
    queue = first_attempts(settings)
    tried: set[ReadSettings] = set()
    best: Iec62056Error | None = None
    attempts = 0
    while queue and attempts < MAX_ATTEMPTS:
        candidate = queue.pop(0)
        if candidate in tried:
            continue
        tried.add(candidate)
        attempts += 1
        if on_attempt is not None:
            on_attempt(attempts, candidate)
        started = time.monotonic()
        try:
            readout = await read_meter(port, candidate)
            if not readout.datasets:
                raise EmptyReadoutError("the meter sent no data sets")
        except Iec62056Error as err:
            if err.kind in FATAL_KINDS:
                raise
            if best is None or _PROGRESS_RANK.get(err.kind, 0) > _PROGRESS_RANK.get(best.kind, 0):
                best = err
            queue.extend(fallbacks(candidate, err.kind, try_other_modes=try_other_modes))
            continue
        duration = max(time.monotonic() - started, readout.duration)
        return ProbeResult(candidate, readout, duration, attempts)
    assert best is not None  # At least one attempt ran and failed.
    raise best


def serial_number(readout: Readout) -> str | None:
    """The meter's serial number: a non-empty C.1.0 (96.1.0), else 0.0.0 (0.0), else the ID text."""
    for pattern in SERIAL_CODES:
        for dataset in readout.datasets:
            code = dataset.obis
            if code is None or not code.matches(pattern) or not dataset.values:
                continue
            if value := dataset.values[0].value.strip():
                return value
    if readout.identification is not None and readout.identification.raw.strip():
        return readout.identification.raw.strip()
    return None


def settings_from_options(options: Mapping[str, Any]) -> ReadSettings:
    """The protocol settings stored in a config entry's options (missing keys: library defaults).

    The mode is stored as a lowercase selector key ("c"); entries of version 1.1 stored the
    letter ("C"): both are read.
    """
    defaults = ReadSettings()
    mode = str(options.get(CONF_MODE, MODE_AUTO))
    baudrate = str(options.get(CONF_BAUDRATE, BAUDRATE_AUTO))
    settings = ReadSettings(
        mode=defaults.mode if mode == MODE_AUTO else mode.upper(),
        baudrate=None if baudrate == BAUDRATE_AUTO else int(baudrate),
        checksum=Checksum(options.get(CONF_CHECKSUM, defaults.checksum)),
        address=str(options.get(CONF_ADDRESS, defaults.address)).strip(),
        wakeup=bool(options.get(CONF_WAKEUP, defaults.wakeup)),
        reset_baudrate=bool(options.get(CONF_RESET_BAUDRATE, defaults.reset_baudrate)),
        no_waiting=bool(options.get(CONF_NO_WAITING, defaults.no_waiting)),
    )
    answer = str(options.get(CONF_ANSWER_BAUDRATE) or "")
    if answer and _HAS_ANSWER_BAUDRATE:
        changes: dict[str, Any] = {CONF_ANSWER_BAUDRATE: int(answer)}
        settings = replace(settings, **changes)
    return settings


# ReadSettings.answer_baudrate (contract 3) exists once the library branch is merged.
_HAS_ANSWER_BAUDRATE: Final = CONF_ANSWER_BAUDRATE in {f.name for f in fields(ReadSettings)}


def answer_baudrate(settings: ReadSettings) -> int | None:
    """The rate a heat meter answers at when it differs from the request rate (else None)."""
    value = getattr(settings, CONF_ANSWER_BAUDRATE, None)
    return value if isinstance(value, int) else None


def options_from_settings(settings: ReadSettings) -> dict[str, Any]:
    """The option dict for ``settings`` (the inverse of :func:`settings_from_options`)."""
    answer = answer_baudrate(settings)
    return {
        CONF_MODE: str(settings.mode).lower(),
        CONF_BAUDRATE: BAUDRATE_AUTO if settings.baudrate is None else str(settings.baudrate),
        CONF_CHECKSUM: str(settings.checksum),
        CONF_ADDRESS: settings.address,
        CONF_WAKEUP: settings.wakeup,
        CONF_RESET_BAUDRATE: settings.reset_baudrate,
        CONF_NO_WAITING: settings.no_waiting,
        CONF_ANSWER_BAUDRATE: "" if answer is None else str(answer),
    }
