"""Block check characters of IEC 62056-21 data messages.

The standard's BCC is the XOR of every 7-bit character after the first SOH or STX up to
and including the ETX (or EOT) that ends the block. Some meters (Kamstrup Multical 66,
Energomera CE301) send the 7-bit arithmetic sum of the same bytes instead.
"""

from __future__ import annotations

from enum import StrEnum


class Checksum(StrEnum):
    """Which block check the meter uses."""

    XOR = "xor"
    SUM = "sum"
    NONE = "none"


def bcc_xor(data: bytes) -> int:
    """Return the XOR of the 7-bit characters in ``data``."""
    result = 0
    for byte in data:
        result ^= byte
    return result & 0x7F


def bcc_sum(data: bytes) -> int:
    """Return the 7-bit arithmetic sum of the characters in ``data``."""
    return sum(data) & 0x7F


def compute(checksum: Checksum, data: bytes) -> int | None:
    """Return the check character for ``data`` (None for :attr:`Checksum.NONE`)."""
    if checksum is Checksum.XOR:
        return bcc_xor(data)
    if checksum is Checksum.SUM:
        return bcc_sum(data)
    return None


def verify(checksum: Checksum, data: bytes, check: int | None) -> bool | None:
    """Check ``check`` against ``data``.

    Returns None when nothing is checked (:attr:`Checksum.NONE`), False when the check
    byte is missing or wrong, True when it verifies. Bit 7 of ``check`` is ignored
    (it is the parity bit when 7E1 is read as 8N1).
    """
    expected = compute(checksum, data)
    if expected is None:
        return None
    if check is None:
        return False
    return expected == check & 0x7F
