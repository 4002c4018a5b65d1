"""Identification messages: FLAG id, reaction time, baud characters, enhanced ids."""

from __future__ import annotations

import pytest

from custom_components.dlms_meter.iec62056 import Framer, Identification, parse_identification
from custom_components.dlms_meter.iec62056.identification import (
    is_strict_identification,
    mode_c_char,
)


@pytest.mark.parametrize(
    ("raw", "manufacturer", "baud", "model", "enhanced"),
    [
        ("LGZ4ZMF100AC.M26", "LGZ", "4", "ZMF100AC.M26", ()),
        ("LGZ52ZMD120APt.G03", "LGZ", "5", "2ZMD120APt.G03", ()),
        ("ISk5MT174-0001", "ISk", "5", "MT174-0001", ()),
        ("LGZ4\\2ZMD3104100", "LGZ", "4", "ZMD3104100", ("2",)),
        ("EMH5\\@\\201LZQJL001VE", "EMH", "5", "01LZQJL001VE", ("@", "2")),
        ("ACE0\\3k260V01.19", "ACE", "0", "k260V01.19", ("3",)),
        ("KAM MC", "KAM", " ", "MC", ()),
        ("KAM5", "KAM", "5", "", ()),
        ("NWA-WARMTELINK", "NWA", "-", "WARMTELINK", ()),
        ("Ene5\\T210-D ESMR5.0", "Ene", "5", "T210-D ESMR5.0", ()),
        ("ISk5\\MT382-1003", "ISk", "5", "MT382-1003", ()),
        ("EMH5\\@\\Zx", "EMH", "5", "Zx", ("@",)),
        ("EMH5----eHZ-E0018E", "EMH", "5", "----eHZ-E0018E", ()),
        ("ESY5Q3DA1024 V3.03", "ESY", "5", "Q3DA1024 V3.03", ()),
        ("LGZ4\\", "LGZ", "4", "\\", ()),
        # Iskra MT382 optical (https://github.com/ndokter/dsmr_parser/issues/81)
        ("ISK5\\2MT382-1008", "ISK", "5", "MT382-1008", ("2",)),
        # Landis+Gyr Ultraheat UH50 (vpathuis/ultraheat @ 045e724: tests/LUGCUH50_dummy_utf8.txt)
        ("LUGCUH50", "LUG", "C", "UH50", ()),
    ],
)
def test_parse(
    raw: str, manufacturer: str, baud: str, model: str, enhanced: tuple[str, ...]
) -> None:
    """Fields of real identification lines."""
    ident = parse_identification(raw)
    assert ident is not None
    assert ident.raw == raw
    assert ident.manufacturer == manufacturer
    assert ident.baud_char == baud
    assert ident.model == model
    assert ident.enhanced == enhanced


@pytest.mark.parametrize(
    "raw",
    ["?!", "?12345678!", "LG", "LGZ", "1GZ4X", "LGZ4A!B", "LGZ4/X", "LGZ4\x02X", "LÄZ4", "L" * 80],
)
def test_rejected(raw: str) -> None:
    """Echoed requests, short lines, control characters and non-letter FLAG ids are rejected."""
    assert parse_identification(raw) is None


def test_reaction_time_lower_case_third_letter() -> None:
    """A lower-case third letter means 20 ms, otherwise 200 ms (not the other way round)."""
    fast = parse_identification("ISk5MT174")
    slow = parse_identification("ISK5ME162")
    assert fast is not None
    assert slow is not None
    assert fast.reaction_time == pytest.approx(0.02)
    assert slow.reaction_time == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("raw", "a", "b", "c", "d", "offered"),
    [
        ("LGZ4ZMF", 300, None, 4800, None, "C"),
        ("ISk5MT", 300, None, 9600, None, "C"),
        ("XYZ6MT", 300, None, 19200, None, "C"),
        ("XYZ0MT", 300, None, 300, None, "C"),
        ("XYZ3MT", 300, None, 2400, 2400, "C"),
        ("XYZAMT", 300, 600, None, None, "B"),
        ("XYZFMT", 300, 19200, None, None, "B"),
        ("XYZ7MT", 300, None, None, None, "A"),
        ("XYZGMT", 300, None, None, None, "A"),
        ("KAM MC", 300, None, None, None, "A"),
        ("NWA-WARM", 300, None, None, None, "A"),
    ],
)
def test_baud_rates_per_mode(
    raw: str, a: int, b: int | None, c: int | None, d: int | None, offered: str
) -> None:
    """Baud character tables: B letters start at A=600; C/E digits start at 0=300."""
    ident = parse_identification(raw)
    assert ident is not None
    assert ident.baudrate("A") == a
    assert ident.baudrate("B") == b
    assert ident.baudrate("C") == c
    assert ident.baudrate("E") == c
    assert ident.baudrate("D") == d
    assert ident.baudrate("X") is None
    assert ident.offered_mode == offered


def test_hdlc_and_strictness() -> None:
    """\\2 announces mode E; strict identifications have a standard baud character."""
    e650 = parse_identification("LGZ4\\2ZMD3104100")
    mc66 = parse_identification("KAM MC")
    assert e650 is not None
    assert mc66 is not None
    assert e650.hdlc_capable
    assert not mc66.hdlc_capable
    assert is_strict_identification(e650)
    assert not is_strict_identification(mc66)


def test_mode_c_char() -> None:
    """Rates map to their mode C characters; others are refused."""
    assert [mode_c_char(r) for r in (300, 600, 1200, 2400, 4800, 9600, 19200)] == list("0123456")
    with pytest.raises(ValueError, match="not an IEC"):
        mode_c_char(115200)


@pytest.mark.parametrize("end", [b"\r\n", b"\n", b"\r"])
def test_identification_line_end_forms(end: bytes) -> None:
    """CR LF, LF and a bare CR each end the identification line; nothing else joins it."""
    framer = Framer()
    events = framer.feed(b"/LUGCUH50" + end + b"6.8(0328.871*GJ)\r\n")
    idents = [e for e in events if isinstance(e, Identification)]
    assert [(i.raw, i.manufacturer, i.baud_char, i.model) for i in idents] == [
        ("LUGCUH50", "LUG", "C", "UH50")
    ]
    assert idents[0].offered_mode == "B"
    assert idents[0].baudrate("B") == 2400
