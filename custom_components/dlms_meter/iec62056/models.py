"""Result types: values, data sets and whole readouts."""

from __future__ import annotations

from dataclasses import dataclass

from .identification import Identification
from .obis import ObisCode, address_matches, parse_obis


@dataclass(frozen=True, slots=True)
class Value:
    """One value: a ``(value*unit)`` group, or one ``&``-separated part of it.

    ``unit`` is None when absent or empty; a unit the meter glued to the number
    (``010192.57kWh``) is split off into ``unit`` as well (see :mod:`.datalines`).
    """

    value: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class DataSet:
    """An address (exactly as sent, e.g. ``0.1.0&12``) with its values, in the order sent.

    ``9.4(098.5*C&096.1*C)`` gives two values; ``1.6.0(02.468*kW)(1703100930)`` too.
    """

    address: str
    values: tuple[Value, ...]

    @property
    def obis(self) -> ObisCode | None:
        """Return the parsed OBIS code, None for non-OBIS names such as ``ET0PE``."""
        return parse_obis(self.address)

    @property
    def value(self) -> Value | None:
        """Return the first value, if any."""
        return self.values[0] if self.values else None


@dataclass(frozen=True, slots=True)
class Readout:
    """One complete readout (telegram) of a meter.

    ``raw`` holds the telegram's bytes (bit 7 cleared) from ``/`` (or the first STX)
    to the check byte. ``checksum_ok`` is True/False when a check byte was verified,
    None when nothing was checked (no check in the telegram, or checking disabled).
    ``baudrate`` is the rate the data came at, if known; ``mode`` the protocol mode
    used ("A".."D", or "" for parsed captures); ``duration`` seconds from the request
    (or from the start of listening) to the last byte. ``skipped_lines`` counts the
    lines (or line tails) dropped as noise or malformed (see :mod:`.datalines`); their
    values are never in ``datasets``.
    """

    identification: Identification | None
    datasets: tuple[DataSet, ...]
    raw: bytes = b""
    checksum_ok: bool | None = None
    baudrate: int | None = None
    mode: str = ""
    duration: float = 0.0
    skipped_lines: int = 0

    def find(self, pattern: str) -> tuple[DataSet, ...]:
        """Return the data sets whose address matches ``pattern`` (OBIS rules or exact text)."""
        return tuple(ds for ds in self.datasets if address_matches(ds.address, pattern))
