"""Telegram -> :class:`Readout`, with the block check, and whole captures -> readouts.

Rules:

* Every framed block is checked with the chosen :class:`Checksum`. A wrong check byte, or
  a missing one (the input ended after STX without ``ETX check``), raises
  :class:`ChecksumError`: a readout that fails its check is never returned as data.
  With :attr:`Checksum.NONE` nothing is checked and ``checksum_ok`` is None.
* A block whose check byte verifies is what the meter sent: a malformed line inside it
  (unbalanced or cut parentheses, a stray byte such as a lone ``\\``) is skipped and
  counted in :attr:`Readout.skipped_lines`; the good lines are kept.
* Unchecked data (unframed telegrams, i.e. mode D or meters that send no STX, and framed
  blocks read with :attr:`Checksum.NONE`) carries no proof. The safe rule
  (:attr:`DataBlock.trusted_without_check`): every line that holds a parenthesis must be
  well formed (balanced, complete, printable values, clean addresses); lines or line tails
  without any parenthesis are skipped and counted, but only while the good data lines
  outnumber them. Anything else raises :class:`ProtocolError` (wrong rate or noise), so a
  half value is never accepted.
* Blocks with an SOH header (programming-mode command messages such as the password
  request ``SOH P0 STX (...) ETX``) are checked but contribute no data sets.
"""

from __future__ import annotations

from dataclasses import replace

from .checksum import Checksum, verify
from .datalines import DataBlock, parse_data_block
from .errors import ChecksumError, ProtocolError
from .framer import Framer, Telegram
from .models import DataSet, Readout


def decode_telegram(
    telegram: Telegram,
    checksum: Checksum = Checksum.XOR,
    *,
    baudrate: int | None = None,
    mode: str = "",
    duration: float = 0.0,
) -> Readout:
    """Check and parse one telegram; raise :class:`ChecksumError` if a check fails."""
    checksum_ok: bool | None = None
    datasets: list[DataSet] = []
    skipped = 0
    for index, block in enumerate(telegram.blocks):
        result = verify(checksum, block.scope, block.check)
        if result is False:
            if block.check is None:
                raise ChecksumError(f"block {index + 1} has no check byte (no ETX)")
            raise ChecksumError(
                f"block {index + 1}: check byte 0x{block.check:02X} does not verify "
                f"({checksum.value})"
            )
        checksum_ok = result
        if not block.header:
            parsed = parse_data_block(block.data.decode("ascii"))
            if result is None:
                _require_trusted(parsed, f"block {index + 1}")
            datasets.extend(parsed.datasets)
            skipped += parsed.skipped_lines
    if not telegram.blocks:
        parsed = parse_data_block(telegram.text.decode("ascii"))
        _require_trusted(parsed, "unframed data")
        datasets.extend(parsed.datasets)
        skipped += parsed.skipped_lines
    return Readout(
        identification=telegram.identification,
        datasets=tuple(datasets),
        raw=telegram.raw,
        checksum_ok=checksum_ok,
        baudrate=baudrate,
        mode=mode,
        duration=duration,
        skipped_lines=skipped,
    )


def _require_trusted(block: DataBlock, where: str) -> None:
    """Raise :class:`ProtocolError` unless unchecked data is safe to use (module doc)."""
    if not block.trusted_without_check:
        raise ProtocolError(
            f"{where} holds malformed lines and no check byte proves it (wrong rate or noise?)"
        )


def telegrams_in(data: bytes, framer: Framer | None = None) -> list[Telegram]:
    """Return every telegram in a complete capture (chunks fed at once, then EOF)."""
    framer = framer or Framer()
    events = framer.feed(data) + framer.feed_eof()
    return [event for event in events if isinstance(event, Telegram)]


def _decode_cut(telegram: Telegram, checksum: Checksum) -> Readout:
    """Decode unframed data cut short: without its unterminated last line."""
    end = max(telegram.text.rfind(b"\r"), telegram.text.rfind(b"\n")) + 1
    partial = telegram.text[end:].strip(b" \t\x00\x7f")
    readout = decode_telegram(replace(telegram, text=telegram.text[:end]), checksum)
    return replace(readout, skipped_lines=readout.skipped_lines + bool(partial))


def parse_capture(data: bytes, checksum: Checksum = Checksum.XOR) -> list[Readout]:
    """Parse captured bytes into readouts, in order.

    Telegrams that ended without their ``!`` end marker are skipped unless they are a
    programming-mode session of checked blocks. If there is no such telegram but an
    identification followed by unframed data that was cut short (the capture ends before
    ``!``), that data is decoded by the rules for unchecked data: the complete lines before
    the cut; the unterminated last line is dropped (and counted in ``skipped_lines``).
    If no telegram is found at all, the whole input is read as bare data lines (captures
    that lost the identification and framing); that readout has no identification and
    ``checksum_ok`` None.
    Raises :class:`ChecksumError` if a telegram fails its check, :class:`ProtocolError` if
    cut unframed data holds malformed lines.
    """
    telegrams = telegrams_in(data)
    readouts = [
        decode_telegram(telegram, checksum)
        for telegram in telegrams
        if telegram.complete or telegram.framed
    ]
    if readouts:
        return readouts
    cut = [t for t in telegrams if t.identification is not None and t.text]
    if cut:
        return [_decode_cut(telegram, checksum) for telegram in cut]
    text = bytes(b & 0x7F for b in data).decode("ascii")
    parsed = parse_data_block(text)
    if not parsed.datasets:
        return []
    return [
        Readout(
            identification=None,
            datasets=parsed.datasets,
            raw=data,
            skipped_lines=parsed.skipped_lines,
        )
    ]
