"""Corpus-seeded mutation fuzzing: bit flips, insertions, deletions and cuts fed in random chunks.

Complements test_fuzz.py (random edits at the library's limits) with the invariants a reader
relies on at the default, documented buffer limit:

* only the library's own errors, whatever the bytes;
* no buffer beyond :data:`MAX_TELEGRAM_BYTES` after any chunk, no telegram larger than that;
* chunking invariance: the events do not depend on how the port cut the stream, and a telegram
  whose check byte verifies after the mutation decodes to exactly what the same bytes decode to
  when fed in one chunk.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.dlms_meter.iec62056 import (
    MAX_TELEGRAM_BYTES,
    Checksum,
    DataSet,
    Framer,
    Iec62056Error,
    Telegram,
    decode_telegram,
    parse_data_block,
)
from custom_components.dlms_meter.iec62056.framer import Event

from .corpus import bin_files

SEEDS = [path.read_bytes() for path in bin_files()]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def corpus_mutant(draw: st.DrawFn) -> bytes:
    """A real capture with a few bit flips, insertions, deletions and possibly a cut."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(("flip", "insert", "delete")))
        if action == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif data:
            del data[pos : pos + draw(st.integers(1, 8))]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut into pieces of random sizes (1 byte up to whole reads)."""
    pieces: list[bytes] = []
    pos = 0
    while pos < len(data):
        size = draw(st.integers(1, 300))
        pieces.append(data[pos : pos + size])
        pos += size
    return pieces


def _feed(pieces: list[bytes]) -> list[Event]:
    framer = Framer()
    events: list[Event] = []
    for piece in pieces:
        events += framer.feed(piece)
        assert framer.buffered <= MAX_TELEGRAM_BYTES
    events += framer.end_of_message()
    events += framer.feed_eof()
    return events


def _decoded(events: list[Event]) -> list[tuple[Checksum, tuple[DataSet, ...]]]:
    """The data sets of every telegram whose block check (XOR or SUM) verifies."""
    found: list[tuple[Checksum, tuple[DataSet, ...]]] = []
    for event in events:
        if not isinstance(event, Telegram):
            continue
        assert len(event.raw) <= MAX_TELEGRAM_BYTES
        for checksum in (Checksum.XOR, Checksum.SUM):
            try:
                readout = decode_telegram(event, checksum)
            except Iec62056Error:
                continue
            if readout.checksum_ok:
                found.append((checksum, readout.datasets))
    return found


@FUZZ
@given(st.data())
def test_mutated_captures_in_random_chunks(data: st.DataObject) -> None:
    """Only library errors, bounded buffers, and the same result as feeding one chunk."""
    mutant = data.draw(corpus_mutant())
    pieces = data.draw(chunked(mutant))
    events = _feed(pieces)
    whole = _feed([mutant])
    assert events == whole
    assert _decoded(events) == _decoded(whole)


@FUZZ
@given(corpus_mutant())
def test_every_check_kind_raises_only_library_errors(mutant: bytes) -> None:
    """Decoding each telegram with each block check: a readout or an Iec62056Error."""
    for event in _feed([mutant]):
        if not isinstance(event, Telegram):
            continue
        for checksum in Checksum:
            try:
                readout = decode_telegram(event, checksum)
            except Iec62056Error:
                continue
            assert readout.checksum_ok is (None if checksum is Checksum.NONE else True) or (
                not event.blocks and readout.checksum_ok is None
            )


@FUZZ
@given(corpus_mutant())
def test_mutated_data_lines_parse(mutant: bytes) -> None:
    """The data-line parser takes any mutated capture text: clean addresses, closed values."""
    text = bytes(byte & 0x7F for byte in mutant).decode("ascii")
    block = parse_data_block(text)
    for dataset in block.datasets:
        assert dataset.address == dataset.address.strip()
        assert "(" not in dataset.address
        assert dataset.values
        assert all(")" not in value.value and "\n" not in value.value for value in dataset.values)


def test_seeds_decode() -> None:
    """The unmutated corpus gives checked readouts (so the invariance above is not vacuous)."""
    verified = [seed for seed in SEEDS if any(sets for _, sets in _decoded(_feed([seed])))]
    assert len(verified) >= 5
