"""Exceptions raised by the IEC 62056-21 library.

Every error the library raises is an :class:`Iec62056Error`. Each class carries a
``kind`` class attribute: a stable, machine-readable key that the integration uses
for translations and statistics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .models import Readout


class Iec62056Error(Exception):
    """Base class of every error raised by this library."""

    kind: ClassVar[str] = "error"


class PortError(Iec62056Error):
    """The serial port could not be opened or used."""

    kind: ClassVar[str] = "port_error"


class PortNotFoundError(PortError):
    """The serial port (device path) does not exist."""

    kind: ClassVar[str] = "port_not_found"


class PortBusyError(PortError):
    """The serial port is locked or in use by another process."""

    kind: ClassVar[str] = "port_busy"


class NoAnswerError(Iec62056Error):
    """Not a single byte came back from the meter (echo of our own bytes excluded)."""

    kind: ClassVar[str] = "no_answer"


class ReadTimeoutError(Iec62056Error):
    """The meter started to answer, then the stream stopped before the readout was complete."""

    kind: ClassVar[str] = "timeout"


class ChecksumError(Iec62056Error):
    """The readout's block check character did not verify (or was missing)."""

    kind: ClassVar[str] = "checksum"


class ProtocolError(Iec62056Error):
    """Bytes came, but they are not an IEC 62056-21 conversation (no valid identification)."""

    kind: ClassVar[str] = "not_iec62056"


class ReadoutTooLongError(Iec62056Error):
    """The readout exceeded the size cap (64 KiB) and was cut; nothing of it is used."""

    kind: ClassVar[str] = "readout_too_long"


class ReadTimeLimitError(Iec62056Error):
    """The overall time limit ran out while the meter was still sending."""

    kind: ClassVar[str] = "read_time_limit"


class SmlStreamError(ProtocolError):
    """The meter sends SML (binary, escape ``1B 1B 1B 1B 01 01 01 01``), not IEC 62056-21.

    Such meters are read by Home Assistant's EDL21 integration.
    """

    kind: ClassVar[str] = "sml"


class NoProgrammingModeError(Iec62056Error):
    """The meter did not open programming mode (no ``P0`` operand after ``ACK 0 Z 1``)."""

    kind: ClassVar[str] = "no_programming_mode"


class PasswordRefusedError(Iec62056Error):
    """The meter refused the password (``P1``) with NAK or a break."""

    kind: ClassVar[str] = "password_refused"


class UnknownRegisterError(Iec62056Error):
    """The meter answered ``(ERROR)`` to a register read (raised only when asked to be strict).

    ``codes`` are the registers the meter did not know; ``readout`` holds the ones it did.
    """

    kind: ClassVar[str] = "unknown_register"

    def __init__(
        self, message: str, codes: tuple[str, ...] = (), readout: Readout | None = None
    ) -> None:
        """Keep the unknown ``codes`` and the partial ``readout`` (a :class:`.models.Readout`)."""
        super().__init__(message)
        self.codes = codes
        self.readout = readout


class AddressRequiredError(Iec62056Error):
    """A request without a device address on a port with several meters (a bus)."""

    kind: ClassVar[str] = "address_required"


def _all_kinds(cls: type[Iec62056Error]) -> frozenset[str]:
    kinds = {cls.kind}
    for sub in cls.__subclasses__():
        kinds |= _all_kinds(sub)
    return frozenset(kinds)


#: Every error kind the library can raise, derived from the exception classes.
ERROR_KINDS: frozenset[str] = _all_kinds(Iec62056Error)
