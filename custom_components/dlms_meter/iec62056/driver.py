"""One complete IEC 62056-21 read cycle over serialx: :func:`read_meter`.

Sequence (mode C)::

    open port at 300 Bd 7E1        (after >= session_gap quiet since the last session)
    [wake-up: NULs for ~2.2 s, wait until sent + 1.5 s]
    -> /?[address]!\\r\\n           (300)
    <- /XXXZ...\\r\\n              (300)   first byte within answer_timeout
    wait tr (200 ms / 20 ms) from the identification's LF   (skipped with no_waiting)
    -> ACK 0 Z 0 \\r\\n             (300)   Z = chosen rate
    drain (asyncio + OS), and >= 6 * 10 / 300 s since the write began, + tr / 2 + switch_delay
    switch the port to Z's rate
    <- STX data ! \\r\\n ETX BCC     (new rate)

Mode A skips the ACK and the switch; mode B switches right after the identification
(no ACK); mode D sends nothing and waits for a pushed telegram. Every byte we send is
registered with the framer as expected echo. Errors: see :mod:`.errors`; the port is
always closed, also on cancellation.
"""

from __future__ import annotations

import asyncio
from collections import deque
import contextlib
import time

from . import port as serial_port
from .decode import decode_telegram
from .errors import NoAnswerError, PortError, ProtocolError, ReadTimeoutError
from .framer import Event, Framer, Telegram
from .identification import Identification, mode_c_char
from .models import Readout
from .settings import WAKEUP_PAUSE, ReadSettings, choose_baudrate, wakeup_bytes

_READ_SIZE = 4096
_RESET_TIMEOUT = 2.0
# "/" + maker (3) + baud character + 16 identification characters + CR LF, with room for
# noise and escape pairs.
_IDENT_MAX_CHARS = 48


class _Session:
    """State of one read cycle on an open port."""

    def __init__(
        self, reader: serial_port.Reader, writer: serial_port.Writer, settings: ReadSettings
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.settings = settings
        self.framer = Framer(wait_for_check=settings.mode != "D")
        self.events: deque[Event] = deque()
        self.rate = settings.start_baudrate
        self.start = time.monotonic()
        self.last_rx = self.start
        self.ident_seen = False
        self._received_at_send = 0
        self._answer_deadline = self.start + settings.first_answer_timeout

    async def send(self, data: bytes) -> float:
        """Write ``data`` (registered as expected echo); return when the write began."""
        self.framer.expect_echo(data)
        began = time.monotonic()
        await serial_port.write(self.writer, data)
        self._received_at_send = self.framer.received
        self._answer_deadline = time.monotonic() + self.settings.first_answer_timeout
        return began

    async def switch(self, rate: int) -> None:
        """Change the port's rate if it differs."""
        if rate != self.rate:
            await serial_port.set_baudrate(self.writer, rate)
            self.rate = rate

    def stall_error(self) -> Exception:
        """Return the error for a stream that stopped (or never started)."""
        if self.framer.received == 0:
            return NoAnswerError("no answer from the meter")
        if not self.ident_seen:
            return ProtocolError(
                f"{self.framer.received} bytes received, but no IEC 62056-21 identification"
            )
        return ReadTimeoutError("the meter stopped sending before the readout was complete")

    def _timeout(self) -> float:
        if self.framer.received == self._received_at_send or (
            self.settings.mode == "D" and not self.ident_seen
        ):
            return max(0.0, self._answer_deadline - time.monotonic())
        return self.settings.char_timeout

    async def next_event(self) -> Event:
        """Return the next framer event, reading as needed (with timeouts)."""
        while not self.events:
            try:
                async with asyncio.timeout(self._timeout()):
                    chunk = await self.reader.read(_READ_SIZE)
            except TimeoutError:
                self.events.extend(self.framer.end_of_message())
                if self.events:
                    break
                raise self.stall_error() from None
            except OSError as exc:
                raise PortError(f"read failed: {exc}") from exc
            if not chunk:
                raise PortError("the port was closed (device unplugged?)")
            self.last_rx = time.monotonic()
            self.events.extend(self.framer.feed(chunk))
        event = self.events.popleft()
        if isinstance(event, Identification):
            self.ident_seen = True
        return event

    async def identification(self, request: bytes) -> Identification:
        """Wait for the identification message.

        It must be complete within the answer timeout plus the wire time of an echoed
        request and the longest identification: a meter that pushes on its own, or junk at
        another rate, keeps bytes coming and would otherwise hold the port until the
        overall timeout.
        """
        limit = self.settings.first_answer_timeout + serial_port.wire_time(
            len(request) + _IDENT_MAX_CHARS, self.rate
        )
        try:
            async with asyncio.timeout(limit):
                while True:
                    event = await self.next_event()
                    if isinstance(event, Identification):
                        return event
        except TimeoutError:
            raise self.stall_error() from None

    async def telegram(self) -> Telegram:
        """Wait for a complete telegram."""
        while True:
            event = await self.next_event()
            if isinstance(event, Telegram) and event.complete:
                return event

    async def run(self) -> Readout:
        """Run the whole cycle for the configured mode."""
        settings = self.settings
        if settings.mode != "D":
            if settings.wakeup:
                nuls = wakeup_bytes(self.rate)
                began = await self.send(nuls)
                await serial_port.drain(self.writer)
                await _sleep_until(
                    began + serial_port.wire_time(len(nuls), self.rate) + WAKEUP_PAUSE
                )
            self.start = time.monotonic()
            request = settings.request()
            await self.send(request)
            ident = await self.identification(request)
            await self.negotiate(ident)
        telegram = await self.telegram()
        return decode_telegram(
            telegram,
            settings.checksum,
            baudrate=self.rate,
            mode=settings.mode,
            duration=self.last_rx - self.start,
        )

    async def negotiate(self, ident: Identification) -> None:
        """Do the mode's step between identification and data (ACK and/or rate switch)."""
        settings = self.settings
        rate = choose_baudrate(ident, settings)
        if settings.mode == "B":
            await self.switch(rate)
        elif settings.mode == "C":
            if not settings.no_waiting:
                await _sleep_until(self.last_rx + ident.reaction_time)
            ack = b"\x060" + mode_c_char(rate).encode("ascii") + b"0\r\n"
            began = await self.send(ack)
            await serial_port.drain(self.writer)
            on_wire = began + serial_port.wire_time(len(ack), self.rate)
            # The meter sends at the new rate no sooner than tr after the ACK's last bit: switch
            # halfway into that window, so an ACK that leaves the adapter a little late (USB
            # latency, a busy host) still goes out whole at the old rate.
            margin = ident.reaction_time / 2
            await _sleep_until(on_wire + margin + settings.switch_delay)
            await self.switch(rate)


async def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def read_meter(port: str, settings: ReadSettings) -> Readout:
    """Run one complete read cycle on ``port`` and return the readout.

    Raises only :class:`~.errors.Iec62056Error` subclasses (and CancelledError when
    cancelled). The port is closed before this returns or raises.
    """
    await serial_port.wait_session_gap(port, settings.session_gap)
    session: _Session | None = None
    writer: serial_port.Writer | None = None
    try:
        async with asyncio.timeout(settings.timeout):
            reader, writer = await serial_port.open_port(port, settings.start_baudrate)
            session = _Session(reader, writer, settings)
            return await session.run()
    except TimeoutError:
        if session is None:
            raise PortError(f"{port}: opening the port timed out") from None
        raise session.stall_error() from None
    finally:
        if writer is not None:
            if session is not None and settings.reset_baudrate:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(_RESET_TIMEOUT):
                        await session.switch(settings.start_baudrate)
            await serial_port.close_port(writer)
        serial_port.mark_session_end(port)
