"""Who a meter is: its serial number and a unique id that never fails.

One definition for the config flow (unique id, duplicates), the coordinator (was the meter
swapped?) and the catalog (which codes are identifiers).

Serial number
-------------
:func:`serial_number` takes the first non-placeholder value of the registers in
:data:`SERIAL_CODES`, in this order:

1. ``96.1.0`` = ``C.1.0`` (also ``C.1``, ``96.1.255``): the maker's serial number (IEC 62056-61
   "device ID 1"): L+G, Iskra, Itron, Logarex, eBZ, EMH/Hager/EasyMeter (``0-0:96.1.255``).
2. ``0.0.0`` (also ``0.0``): device address / property number, often set by the utility (L+G ZMD,
   Iskra, Itron EM214, Pafal, Kamstrup Multical, Siemens 2WR5, eHZ ``1-0:0.0.0``).
3. ``0.0.1`` .. ``0.0.9``: the further device addresses (Elster AS3000 sends only ``0.0.1``).
4. ``96.1.1`` .. ``96.1.9``: device IDs 2..10 (DSMR's equipment identifier ``0-0:96.1.1``).
5. ``9.20``: the device number of heat meters (Landis+Gyr Ultraheat, Siemens 2WR5).
6. ``9.21``: the ownership number of heat meters.

Rules: only current values (no ``*F`` history entries); a data set of the meter itself (group B
absent or 0) wins over one of a channel (DSMR's ``0-1:96.1.0`` is the gas meter's id: it is used
only when nothing else is there, e.g. L+G ZMD310 writes every code as ``1-1:``); placeholder values
(blank, only zeros, ``-``) are skipped.

The old order (before this module) and compatibility
----------------------------------------------------
Entries created by earlier versions have as unique id :func:`legacy_serial_number`: the first
non-blank ``96.1.0`` (of any channel, zeros included), then ``0.0.0``, then the identification text.
Both orders give the same answer whenever the old one found a serial number of the meter itself;
they differ for DSMR meters (the old order took the gas meter's ``0-1:96.1.0``), for placeholder
values (``00000000``) and where the old order fell back to the identification text. So that those
entries still find their meter, :func:`is_same_meter` accepts the old id too (an old id that was
the identification text only on the entry's own port: two meters of one model look alike there).

Unique id
---------
:func:`unique_id_for` never fails: the serial number; else the identification text plus a key of
the port (two meters of one model on two ports stay apart); else ``meter`` plus the port key. The
port key is a hash of the masked port (:func:`redact.mask_port`), so no secret of a port URL can
reach the id, and it does not change when only a password changes.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from .models import DataSet, Readout
from .obis import ObisCode
from .redact import mask_port

#: Registers that hold a meter's serial number, best first (see the module docstring).
SERIAL_CODES: Final[tuple[str, ...]] = (
    "96.1.0",
    "0.0.0",
    *(f"0.0.{e}" for e in range(1, 10)),
    *(f"96.1.{e}" for e in range(1, 10)),
    "9.20",
    "9.21",
)
#: The order used before :data:`SERIAL_CODES` (then the identification text).
LEGACY_SERIAL_CODES: Final[tuple[str, ...]] = ("96.1.0", "0.0.0")

_PLACEHOLDER: Final = re.compile(r"^[\s0\-.:?]*$")
_PORT_KEY_LENGTH: Final = 12


def _is_placeholder(value: str) -> bool:
    """Blank, only zeros, dashes or dots: no meter is told apart by it."""
    return _PLACEHOLDER.match(value) is not None


def _own(code: ObisCode) -> bool:
    """A data set of the meter itself (channel B absent or 0), not of a connected device."""
    return code.b is None or code.b == 0


def _first_value(dataset: DataSet) -> str:
    return dataset.values[0].value.strip() if dataset.values else ""


def serial_codes_found(readout: Readout) -> list[tuple[str, DataSet]]:
    """Every data set that may hold the serial number, in the order :func:`serial_number` uses.

    Pairs of the code of :data:`SERIAL_CODES` it matched and the data set (placeholders included).
    """
    found: list[tuple[str, DataSet]] = []
    coded = [(ds, ds.obis) for ds in readout.datasets]
    for own in (True, False):
        for pattern in SERIAL_CODES:
            for dataset, code in coded:
                if code is not None and _own(code) is own and code.matches(pattern):
                    found.append((pattern, dataset))
    return found


def serial_number(readout: Readout) -> str | None:
    """The meter's serial number from the first register of :data:`SERIAL_CODES`; None if none."""
    for _pattern, dataset in serial_codes_found(readout):
        value = _first_value(dataset)
        if not _is_placeholder(value):
            return value
    return None


def legacy_serial_number(readout: Readout) -> str | None:
    """The unique id earlier versions gave this meter (96.1.0, 0.0.0, identification text)."""
    for pattern in LEGACY_SERIAL_CODES:
        for dataset in readout.datasets:
            code = dataset.obis
            if code is None or not code.matches(pattern) or not dataset.values:
                continue
            if value := dataset.values[0].value.strip():
                return value
    if readout.identification is not None and readout.identification.raw.strip():
        return readout.identification.raw.strip()
    return None


def port_key(port: str) -> str:
    """A short, stable key of ``port`` that holds no secret (hash of the masked port)."""
    digest = hashlib.sha256(mask_port(port.strip()).encode("utf-8", "replace")).hexdigest()
    return digest[:_PORT_KEY_LENGTH]


def _ident_text(readout: Readout) -> str:
    ident = readout.identification
    return "" if ident is None else " ".join(ident.raw.split())


def unique_id_for(readout: Readout, port: str) -> str:
    """A unique id for the meter of ``readout`` on ``port``; never fails, never holds a secret.

    The serial number; else ``<identification>@<port key>``; else ``meter@<port key>``.
    """
    if (serial := serial_number(readout)) is not None:
        return serial
    return f"{_ident_text(readout) or 'meter'}@{port_key(port)}"


def is_same_meter(
    known_id: str,
    known_port: str,
    readout: Readout,
    port: str,
    *,
    allow_port_change: bool = False,
) -> bool:
    """Whether ``readout`` (read on ``port``) comes from the meter an entry knows as ``known_id``.

    ``known_id`` may be a unique id of :func:`unique_id_for` or of an earlier version
    (:func:`legacy_serial_number`); ``known_port`` is the entry's port. A meter without a serial
    number is known only by its identification, which every meter of its model sends: such an id
    matches on the entry's own port only (so a second meter of that model on another port is no
    duplicate), unless ``allow_port_change`` (the user moves the entry's head to another port on
    purpose, e.g. when reconfiguring) accepts the same identification on any port.
    """
    same_port = port_key(known_port) == port_key(port)
    if known_id == unique_id_for(readout, port):
        return True
    if serial_number(readout) is None and allow_port_change:
        text, _sep, key = known_id.rpartition("@")
        if len(key) == _PORT_KEY_LENGTH and text == (_ident_text(readout) or "meter"):
            return True
    legacy = legacy_serial_number(readout)
    if legacy is None or known_id != legacy:
        return False
    ident = readout.identification
    from_ident = ident is not None and legacy == ident.raw.strip()
    return not from_ident or same_port or allow_port_change
