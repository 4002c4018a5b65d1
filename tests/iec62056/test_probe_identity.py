"""Meter identity: serial-number codes and their order, the old order, ids that never fail."""

from __future__ import annotations

import pytest

from custom_components.dlms_meter.iec62056 import (
    Checksum,
    DataSet,
    Identification,
    Readout,
    Value,
    parse_capture,
    parse_identification,
)
from custom_components.dlms_meter.iec62056.identity import (
    LEGACY_SERIAL_CODES,
    SERIAL_CODES,
    is_same_meter,
    legacy_serial_number,
    port_key,
    serial_codes_found,
    serial_number,
    unique_id_for,
)

from .corpus import render_txt

AS3000 = parse_identification("ELS0\\@AS3000")
PORT_A = "/dev/serial/by-id/usb-FTDI_IR_A-if00-port0"
PORT_B = "/dev/serial/by-id/usb-FTDI_IR_B-if00-port0"
SECRET_URL = "rfc2217://admin:s3cret@10.0.0.5:4001/?key=abcdef&timeout=3"


def _readout(*datasets: tuple[str, str], ident: Identification | None = AS3000) -> Readout:
    return Readout(
        identification=ident,
        datasets=tuple(DataSet(address, (Value(value),)) for address, value in datasets),
    )


def _corpus(nn: int) -> Readout:
    return parse_capture(render_txt(nn), Checksum.NONE)[0]


# --- recorded readouts ------------------------------------------------------------------------

# (corpus number, serial number, where it comes from)
CORPUS_SERIALS = [
    (1, "20000", "0.0.0 (L+G ZMD120: F.F, 0.0.0)"),
    (3, "50871031", "1-1:0.0.0 (every code of the ZMD310 is on channel 1)"),
    (5, "13647123", "C.1.0 before 0.0 (L+G E350)"),
    (6, "1126120053322353", "C.1 (Itron ACE3000)"),
    (7, "53965555", "C.1 before 0.0.0 (Itron EM214)"),
    (8, "63355730", "0-0:C.1.0*255 before 0.0.1 (Iskra MT174)"),
    (14, "72044837", "0.0.0 before 0.0.1 = maker code PAF (Pafal)"),
    (16, "00005077354", "0.0 (Kamstrup Multical 66)"),
    (17, "00010213", "0.0 (Siemens 2WR5 heat meter; 9.21 holds the same)"),
    (18, "0000680476", "0-0:96.1.255*255 (EMH eHZ)"),
    (20, "1ESY1127000167", "0-0:96.1.255*255 (EasyMeter Q3D)"),
    (23, "1EBZ0100618430", "1-0:96.1.0*255 (eBZ DD3)"),
    (24, "001LOG0064800017", "1-0:96.1.0*255 (Logarex)"),
    (28, "4530303434303036393033333132393137", "0-0:96.1.1, not the gas meter's 0-1:96.1.0"),
    (33, "4530303438303030303335383536323139", "0-0:96.1.1, not the zeros of 0-1:96.1.0"),
    (37, "ADC3100000158491", "0-0:96.1.1 (Warmtelink heat)"),
]


@pytest.mark.parametrize(("nn", "serial", "source"), CORPUS_SERIALS)
def test_serial_numbers_of_recorded_readouts(nn: int, serial: str, source: str) -> None:
    """The serial number of real meters, from the register each maker uses for it."""
    assert serial_number(_corpus(nn)) == serial, source
    assert unique_id_for(_corpus(nn), PORT_A) == serial


@pytest.mark.parametrize("nn", [15, 25, 26, 27, 35])
def test_recorded_readouts_without_serial(nn: int) -> None:
    """No serial register (Energomera, HAN ports): identification and port, never a crash."""
    readout = _corpus(nn)
    assert serial_number(readout) is None
    assert readout.identification is not None
    unique = unique_id_for(readout, PORT_A)
    assert unique == f"{readout.identification.raw}@{port_key(PORT_A)}"
    assert unique != unique_id_for(readout, PORT_B)


@pytest.mark.parametrize("nn", [1, 3, 5, 6, 7, 8, 14, 16, 17, 18, 19, 20, 23, 24, 36])
def test_old_and_new_order_agree_where_the_old_found_the_meters_serial(nn: int) -> None:
    """Entries made by earlier versions keep their unique id for these meters."""
    readout = _corpus(nn)
    assert legacy_serial_number(readout) == serial_number(readout)


@pytest.mark.parametrize(
    ("nn", "legacy"),
    [
        (28, "4730303339303031373633333738373137"),  # the gas meter's id (0-1:96.1.0)
        (33, "0" * 34),  # the gas channel's zeros
        (34, "FLU5\\253769484_A"),  # the identification text
        (25, "LGF5E360"),
    ],
)
def test_legacy_ids_still_find_their_meter(nn: int, legacy: str) -> None:
    """Where the old order gave another id, :func:`is_same_meter` still accepts the old one."""
    readout = _corpus(nn)
    assert legacy_serial_number(readout) == legacy
    assert legacy != unique_id_for(readout, PORT_A)
    assert is_same_meter(legacy, PORT_A, readout, PORT_A)


# --- synthetic readouts: every code in the order -------------------------------------------------


def test_serial_codes_order() -> None:
    """The documented order: C.1.0, 0.0.0, 0.0.1-9, 96.1.1-9, heat meters' 9.20 and 9.21."""
    assert SERIAL_CODES[:2] == LEGACY_SERIAL_CODES == ("96.1.0", "0.0.0")
    assert SERIAL_CODES[2:11] == tuple(f"0.0.{e}" for e in range(1, 10))
    assert SERIAL_CODES[11:20] == tuple(f"96.1.{e}" for e in range(1, 10))
    assert SERIAL_CODES[20:] == ("9.20", "9.21")


@pytest.mark.parametrize("index", range(len(SERIAL_CODES)))
def test_each_code_wins_over_every_later_one(index: int) -> None:
    """A readout holding every code (later ones first in the meter's order): the order decides."""
    datasets = [(code, f"SN-{code}") for code in reversed(SERIAL_CODES[index:])]
    readout = _readout(("1.8.0", "000123.4"), *datasets)
    assert serial_number(readout) == f"SN-{SERIAL_CODES[index]}"


@pytest.mark.parametrize(
    ("address", "value"),
    [
        ("C.1.0", "13647123"),
        ("0-0:C.1.0*255", "13647123"),
        ("C.1", "13647123"),
        ("0-0:96.1.255*255", "0000680476"),
        ("0.0", "120858"),
        ("1-0:0.0.0*255", "1EBZ0100618430"),
        ("0.0.1", "09080744"),
        ("0.0.9", "7"),
        ("0-0:96.1.1", "4530303434"),
        ("96.1.9", "X9"),
        ("9.20", "64030874"),
        ("9.21", "66153690"),
    ],
)
def test_every_written_form_of_a_code(address: str, value: str) -> None:
    """Letters (C = 96), A-B prefixes, a missing E and E = 255 are the same register."""
    assert serial_number(_readout((address, f" {value} "))) == value


def test_elster_as3000_serial_from_0_0_1() -> None:
    """The AS3000 sends only 0.0.1: its serial number, not the identification text."""
    readout = _readout(("0.0.1", "09080744"), ("1.8.0", "000123.4"))
    assert serial_number(readout) == "09080744"
    assert unique_id_for(readout, PORT_A) == "09080744"
    assert legacy_serial_number(readout) == "ELS0\\@AS3000"


def test_history_values_and_placeholders_are_not_serials() -> None:
    """``*F`` entries, blanks, zeros and dashes tell no meters apart."""
    readout = _readout(
        ("C.1.0*01", "111"),
        ("C.1.0", "   "),
        ("0.0.0", "00000000"),
        ("0.0.1", "--------"),
        ("0.0.2", "0000-00-00"),
        ("9.21", "4711"),
    )
    assert serial_number(readout) == "4711"
    assert [code for code, _ds in serial_codes_found(readout)] == [
        "96.1.0",
        "0.0.0",
        "0.0.1",
        "0.0.2",
        "9.21",
    ]


def test_meter_before_channel() -> None:
    """A code of the meter itself (B = 0 or absent) wins over a connected device's (B = 1..)."""
    readout = _readout(("0-1:96.1.0", "GAS4711"), ("0-0:96.1.1", "E0815"))
    assert serial_number(readout) == "E0815"
    assert legacy_serial_number(readout) == "GAS4711"
    assert serial_number(_readout(("0-1:96.1.0", "GAS4711"))) == "GAS4711"


def test_data_set_without_values() -> None:
    """An address with no value group is skipped."""
    readout = Readout(AS3000, (DataSet("C.1.0", ()), DataSet("0.0.0", (Value("42"),))))
    assert serial_number(readout) == "42"
    assert legacy_serial_number(readout) == "42"


# --- no serial number at all ------------------------------------------------------------------


def test_no_serial_two_meters_of_one_model() -> None:
    """Two AS3000 without a serial register on two ports: two unique ids."""
    readout = _readout(("1.8.0", "000123.4"))
    first = unique_id_for(readout, PORT_A)
    second = unique_id_for(readout, PORT_B)
    assert serial_number(readout) is None
    assert first.startswith("ELS0\\@AS3000@")
    assert first != second
    assert unique_id_for(readout, PORT_A) == first  # stable


def test_two_meters_of_one_model_with_serials() -> None:
    """Two AS3000 with their 0.0.1: apart on any port, the same meter on another port too."""
    one = _readout(("0.0.1", "09080744"))
    two = _readout(("0.0.1", "09080745"))
    assert unique_id_for(one, PORT_A) != unique_id_for(two, PORT_A)
    assert unique_id_for(one, PORT_A) == unique_id_for(one, PORT_B)


def test_nothing_at_all_never_fails() -> None:
    """No identification, no serial, no data sets: still an id (from the port)."""
    empty = Readout(None, ())
    assert serial_number(empty) is None
    assert legacy_serial_number(empty) is None
    assert unique_id_for(empty, PORT_A) == f"meter@{port_key(PORT_A)}"
    assert not is_same_meter("anything", PORT_A, empty, PORT_A)


def test_unique_id_holds_no_secret() -> None:
    """No credential or secret parameter of a port URL reaches the id; a new password keeps it."""
    readout = _readout(("1.8.0", "1"))
    unique = unique_id_for(readout, SECRET_URL)
    assert "s3cret" not in unique
    assert "admin" not in unique
    assert "abcdef" not in unique
    other_password = SECRET_URL.replace("s3cret", "other").replace("abcdef", "zzz")
    assert unique_id_for(readout, other_password) == unique
    assert len(port_key(SECRET_URL)) == 12
    assert port_key(" /dev/ttyUSB0 ") == port_key("/dev/ttyUSB0")


# --- is_same_meter: the coordinator's meter-swap check and the flow's duplicates -----------------


def test_same_meter_by_new_id() -> None:
    """The id the flow stores now matches the meter, and only it."""
    one = _readout(("0.0.1", "09080744"))
    two = _readout(("0.0.1", "09080745"))
    assert is_same_meter("09080744", PORT_A, one, PORT_A)
    assert is_same_meter("09080744", PORT_A, one, PORT_B)  # moved to another port
    assert not is_same_meter("09080744", PORT_A, two, PORT_A)  # swapped


def test_old_identification_id_matches_only_on_its_own_port() -> None:
    """An entry whose old id was the identification text: the meter on its port is the same;
    another meter of that model on another port is not a duplicate."""
    readout = _readout(("0.0.1", "09080744"))
    assert is_same_meter("ELS0\\@AS3000", PORT_A, readout, PORT_A)
    assert not is_same_meter("ELS0\\@AS3000", PORT_A, readout, PORT_B)


def test_old_serial_id_matches_on_any_port() -> None:
    """An old id from a serial register (DSMR gas channel) follows the meter to another port."""
    readout = _readout(("0-1:96.1.0", "GAS4711"), ("0-0:96.1.1", "E0815"))
    assert is_same_meter("GAS4711", PORT_A, readout, PORT_B)
    assert is_same_meter("E0815", PORT_A, readout, PORT_B)
    assert not is_same_meter("E0816", PORT_A, readout, PORT_A)


def test_id_without_serial_is_per_port() -> None:
    """Without a serial number the id includes the port: the same model elsewhere is another."""
    readout = _readout(("1.8.0", "1"))
    unique = unique_id_for(readout, PORT_A)
    assert is_same_meter(unique, PORT_A, readout, PORT_A)
    assert not is_same_meter(unique, PORT_B, readout, PORT_B)


def test_reconfigure_may_move_a_meter_without_serial() -> None:
    """Moving the head on purpose: the same identification on another port is the same meter."""
    readout = _readout(("1.8.0", "1"))
    unique = unique_id_for(readout, PORT_A)
    assert is_same_meter(unique, PORT_A, readout, PORT_B, allow_port_change=True)
    assert is_same_meter("ELS0\\@AS3000", PORT_A, readout, PORT_B, allow_port_change=True)
    other_model = _readout(("1.8.0", "1"), ident=parse_identification("ISK5ME162-0033"))
    assert not is_same_meter(unique, PORT_A, other_model, PORT_B, allow_port_change=True)
    assert not is_same_meter("ELS0\\@AS3000@zz", PORT_A, readout, PORT_B, allow_port_change=True)
    # A meter with a serial number is matched by it, never by its identification.
    with_serial = _readout(("0.0.1", "09080744"))
    assert not is_same_meter(unique, PORT_A, with_serial, PORT_B, allow_port_change=True)
    nothing = Readout(None, ())
    moved = unique_id_for(nothing, PORT_A)
    assert is_same_meter(moved, PORT_A, nothing, PORT_B, allow_port_change=True)
    assert not is_same_meter(moved, PORT_A, nothing, PORT_B)
