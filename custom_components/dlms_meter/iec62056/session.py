"""One IEC 62056-21 read session as a sans-I/O state machine: bytes and time in, actions out.

:class:`ReadSession` does no I/O and reads no clock: every call passes the current time
(``now``, seconds on any monotonic scale). It answers with a list of :data:`Action`\\ s
that a driver executes in order (see :mod:`.driver`, a thin serialx loop)::

    session = ReadSession(settings, now=clock())
    actions = session.start()
    loop:
        execute each action in order:
            Send(data)        write the bytes (the framer already expects their echo)
            Drain()           wait until they have left the port, then
                              actions += session.drained(clock())
            SwitchRate(rate)  set the port to this rate
            WakeAt(when)      the latest WakeAt is when session.tick(clock()) is due
            Done(readout)     finished: return the readout
            Failed(error)     finished: raise the error (an Iec62056Error)
        wait for bytes until the latest WakeAt:
            bytes arrived  -> actions = session.receive(data, clock())
            time is up     -> actions = session.tick(clock())

Sequence (mode C)::

    [wake-up: NULs for ~2.2 s, drain, + wire time + 1.5 s]
    -> /?[address]!\\r\\n           (initial rate, 300 Bd)
    <- /XXXZ...\\r\\n              first byte within answer_timeout; complete within
                                  answer_timeout + the wire time of echo + 48 characters
    wait tr (200 ms / 20 ms) from the identification's last byte   (skipped with no_waiting)
    -> ACK 0 Z 0 \\r\\n             drain; switch at ACK wire end + tr / 2 + switch_delay
    <- STX data ! \\r\\n ETX BCC     (new rate), ends with its check byte or char_timeout

Mode A skips ACK and switch; mode B switches right after the identification; mode D sends
nothing and waits for a pushed telegram. With ``answer_baudrate`` the port is switched to
that rate once the request has left the wire, and the identification (or, if it was lost,
a complete framed telegram) is read there (Landis+Gyr Ultraheat). Every byte sent is
registered with the framer as expected echo. Failures: :mod:`.errors` (the SML escape
sequence and the 64 KiB cap end the session at once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto

from .decode import decode_telegram
from .errors import (
    Iec62056Error,
    NoAnswerError,
    ProtocolError,
    ReadoutTooLongError,
    ReadTimeLimitError,
    ReadTimeoutError,
    SmlStreamError,
)
from .framer import MAX_TELEGRAM_BYTES, Event, Framer, Telegram
from .identification import Identification, mode_c_char
from .models import Readout
from .settings import WAKEUP_PAUSE, Mode, ReadSettings, choose_baudrate, wakeup_bytes

#: "/" + maker (3) + baud character + 16 identification characters + CR LF, with room for
#: noise and escape pairs.
IDENT_MAX_CHARS = 48
#: SML transport escape + version 1 start: ``1B 1B 1B 1B 01 01 01 01``.
SML_START = b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01"
ACK = 0x06


def wire_time(length: int, baudrate: int) -> float:
    """Return the seconds ``length`` characters take on the wire (10 bits each)."""
    return length * 10 / baudrate


def ack_message(baudrate: int, mode: str = "0") -> bytes:
    """Return the mode C acknowledgement/option select at ``baudrate``.

    ``mode`` is the mode control character Y: "0" data readout, "1" programming mode.
    """
    return bytes((ACK,)) + b"0" + mode_c_char(baudrate).encode("ascii") + mode.encode() + b"\r\n"


# ---- actions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes to the port."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Drain:
    """Wait until everything written has left the port, then call ``drained(now)``."""


@dataclass(frozen=True, slots=True)
class SwitchRate:
    """Set the port to this rate (7E1 stays)."""

    baudrate: int


@dataclass(frozen=True, slots=True)
class WakeAt:
    """Call ``tick(now)`` at this time unless bytes arrive first."""

    when: float


@dataclass(frozen=True, slots=True)
class Done:
    """The session is over: this is the readout."""

    readout: Readout


@dataclass(frozen=True, slots=True)
class Failed:
    """The session is over: raise this error."""

    error: Iec62056Error


type Action = Send | Drain | SwitchRate | WakeAt | Done | Failed
type _Step = Callable[[float], list[Action]]
type _AfterDrain = Callable[[float], tuple[float, _Step]]


class Phase(Enum):
    """Where the session is."""

    WAKEUP = auto()  # NULs sent, waiting for them to leave + the pause
    REQUEST = auto()  # request sent, waiting for it to leave the wire (answer_baudrate)
    IDENT = auto()  # waiting for the identification
    ACK_WAIT = auto()  # mode C: waiting tr before the ACK
    ACK_SENT = auto()  # mode C: ACK written, waiting for it to leave, then the switch
    DATA = auto()  # waiting for the data message (mode D: for a pushed telegram)
    PROGRAMMING = auto()  # programming mode (see .programming): operand, password, reads
    BREAK = auto()  # programming mode: the break B0 is on its way out
    DONE = auto()


class ReadSession:
    """The read sequence of one session for ``settings`` (see the module docstring).

    Attributes for drivers and tests: ``phase``, ``rate`` (the rate the port is set to,
    as the session asked for it), ``start_rate`` (the rate the port must be opened at),
    ``wake_at`` (when ``tick`` is due next), ``framer``.
    """

    #: The mode control character of the ACK ("0" data readout; "1" in programming mode).
    ack_mode = "0"

    def __init__(self, settings: ReadSettings, *, now: float) -> None:
        """Prepare a session; ``now`` is the time the port was opened."""
        self.settings = settings
        self.framer = Framer(wait_for_check=settings.mode != Mode.D)
        self.start_rate = settings.start_baudrate
        self.rate = self.start_rate
        self.phase = Phase.DATA if settings.mode == Mode.D else Phase.WAKEUP
        self.identification: Identification | None = None
        self.started = now
        self.last_rx = now
        self.wake_at = now
        self._deadline = now + settings.timeout
        self._sent_at = now
        self._received_at_send = 0
        self._answer_deadline = now + settings.first_answer_timeout
        self._ident_deadline: float | None = None
        self._step_at: float | None = None
        self._step: _Step | None = None
        self._after_drain: _AfterDrain | None = None
        self._opened = now
        self._chosen_rate = self.rate
        self._ack_began = now
        self._overflows = 0
        self._tail = b""

    @property
    def done(self) -> bool:
        """Return True once the session has ended (Done or Failed was returned)."""
        return self._ended()

    def _ended(self) -> bool:
        return self.phase is Phase.DONE

    # ---- entry points ------------------------------------------------------------

    def start(self) -> list[Action]:
        """Return the first actions (the port is open at :attr:`start_rate`)."""
        settings = self.settings
        if settings.mode == Mode.D:
            return self._finish([])
        if settings.wakeup and settings.answer_baudrate is None:
            nuls = wakeup_bytes(self.rate)
            on_wire = self._opened + wire_time(len(nuls), self.rate)
            self.framer.expect_echo(nuls)

            def after(drained: float) -> tuple[float, _Step]:
                return max(drained, on_wire) + WAKEUP_PAUSE, self._send_request

            self._after_drain = after
            return self._finish([Send(nuls), Drain()])
        return self._finish(self._send_request(self._opened))

    def receive(self, data: bytes, now: float) -> list[Action]:
        """Process bytes read from the port at ``now``."""
        if self.done or not data:
            return []
        self.last_rx = now
        if self._is_sml(data):
            return self._fail(
                SmlStreamError(
                    "this meter speaks SML, not IEC 62056-21; use Home Assistant's "
                    "EDL21 integration"
                )
            )
        events = self.framer.feed(data)
        if self.framer.overflows > self._overflows:
            return self._fail(
                ReadoutTooLongError(
                    f"the readout is longer than {MAX_TELEGRAM_BYTES // 1024} KiB; "
                    "it was cut off and not used"
                )
            )
        actions = self._events(events, now)
        if self._ended():
            return actions
        return self._finish(actions + self._run_step(now))

    def drained(self, now: float) -> list[Action]:
        """The bytes of the last :class:`Drain` have left the port."""
        if self._ended():
            return []
        if self._after_drain is None:
            raise RuntimeError("drained() without a Drain action")
        self._step_at, self._step = self._after_drain(now)
        self._after_drain = None
        return self._finish(self._run_step(now))

    def tick(self, now: float) -> list[Action]:
        """Time has passed (called at, or after, the last :class:`WakeAt`)."""
        if self._ended():
            return []
        actions = self._run_step(now)
        if self._ended():
            return actions
        if now >= self._deadline:
            return actions + self._fail(self._time_limit_error(now))
        stall = self._stall_deadline()
        if stall is not None and now >= stall:
            events = self.framer.end_of_message()
            if events:
                actions += self._events(events, now)
                if self._ended():
                    return actions
            return actions + self._fail(self.stall_error())
        return self._finish(actions)

    # ---- errors ------------------------------------------------------------------

    def stall_error(self) -> Iec62056Error:
        """Return the error for a stream that stopped (or never started)."""
        if self.framer.received == 0:
            return NoAnswerError("no answer from the meter")
        if self.identification is None:
            return ProtocolError(
                f"{self.framer.received} bytes received, but no IEC 62056-21 identification"
            )
        return ReadTimeoutError("the meter stopped sending before the readout was complete")

    def _time_limit_error(self, now: float) -> Iec62056Error:
        still_sending = now - self.last_rx < self.settings.char_timeout
        if self.identification is not None and still_sending and self.framer.received:
            return ReadTimeLimitError(
                f"the readout did not finish in {self.settings.timeout:g} s "
                "(the meter was still sending)"
            )
        return self.stall_error()

    # ---- internals ---------------------------------------------------------------

    def _send_request(self, now: float) -> list[Action]:
        settings = self.settings
        request = settings.request()
        data = request
        if settings.wakeup and settings.answer_baudrate is not None:
            data = wakeup_bytes(self.rate) + request
        self.started = now
        self.last_rx = now
        self.phase = Phase.IDENT
        actions = self._send(data, now)
        self._ident_deadline = (
            now
            + settings.first_answer_timeout
            + wire_time(len(data) + IDENT_MAX_CHARS, min(self.rate, settings.listen_baudrate))
        )
        if settings.answer_baudrate is None or settings.answer_baudrate == self.rate:
            return actions
        self.phase = Phase.REQUEST
        on_wire = now + wire_time(len(data), self.rate)

        def after(drained: float) -> tuple[float, _Step]:
            return max(drained, on_wire), self._switch_to_answer_rate

        self._after_drain = after
        return [*actions, Drain()]

    def _switch_to_answer_rate(self, now: float) -> list[Action]:
        assert self.settings.answer_baudrate is not None
        self.phase = Phase.IDENT
        return self._switch(self.settings.answer_baudrate)

    def _send(self, data: bytes, now: float) -> list[Action]:
        self.framer.expect_echo(data)
        self._sent_at = now
        self._received_at_send = self.framer.received
        # The answer is due answer_timeout after the message has left the wire.
        self._answer_deadline = (
            now + wire_time(len(data), self.rate) + self.settings.first_answer_timeout
        )
        return [Send(data)]

    def _switch(self, rate: int) -> list[Action]:
        if rate == self.rate:
            return []
        self.rate = rate
        return [SwitchRate(rate)]

    def _run_step(self, now: float) -> list[Action]:
        actions: list[Action] = []
        while self._step is not None and self._step_at is not None and now >= self._step_at:
            step = self._step
            self._step = self._step_at = None
            actions += step(now)
        return actions

    def _events(self, events: list[Event], now: float) -> list[Action]:
        actions: list[Action] = []
        for event in events:
            if isinstance(event, Identification):
                actions += self._on_identification(event, now)
            elif event.complete and self._accepts_telegram(event):
                return actions + self._on_telegram(event)
            if self._ended():
                break
        return actions

    def _accepts_telegram(self, telegram: Telegram) -> bool:
        if self.phase in (Phase.DATA, Phase.ACK_WAIT, Phase.ACK_SENT):
            return True  # also a meter that did not wait for our ACK
        # The identification was lost (answer_baudrate: it may come at the request rate),
        # but a complete framed telegram with its check byte is a readout.
        return (
            self.settings.answer_baudrate is not None
            and self.phase is Phase.IDENT
            and telegram.framed
        )

    def _on_identification(self, ident: Identification, now: float) -> list[Action]:
        if self.settings.mode == Mode.D:
            self.identification = ident
            return []
        if self.phase is not Phase.IDENT:
            return []  # a second identification inside the session: the framer resyncs
        self.identification = ident
        settings = self.settings
        rate = choose_baudrate(ident, settings)
        self._chosen_rate = rate
        if settings.mode == Mode.A:
            self.phase = Phase.DATA
            return []
        if settings.mode == Mode.B:
            self.phase = Phase.DATA
            return self._switch(rate)
        self.phase = Phase.ACK_WAIT
        self._step = self._send_ack
        self._step_at = now if settings.no_waiting else now + ident.reaction_time
        return []

    def _send_ack(self, now: float) -> list[Action]:
        ack = ack_message(self._chosen_rate, self.ack_mode)
        self.phase = Phase.ACK_SENT
        self._ack_began = now
        on_wire = now + wire_time(len(ack), self.rate)
        assert self.identification is not None
        # The meter sends at the new rate no sooner than tr after the ACK's last bit: switch
        # halfway into that window, so an ACK that leaves the adapter a little late (USB
        # latency, a busy host) still goes out whole at the old rate.
        margin = self.identification.reaction_time / 2 + self.settings.switch_delay

        def after(drained: float) -> tuple[float, _Step]:
            return max(drained, on_wire) + margin, self._switch_to_data_rate

        self._after_drain = after
        return [*self._send(ack, now), Drain()]

    def _switch_to_data_rate(self, now: float) -> list[Action]:
        self.phase = Phase.DATA
        return self._switch(self._chosen_rate)

    def _on_telegram(self, telegram: Telegram) -> list[Action]:
        try:
            readout = decode_telegram(
                telegram,
                self.settings.checksum,
                baudrate=self.rate,
                mode=str(self.settings.mode),
                duration=self.last_rx - self.started,
            )
        except Iec62056Error as err:
            return self._fail(err)
        self.phase = Phase.DONE
        return [Done(readout)]

    def _fail(self, error: Iec62056Error) -> list[Action]:
        self.phase = Phase.DONE
        return [Failed(error)]

    def _is_sml(self, data: bytes) -> bool:
        masked = self._tail + bytes(byte & 0x7F for byte in data)
        self._tail = masked[-(len(SML_START) - 1) :]
        return SML_START in masked

    def _stall_deadline(self) -> float | None:
        """When silence ends the session (None while a timed step is pending)."""
        if self._step_at is not None or self.phase in (Phase.WAKEUP, Phase.REQUEST):
            return None
        settings = self.settings
        waiting_for_answer = self.framer.received == self._received_at_send or (
            settings.mode == Mode.D and self.identification is None
        )
        silence = (
            self._answer_deadline if waiting_for_answer else self.last_rx + settings.char_timeout
        )
        if self.phase is Phase.IDENT and self._ident_deadline is not None:
            return min(silence, self._ident_deadline)
        return silence

    def _finish(self, actions: list[Action]) -> list[Action]:
        """Append the next wake-up time."""
        if self._ended():
            return actions
        candidates = [self._deadline]
        if self._step_at is not None:
            candidates.append(self._step_at)
        stall = self._stall_deadline()
        if stall is not None:
            candidates.append(stall)
        self.wake_at = min(candidates)
        if any(isinstance(action, Drain) for action in actions):
            return actions  # the driver calls drained() next, which schedules the wake-up
        return [*actions, WakeAt(self.wake_at)]
