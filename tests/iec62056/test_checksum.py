"""Block check characters, verified against the LEM/EMH manual examples."""

from __future__ import annotations

import pytest

from custom_components.dlms_meter.iec62056 import Checksum
from custom_components.dlms_meter.iec62056.checksum import bcc_sum, bcc_xor, compute, verify


@pytest.mark.parametrize(
    ("scope", "bcc"),
    [
        (b"B0\x03", ord("q")),
        (b"P0\x02()\x03", ord("`")),
        (b"P1\x02(00000000)\x03", ord("a")),
        (b"R5\x020.9.2()\x03", ord("\\")),
        (b"0.9.2(130103)\x03", ord("9")),
        (b"R1\x021.8.0()\x03", ord("Z")),
    ],
)
def test_xor_manual_examples(scope: bytes, bcc: int) -> None:
    """XOR BCC of the documented messages (scope starts after SOH/STX)."""
    assert bcc_xor(scope) == bcc
    assert compute(Checksum.XOR, scope) == bcc
    assert verify(Checksum.XOR, scope, bcc) is True
    assert verify(Checksum.XOR, scope, bcc | 0x80) is True
    assert verify(Checksum.XOR, scope, bcc ^ 1) is False


def test_sum_and_none() -> None:
    """7-bit sum; NONE checks nothing; a missing check byte fails."""
    assert bcc_sum(b"\x7f\x02") == 0x01
    assert compute(Checksum.SUM, b"ab") == (0x61 + 0x62) & 0x7F
    assert verify(Checksum.SUM, b"ab", 0x43) is True
    assert compute(Checksum.NONE, b"ab") is None
    assert verify(Checksum.NONE, b"ab", None) is None
    assert verify(Checksum.XOR, b"ab", None) is False
    assert Checksum("sum") is Checksum.SUM
