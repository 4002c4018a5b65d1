"""Property-based fuzzing of the framer, the decoder and the data-line parser.

Arbitrary bytes and corpus-seeded mutations, fed in arbitrary chunks, never raise
anything but the library's own errors and never grow a buffer past the limit.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.dlms_meter.iec62056 import (
    Checksum,
    Framer,
    Iec62056Error,
    Telegram,
    Value,
    decode_telegram,
    parse_capture,
    parse_data_block,
    parse_obis,
)
from custom_components.dlms_meter.iec62056.checksum import bcc_xor
from custom_components.dlms_meter.iec62056.datalines import split_glued_unit

from .corpus import bin_files

SEEDS = [path.read_bytes() for path in bin_files()]
LIMIT = 512
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A corpus capture with random byte edits (replace, insert, delete, duplicate)."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 12))):
        pos = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(("replace", "insert", "delete", "dup")))
        if action == "replace" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif action == "insert":
            data[pos:pos] = draw(st.binary(max_size=8))
        elif action == "delete":
            del data[pos : pos + draw(st.integers(1, 20))]
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 200))]
    return bytes(data)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return pieces


def _exercise(data: bytes, cuts: list[int], limit: int) -> None:
    framer = Framer(max_bytes=limit)
    events = []
    for piece in _split(data, cuts):
        events += framer.feed(piece)
        assert framer.buffered <= limit
    events += framer.feed_eof()
    for event in events:
        if isinstance(event, Telegram):
            assert len(event.raw) <= limit
            for checksum in Checksum:
                try:
                    readout = decode_telegram(event, checksum)
                except Iec62056Error:
                    continue
                assert all(ds.address == ds.address.strip() for ds in readout.datasets)


@FUZZ
@given(st.binary(max_size=3000), st.lists(st.integers(0, 4000), max_size=20))
def test_arbitrary_bytes(data: bytes, cuts: list[int]) -> None:
    """Random bytes: only library errors, bounded buffers."""
    _exercise(data, cuts, LIMIT)


@FUZZ
@given(mutated(), st.lists(st.integers(0, 20000), max_size=20), st.sampled_from([256, 2048]))
def test_corpus_mutations(data: bytes, cuts: list[int], limit: int) -> None:
    """Mutated real captures: only library errors, bounded buffers."""
    _exercise(data, cuts, limit)


@FUZZ
@given(mutated(), st.sampled_from(list(Checksum)))
def test_parse_capture_raises_only_library_errors(data: bytes, checksum: Checksum) -> None:
    """The capture parser (used by the CLI) fails only with Iec62056Error."""
    try:
        readouts = parse_capture(data, checksum)
    except Iec62056Error:
        return
    for readout in readouts:
        assert readout.checksum_ok in (True, None)


@FUZZ
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=2000))
def test_data_lines_never_crash(text: str) -> None:
    """Any 7-bit text parses into data sets with clean addresses."""
    block = parse_data_block(text)
    for dataset in block.datasets:
        assert not any(ch.isspace() or ord(ch) < 0x20 for ch in dataset.address)
        assert dataset.values
        for value in dataset.values:
            assert ")" not in value.value
            assert value.unit is None or value.unit.strip() == value.unit != ""


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                b"/",
                b"!",
                b"(",
                b")",
                b"*",
                b"\r\n",
                b"\n",
                b"\x02",
                b"\x03",
                b"\x01",
                b"\x06",
                b"\x00",
                b"\x7f",
                b"ABC5X",
                b"1.8.0",
                b"050",
                b"?",
            ]
        ),
        max_size=300,
    ),
    st.lists(st.integers(0, 3000), max_size=10),
)
def test_protocol_token_soup(tokens: list[bytes], cuts: list[int]) -> None:
    """Streams built from protocol tokens hit every framer state without harm."""
    _exercise(b"".join(tokens), cuts, LIMIT)


# ---- the syntax of heat meters and optical Iskra readouts: & lists, glued units, noise ----

_UNITS = ["kWh", "MWh", "GJ", "m3", "m3ph", "kW", "C", "h", "V", "A", "kvarh", None]
_NUMBER = st.from_regex(r"\A[+-]?[0-9]{1,8}(\.[0-9]{1,5})?\Z")
_TEXT = st.from_regex(r"\A[0-9A-Za-z:.#,-]{0,12}\Z")
_PART = st.tuples(st.one_of(_NUMBER, _TEXT), st.sampled_from(_UNITS), st.booleans())
_ADDRESS = st.builds(
    lambda a, c, d, e, mark, f: (
        (f"{a}:" if a else "")
        + f"{c}.{d}"
        + (f".{e}" if e is not None else "")
        + (f"{mark}{f:02d}" if f is not None else "")
    ),
    st.sampled_from(["", "1-0", "0-0", "1-1"]),
    st.sampled_from(["0", "1", "2", "6", "9", "32", "96", "C", "F"]),
    st.integers(0, 40),
    st.one_of(st.none(), st.integers(0, 9)),
    st.sampled_from(["*", "&"]),
    st.one_of(st.none(), st.integers(0, 99)),
)
_DATASET = st.tuples(
    _ADDRESS, st.lists(st.lists(_PART, min_size=1, max_size=4), min_size=1, max_size=3)
)


def _render_part(
    address: str, part: tuple[str, str | None, bool]
) -> tuple[str, tuple[str, str | None]]:
    """Text of one & part and the value the parser must return for it."""
    text, unit, glue = part
    code = parse_obis(address)
    physical = code is not None and 1 <= code.c <= 95
    if unit is None:
        # a bare text that looks like number+unit is split on physical registers
        expected = split_glued_unit(Value(text)) if physical else Value(text)
        return text, (expected.value, expected.unit)
    if glue and physical and re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", text):
        # one-letter units only after a decimal point (DSMR timestamps end in W/S)
        if len(unit) > 1 or "." in text:
            return text + unit, (text, unit)
        return text + unit, (text + unit, None)
    return f"{text}*{unit}", (text, unit)


@FUZZ
@given(st.lists(_DATASET, min_size=1, max_size=8), st.integers(1, 4), st.data())
def test_heat_meter_syntax_round_trip(
    datasets: list[tuple[str, list[list[tuple[str, str | None, bool]]]]],
    per_line: int,
    data: st.DataObject,
) -> None:
    """Data sets rendered the way Ultraheat/Iskra meters write them parse back exactly.

    Several data sets per line, several parentheses per data set, ``&`` lists with a unit
    per part, units glued to numbers; a noise line without parentheses inserted anywhere
    is skipped and counted, the data sets stay the same. Fed through the framer in
    random chunks after an identification ending in CR, LF or CR LF, the telegram is the
    same.
    """
    rendered: list[str] = []
    expected: list[tuple[str, list[tuple[str, str | None]]]] = []
    for address, groups in datasets:
        text = address
        values: list[tuple[str, str | None]] = []
        for parts in groups:
            pieces = [_render_part(address, part) for part in parts]
            text += "(" + "&".join(piece for piece, _ in pieces) + ")"
            values += [value for _, value in pieces]
        rendered.append(text)
        expected.append((address, values))
    lines = ["".join(rendered[i : i + per_line]) for i in range(0, len(rendered), per_line)]
    noise_at = data.draw(st.integers(0, len(lines)))
    noise = data.draw(st.sampled_from(["\\", "h", "x y", "#", "\x00?"]))
    noisy_lines = [*lines[:noise_at], noise, *lines[noise_at:]]
    body = "\r\n".join([*noisy_lines, "!", ""])

    block = parse_data_block(body)
    assert [(d.address, [(v.value, v.unit) for v in d.values]) for d in block.datasets] == expected
    assert block.skipped_lines == 1
    assert block.ended

    scope = body.encode("ascii") + b"\x03"
    end = data.draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    capture = b"/LUGCUH50" + end + b"\x02" + scope + bytes([bcc_xor(scope)])
    cuts = data.draw(st.lists(st.integers(0, len(capture)), max_size=10))
    framer = Framer()
    events = []
    for piece in _split(capture, cuts):
        events += framer.feed(piece)
    events += framer.feed_eof()
    (telegram,) = [e for e in events if isinstance(e, Telegram)]
    readout = decode_telegram(telegram, Checksum.XOR)
    assert readout.checksum_ok is True
    assert readout.datasets == block.datasets
    assert readout.skipped_lines == 1
    assert readout.identification is not None
    assert readout.identification.model == "UH50"


@FUZZ
@given(st.lists(_DATASET, min_size=1, max_size=6), st.data())
def test_damaged_line_never_yields_a_half_value(
    datasets: list[tuple[str, list[list[tuple[str, str | None, bool]]]]], data: st.DataObject
) -> None:
    """A line cut inside a value, or with a stray parenthesis or control byte inside one,
    yields nothing at all; the good lines around it stay intact; unchecked it is refused."""
    line = "".join(
        address
        + "".join(
            "(" + "&".join(_render_part(address, p)[0] for p in parts) + ")" for parts in groups
        )
        for address, groups in datasets
    )
    inside: list[int] = []
    depth = 0
    for index, char in enumerate(line):
        if char == "(":
            depth = 1
        elif char == ")":
            depth = 0
        if depth or char == ")":
            inside.append(index + 1 if char == "(" else index)
    position = data.draw(st.sampled_from(sorted(set(inside))))
    kind = data.draw(st.sampled_from(["cut", "open", "close", "control"]))
    damaged = {
        "cut": line[:position],
        "open": line[:position] + "(" + line[position:],
        "close": line[:position] + ")" + line[position:],
        "control": line[:position] + "\x13" + line[position:],
    }[kind]
    good = "6.8(0328.871*GJ)9.4(098.5*C&096.1*C)"
    block = parse_data_block(f"{good}\r\n{damaged}\r\n{good}\r\n!\r\n")
    around = parse_data_block(f"{good}\r\n{good}\r\n").datasets
    assert block.datasets == around
    assert (block.broken_lines, block.skipped_lines, block.data_lines) == (1, 1, 2)
    assert not block.trusted_without_check
