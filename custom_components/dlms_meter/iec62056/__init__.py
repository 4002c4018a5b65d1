"""IEC 62056-21 (IEC 1107, "D0") protocol library. Never imports homeassistant.

Sans-I/O core (:mod:`.framer`, :mod:`.datalines`, :mod:`.identification`, :mod:`.obis`,
:mod:`.checksum`, :mod:`.decode`), a thin async driver on serialx (:func:`read_meter`)
and a command line tool (``python -m custom_components.dlms_meter.iec62056``).
"""

from __future__ import annotations

from .checksum import Checksum
from .datalines import DataBlock, parse_data_block, parse_data_lines
from .decode import decode_telegram, parse_capture
from .driver import read_meter
from .errors import (
    ChecksumError,
    Iec62056Error,
    NoAnswerError,
    PortBusyError,
    PortError,
    PortNotFoundError,
    ProtocolError,
    ReadTimeoutError,
)
from .framer import MAX_TELEGRAM_BYTES, Block, Framer, Telegram
from .identification import Identification, parse_identification
from .models import DataSet, Readout, Value
from .obis import ObisCode, address_matches, normalize_obis, parse_obis
from .settings import ReadSettings, choose_baudrate

__all__ = [
    "MAX_TELEGRAM_BYTES",
    "Block",
    "Checksum",
    "ChecksumError",
    "DataBlock",
    "DataSet",
    "Framer",
    "Identification",
    "Iec62056Error",
    "NoAnswerError",
    "ObisCode",
    "PortBusyError",
    "PortError",
    "PortNotFoundError",
    "ProtocolError",
    "ReadSettings",
    "ReadTimeoutError",
    "Readout",
    "Telegram",
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
]
