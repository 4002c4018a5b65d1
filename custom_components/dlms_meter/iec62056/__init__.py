"""IEC 62056-21 (IEC 1107, "D0") protocol library. Never imports homeassistant.

Sans-I/O core (:mod:`.framer`, :mod:`.datalines`, :mod:`.identification`, :mod:`.obis`,
:mod:`.checksum`, :mod:`.decode`, the read session :mod:`.session` and the register reads in
programming mode :mod:`.programming`), a thin async driver on serialx (:func:`read_meter`,
:func:`read_registers`), one scheduler per port (:func:`shared_port`) and a command line tool
(``python -m custom_components.dlms_meter.iec62056``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .checksum import Checksum
from .datalines import DataBlock, parse_data_block, parse_data_lines
from .decode import decode_telegram, parse_capture
from .errors import (
    ERROR_KINDS,
    AddressRequiredError,
    ChecksumError,
    Iec62056Error,
    NoAnswerError,
    NoProgrammingModeError,
    PasswordRefusedError,
    PortBusyError,
    PortError,
    PortNotFoundError,
    ProtocolError,
    ReadoutTooLongError,
    ReadTimeLimitError,
    ReadTimeoutError,
    SmlStreamError,
    UnknownRegisterError,
)
from .framer import MAX_TELEGRAM_BYTES, Block, Framer, Telegram
from .identification import (
    MODE_B_RATES,
    MODE_C_RATES,
    PUSH_RATES,
    RATE_TABLE,
    STANDARD_RATES,
    Identification,
    parse_identification,
)
from .models import DataSet, Readout, Value
from .obis import ObisCode, address_matches, normalize_obis, parse_obis
from .programming import ProgrammingSession
from .session import ReadSession
from .settings import Mode, ReadSettings, choose_baudrate

if TYPE_CHECKING:
    from .driver import read_meter, read_registers
    from .port import SharedPort, shared_port

# The driver and the port need serialx (and its back-ends): imported on first use only, so
# that parsing and the CLI's --help start fast.
_LAZY = {
    "read_meter": "driver",
    "read_registers": "driver",
    "SharedPort": "port",
    "shared_port": "port",
}


def __getattr__(name: str) -> Any:
    """Import the serial parts (``read_meter``, ``read_registers``, ports) lazily."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ERROR_KINDS",
    "MAX_TELEGRAM_BYTES",
    "MODE_B_RATES",
    "MODE_C_RATES",
    "PUSH_RATES",
    "RATE_TABLE",
    "STANDARD_RATES",
    "AddressRequiredError",
    "Block",
    "Checksum",
    "ChecksumError",
    "DataBlock",
    "DataSet",
    "Framer",
    "Identification",
    "Iec62056Error",
    "Mode",
    "NoAnswerError",
    "NoProgrammingModeError",
    "ObisCode",
    "PasswordRefusedError",
    "PortBusyError",
    "PortError",
    "PortNotFoundError",
    "ProgrammingSession",
    "ProtocolError",
    "ReadSession",
    "ReadSettings",
    "ReadTimeLimitError",
    "ReadTimeoutError",
    "Readout",
    "ReadoutTooLongError",
    "SharedPort",
    "SmlStreamError",
    "Telegram",
    "UnknownRegisterError",
    "Value",
    "address_matches",
    "choose_baudrate",
    "decode_telegram",
    "normalize_obis",
    "parse_capture",
    "parse_data_block",
    "parse_data_lines",
    "parse_identification",
    "parse_obis",
    "read_meter",
    "read_registers",
    "shared_port",
]
