"""Data-line parsing: every form listed in the corpus README."""

from __future__ import annotations

import pytest

from custom_components.dlms_meter.iec62056 import DataSet, Value, parse_data_block, parse_data_lines
from custom_components.dlms_meter.iec62056.datalines import is_clean_data, parse_value


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
        ("000&00010213&0", "000&00010213&0", None),
        ("ver.03,EF8C,20170504", "ver.03,EF8C,20170504", None),
        ("V01.69#EEA3546C", "V01.69#EEA3546C", None),
        ("2017-01-18&01:36:47", "2017-01-18&01:36:47", None),
        ("6.00*Imp/kWh", "6.00", "Imp/kWh"),
        ("1*  kvarh ", "1", "kvarh"),
    ],
)
def test_values(inner: str, value: str, unit: str | None) -> None:
    """Values are stripped of spaces; empty units become None."""
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


def test_is_clean_data() -> None:
    """Unframed data must be well-formed lines; junk (wrong rate) is not."""
    assert is_clean_data("1-0:1.8.0*255(1*kWh)\r\n6.8(1)6.26(2)\r\n(00054.386)\r\n\r\n!\r\n")
    assert is_clean_data("0.0.0( 20000)\r\n0.2.2(:::::G11)!")
    assert not is_clean_data("1.8.0(1)\r\nx\x13(\x7f))\r\n!")
    assert not is_clean_data("1.8.0(1\r\n!")
    assert is_clean_data("1.8.0(1)\r\n!\r\njunk after the end (ignored")
