"""Data-line parsing: every form listed in the corpus README."""

from __future__ import annotations

import pytest

from custom_components.dlms_meter.iec62056 import DataSet, Value, parse_data_block, parse_data_lines
from custom_components.dlms_meter.iec62056.datalines import (
    GLUED_SHORT_UNITS,
    GLUED_UNITS,
    parse_value,
    parse_values,
    split_glued_unit,
)


def _table(text: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    return [(d.address, [(v.value, v.unit) for v in d.values]) for d in parse_data_lines(text)]


@pytest.mark.parametrize(
    ("inner", "value", "unit"),
    [
        ("001846.0*kWh", "001846.0", "kWh"),
        ("013925.5*", "013925.5", None),
        ("", "", None),
        ("        ", "", None),
        (" 20000", "20000", None),
        ("-000073.69*W", "-000073.69", "W"),
        ("+00026*W", "+00026", "W"),
        ("0000000 kWh", "0000000 kWh", None),
        ("088*C&082*C", "088*C&082*C", None),
        ("ver.03,EF8C,20170504", "ver.03,EF8C,20170504", None),
        ("V01.69#EEA3546C", "V01.69#EEA3546C", None),
        ("2017-01-18&01:36:47", "2017-01-18&01:36:47", None),
        ("6.00*Imp/kWh", "6.00", "Imp/kWh"),
        ("1*  kvarh ", "1", "kvarh"),
    ],
)
def test_values(inner: str, value: str, unit: str | None) -> None:
    """One value: stripped of spaces; empty units become None; no ``&`` or glued split here."""
    assert parse_value(inner) == Value(value, unit)


def test_multiple_values_per_line_and_empty() -> None:
    """Value + timestamp, many values, empties."""
    text = "1-0:1.6.0*255(02.468*kW)(1703100930)\r\nC.2.1(000000000000)(   )\r\n1.6.2*01()\r\n"
    assert _table(text) == [
        ("1-0:1.6.0*255", [("02.468", "kW"), ("1703100930", None)]),
        ("C.2.1", [("000000000000", None), ("", None)]),
        ("1.6.2*01", [("", None)]),
    ]


def test_end_marker_forms() -> None:
    """'!' on its own line, after the last set, and nothing after it is read."""
    block = parse_data_block("1.8.0(1*kWh)\r\n!\r\n2.8.0(2*kWh)\r\n")
    assert block.ended
    assert [d.address for d in block.datasets] == ["1.8.0"]
    block = parse_data_block("0.2.2(:::::G11)!\r\n")
    assert block.ended
    assert block.datasets == (DataSet("0.2.2", (Value(":::::G11"),)),)
    assert not parse_data_block("1.8.0(1)\r\n").ended


def test_bang_inside_value_is_not_the_end() -> None:
    """Only '!' outside parentheses ends the block."""
    block = parse_data_block("9.9(a!b)\r\n1.8.0(2)\r\n!")
    assert block.ended
    assert _table("9.9(a!b)\r\n1.8.0(2)\r\n!") == [
        ("9.9", [("a!b", None)]),
        ("1.8.0", [("2", None)]),
    ]


def test_several_sets_on_one_line() -> None:
    """Data sets glued together on one physical line."""
    assert _table("6.8(0029.055*MWh)6.26(01589.28*m3)F(0)9.21(00010213)") == [
        ("6.8", [("0029.055", "MWh")]),
        ("6.26", [("01589.28", "m3")]),
        ("F", [("0", None)]),
        ("9.21", [("00010213", None)]),
    ]


def test_continuation_line() -> None:
    """A line starting with '(' adds its values to the previous data set (DSMR 2.2)."""
    text = "0-1:24.3.0(121106150000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(00054.386)\r\n0-1:24.4.0(1)\r\n"
    table = _table(text)
    assert table[0][0] == "0-1:24.3.0"
    assert table[0][1][-2:] == [("m3", None), ("00054.386", None)]
    assert table[1] == ("0-1:24.4.0", [("1", None)])


def test_continuation_without_previous_set() -> None:
    """A leading continuation line with nothing before it becomes an address-less set."""
    assert _table("(5)\r\n") == [("", [("5", None)])]


def test_named_addresses_and_line_ends() -> None:
    """Non-OBIS names, LF-only, CR-only and LF LF line ends, duplicates kept."""
    text = "ET0PE(1.0)\nET0PE(2.0)\rHELLO(2,CE301,12)\n\nVOLTA(233.7)\r\n"
    assert _table(text) == [
        ("ET0PE", [("1.0", None)]),
        ("ET0PE", [("2.0", None)]),
        ("HELLO", [("2,CE301,12", None)]),
        ("VOLTA", [("233.7", None)]),
    ]


def test_garbage_is_ignored() -> None:
    """Stray control bytes, address text without '(' and unclosed values are dropped."""
    text = "\x00\x7fF.F(00)\r\n1.8.0(013925.5*)Y\x02\x02\x01\x00!\r\n"
    assert _table(text) == [("F.F", [("00", None)]), ("1.8.0", [("013925.5", None)])]
    assert _table("junk without parens\r\n1.8.0(00012\r\n2.8.0(5)\r\n") == [
        ("2.8.0", [("5", None)])
    ]
    assert _table("") == []


# Iskra MT382-1008 read through the optical port: units glued to the numbers, no "*".
# Source: https://github.com/ndokter/dsmr_parser/issues/81 (also home-assistant/core#51271),
# HTerm output with <\r><\n> shown as text; the meter's serial number is masked there.
MT382_OPTICAL = (
    "0-0:96.1.1(314xxxxxxxxxxxxxxxxxxxxx37)\r\n"
    "0-0:128.20.0(016)\r\n"
    "1-0:0.9.2(210528)\r\n"
    "1-0:0.9.1(215658)\r\n"
    "1-0:1.7.0(001.322kW)\r\n"
    "1-0:2.7.0(000.000kW)\r\n"
    "1-0:1.8.0(010192.57kWh)\r\n"
    "1-0:1.8.1(006094.31kWh)\r\n"
    "1-0:1.2.0(106.732kW)\r\n"
    "1-0:3.8.0(000122.04kvarh)\r\n"
    "1-0:4.8.0(006255.99kvarh)\r\n"
    "1-0:0.2.2(Smart001)\r\n"
    "1-0:0.3.0(00500)\r\n"
    "0-0:97.97.0(00000000)\r"
)

# Landis+Gyr Ultraheat T550 (model id LGUHT550): "&" lists, several data sets per line,
# history "*01", "m" = minutes. Source: vpathuis/ultraheat @ 282d0e8: tests/LGUHT550_dummy_utf8.txt
# (a real readout posted in https://github.com/vpathuis/ultraheat/issues/7, used as the test
# file of the ultraheat-api library Home Assistant uses); a subset of its lines.
T550_LINES = (
    "6.8(0326.062*MWh)6.26(07939.56*m3)9.21(00073600)\n"
    "6.26*01(07843.48*m3)6.8*01(0323.272*MWh)\n"
    "F(0)9.20(66935074)6.35(60*m)\n"
    "6.6(0028.0*kW)6.6*01(0028.0*kW)6.33(000.840*m3ph)9.4(108.5*C&088.1*C)\n"
    "6.31(0088324*h)6.32(0000001*h)9.22(R)9.6(000&00073600&0&000&00073600&0)\n"
    "9.7(20000)6.32*01(0000001*h)6.36(01-01&00:00)6.33*01(000.840*m3ph)\n"
    "6.36*02(01&00:00)9.36(2022-06-08&10:06:51)9.24(1.5*m3ph)\n"
    "9.1(0&1&0&0017&CECV&CECV&1&5.19&5.19&F&081008&040404&08&0&00&?:)\n"
    "9.2(&&)9.29()9.31(0059615*h)\n"
    "6.26.1*01()6.26.4*01()6.26.5*01()0.0(00073600)\n"
    "!\n"
)


@pytest.mark.parametrize(
    ("inner", "address", "expected"),
    [
        ("098.5*C&096.1*C", "9.4", [("098.5", "C"), ("096.1", "C")]),
        ("088*C&082", "9.4", [("088", "C"), ("082", None)]),
        ("&&", "9.2", [("", None), ("", None), ("", None)]),
        ("2022-06-08&10:06:51", "9.36", [("2022-06-08", None), ("10:06:51", None)]),
        ("01-01&00:00", "6.36", [("01-01", None), ("00:00", None)]),
        (" 1 * kWh & 2*kWh ", "1.8.0", [("1", "kWh"), ("2", "kWh")]),
        ("0029.055MWh&7", "6.8", [("0029.055", "MWh"), ("7", None)]),
        ("5", "", [("5", None)]),
    ],
)
def test_ampersand_lists(inner: str, address: str, expected: list[tuple[str, str | None]]) -> None:
    """``&`` inside one pair of parentheses separates values, each with its own unit."""
    assert [(v.value, v.unit) for v in parse_values(inner, address)] == expected


def test_ampersand_in_address_stays_part_of_it() -> None:
    """``0.1.0&12`` and ``0.1.0*12`` are two data sets, addressed as written."""
    table = _table("0.1.0&12(2301011200)\r\n0.1.0*12(2302011200)\r\n1.8.0&01(5*kWh)\r\n")
    assert table == [
        ("0.1.0&12", [("2301011200", None)]),
        ("0.1.0*12", [("2302011200", None)]),
        ("1.8.0&01", [("5", "kWh")]),
    ]
    first, second, _ = parse_data_lines("0.1.0&12(1)\r\n0.1.0*12(2)\r\n1.8.0&01(5)\r\n")
    assert first.obis is not None and second.obis is not None
    assert first.obis != second.obis


@pytest.mark.parametrize(
    ("address", "inner", "expected"),
    [
        ("1-0:1.8.0", "010192.57kWh", ("010192.57", "kWh")),
        ("1-0:1.7.0", "001.322kW", ("001.322", "kW")),
        ("1-0:3.8.0", "000122.04kvarh", ("000122.04", "kvarh")),
        ("1-0:1.8.1*255", "0000000 kWh", ("0000000", "kWh")),
        ("1-0:32.7.0", "231.4V", ("231.4", "V")),
        ("1-0:31.7.0", "1.25 A", ("1.25", "A")),
        ("6.31", "0107988h", ("0107988h", None)),  # no decimal point, one letter: not split
        ("1-0:32.7.0", "231V", ("231V", None)),
        ("1-0:21.7.0", "-0.5kW", ("-0.5", "kW")),
        ("6.8", "0326.062MWh", ("0326.062", "MWh")),
        ("6.26", "07939.56m3", ("07939.56", "m3")),
        ("1.8.0", "5KWH", ("5", "KWH")),
        # never split: text registers, hex words, unknown units, abstract or non-OBIS names
        ("1-0:0.9.2", "210528", ("210528", None)),
        ("0.9.2", "21-01-01 00:00", ("21-01-01 00:00", None)),
        ("0.2.0", "V01.69#EEA3546C", ("V01.69#EEA3546C", None)),
        ("1-0:0.2.2", "Smart001", ("Smart001", None)),
        ("1-0:96.50.0*4", "1F", ("1F", None)),
        ("1-0:96.5.5*255", "80A", ("80A", None)),
        ("0-0:C.1.0", "12kWh", ("12kWh", None)),
        ("ET0PE", "5kWh", ("5kWh", None)),
        ("1.8.0", "12abc", ("12abc", None)),
        ("1.8.0", "1.2.3kWh", ("1.2.3kWh", None)),
        ("1.8.0", "5  kWh", ("5  kWh", None)),
        ("1.8.0", "kWh", ("kWh", None)),
        ("1.8.0", "5kWh2", ("5kWh2", None)),
        ("9.4", "1.5.", ("1.5.", None)),
        # DSMR timestamps end in a season letter (W = winter, S = summer), also on C 1..95
        ("0-0:1.0.0", "230521133516S", ("230521133516S", None)),
        ("0-0:1.0.0", "210101120000W", ("210101120000W", None)),
        ("0-1:24.2.1", "230521133505S", ("230521133505S", None)),
        ("1-0:1.6.0", "200509134558S", ("200509134558S", None)),
        ("1.8.0", "1.5S", ("1.5S", None)),
        ("1.8.0", "1.5w", ("1.5w", None)),
    ],
)
def test_glued_units(address: str, inner: str, expected: tuple[str, str | None]) -> None:
    """A unit glued to a number is split off only when the text is clearly number + unit."""
    (value,) = parse_values(inner, address)
    assert (value.value, value.unit) == expected


def test_glued_unit_helpers() -> None:
    """A value that has a unit is left alone; the unit table holds the common units."""
    assert split_glued_unit(Value("5kWh", "Wh")) == Value("5kWh", "Wh")
    assert {"kwh", "kvarh", "m3", "m3ph", "gj", "mwh", "hz"} <= GLUED_UNITS
    assert {"W", "V", "A", "C", "h"} <= GLUED_SHORT_UNITS


def test_mt382_optical_readout() -> None:
    """The Iskra MT382 optical readout: every energy and power value gets its unit."""
    table = _table(MT382_OPTICAL)
    assert table == [
        ("0-0:96.1.1", [("314xxxxxxxxxxxxxxxxxxxxx37", None)]),
        ("0-0:128.20.0", [("016", None)]),
        ("1-0:0.9.2", [("210528", None)]),
        ("1-0:0.9.1", [("215658", None)]),
        ("1-0:1.7.0", [("001.322", "kW")]),
        ("1-0:2.7.0", [("000.000", "kW")]),
        ("1-0:1.8.0", [("010192.57", "kWh")]),
        ("1-0:1.8.1", [("006094.31", "kWh")]),
        ("1-0:1.2.0", [("106.732", "kW")]),
        ("1-0:3.8.0", [("000122.04", "kvarh")]),
        ("1-0:4.8.0", [("006255.99", "kvarh")]),
        ("1-0:0.2.2", [("Smart001", None)]),
        ("1-0:0.3.0", [("00500", None)]),
        ("0-0:97.97.0", [("00000000", None)]),
    ]


def test_t550_heat_meter_lines() -> None:
    """Ultraheat T550: several data sets per line, ``&`` lists, empty values, history."""
    block = parse_data_block(T550_LINES)
    assert block.ended
    assert (block.skipped_lines, block.broken_lines, block.untidy_lines) == (0, 0, 0)
    table = dict(_table(T550_LINES))
    assert len(block.datasets) == 31
    assert table["6.8"] == [("0326.062", "MWh")]
    assert table["6.8*01"] == [("0323.272", "MWh")]
    assert table["9.4"] == [("108.5", "C"), ("088.1", "C")]
    assert table["6.35"] == [("60", "m")]
    assert table["9.6"] == [(v, None) for v in ("000", "00073600", "0", "000", "00073600", "0")]
    assert table["9.36"] == [("2022-06-08", None), ("10:06:51", None)]
    assert len(table["9.1"]) == 16
    assert table["9.1"][-1] == ("?:", None)
    assert table["9.2"] == [("", None)] * 3
    assert table["9.29"] == [("", None)]
    assert table["0.0"] == [("00073600", None)]


@pytest.mark.parametrize(
    ("line", "broken"),
    [
        ("1.8.0(00012", True),
        ("1.6.0(02.468*kW)(17031", True),
        ("1.8.0)5(", True),
        ("1.8.0(1(2)", True),
        ("1.8.0(1\x132)", True),
        ("\\", False),
        ("x", False),
    ],
)
def test_malformed_line_yields_nothing(line: str, broken: bool) -> None:
    """A cut, unbalanced or noisy line yields no value at all; the lines around it stay."""
    block = parse_data_block(f"6.8(1*MWh)\r\n{line}\r\n6.26(2*m3)\r\n!\r\n")
    assert [(d.address, d.values) for d in block.datasets] == [
        ("6.8", (Value("1", "MWh"),)),
        ("6.26", (Value("2", "m3"),)),
    ]
    assert block.ended
    assert block.skipped_lines == 1
    assert block.broken_lines == int(broken)
    assert block.data_lines == 2


def test_end_marker_after_a_broken_part() -> None:
    """``!`` outside parentheses after a fault still ends the block, inside one does not."""
    assert parse_data_block("1.8.0)x!\r\n2.8.0(1)\r\n").ended
    assert parse_data_block("1.8.0(1(2)x!\r\n").ended
    assert not parse_data_block("1.8.0(1\r\n").ended
    assert not parse_data_block("1.8.0)(a!b)\r\n").ended


def test_tail_noise_and_untidy_lines() -> None:
    """Noise after the last value is dropped and counted; dirty addresses are cleaned."""
    block = parse_data_block("9.4(114.9*C&090.8*C)\\\r\n\x00F.F(00)\r\n1.8.0(1) (2)\r\n")
    assert _table("9.4(114.9*C&090.8*C)\\\r\n\x00F.F(00)\r\n1.8.0(1) (2)\r\n") == [
        ("9.4", [("114.9", "C"), ("090.8", "C")]),
        ("F.F", [("00", None)]),
        ("1.8.0", [("1", None), ("2", None)]),
    ]
    assert (block.skipped_lines, block.untidy_lines, block.data_lines) == (1, 2, 3)


@pytest.mark.parametrize(
    ("text", "trusted"),
    [
        ("1-0:1.8.0*255(1*kWh)\r\n6.8(1)6.26(2)\r\n(00054.386)\r\n\r\n!\r\n", True),
        ("0.0.0( 20000)\r\n0.2.2(:::::G11)!", True),
        ("1.8.0(1)\r\n!\r\njunk after the end (ignored", True),
        ("", True),
        # one lone "\" among good lines (Ultraheat): skipped, the rest kept
        ("6.8(1*MWh)\r\n\\\r\n6.26(2*m3)\r\n!", True),
        ("6.8(1*MWh)\\\r\n6.26(2*m3)\r\n!", True),
        # noise as frequent as data, broken or untidy lines: not without a check byte
        ("6.8(1*MWh)\r\n\\\r\n!", False),
        ("\\\r\n!", False),
        ("1.8.0(1)\r\nx\x13(\x7f))\r\n!", False),
        ("1.8.0(1\r\n!", False),
        ("1.8.0(1)\r\n2.8.0(2)\r\n3.8.0(3\r\n!", False),
        ("\x00F.F(00)\r\n1.8.0(1)\r\n!", False),
    ],
)
def test_trusted_without_check(text: str, trusted: bool) -> None:
    """The rule for unframed or unchecked data (module docstring of decode)."""
    assert parse_data_block(text).trusted_without_check is trusted


# ZPA ZE312 (Czech Republic), optical readout as printed on
# https://smallhacks.wordpress.com/2017/05/ ("ZPA ZE312 counter RF output description");
# serial and customer numbers are masked with X there. A subset of the lines.
ZPA_ZE312 = (
    "C.1.0(XXXXXXXXX)\r\n"
    "0.0.0(XXXXXXXXXXXX)\r\n"
    "0.3.0(10000*imp/kWh)\r\n"
    "F.F(000000)\r\n"
    "1.8.0(0010332.677*kWh)\r\n"
    "21.8.0(0008995.585*kWh)\r\n"
    "C.8.1(0207212145)\r\n"
    "C.7.1(00000001)\r\n"
    "!\r\n"
)


def test_zpa_ze312_lines() -> None:
    """ZPA: letter codes, a compound unit, masked text values; nothing split or skipped."""
    block = parse_data_block(ZPA_ZE312)
    assert block.trusted_without_check
    assert _table(ZPA_ZE312) == [
        ("C.1.0", [("XXXXXXXXX", None)]),
        ("0.0.0", [("XXXXXXXXXXXX", None)]),
        ("0.3.0", [("10000", "imp/kWh")]),
        ("F.F", [("000000", None)]),
        ("1.8.0", [("0010332.677", "kWh")]),
        ("21.8.0", [("0008995.585", "kWh")]),
        ("C.8.1", [("0207212145", None)]),
        ("C.7.1", [("00000001", None)]),
    ]
