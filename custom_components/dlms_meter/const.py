"""Constants for the dlms_meter integration.

Where settings live:
- ``entry.data``: how to reach the meter and who it is: ``port`` plus the identity found by the
  probe (``serial_number``, ``identification``, ``manufacturer``, ``model``).
- ``entry.options``: everything a user may change later without re-adding the meter: the update
  interval, the chosen OBIS codes and the protocol settings (the old plugin's options).
"""

from __future__ import annotations

from typing import Final

from .iec62056 import ERROR_KINDS as LIBRARY_ERROR_KINDS, Iec62056Error

DOMAIN: Final = "dlms_meter"

# entry.data
CONF_PORT: Final = "port"
CONF_SERIAL_NUMBER: Final = "serial_number"
CONF_IDENTIFICATION: Final = "identification"
CONF_MANUFACTURER: Final = "manufacturer"
CONF_MODEL: Final = "model"

# entry.options
CONF_UPDATE_INTERVAL: Final = "update_interval"  # seconds (old plugin: update_cycle)
CONF_CODES: Final = "codes"  # list of chosen data-set keys (catalog.dataset_key)
CONF_MODE: Final = "mode"  # "auto", "a", "b", "c", "d" (entry version 1 stored "A".."D")
CONF_BAUDRATE: Final = "baudrate"  # "auto" or "300".."19200" (old plugin: baudrate)
CONF_CHECKSUM: Final = "checksum"  # "xor", "sum", "none" (old plugin: use_checksum)
CONF_ADDRESS: Final = "address"  # device address in the sign-on, "" = none
CONF_WAKEUP: Final = "wakeup"  # send the wake-up NUL sequence first
CONF_RESET_BAUDRATE: Final = "reset_baudrate"  # old plugin: reset_baudrate
CONF_NO_WAITING: Final = "no_waiting"  # old plugin: no_waiting
CONF_READ_TIME: Final = "read_time"  # seconds the last probe read took (set by the config flow)
CONF_MAX_POWER: Final = "max_power"  # kW the totals may grow at (0/missing: derived from the meter)
CONF_PASSWORD: Final = "password"  # programming-mode password for register reads ("" = none)
CONF_FAST_CODES: Final = "fast_codes"  # codes read fast by register reads (programming mode)
CONF_FAST_INTERVAL: Final = "fast_interval"  # seconds between register reads
CONF_FAST_CAPABLE: Final = "fast_capable"  # codes the probe read by register read (no password)
CONF_FAST_READ_TIME: Final = "fast_read_time"  # seconds the probe's register session took
# the rate a heat meter answers at when it differs from the request rate ("" = none)
CONF_ANSWER_BAUDRATE: Final = "answer_baudrate"

DEFAULT_UPDATE_INTERVAL: Final = 60  # seconds, as the old plugin
# Battery heat meters (answer_baudrate set): once a day, as Home Assistant's own
# landisgyr_heat_meter integration polls its Ultraheat meters "to prevent battery drain".
HEAT_METER_UPDATE_INTERVAL: Final = 86400
MIN_UPDATE_INTERVAL: Final = 5
DEFAULT_FAST_INTERVAL: Final = 5  # seconds between register reads of the fast values
MIN_FAST_INTERVAL: Final = 1
# register reads: after this many failed sessions in a row, the fast values fall back
FAST_FAILURES_BEFORE_FALLBACK: Final = 3
# the probe reads at most this many registers in its one short register session
FAST_PROBE_CODES: Final = 6
ISSUE_FAST_VALUES_FALLBACK: Final = "fast_values_fallback"

# coordinator / repairs
QUIET_TIME: Final = 1.5  # seconds the standard asks between the end of one read and the next
FAILURES_BEFORE_ISSUE: Final = 5  # consecutive failed cycles before "meter_not_answering"
ISSUE_INTERVAL_TOO_SHORT: Final = "interval_too_short"
ISSUE_METER_NOT_ANSWERING: Final = "meter_not_answering"

# hass.data[DOMAIN][PROBE_READOUTS][unique id]: the config flow's readout, which the new entry
# starts from instead of reading the meter again (contract 8; popped by async_setup_entry).
PROBE_READOUTS: Final = "probe_readouts"


# The protocol library's error kinds (iec62056.ERROR_KINDS, derived from its exception classes);
# each has a translated form error (config.error.*) and exception message (exceptions.*). The base
# class's generic kind ("error", raised only by the command line) is not one of them: anything
# else is "unknown" in the flows and "read_failed" in the coordinator.
ERROR_KINDS: Final = LIBRARY_ERROR_KINDS - {Iec62056Error.kind}
