"""OBIS parsing, canonical form and the documented matching rules."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.dlms_meter.iec62056 import (
    DataSet,
    ObisCode,
    Readout,
    Value,
    address_matches,
    normalize_obis,
    parse_obis,
)


@pytest.mark.parametrize(
    ("address", "canonical"),
    [
        ("1.8.0", "1.8.0"),
        ("1-0:1.8.0*255", "1-0:1.8.0*255"),
        ("1-1:1.8.0", "1-1:1.8.0"),
        ("0-0:C.1.0*255", "0-0:96.1.0*255"),
        ("F.F", "97.97"),
        ("F.F.0", "97.97.0"),
        ("c.1.0", "96.1.0"),
        ("L.1.0", "98.1.0"),
        ("P.01", "99.1"),
        ("32.7", "32.7"),
        ("1.8.0*01", "1.8.0*1"),
        ("0.1.2&01", "0.1.2*1"),
        ("0.1.0&12", "0.1.0*12"),
        ("1-0:0.1.0&12", "1-0:0.1.0*12"),
        ("6.8", "6.8"),
        ("C.1", "96.1"),
        ("0-0:F.F.0*255", "0-0:97.97.0*255"),
        ("1-0:1.8.0*100", "1-0:1.8.0*100"),
        ("1-0:21.7.255*255", "1-0:21.7.255*255"),
        ("F", "97"),
        ("9.4*01", "9.4*1"),
        ("96.50.0*7", "96.50.0*7"),
        ("128.20.0", "128.20.0"),
        ("1.0.1.8.0.255", "1-0:1.8.0*255"),
        ("1.0.1.8.0", "1-0:1.8.0"),
        (" 1.8.0 ", "1.8.0"),
    ],
)
def test_parse_and_canonical(address: str, canonical: str) -> None:
    """Every form meters send parses; str() gives the canonical numeric form."""
    code = parse_obis(address)
    assert code is not None
    assert str(code) == canonical
    assert normalize_obis(address) == canonical


@pytest.mark.parametrize(
    "address",
    [
        *("ET0PE", "HELLO", "", "1.8.0.", "256.1.0", "1-0:1.8.0*256", "1-300:1.8.0", "X.1"),
        *("1.8.0&", "1.8.0*&1", "1.8.0&1&2", "0.1.0&256", "1.2.3.4.5.999", "1.8.0(5)", "&12"),
    ],
)
def test_not_obis(address: str) -> None:
    """Names and out-of-range groups are not OBIS codes."""
    assert parse_obis(address) is None


def test_normalize_keeps_names() -> None:
    """Non-OBIS names are returned stripped."""
    assert normalize_obis(" ET0PE ") == "ET0PE"


def test_groups() -> None:
    """Groups are stored as numbers; missing ones are None."""
    assert parse_obis("0-0:C.1.0*255") == ObisCode(a=0, b=0, c=96, d=1, e=0, f=255)
    assert parse_obis("32.7") == ObisCode(c=32, d=7)


@pytest.mark.parametrize(
    ("meter", "pattern", "expected"),
    [
        ("1-0:1.8.0*255", "1.8.0", True),
        ("1.8.0", "1.8.0", True),
        ("1-1:1.8.0", "1.8.0", True),
        ("1.8.0", "1-0:1.8.0*255", True),
        ("1-1:1.8.0", "1-0:1.8.0", False),
        ("2-0:1.8.0", "1-0:1.8.0", False),
        ("0-0:C.1.0*255", "C.1.0", True),
        ("0-0:C.1.0*255", "96.1.0", True),
        ("0-0:96.1.0*255", "C.1.0", True),
        ("F.F", "97.97", True),
        ("F.F", "F.F.0", True),
        ("1.8.1", "1.8.0", False),
        ("1.8.0*01", "1.8.0", False),
        ("1.8.0&01", "1.8.0", False),
        ("1.8.0*00", "1.8.0", False),
        ("1.8.0*00", "1.8.0*0", True),
        ("1.8.0*01", "1.8.0*1", True),
        ("1.8.0&01", "1.8.0*01", False),
        ("1.8.0*01", "1.8.0&01", False),
        ("1.8.0&01", "1.8.0&1", True),
        ("1.8.0&255", "1.8.0", True),
        ("1.8.0*02", "1.8.0*01", False),
        ("1-0:1.8.0*100", "1.8.0*100", True),
        ("1-0:1.8.0*100", "1.8.0", False),
        ("1-0:1.8.0*255", "1.8.0*255", True),
        ("32.7", "32.7", True),
        ("1-0:32.7.0*255", "32.7", True),
        ("32.7", "32.7.0", True),
        ("1-0:21.7.255*255", "21.7", True),
        ("1-0:21.7.255*255", "21.7.0", True),
        ("1-0:21.7.255*255", "21.7.255", True),
        ("1-0:21.7.0*255", "21.7.255", True),
        ("1.8.1", "1.8", False),
        ("32.7", "32.7.1", False),
        ("1.8.1", "1.8.2", False),
        ("1.8.0", "2.8.0", False),
        ("1.8.0", "not obis", False),
    ],
)
def test_matching_rules(meter: str, pattern: str, expected: bool) -> None:
    """The matching rules documented in obis.py."""
    code = parse_obis(meter)
    assert code is not None
    assert code.matches(pattern) is expected
    assert address_matches(meter, pattern) is expected


def test_star_and_ampersand_history_stay_apart() -> None:
    """``0.1.0*12`` and ``0.1.0&12`` are different codes; neither matches the other."""
    star = parse_obis("0.1.0*12")
    amp = parse_obis("0.1.0&12")
    assert star is not None and amp is not None
    assert star != amp
    assert (star.f, amp.f, star.f_ampersand, amp.f_ampersand) == (12, 12, False, True)
    assert str(star) == str(amp) == "0.1.0*12"  # the text shows the groups only
    assert amp.is_history
    assert not address_matches("0.1.0&12", "0.1.0*12")
    assert address_matches("0.1.0&12", "0.1.0&12")


def test_matches_accepts_code_objects_and_history_flag() -> None:
    """matches() also takes an ObisCode; is_history flags billing-period values."""
    meter = parse_obis("1-0:1.8.0*255")
    pattern = parse_obis("1.8.0")
    assert meter is not None
    assert pattern is not None
    assert meter.matches(pattern)
    assert not meter.is_history
    history = parse_obis("1.8.0*15")
    assert history is not None
    assert history.is_history


def test_address_matches_names_by_text() -> None:
    """Non-OBIS addresses match by exact (stripped) text."""
    assert address_matches("ET0PE", "ET0PE")
    assert not address_matches("ET0PE", "ECMPE")
    assert not address_matches("ET0PE", "1.8.0")


def test_readout_find_and_dataset_helpers() -> None:
    """Readout.find uses the matching rules; DataSet.obis and .value are shortcuts."""
    readout = Readout(
        identification=None,
        datasets=(
            DataSet("1-0:1.8.0*255", (Value("1.0", "kWh"),)),
            DataSet("1-0:1.8.0*01", (Value("0.5", "kWh"),)),
            DataSet("ET0PE", (Value("7", None),)),
            DataSet("9.9", ()),
        ),
    )
    assert [ds.address for ds in readout.find("1.8.0")] == ["1-0:1.8.0*255"]
    assert [ds.address for ds in readout.find("ET0PE")] == ["ET0PE"]
    assert readout.datasets[0].obis == parse_obis("1-0:1.8.0*255")
    assert readout.datasets[2].obis is None
    assert readout.datasets[0].value == Value("1.0", "kWh")
    assert readout.datasets[3].value is None


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=30),
        st.from_regex(
            r"\A([0-9]{1,3}-[0-9]{1,3}:)?([0-9]{1,3}|[CFLPcflp])(\.([0-9]{1,3}|[CFLP])){0,2}"
            r"([*&][0-9]{1,3})?\Z"
        ),
        st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){4,5}\Z"),
    )
)
def test_any_text_parses_or_is_no_obis(text: str) -> None:
    """Every form (x.y, x.y.z, x.y.z*q, A-B:C.D.E*F, letters, &F, all-dots) or junk: no crash.

    Whatever parses prints a canonical form that parses back to the same code, and
    normalize_obis is idempotent.
    """
    code = parse_obis(text)
    normal = normalize_obis(text)
    if code is None:
        assert normal == text.strip()
        return
    again = parse_obis(str(code))
    assert again is not None
    assert replace(again, f_ampersand=code.f_ampersand) == code
    assert normalize_obis(normal) == normal
    assert "&" not in normal
    assert code.matches(code)
