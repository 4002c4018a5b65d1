"""Every classic D0 capture of the corpus parsed exactly; every capture parsed safely."""

from __future__ import annotations

import re

import pytest

from custom_components.dlms_meter.iec62056 import (
    Checksum,
    ChecksumError,
    Iec62056Error,
    parse_capture,
)
from custom_components.dlms_meter.iec62056.checksum import bcc_sum, bcc_xor
from custom_components.dlms_meter.iec62056.decode import telegrams_in

from .corpus import bin_files, number, raw_bytes, render_txt, txt_files

# (address as sent, [(value, unit), ...]) in meter order, written out from the captures.
EXPECTED: dict[int, list[tuple[str, list[tuple[str, str | None]]]]] = {
    1: [
        ("F.F", [("00000000", None)]),
        ("0.0.0", [("20000", None)]),
        ("1.8.1", [("001846.0", "kWh")]),
        ("1.8.2", [("000000.0", "kWh")]),
        ("2.8.1", [("004329.6", "kWh")]),
        ("2.8.2", [("000000.0", "kWh")]),
        ("1.8.0", [("001846.0", "kWh")]),
        ("2.8.0", [("004329.6", "kWh")]),
    ],
    4: [
        ("F.F", [("00", None)]),
        ("0.0", [("18438636", None)]),
        ("C.1.0", [("18438636", None)]),
        ("C.1.1", [("", None)]),
        ("1.8.1", [("000000.000", "kWh")]),
        ("1.8.2", [("000219.251", "kWh")]),
        ("2.8.1", [("000000.000", "kWh")]),
        ("2.8.2", [("000000.000", "kWh")]),
        ("1.8.0", [("000219.252", "kWh")]),
        ("2.8.0", [("000000.000", "kWh")]),
        ("15.8.0", [("000219.252", "kWh")]),
        ("C.7.0", [("0004", None)]),
        ("32.7", [("233", "V")]),
        ("52.7", [("233", "V")]),
        ("72.7", [("234", "V")]),
        ("31.7", [("002.30", "A")]),
        ("51.7", [("002.32", "A")]),
        ("71.7", [("002.97", "A")]),
        ("16.7", [("001.66", "kW")]),
        ("82.8.1", [("0000", None)]),
        ("82.8.2", [("0000", None)]),
        ("0.2.0", [("M27", None)]),
        ("C.5.0", [("1420", None)]),
    ],
    5: [
        ("F.F", [("00", None)]),
        ("0.0", [("120858", None)]),
        ("C.1.0", [("13647123", None)]),
        ("C.1.1", [("", None)]),
        ("1.8.1", [("042951.721", "kWh")]),
        ("1.8.2", [("018609.568", "kWh")]),
        ("2.8.1", [("000000.302", "kWh")]),
        ("2.8.2", [("000010.188", "kWh")]),
        ("1.8.0", [("061561.289", "kWh")]),
        ("2.8.0", [("000010.490", "kWh")]),
        ("15.8.0", [("061571.780", "kWh")]),
        ("C.7.0", [("0008", None)]),
        ("32.7", [("241", "V")]),
        ("52.7", [("243", "V")]),
        ("72.7", [("242", "V")]),
        ("31.7", [("000.35", "A")]),
        ("51.7", [("000.52", "A")]),
        ("71.7", [("000.47", "A")]),
        ("82.8.1", [("0000", None)]),
        ("82.8.2", [("0000", None)]),
        ("0.2.0", [("M26", None)]),
        ("C.5.0", [("0401", None)]),
    ],
    6: [
        ("F.F", [("00", None)]),
        ("C.1", [("1126120053322353", None)]),
        ("C.5.0", [("00", None)]),
        ("1.8.0", [("013925.5", None)]),
    ],
    7: [
        ("F.F", [("00000000", None)]),
        ("0.0.0", [("1240007670003202", None)]),
        ("0.2.0", [("V01.69#EEA3546C", None)]),
        ("0.2.1", [("00017245", None)]),
        ("1.7.0", [("00.49", "kW")]),
        ("2.7.0", [("00.00", "kW")]),
        ("1.8.1", [("022108.7", "kWh")]),
        ("1.8.2", [("000000.0", "kWh")]),
        ("2.8.1", [("010452.0", "kWh")]),
        ("2.8.2", [("000000.0", "kWh")]),
        ("31.7.0", [("+000.8", "A")]),
        ("51.7.0", [("+000.7", "A")]),
        ("71.7.0", [("+001.2", "A")]),
        ("C.1", [("53965555", None)]),
        ("C.5.0", [("L1-L2-L3", None)]),
        ("C.6.3", [("03.78", "V")]),
        ("C.8.1", [("024616.21", "h")]),
        ("C.8.2", [("000000.00", "h")]),
        ("C.13.21", [("00000001", "secs")]),
        ("C.13.22", [("00000001", None)]),
        ("C.90", [("00000100", None)]),
    ],
    10: [
        ("C.1.0", [("28342193", None)]),
        ("0.0.0", [("28342193", None)]),
        ("1.8.0", [("0032826.545", "kWh")]),
        ("1.8.1", [("0000000.000", "kWh")]),
        ("1.8.2", [("0032826.545", "kWh")]),
        ("2.8.0", [("0000000.001", "kWh")]),
        ("2.8.1", [("0000000.000", "kWh")]),
        ("2.8.2", [("0000000.001", "kWh")]),
        ("F.F", [("0000000", None)]),
    ],
    16: [
        ("0.0", [("00005077354", None)]),
        ("6.8", [("00433.65", "GJ")]),
        ("6.26", [("03052.95", "m3")]),
        ("6.31", [("0109868", "h")]),
    ],
    18: [
        ("1-0:0.0.0*255", [("331200-5009810", None)]),
        ("1-0:1.8.1*255", [("032942.0231", None)]),
        ("1-0:96.5.5*255", [("80", None)]),
        ("0-0:96.1.255*255", [("0000680476", None)]),
    ],
    19: [
        ("1-0:0.0.0*255", [("1095100000067865", None)]),
        ("1-0:1.8.0*255", [("000001.2963", None)]),
        ("1-0:96.5.5*255", [("82", None)]),
        ("0-0:96.1.255*255", [("0000067865", None)]),
        ("1-0:52.7.0*255", [("228.38", "V")]),
        ("1-0:51.7.0*255", [("000.16", "A")]),
        ("1-0:41.7.0*255", [("+00026", "W")]),
        ("1-0:96.50.0*0", [("45", None)]),
        ("1-0:96.50.0*1", [("07D0", None)]),
        ("1-0:96.50.0*2", [("16", None)]),
        ("1-0:96.50.0*3", [("11", None)]),
        ("1-0:96.50.0*4", [("1F", None)]),
        ("1-0:96.50.0*5", [("18", None)]),
        ("1-0:96.50.0*6", [("003D381B070AF6B0CF05140900009F80", None)]),
        ("1-0:96.50.0*7", [("00", None)]),
    ],
    20: [
        ("1-0:0.0.0*255", [("111940207", None)]),
        ("1-0:1.8.0*255", [("00000000.7801269", "kWh")]),
        ("1-0:2.8.0*255", [("00007041.2292533", "kWh")]),
        ("1-0:21.7.255*255", [("-000073.69", "W")]),
        ("1-0:41.7.255*255", [("000000.00", "W")]),
        ("1-0:61.7.255*255", [("-000068.61", "W")]),
        ("1-0:1.7.255*255", [("-000142.30", "W")]),
        ("1-0:96.5.5*255", [("A2", None)]),
        ("0-0:96.1.255*255", [("1ESY1127000167", None)]),
    ],
    21: [
        ("1-0:0.0.0*255", [("0272031312565", None)]),
        ("1-0:1.8.0*255", [("00052185.7825309", "kWh")]),
        ("1-0:2.8.0*255", [("00019949.3221493", "kWh")]),
        ("1-0:21.7.0*255", [("000747.85", "W")]),
        ("1-0:41.7.0*255", [("000737.28", "W")]),
        ("1-0:61.7.0*255", [("000639.73", "W")]),
        ("1-0:1.7.0*255", [("002124.86", "W")]),
        ("1-0:96.5.5*255", [("80", None)]),
        ("0-0:96.1.255*255", [("1ESY1313002565", None)]),
    ],
    22: [
        ("1-0:0.0.0*255", [("1336001560", None)]),
        ("1-0:1.8.0*255", [("00032549.5061662", "kWh")]),
        ("1-0:21.7.0*255", [("000557.29", "W")]),
        ("1-0:41.7.0*255", [("000521.62", "W")]),
        ("1-0:61.7.0*255", [("000609.30", "W")]),
        ("1-0:1.7.0*255", [("001688.21", "W")]),
        ("1-0:96.5.5*255", [("80", None)]),
        ("0-0:96.1.255*255", [("1ESY1336001560", None)]),
    ],
    15: [
        ("HELLO", [("2,CE301,12,00123456,dummy", None)]),
        ("ET0PE", [("16907.9477764", None)]),
        ("ET0PE", [("11504.3875082", None)]),
        ("ET0PE", [("3628.2698795", None)]),
        ("ET0PE", [("1775.2903887", None)]),
        ("ET0PE", [("0.0", None)]),
        ("ET0PE", [("0.0", None)]),
        ("ECMPE", [("357.8505119", None)]),
        ("ECMPE", [("208.6539992", None)]),
        ("ECMPE", [("106.9769041", None)]),
        ("ECMPE", [("42.2196086", None)]),
        ("ECMPE", [("0.0", None)]),
        ("ECMPE", [("0.0", None)]),
        ("ENMPE", [("16550.0972645", None)]),
        ("ENMPE", [("11295.733509", None)]),
        ("ENMPE", [("3521.2929754", None)]),
        ("ENMPE", [("1733.0707801", None)]),
        ("ENMPE", [("0.0", None)]),
        ("ENMPE", [("0.0", None)]),
        ("EAMPE", [("477.8955487", None)]),
        ("EAMPE", [("325.201782", None)]),
        ("EAMPE", [("103.4901674", None)]),
        ("EAMPE", [("49.2035993", None)]),
        ("EAMPE", [("0.0", None)]),
        ("EAMPE", [("0.0", None)]),
        ("ECDPE", [("13.7433546", None)]),
        ("ECDPE", [("5.5472398", None)]),
        ("ECDPE", [("5.7096121", None)]),
        ("ECDPE", [("2.4865027", None)]),
        ("ECDPE", [("0.0", None)]),
        ("ECDPE", [("0.0", None)]),
        ("POWPP", [("0.0592", None)]),
        ("POWPP", [("0.4402", None)]),
        ("POWPP", [("0.054", None)]),
        ("POWEP", [("0.5266", None)]),
        ("VOLTA", [("233.751", None)]),
        ("VOLTA", [("235.418", None)]),
        ("VOLTA", [("234.796", None)]),
        ("VNULL", [("0", None)]),
        ("CURRE", [("1.479", None)]),
        ("CURRE", [("2.8716", None)]),
        ("CURRE", [("0.782", None)]),
        ("FREQU", [("49.96", None)]),
    ],
    3: [
        ("1-1:F.F", [("00000000", None)]),
        ("1-1:0.0.0", [("50871031", None)]),
        ("1-1:0.0.1", [("50871031", None)]),
        ("1-1:0.9.1", [("155420", None)]),
        ("1-1:0.9.2", [("170214", None)]),
        ("1-1:0.1.2", [("0000", None)]),
        ("1-1:0.1.3", [("170201", None)]),
        ("1-1:0.1.0", [("18", None)]),
        ("1-1:1.2.1", [("0451.17", "kW")]),
        ("1-1:1.2.2", [("0451.17", "kW")]),
        ("1-1:2.2.1", [("0060.24", "kW")]),
        ("1-1:2.2.2", [("0060.24", "kW")]),
        ("1-1:1.6.1", [("27.19", "kW"), ("1702090945", None)]),
        ("1-1:1.6.1*18", [("28.74", None), ("1701121445", None)]),
        ("1-1:1.6.1*17", [("28.95", None), ("1612081030", None)]),
        ("1-1:1.6.1*16", [("25.82", None), ("1611291230", None)]),
        ("1-1:1.8.0", [("00051206", "kWh")]),
        ("1-1:1.8.0*18", [("00049555", None)]),
        ("1-1:1.8.0*17", [("00045862", None)]),
    ],
    14: [
        ("0.0.0", [("72044837", None)]),
        ("0.0.1", [("PAF", None)]),
        ("F.F", [("00", None)]),
        ("0.2.0", [("1.29", None)]),
        ("1.8.0*00", [("000783.16", None)]),
        ("2.8.0*00", [("000045.38", None)]),
        ("C.2.1", [("000000000000", None), ("", None)]),
        ("0.2.2", [(":::::G11", None)]),
    ],
    24: [
        ("1-0:96.1.0*255", [("001LOG0064800017", None)]),
        ("1-0:1.8.0*255", [("000000.4392", "kWh")]),
        ("1-0:1.8.1*255", [("000000.0000", "kWh")]),
        ("1-0:1.8.2*255", [("000000.4392", "kWh")]),
        ("1-0:2.8.0*255", [("000000.8322", "kWh")]),
        ("1-0:16.7.0*255", [("000000", "W")]),
        ("1-0:32.7.0*255", [("000.0", "V")]),
        ("1-0:52.7.0*255", [("000.0", "V")]),
        ("1-0:72.7.0*255", [("229.9", "V")]),
        ("1-0:31.7.0*255", [("000.00", "A")]),
        ("1-0:51.7.0*255", [("000.00", "A")]),
        ("1-0:71.7.0*255", [("000.03", "A")]),
        ("1-0:81.7.1*255", [("000", "deg")]),
        ("1-0:81.7.2*255", [("000", "deg")]),
        ("1-0:81.7.4*255", [("000", "deg")]),
        ("1-0:81.7.15*255", [("000", "deg")]),
        ("1-0:81.7.26*255", [("000", "deg")]),
        ("1-0:14.7.0*255", [("49.9", "Hz")]),
        ("1-0:1.8.0*96", [("00000.0", "kWh")]),
        ("1-0:1.8.0*97", [("00000.0", "kWh")]),
        ("1-0:1.8.0*98", [("00000.0", "kWh")]),
        ("1-0:1.8.0*99", [("00000.0", "kWh")]),
        ("1-0:1.8.0*100", [("00000.4", "kWh")]),
        ("1-0:0.2.0*255", [("ver.03,EF8C,20170504", None)]),
        ("1-0:96.90.2*255", [("0C69", None)]),
        ("1-0:97.97.0*255", [("00000000", None)]),
    ],
}

# The last entry of the original corpus (later entries are added by other work and
# tested in their own files; here they only have to parse without crashing).
CLASSIC_LAST = 38

# Files whose .bin holds no ETX/check byte (STX without ETX, or no framing).
NO_CHECK = {1, 4, 7, 17, 18, 19, 20, 21, 22}
# Identification text per capture (None: the capture has no identification line).
IDENT = {
    1: "LGZ52ZMD120APt.G03",
    4: "LGZ4ZMF100AC.M27",
    5: "LGZ4ZMF100AC.M26",
    6: "ACE0\\3k260V01.19",
    7: "ITR5EM214",
    8: "ISk5MT174-0001",
    10: None,
    15: "EKT5CE301v12",
    16: "KAM MC",
    17: "SIE32WR5",
    18: "EMH5----eHZ-E0018E",
    19: "HAG5eHZ010C_EHZ1vA02",
    20: "ESY5Q3DA1024 V3.03",
    21: "ESY5Q3DB1024 V3.04",
    22: "ESY5Q3DA1004 V3.04",
}


def _as_table(readout_datasets: object) -> list[tuple[str, list[tuple[str, str | None]]]]:
    return [
        (ds.address, [(v.value, v.unit) for v in ds.values])
        for ds in readout_datasets  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("nn", [n for n in EXPECTED if n not in (3, 14, 24)])
def test_classic_capture_parsed_exactly(nn: int) -> None:
    """The .bin capture yields exactly the expected data sets, in order, duplicates kept."""
    (readout,) = parse_capture(raw_bytes(nn), Checksum.NONE)
    assert _as_table(readout.datasets) == EXPECTED[nn]
    assert len(readout.datasets) == len(EXPECTED[nn])
    ident = readout.identification
    assert (ident.raw if ident else None) == IDENT[nn]


@pytest.mark.parametrize("nn", [3, 14, 24])
def test_text_only_capture_parsed_exactly(nn: int) -> None:
    """Captures that exist only as text (rendered from the markers) parse exactly too."""
    readouts = parse_capture(render_txt(nn), Checksum.NONE)
    assert _as_table(readouts[0].datasets) == EXPECTED[nn]


def test_mt174_counts_and_spot_checks() -> None:
    """The 9.5 kB Iskra MT174 readout: 343 data sets, BCC verifies, history and empties."""
    (readout,) = parse_capture(raw_bytes(8), Checksum.XOR)
    assert readout.checksum_ok is True
    assert readout.identification is not None
    assert readout.identification.reaction_time == pytest.approx(0.02)
    datasets = readout.datasets
    assert len(datasets) == 343
    table = _as_table(datasets)
    assert table[0] == ("1-0:0.9.1*255", [("201455", None)])
    assert table[1] == ("1-0:0.9.2*255", [("0170318", None)])
    assert ("0-0:C.51.2*255", [("1140716101053", None)]) in table
    assert ("1-0:1.6.0*255", [("02.468", "kW"), ("1703100930", None)]) in table
    assert ("1-0:2.6.0*255", [("00.000", "kW"), ("1703182015", None)]) in table
    assert ("0-0:F.F.0*255", [("0000000", None)]) in table
    assert table[-1] == ("1-0:2.8.4*15", [("0000000.000", "kWh")])
    empty = [ds for ds in datasets if ds.values == (ds.values[0],) and ds.values[0].value == ""]
    assert len(empty) == 90
    assert sum(1 for ds in datasets if ds.obis is not None and ds.obis.is_history) > 100
    assert all(ds.obis is not None for ds in datasets)
    # the echoed ACK "<ACK>050" before STX is not data
    assert not any("050" in ds.address for ds in datasets)


def test_siemens_2wr5_many_sets_per_line() -> None:
    """Two physical lines carry 50 data sets; ``&`` lists become several values, with units."""
    (readout,) = parse_capture(raw_bytes(17), Checksum.XOR)
    table = _as_table(readout.datasets)
    assert len(table) == 50
    assert table[0] == ("6.8", [("0029.055", "MWh")])
    assert table[5] == ("F", [("0", None)])
    assert ("9.4", [("088", "C"), ("082", "C")]) in table
    assert ("9.4*01", [("088", "C"), ("082", "C")]) in table
    assert ("9.1", [(v, None) for v in ("0", "1", "0", "-", "CV", "3", "2.14")]) in table
    assert ("9.36", [("2017-01-18", None), ("01:36:47", None)]) in table
    assert ("9.6", [("000", None), ("00010213", None), ("0", None)]) in table
    assert ("9.2", [("", None), ("", None), ("", None)]) in table
    assert ("6.35", [("60", "m")]) in table
    assert ("6.8.1", [("", None)]) in table
    assert table[-1] == ("0.0", [("00010213", None)])
    assert readout.checksum_ok is None


def test_ebz_two_telegrams_back_to_back() -> None:
    """The eBZ text holds two consecutive telegrams; both are found, in order."""
    readouts = parse_capture(render_txt(23), Checksum.XOR)
    assert len(readouts) == 2
    assert [len(r.datasets) for r in readouts] == [10, 10]
    assert readouts[0].datasets[2].values[0].value == "003699.65305306"
    assert readouts[1].datasets[2].values[0].value == "003699.65333221"
    assert readouts[1].datasets[-1].address == "0-0:96.8.0*255"


@pytest.mark.parametrize(
    ("nn", "xor_ok", "sum_ok"),
    [
        (5, True, False),
        (8, True, False),
        (10, True, False),
        (6, False, False),
        (16, False, True),
        (15, False, True),
    ],
)
def test_check_byte_xor_vs_sum(nn: int, xor_ok: bool, sum_ok: bool) -> None:
    """Check bytes verify as the corpus index says (XOR for most, SUM for MC66/CE301)."""
    data = raw_bytes(nn)
    for checksum, ok in ((Checksum.XOR, xor_ok), (Checksum.SUM, sum_ok)):
        if ok:
            readouts = parse_capture(data, checksum)
            assert readouts[0].checksum_ok is True
        else:
            with pytest.raises(ChecksumError):
                parse_capture(data, checksum)
    (telegram,) = telegrams_in(data)
    block = telegram.blocks[-1]
    assert block.check is not None
    assert (bcc_xor(block.scope) == block.check) is xor_ok
    assert (bcc_sum(block.scope) == block.check) is sum_ok


def test_check_byte_values_from_index() -> None:
    """The check bytes named in the corpus index, and the computed mismatch for ACE3000."""
    assert telegrams_in(raw_bytes(5))[0].blocks[0].check == 0x01
    assert telegrams_in(raw_bytes(8))[0].blocks[0].check == 0x66
    assert telegrams_in(raw_bytes(10))[0].blocks[0].check == 0x4C
    ace = telegrams_in(raw_bytes(6))[0].blocks[0]
    assert (ace.check, bcc_xor(ace.scope)) == (0x46, 0x4D)
    mc66 = telegrams_in(raw_bytes(16))[0].blocks[0]
    assert (mc66.check, bcc_xor(mc66.scope), bcc_sum(mc66.scope)) == (0x61, 0x3D, 0x61)


@pytest.mark.parametrize("nn", sorted(NO_CHECK & {4, 7}))
def test_stx_without_etx_fails_the_check(nn: int) -> None:
    """STX promises a check byte: a capture cut before ETX is not accepted as checked data."""
    with pytest.raises(ChecksumError, match="no check byte"):
        parse_capture(raw_bytes(nn), Checksum.XOR)


@pytest.mark.parametrize("path", bin_files(), ids=lambda p: p.name)
def test_every_bin_parses_without_crash(path: object) -> None:
    """Every raw capture (incl. HAN/DSMR) yields at least one readout with data sets."""
    data = path.read_bytes()  # type: ignore[attr-defined]
    readouts = parse_capture(data, Checksum.NONE)
    assert readouts
    assert readouts[0].datasets
    nn = number(path)  # type: ignore[arg-type]
    assert readouts[0].identification is not None or nn == 10 or nn > CLASSIC_LAST


@pytest.mark.parametrize("path", txt_files(), ids=lambda p: p.name)
def test_every_txt_render_parses_without_crash(path: object) -> None:
    """Every .txt telegram rendered back to bytes parses (or fails only with our errors)."""
    data = render_txt(number(path))  # type: ignore[arg-type]
    for checksum in Checksum:
        try:
            readouts = parse_capture(data, checksum)
        except Iec62056Error:
            continue
        assert readouts
        assert readouts[0].datasets


@pytest.mark.parametrize("nn", [25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38])
def test_han_and_dsmr_counts(nn: int) -> None:
    """HAN/DSMR telegrams: one data set per data line (continuation lines are merged)."""
    lines = {
        25: 27,
        26: 27,
        27: 27,
        28: 35,
        29: 33,
        30: 16,
        31: 23,
        32: 35,
        33: 35,
        34: 36,
        35: 18,
        36: 45,
        37: 8,
        38: 16,
    }
    (readout,) = parse_capture(raw_bytes(nn), Checksum.XOR)
    assert len(readout.datasets) == lines[nn]
    assert readout.checksum_ok is None


# Landis+Gyr Ultraheat UH50 heat meter ("/LUGCUH50"), read through an IR head: several data
# sets per line, "&" lists with a unit per part, history "*01"/"*02", empty values, "m" =
# minutes. Source: vpathuis/ultraheat @ 045e724: tests/LUGCUH50_dummy_utf8.txt (a real
# readout; the ultraheat-api library that Home Assistant's landisgyr_heat_meter uses).
# LF line ends and the "h" after "!" as in the file.
UH50_GJ = (
    "/LUGCUH50\n"
    "6.8(0328.871*GJ)6.26(03329.67*m3)9.21(66153690)\n"
    "6.26*01(03188.07*m3)6.8*01(0314.658*GJ)\n"
    "F(0)9.20(66153690)6.35(60*m)\n"
    "6.6(0022.4*kW)6.6*01(0022.4*kW)6.33(000.744*m3ph)9.4(098.5*C&096.1*C)\n"
    "6.31(0107988*h)6.32(0000005*h)9.22(R)9.6(000&66153690&0&000&66153690&0)\n"
    "9.7(20000)6.32*01(0000005*h)6.36(01-01&00:00)6.33*01(000.744*m3ph)\n"
    "6.8.1()6.8.2()6.8.3()6.8.4()6.8.5()\n"
    "6.8.1*01()6.8.2*01()6.8.3*01()\n"
    "6.8.4*01()6.8.5*01()\n"
    "9.4*01(098.5*C&096.1*C)\n"
    "6.36.1(2018-03-03)6.36.1*01(2018-03-03)\n"
    "6.36.2(2020-06-23)6.36.2*01(2020-06-23)\n"
    "6.36.3(2012-02-03)6.36.3*01(2012-02-03)\n"
    "6.36.4(2017-01-18)6.36.4*01(2017-01-18)\n"
    "6.36.5()6.36*02(01&00:00)9.36(2022-05-19&19:41:17)9.24(1.5*m3ph)\n"
    "9.17(0)9.18()9.19()9.25()\n"
    "9.1(0&1&0&0000&CECV&CECV&1&5.16&5.16&F&101008&040404&08&0)\n"
    "9.2(&&)9.29()9.31(0028849*h)\n"
    "9.0.1(00000000)9.0.2(00000000)9.34.1(000.00000*m3)9.34.2(000.00000*m3)\n"
    "8.26.1(00000000*m3)8.26.2(00000000*m3)\n"
    "8.26.1*01(00000000*m3)8.26.2*01(00000000*m3)\n"
    "6.26.1()6.26.4()6.26.5()\n"
    "6.26.1*01()6.26.4*01()6.26.5*01()0.0(66153690)\n"
    "!\n"
    "h\n"
)

UH50_GJ_EXPECTED: list[tuple[str, list[tuple[str, str | None]]]] = [
    ("6.8", [("0328.871", "GJ")]),
    ("6.26", [("03329.67", "m3")]),
    ("9.21", [("66153690", None)]),
    ("6.26*01", [("03188.07", "m3")]),
    ("6.8*01", [("0314.658", "GJ")]),
    ("F", [("0", None)]),
    ("9.20", [("66153690", None)]),
    ("6.35", [("60", "m")]),
    ("6.6", [("0022.4", "kW")]),
    ("6.6*01", [("0022.4", "kW")]),
    ("6.33", [("000.744", "m3ph")]),
    ("9.4", [("098.5", "C"), ("096.1", "C")]),
    ("6.31", [("0107988", "h")]),
    ("6.32", [("0000005", "h")]),
    ("9.22", [("R", None)]),
    (
        "9.6",
        [
            ("000", None),
            ("66153690", None),
            ("0", None),
            ("000", None),
            ("66153690", None),
            ("0", None),
        ],
    ),
    ("9.7", [("20000", None)]),
    ("6.32*01", [("0000005", "h")]),
    ("6.36", [("01-01", None), ("00:00", None)]),
    ("6.33*01", [("000.744", "m3ph")]),
    ("6.8.1", [("", None)]),
    ("6.8.2", [("", None)]),
    ("6.8.3", [("", None)]),
    ("6.8.4", [("", None)]),
    ("6.8.5", [("", None)]),
    ("6.8.1*01", [("", None)]),
    ("6.8.2*01", [("", None)]),
    ("6.8.3*01", [("", None)]),
    ("6.8.4*01", [("", None)]),
    ("6.8.5*01", [("", None)]),
    ("9.4*01", [("098.5", "C"), ("096.1", "C")]),
    ("6.36.1", [("2018-03-03", None)]),
    ("6.36.1*01", [("2018-03-03", None)]),
    ("6.36.2", [("2020-06-23", None)]),
    ("6.36.2*01", [("2020-06-23", None)]),
    ("6.36.3", [("2012-02-03", None)]),
    ("6.36.3*01", [("2012-02-03", None)]),
    ("6.36.4", [("2017-01-18", None)]),
    ("6.36.4*01", [("2017-01-18", None)]),
    ("6.36.5", [("", None)]),
    ("6.36*02", [("01", None), ("00:00", None)]),
    ("9.36", [("2022-05-19", None), ("19:41:17", None)]),
    ("9.24", [("1.5", "m3ph")]),
    ("9.17", [("0", None)]),
    ("9.18", [("", None)]),
    ("9.19", [("", None)]),
    ("9.25", [("", None)]),
    (
        "9.1",
        [
            ("0", None),
            ("1", None),
            ("0", None),
            ("0000", None),
            ("CECV", None),
            ("CECV", None),
            ("1", None),
            ("5.16", None),
            ("5.16", None),
            ("F", None),
            ("101008", None),
            ("040404", None),
            ("08", None),
            ("0", None),
        ],
    ),
    ("9.2", [("", None), ("", None), ("", None)]),
    ("9.29", [("", None)]),
    ("9.31", [("0028849", "h")]),
    ("9.0.1", [("00000000", None)]),
    ("9.0.2", [("00000000", None)]),
    ("9.34.1", [("000.00000", "m3")]),
    ("9.34.2", [("000.00000", "m3")]),
    ("8.26.1", [("00000000", "m3")]),
    ("8.26.2", [("00000000", "m3")]),
    ("8.26.1*01", [("00000000", "m3")]),
    ("8.26.2*01", [("00000000", "m3")]),
    ("6.26.1", [("", None)]),
    ("6.26.4", [("", None)]),
    ("6.26.5", [("", None)]),
    ("6.26.1*01", [("", None)]),
    ("6.26.4*01", [("", None)]),
    ("6.26.5*01", [("", None)]),
    ("0.0", [("66153690", None)]),
]

# The same model, another meter (70376057, also in home-assistant/core#97406): this capture
# carries a stray backslash after the 9.4 temperatures. Source: vpathuis/ultraheat @ 045e724:
# tests/LUGCUH50_dummy_utf8_kwh.txt
UH50_KWH = (
    "/LUGCUH50\n"
    "6.8(0071813*kWh)6.26(01084.58*m3)9.21(70376057)\n"
    "6.26*01(00898.98*m3)6.8*01(0059059*kWh)\n"
    "F(0)9.20(70376057)6.35(60*m)\n"
    "6.6(0026.3*kW)6.6*01(0026.3*kW)6.33(000.300*m3ph)9.4(114.9*C&090.8*C)\\\n"
    "6.31(0032214*h)6.32(0000000*h)9.22(R)9.6(000&70376057&0&000&70376057&0)\n"
    "9.7(20000)6.32*01(0000000*h)6.36(01-01&00:00)6.33*01(000.300*m3ph)\n"
    "6.8.1()6.8.2()6.8.3()6.8.4()6.8.5()\n"
    "6.8.1*01()6.8.2*01()6.8.3*01()\n"
    "6.8.4*01()6.8.5*01()\n"
    "9.4*01(114.9*C&083.9*C)\n"
    "6.36.1(2021-02-11)6.36.1*01(2021-02-11)\n"
    "6.36.2(2021-02-11)6.36.2*01(2021-02-11)\n"
    "6.36.3(2021-02-11)6.36.3*01(2021-02-11)\n"
    "6.36.4(2023-03-25)6.36.4*01(2020-09-06)\n"
    "6.36.5()6.36*02(01&00:00)9.36(2023-08-20&10:22:22)9.24(1.5*m3ph)\n"
    "9.17(0)9.18()9.19()9.25()\n"
    "9.1(0&1&0&0000&CECV&CECV&1&5.24&5.24&F&101008&1>1>04&08&0&00&:5&00&20)\n"
    "9.2(&&)9.29()9.31(0016196*h)\n"
    "9.0.1(00000000)9.0.2(00000000)9.34.1(000.00000*m3)9.34.2(000.00000*m3)\n"
    "8.26.1(00000000*m3)8.26.2(00000000*m3)\n"
    "8.26.1*01(00000000*m3)8.26.2*01(00000000*m3)\n"
    "6.26.1()6.26.4()6.26.5()\n"
    "6.26.1*01()6.26.4*01()6.26.5*01()0.0(70376057)\n"
    "!\n"
    "h\n"
)


def test_uh50_heat_meter_parsed_exactly() -> None:
    """Ultraheat UH50: every data set and every value of the published readout."""
    (readout,) = parse_capture(UH50_GJ.encode("ascii"), Checksum.XOR)
    assert readout.identification is not None
    assert readout.identification.raw == "LUGCUH50"
    assert _as_table(readout.datasets) == UH50_GJ_EXPECTED
    assert readout.checksum_ok is None
    assert readout.skipped_lines == 0


def test_uh50_stray_byte_does_not_lose_the_readout() -> None:
    """One stray byte after a value: the tail is skipped and counted, the 66 data sets stay."""
    (readout,) = parse_capture(UH50_KWH.encode("ascii"), Checksum.XOR)
    assert readout.skipped_lines == 1
    table = _as_table(readout.datasets)
    assert len(table) == 66
    assert table[0] == ("6.8", [("0071813", "kWh")])
    assert ("9.4", [("114.9", "C"), ("090.8", "C")]) in table
    assert ("9.4*01", [("114.9", "C"), ("083.9", "C")]) in table
    assert ("6.31", [("0032214", "h")]) in table
    assert table[-1] == ("0.0", [("70376057", None)])
    # the stray byte on a line of its own: the same result
    alone = UH50_KWH.replace("*C)\\\n", "*C)\n\\\n")
    (again,) = parse_capture(alone.encode("ascii"), Checksum.XOR)
    assert _as_table(again.datasets) == table
    assert again.skipped_lines == 1


@pytest.mark.parametrize(
    "path", [p for p in bin_files() if number(p) <= CLASSIC_LAST], ids=lambda p: p.name
)
def test_no_false_glued_unit_in_the_corpus(path: object) -> None:
    """Every meter of corpus 01-38 writes its units with ``*``: none may come from a glued split.

    Guards DSMR timestamps (``230521133516S``/``...W`` on C 1..95), hex words and text
    registers against being cut into number + unit.
    """
    data = path.read_bytes()  # type: ignore[attr-defined]
    text = bytes(b & 0x7F for b in data).decode("ascii")
    for readout in parse_capture(data, Checksum.NONE):
        for dataset in readout.datasets:
            for value in dataset.values:
                if value.unit is not None:
                    pattern = re.escape(value.value) + r" *\* *" + re.escape(value.unit)
                    assert re.search(pattern, text), (dataset.address, value)
