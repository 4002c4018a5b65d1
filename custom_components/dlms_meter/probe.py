"""The Home Assistant side of probing: the option dict <-> settings, and the library's strategy.

The strategy that finds working settings (wake-up, SUM, 300 Bd, the heat-meter sign-on, push meters
at every rate) lives in the library, :mod:`.iec62056.probe`, so the command line uses the same one;
the identity of a meter (serial number, unique id) in :mod:`.iec62056.identity`. Both are
re-exported here for the config flow and the coordinator. What stays here is the translation
between the option dict stored in a config entry and :class:`ReadSettings`.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from .iec62056 import STANDARD_RATES, Checksum, Mode, ReadSettings
from .iec62056.identity import (
    SERIAL_CODES,
    is_same_meter,
    legacy_serial_number,
    serial_number,
    unique_id_for,
)
from .iec62056.probe import (
    FATAL_KINDS,
    MAX_ATTEMPTS,
    PUSH_BAUDRATES,
    Attempt,
    AttemptCallback,
    EmptyReadoutError,
    ProbeResult,
    Stage,
    fallbacks,
    first_attempts,
    heat_meter_settings,
    probe_meter,
    push_settings,
)

__all__ = [
    "BAUDRATES",
    "BAUDRATE_AUTO",
    "CONF_ANSWER_BAUDRATE",
    "FATAL_KINDS",
    "MAX_ATTEMPTS",
    "MODES",
    "MODE_AUTO",
    "PUSH_BAUDRATES",
    "SERIAL_CODES",
    "Attempt",
    "AttemptCallback",
    "EmptyReadoutError",
    "ProbeResult",
    "Stage",
    "answer_baudrate",
    "fallbacks",
    "first_attempts",
    "heat_meter_settings",
    "is_same_meter",
    "legacy_serial_number",
    "options_from_settings",
    "probe_meter",
    "push_settings",
    "serial_number",
    "settings_from_options",
    "unique_id_for",
]

MODE_AUTO: Final = "auto"
BAUDRATE_AUTO: Final = "auto"
# Selector keys as stored in entries (hassfest: translation keys are lowercase); the library's
# letters are their upper case ("c" -> "C"). Entries of version 1 stored "A".."D" (migrated).
MODES: Final = (MODE_AUTO, *(mode.value.lower() for mode in Mode))
BAUDRATES: Final = STANDARD_RATES


def settings_from_options(options: Mapping[str, Any]) -> ReadSettings:
    """The protocol settings stored in a config entry's options (missing keys: library defaults)."""
    defaults = ReadSettings()
    mode = str(options.get(CONF_MODE, MODE_AUTO))
    baudrate = str(options.get(CONF_BAUDRATE, BAUDRATE_AUTO))
    answer_baudrate = str(options.get(CONF_ANSWER_BAUDRATE) or "").strip()
    return ReadSettings(
        mode=defaults.mode if mode == MODE_AUTO else mode.upper(),
        baudrate=None if baudrate == BAUDRATE_AUTO else int(baudrate),
        checksum=Checksum(options.get(CONF_CHECKSUM, defaults.checksum)),
        address=str(options.get(CONF_ADDRESS, defaults.address)).strip(),
        wakeup=bool(options.get(CONF_WAKEUP, defaults.wakeup)),
        reset_baudrate=bool(options.get(CONF_RESET_BAUDRATE, defaults.reset_baudrate)),
        no_waiting=bool(options.get(CONF_NO_WAITING, defaults.no_waiting)),
        answer_baudrate=int(answer_baudrate) if answer_baudrate else None,
    )


def answer_baudrate(settings: ReadSettings) -> int | None:
    """The rate a heat meter answers at when it differs from the request rate (else None)."""
    return settings.answer_baudrate


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
