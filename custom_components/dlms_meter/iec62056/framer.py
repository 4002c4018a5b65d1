"""Incremental, sans-I/O framer: bytes in, identifications and telegrams out.

Feed it whatever chunks the port delivers (``feed``), and ``feed_eof`` at the end of
a capture. It copes with what real meters and IR heads send:

* bit 7 is cleared on every byte (7E1 read as 8N1 shows the parity bit there);
* NUL and 0x7F line noise before the identification and between telegrams is skipped;
* the IR head's echo of our own bytes is removed: call ``expect_echo(sent)`` for every
  write; incoming bytes that match the expected echo are consumed, and on the first
  mismatch the partly matched bytes are handed on as ordinary input. Without
  ``expect_echo`` (e.g. parsing a capture) an echoed request ``/?...!`` is rejected as
  identification, and an echoed ``ACK V Z Y`` is skipped before the data;
* identification line ``/XXXZ...`` ending in CR LF, LF only or CR only (Iskra MT382 read
  optically ends it with a bare CR; the data line that follows is not part of it). After
  a CR the identification is reported with the next byte (an LF there is the same line
  end), or by :meth:`Framer.end_of_message` / :meth:`Framer.feed_eof` if nothing follows.
  ``raw`` always shows the line end as CR LF. A ``/`` is taken as the
  start of an identification at the start of a line, or anywhere when the line that
  follows is a strictly valid identification (noise glued in front of ``/``); a ``/``
  inside a value (``Imp/kWh``) is never one;
* framed data ``STX ... ETX`` (or ``SOH header STX ... ETX``, or ``... EOT``) followed by
  exactly one check byte, which may be any byte at all (CR, LF, ETX, ``!``, ``/``);
* several blocks per session (programming mode): blocks without the ``!`` end marker
  are collected until a block with ``!``, a new identification, or the end of input;
* junk between the identification and STX (an echo garbled by the rate switch) is
  dropped when no complete data set precedes the STX;
* mode D / unframed data after the identification, ending at ``!`` outside parentheses
  (at the start of a line or right after the last data set); anything after ``!`` up to
  the next identification (DSMR CRC, gateway junk) is ignored;
* several telegrams back to back.

Memory is bounded: no internal buffer grows beyond ``max_bytes`` (default
:data:`MAX_TELEGRAM_BYTES` = 64 KiB). A telegram that would exceed it is dropped
(``overflows`` counts these) and the framer hunts for the next identification.
The expected-echo buffer holds at most :data:`MAX_ECHO_BYTES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from .identification import Identification, is_strict_identification, parse_identification

MAX_TELEGRAM_BYTES = 64 * 1024
MAX_ECHO_BYTES = 1024
_MAX_IDENT_LINE = 80
_MAX_HEADER = 64

NUL = 0x00
SOH = 0x01
STX = 0x02
ETX = 0x03
EOT = 0x04
ACK = 0x06
LF = 0x0A
CR = 0x0D
DEL = 0x7F
SLASH = 0x2F
BANG = 0x21
OPEN = 0x28
CLOSE = 0x29
_NOISE = frozenset((NUL, DEL))
_ACK_PATTERN = (b"012", b"0123456789ABCDEFGHI", b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class Block:
    """One ``[SOH header] STX data ETX check`` block.

    ``scope`` is what the block check covers: every byte after the first SOH or STX up
    to and including ETX/EOT. ``check`` is None if the input ended before it.
    """

    header: bytes
    data: bytes
    scope: bytes
    check: int | None


@dataclass(frozen=True, slots=True)
class Telegram:
    """Everything that followed one identification (or a headless block).

    Framed telegrams have ``blocks``; unframed (mode D style) ones have ``text``.
    ``complete`` is True when the ``!`` end marker was seen.
    """

    identification: Identification | None
    blocks: tuple[Block, ...]
    text: bytes
    complete: bool
    raw: bytes

    @property
    def framed(self) -> bool:
        """Return True if the data came in STX/ETX blocks."""
        return bool(self.blocks)


type Event = Identification | Telegram


class _State(Enum):
    HUNT = auto()
    IDENT = auto()
    AFTER_IDENT = auto()
    ACK_ECHO = auto()
    HEADER = auto()
    BLOCK = auto()
    CHECK = auto()
    UNFRAMED = auto()
    UNFRAMED_END = auto()


def has_end_marker(data: bytes) -> bool:
    """Return True if ``data`` holds ``!`` outside parentheses."""
    inside = False
    for byte in data:
        if byte == OPEN:
            inside = True
        elif byte in (CLOSE, CR, LF):
            inside = False
        elif byte == BANG and not inside:
            return True
    return False


class Framer:
    """Turn a byte stream into :class:`Identification` and :class:`Telegram` events."""

    def __init__(self, max_bytes: int = MAX_TELEGRAM_BYTES, *, wait_for_check: bool = True) -> None:
        """Create a framer whose buffers never exceed ``max_bytes``.

        ``wait_for_check``: after the ``!`` line of unframed data, wait for the next byte
        before reporting the telegram: if it is ETX, the STX was lost (e.g. the rate was
        switched late) and the following check byte is verified over the data after all.
        Any other byte, :meth:`end_of_message` or :meth:`feed_eof` reports the telegram
        as unframed. Use False for push (mode D) meters, where nothing follows ``!``.
        """
        self.max_bytes = max_bytes
        self.wait_for_check = wait_for_check
        self.received = 0
        self.overflows = 0
        self.discarded = 0
        self._echo = bytearray()
        self._echo_matched = 0
        self._events: list[Event] = []
        self._reset()

    # ---- public API ----

    def expect_echo(self, sent: bytes) -> None:
        """Register bytes we sent, so that their echo is removed from the input."""
        cleaned = bytes(b & 0x7F for b in sent if b & 0x7F not in _NOISE)
        self._echo += cleaned
        if len(self._echo) > MAX_ECHO_BYTES:
            del self._echo[: len(self._echo) - MAX_ECHO_BYTES]
            self._echo_matched = 0

    def clear_echo(self) -> None:
        """Forget any echo still expected."""
        self._echo.clear()
        self._echo_matched = 0

    @property
    def identification(self) -> Identification | None:
        """Return the identification of the telegram being received, if any."""
        return self._ident

    @property
    def buffered(self) -> int:
        """Return the size of the largest internal buffer (for limits and tests)."""
        return max(
            len(self._raw), len(self._cur), len(self._scope), len(self._line), len(self._echo)
        )

    def feed(self, data: bytes) -> list[Event]:
        """Process a chunk; return the events it completed, in order."""
        for byte in data:
            self._byte(byte & 0x7F)
        events, self._events = self._events, []
        return events

    def end_of_message(self) -> list[Event]:
        """The line went quiet: report unframed data whose ``!`` was already seen.

        Also reports an identification line that ended with a bare CR.
        """
        if self._state is _State.IDENT and self._ident_cr:
            self._accept_ident()
        if self._state is _State.UNFRAMED_END:
            self._emit(complete=True)
            self._reset()
        events, self._events = self._events, []
        return events

    def feed_eof(self) -> list[Event]:
        """Finish the input: flush a telegram cut short by the end of a capture."""
        if self._state is _State.IDENT and self._ident_cr:
            self._accept_ident()
        if self._state is _State.UNFRAMED_END:
            self._emit(complete=True)
            self._reset()
        if self._state in (_State.BLOCK, _State.HEADER, _State.CHECK):
            self._finish_block(None)
        if self._state is _State.UNFRAMED or (
            self._state in (_State.AFTER_IDENT, _State.ACK_ECHO) and self._blocks
        ):
            self._emit(complete=False)
        self._reset()
        self.clear_echo()
        events, self._events = self._events, []
        return events

    # ---- internals ----

    def _reset(self) -> None:
        self._state = _State.HUNT
        self._ident: Identification | None = None
        self._line = bytearray()
        self._strict = False
        self._raw = bytearray()
        self._cur = bytearray()
        self._header = bytearray()
        self._scope = bytearray()
        self._blocks: list[Block] = []
        self._ack_index = 0
        self._inside = False
        self._line_start = True
        self._ident_cr = False

    def _byte(self, byte: int) -> None:
        if self._echo:
            if byte in _NOISE and self._state is not _State.BLOCK:
                return
            if byte == self._echo[self._echo_matched]:
                self._echo_matched += 1
                if self._echo_matched == len(self._echo):
                    self.clear_echo()
                return
            replay = bytes(self._echo[: self._echo_matched])
            self.clear_echo()
            for replayed in replay:
                self._process(replayed)
        self._process(byte)

    def _process(self, byte: int) -> None:
        if byte not in _NOISE:
            self.received += 1
        if self._state not in (_State.HUNT, _State.IDENT):
            self._raw.append(byte)
            if len(self._raw) > self.max_bytes:
                self.overflows += 1
                self._reset()
                return
        handler = _HANDLERS[self._state]
        handler(self, byte)

    def _hunt(self, byte: int) -> None:
        if byte == SLASH:
            self._start_ident(strict=not self._line_start)
        elif byte in (STX, SOH):
            self._ident = None
            self._raw = bytearray((byte,))
            self._start_block(byte)
        self._line_start = not 0x20 <= byte < DEL

    def _start_ident(self, *, strict: bool) -> None:
        self._state = _State.IDENT
        self._strict = strict
        self._ident_cr = False
        self._line.clear()

    def _ident_byte(self, byte: int) -> None:
        if self._ident_cr:
            # The line ended with CR: an LF completes the line end, anything else is
            # already the first byte after the identification.
            self._accept_ident()
            if byte == LF:
                return
            if self._state is _State.AFTER_IDENT:
                self._raw.append(byte)
                self._after_ident(byte)
            else:
                self._hunt(byte)
        elif byte == LF:
            self._accept_ident()
        elif byte == CR:
            self._ident_cr = True
        elif byte == SLASH:
            self._start_ident(strict=True)
        elif not 0x20 <= byte < DEL or len(self._line) >= _MAX_IDENT_LINE:
            self.discarded += 1
            self._state = _State.HUNT
            self._line_start = True
            self._hunt(byte)
        else:
            self._line.append(byte)

    def _accept_ident(self) -> None:
        self._ident_cr = False
        ident = parse_identification(self._line.decode("ascii"))
        if ident is None or (self._strict and not is_strict_identification(ident)):
            self.discarded += 1
            self._state = _State.HUNT
            self._line_start = True
            return
        self._reset()
        self._ident = ident
        self._raw = bytearray(b"/" + ident.raw.encode("ascii") + b"\r\n")
        self._state = _State.AFTER_IDENT
        self._events.append(ident)

    def _after_ident(self, byte: int) -> None:
        if byte == ACK:
            self._state = _State.ACK_ECHO
            self._ack_index = 0
        elif byte in (STX, SOH):
            self._start_block(byte)
        elif byte == SLASH:
            self._new_ident_in_session()
        elif 0x20 < byte < DEL and not self._blocks:
            self._state = _State.UNFRAMED
            self._inside = False
            self._line_start = True
            self._unframed(byte)

    def _ack_echo(self, byte: int) -> None:
        if self._ack_index < len(_ACK_PATTERN) and byte in _ACK_PATTERN[self._ack_index]:
            self._ack_index += 1
            return
        self._state = _State.AFTER_IDENT
        self._after_ident(byte)

    def _new_ident_in_session(self) -> None:
        self._raw = self._raw[:-1]
        if self._blocks:
            self._emit(complete=False)
        elif self._state is _State.UNFRAMED:
            self.discarded += 1
        self._reset()
        self._start_ident(strict=False)

    def _start_block(self, byte: int) -> None:
        self._cur.clear()
        self._header.clear()
        self._scope.clear()
        self._state = _State.HEADER if byte == SOH else _State.BLOCK

    def _header_byte(self, byte: int) -> None:
        self._scope.append(byte)
        if byte == STX:
            self._state = _State.BLOCK
        elif byte in (ETX, EOT):
            self._state = _State.CHECK
        elif len(self._header) >= _MAX_HEADER:
            self.discarded += 1
            self._reset()
        else:
            self._header.append(byte)

    def _block_byte(self, byte: int) -> None:
        self._scope.append(byte)
        if byte in (ETX, EOT):
            self._state = _State.CHECK
        else:
            self._cur.append(byte)

    def _check_byte(self, byte: int) -> None:
        self._finish_block(byte)

    def _finish_block(self, check: int | None) -> None:
        block = Block(bytes(self._header), bytes(self._cur), bytes(self._scope), check)
        self._blocks.append(block)
        self._cur.clear()
        self._header.clear()
        self._scope.clear()
        if has_end_marker(block.data):
            self._emit(complete=True)
            self._reset()
        else:
            self._state = _State.AFTER_IDENT

    def _unframed(self, byte: int) -> None:
        if byte == SLASH and self._line_start and not self._inside:
            self._new_ident_in_session()
            return
        if byte in (STX, SOH) and CLOSE not in self._cur:
            # What looked like unframed data was junk (e.g. an echo garbled by the rate
            # switch) in front of a framed block: the block and its check decide.
            self._start_block(byte)
            return
        self._cur.append(byte)
        if byte == OPEN:
            self._inside = True
        elif byte in (CR, LF):
            self._inside = False
            self._line_start = True
            return
        elif byte == CLOSE:
            self._inside = False
        elif byte == BANG and not self._inside:
            if self.wait_for_check:
                self._state = _State.UNFRAMED_END
                return
            self._emit(complete=True)
            self._reset()
            return
        self._line_start = False

    def _unframed_end(self, byte: int) -> None:
        if byte in (CR, LF):
            self._cur.append(byte)
            return
        if byte in (ETX, EOT):
            self._scope = bytearray(self._cur)
            self._scope.append(byte)
            self._state = _State.CHECK
            return
        self._raw = self._raw[:-1]
        self._emit(complete=True)
        self._reset()
        self._line_start = True
        self._hunt(byte)

    def _emit(self, *, complete: bool) -> None:
        text = b"" if self._blocks else bytes(self._cur)
        self._events.append(
            Telegram(self._ident, tuple(self._blocks), text, complete, bytes(self._raw))
        )


_HANDLERS = {
    _State.HUNT: Framer._hunt,
    _State.IDENT: Framer._ident_byte,
    _State.AFTER_IDENT: Framer._after_ident,
    _State.ACK_ECHO: Framer._ack_echo,
    _State.HEADER: Framer._header_byte,
    _State.BLOCK: Framer._block_byte,
    _State.CHECK: Framer._check_byte,
    _State.UNFRAMED: Framer._unframed,
    _State.UNFRAMED_END: Framer._unframed_end,
}
