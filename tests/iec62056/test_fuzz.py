"""Property-based fuzzing of the framer, the decoder and the data-line parser.

Arbitrary bytes and corpus-seeded mutations, fed in arbitrary chunks, never raise
anything but the library's own errors and never grow a buffer past the limit.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.dlms_meter.iec62056 import (
    Checksum,
    Framer,
    Iec62056Error,
    Telegram,
    decode_telegram,
    parse_capture,
    parse_data_block,
)

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
