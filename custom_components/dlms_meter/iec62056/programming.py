"""Register reads in programming mode as a sans-I/O state machine (IEC 62056-21 mode C, Y=1).

:class:`ProgrammingSession` extends :class:`.session.ReadSession` (same actions, same driver
loop, same wake-up, request, identification, reaction times and rate switch) and replaces the
data readout by programming mode::

    -> /?[address]!\\r\\n                     (initial rate)
    <- /XXXZ...\\r\\n
    wait tr                                  (skipped with no_waiting)
    -> ACK 0 Z 1 \\r\\n                        drain; switch as in mode C
    <- SOH P0 STX (operand) ETX BCC          no P0 within answer_timeout: NoProgrammingModeError
   [-> SOH P1 STX (password) ETX BCC
    <- ACK                                   NAK or SOH B0 ETX BCC: PasswordRefusedError]
    for each register code, in order:
    -> SOH R5 STX code() ETX BCC             (or R1)
    <- STX code(value*unit) ETX BCC          (ERROR): unknown register
       a bad check: we send NAK, the meter repeats (at most MAX_REPEATS times)
       a NAK from the meter: we repeat our command (at most MAX_REPEATS times)
       a partial block (... EOT BCC): we ACK it and collect the next one
    -> SOH B0 ETX BCC                        the break; also after an error once
                                             programming mode was entered

Between a received message and our next command we wait :data:`HHU_REACTION` (the
standard's minimum tr, 20 ms) unless ``no_waiting``. Every answer is due ``answer_timeout``
after our message has left the wire; inside a message the characters may pause up to
``char_timeout`` (ta). The result is a :class:`.models.Readout` with one data set per
register the meter knew, in the order asked, addressed by the code as asked; codes answered
with ``(ERROR)`` are in :attr:`ProgrammingSession.unknown` (and, with ``strict=True``, make
the session fail with :class:`.errors.UnknownRegisterError`, which carries the readout).

Only sign-on, acknowledgement, ``P1``, ``R1``/``R5``, ``B0`` (and ACK/NAK of received
blocks) can leave this module: :func:`command_message` refuses every other command, and
register codes and passwords that hold control characters or parentheses are refused
(ValueError), so nothing passed in can turn into another message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, auto
import re

from .checksum import Checksum, compute
from .datalines import parse_data_block
from .errors import (
    ChecksumError,
    Iec62056Error,
    NoAnswerError,
    NoProgrammingModeError,
    PasswordRefusedError,
    ProtocolError,
    ReadTimeoutError,
    UnknownRegisterError,
)
from .framer import Telegram
from .models import DataSet, Readout
from .session import Action, Done, Drain, Failed, Phase, ReadSession, Send, _Step, wire_time
from .settings import Mode, ReadSettings

SOH = 0x01
STX = 0x02
ETX = 0x03
EOT = 0x04
ACK = 0x06
NAK = 0x15
#: The commands this library may send in programming mode. Never W1..W5 or E2.
ALLOWED_COMMANDS = frozenset(("P1", "R1", "R5", "B0"))
READ_COMMANDS = ("R5", "R1")
#: How often a message is repeated after a NAK (ours or the meter's) before giving up.
MAX_REPEATS = 3
#: The standard's minimum reaction time before we answer or send the next command.
HHU_REACTION = 0.02
#: Longest answer block we collect (a register answer is a few dozen bytes).
MAX_ANSWER_BYTES = 4096
#: A register code: 1 to 16 printable characters without parentheses, "/" or "!".
_CODE = re.compile(r"[\x21-\x7e]{1,16}")
_CODE_FORBIDDEN = frozenset("()/!")
#: A password: 1 to 32 printable characters (space allowed) without parentheses.
_PASSWORD = re.compile(r"[\x20-\x7e]{1,32}")
_ERROR_VALUE = re.compile(r"ERR(OR)?[0-9]*", re.IGNORECASE)


def check_code(code: str) -> str:
    """Return ``code`` if it is a safe register code; else raise ValueError (never echoing it)."""
    if (
        not isinstance(code, str)
        or not _CODE.fullmatch(code)
        or any(ch in _CODE_FORBIDDEN for ch in code)
    ):
        raise ValueError(
            "register code: 1 to 16 printable characters without spaces, parentheses, "
            f"'/' or '!', not {code!r}"
        )
    return code


def check_password(password: str) -> str:
    """Return ``password`` if it can be sent in ``P1``; else raise ValueError (not showing it)."""
    if (
        not isinstance(password, str)
        or not _PASSWORD.fullmatch(password)
        or "(" in password
        or ")" in password
    ):
        raise ValueError(
            "password: 1 to 32 printable characters without parentheses or control characters"
        )
    return password


def command_message(command: str, data: bytes | None, checksum: Checksum = Checksum.XOR) -> bytes:
    """Return ``SOH command [STX data] ETX BCC`` for an allowed command (else ValueError)."""
    if command not in ALLOWED_COMMANDS:
        raise ValueError(f"command {command!r} is never sent by this library")
    body = command.encode("ascii")
    if data is not None:
        if any(byte < 0x20 or byte > 0x7E for byte in data):
            raise ValueError("control characters in a command's data")
        body += bytes((STX,)) + data
    scope = body + bytes((ETX,))
    check = compute(checksum, scope)
    if check is None:
        check = compute(Checksum.XOR, scope)
    assert check is not None
    return bytes((SOH,)) + scope + bytes((check,))


def read_message(code: str, command: str = "R5", checksum: Checksum = Checksum.XOR) -> bytes:
    """Return ``SOH R5 STX code() ETX BCC`` (or ``R1``)."""
    if command not in READ_COMMANDS:
        raise ValueError(f"read command must be one of {READ_COMMANDS}")
    return command_message(command, f"{check_code(code)}()".encode("ascii"), checksum)


def password_message(password: str, checksum: Checksum = Checksum.XOR) -> bytes:
    """Return ``SOH P1 STX (password) ETX BCC``."""
    return command_message("P1", f"({check_password(password)})".encode("ascii"), checksum)


def break_message(checksum: Checksum = Checksum.XOR) -> bytes:
    """Return the break ``SOH B0 ETX BCC``."""
    return command_message("B0", None, checksum)


@dataclass(frozen=True, slots=True)
class Message:
    """One block received in programming mode (``[SOH header] STX data ETX|EOT check``)."""

    header: bytes
    data: bytes
    partial: bool
    check_ok: bool | None


class Await(Enum):
    """What the programming session waits for."""

    OPERAND = auto()
    PASSWORD = auto()
    ANSWER = auto()


class ProgrammingSession(ReadSession):
    """Read the registers ``codes`` in programming mode (see the module docstring).

    ``settings`` must use mode C (and no ``answer_baudrate``). ``command`` is "R5" (default)
    or "R1". ``password`` (optional) is sent in ``P1`` after the operand; it is kept out of
    ``repr`` and every message. ``strict``: fail with UnknownRegisterError when the meter
    answers ``(ERROR)``. Attributes after the session: ``operand`` (the text inside P0's
    parentheses), ``unknown`` (codes answered with ``(ERROR)``), ``sent`` (every message sent).
    """

    ack_mode = "1"

    def __init__(
        self,
        settings: ReadSettings,
        codes: Iterable[str],
        *,
        now: float,
        password: str | None = None,
        command: str = "R5",
        strict: bool = False,
    ) -> None:
        """Prepare the session; ValueError for settings, codes or a password that cannot work."""
        if settings.mode != Mode.C:
            raise ValueError("register reads need mode C (programming mode is opened by its ACK)")
        if settings.answer_baudrate is not None:
            raise ValueError("register reads do not support answer_baudrate")
        if command not in READ_COMMANDS:
            raise ValueError(f"read command must be one of {READ_COMMANDS}")
        self.codes: tuple[str, ...] = tuple(check_code(code) for code in codes)
        if not self.codes:
            raise ValueError("no register code to read")
        self.__password = None if password is None else check_password(password)
        super().__init__(settings, now=now)
        self.command = command
        self.strict = strict
        self.operand: str | None = None
        self.unknown: list[str] = []
        self.sent: list[bytes] = []
        self._await = Await.OPERAND
        self._index = 0
        self._datasets: list[DataSet] = []
        self._raw = bytearray()
        self._checks: list[bool | None] = []
        self._last_message = b""
        self._repeats = 0
        self._naks = 0
        self._partial = bytearray()
        self._echo = bytearray()
        self._echo_matched = 0
        self._block = bytearray()
        self._in_block = False
        self._want_check = False
        self._received_at_send_prog = 0
        self._prog_received = 0

    def __repr__(self) -> str:
        """Never show the password."""
        return f"ProgrammingSession(codes={self.codes!r}, phase={self.phase.name})"

    # ---- hooks into ReadSession ----------------------------------------------------

    def _in_programming(self) -> bool:
        return self.phase in (Phase.ACK_SENT, Phase.PROGRAMMING, Phase.BREAK)

    def _send(self, data: bytes, now: float) -> list[Action]:
        self.sent.append(data)
        actions = super()._send(data, now)
        if self._in_programming():
            self.framer.clear_echo()
            self._echo += bytes(byte & 0x7F for byte in data)
            self._received_at_send_prog = self._prog_received
        return actions

    def _switch_to_data_rate(self, now: float) -> list[Action]:
        self.phase = Phase.PROGRAMMING
        return self._switch(self._chosen_rate)

    def _on_telegram(self, telegram: Telegram) -> list[Action]:
        return self._fail(
            NoProgrammingModeError("the meter sent a data readout instead of programming mode")
        )

    def receive(self, data: bytes, now: float) -> list[Action]:
        """Process bytes read from the port at ``now``."""
        if not self._in_programming() or not data:
            return super().receive(data, now)
        self.last_rx = now
        actions: list[Action] = []
        for byte in self._strip_echo(data):
            actions += self._byte(byte, now)
            if self._ended() or self.phase is Phase.BREAK:
                return actions if self._ended() else self._finish(actions)
        return self._finish(actions + self._run_step(now))

    def _stall_deadline(self) -> float | None:
        if not self._in_programming() or self.phase is Phase.ACK_SENT:
            return super()._stall_deadline()
        if self._step_at is not None or self.phase is Phase.BREAK:
            return None
        if self._prog_received == self._received_at_send_prog:
            return self._answer_deadline
        return self.last_rx + self.settings.char_timeout

    def stall_error(self) -> Iec62056Error:
        """Return the error for a meter that went quiet."""
        if self.phase is not Phase.PROGRAMMING:
            return super().stall_error()
        if self._await is Await.OPERAND:
            return NoProgrammingModeError(
                "the meter did not open programming mode (no P0 operand after the ACK)"
            )
        if self._await is Await.PASSWORD:
            return NoAnswerError("the meter did not answer the password")
        code = self.codes[self._index]
        if self._prog_received == self._received_at_send_prog:
            return NoAnswerError(f"no answer to the read of register {code}")
        return ReadTimeoutError(f"the answer for register {code} stopped halfway")

    def _fail(self, error: Iec62056Error) -> list[Action]:
        """Fail; once programming mode may be open, send the break first."""
        if self.phase not in (Phase.ACK_SENT, Phase.PROGRAMMING):
            return super()._fail(error)
        return self._send_break(lambda now: super(ProgrammingSession, self)._fail(error))

    # ---- received bytes ------------------------------------------------------------

    def _strip_echo(self, data: bytes) -> bytes:
        out = bytearray()
        for raw in data:
            byte = raw & 0x7F
            if self._echo:
                if byte == self._echo[self._echo_matched]:
                    self._echo_matched += 1
                    if self._echo_matched == len(self._echo):
                        self._echo.clear()
                        self._echo_matched = 0
                    continue
                out += self._echo[: self._echo_matched]
                self._echo.clear()
                self._echo_matched = 0
            out.append(byte)
        return bytes(out)

    def _byte(self, byte: int, now: float) -> list[Action]:
        if byte not in (0x00, 0x7F):
            self._prog_received += 1
        if self._want_check:
            self._want_check = False
            self._in_block = False
            block = bytes(self._block)
            self._block.clear()
            return self._on_message(self._message(block, byte), now)
        if self._in_block:
            self._block.append(byte)
            if len(self._block) > MAX_ANSWER_BYTES:
                return self._fail(ProtocolError("an answer in programming mode is too long"))
            if byte in (ETX, EOT):
                self._want_check = True
            return []
        if byte in (SOH, STX):
            self._in_block = True
            self._block[:] = bytes((byte,))
            return []
        if byte == ACK:
            return self._on_ack(now)
        if byte == NAK:
            return self._on_nak(now)
        return []  # line noise, CR LF between messages

    def _message(self, block: bytes, check: int) -> Message:
        header = b""
        body = block[1:-1]
        if block[0] == SOH:
            header, stx, rest = body.partition(bytes((STX,)))
            body = rest if stx else b""
        scope = block[1:]
        checksum = self.settings.checksum
        expected = compute(checksum, scope)
        ok = None if expected is None else expected == check & 0x7F
        self._raw += block + bytes((check,))
        return Message(header=header, data=body, partial=block[-1] == EOT, check_ok=ok)

    # ---- protocol ------------------------------------------------------------------

    def _later(self, step: _Step, now: float) -> list[Action]:
        """Run ``step`` after our reaction time (at once with ``no_waiting``)."""
        self._step = step
        self._step_at = now if self.settings.no_waiting else now + HHU_REACTION
        return []

    def _send_message(self, data: bytes, now: float) -> list[Action]:
        self._last_message = data
        return self._send(data, now)

    def _on_message(self, message: Message, now: float) -> list[Action]:
        if message.header.startswith(b"B0"):
            if self._await is Await.PASSWORD:
                return self._fail(PasswordRefusedError("the meter refused the password"))
            if self._await is Await.OPERAND:
                return self._fail(
                    NoProgrammingModeError("the meter ended programming mode at once (B0)")
                )
            return self._fail(ProtocolError("the meter ended programming mode (B0)"))
        if message.check_ok is False:
            return self._bad_check(now)
        self._naks = 0
        if self._await is Await.OPERAND:
            if not message.header.startswith(b"P0"):
                return self._fail(
                    NoProgrammingModeError(
                        "the meter did not answer the programming-mode ACK with its P0 operand"
                    )
                )
            self.operand = message.data.decode("latin-1").strip().strip("()")
            if self.__password is not None:
                self._await = Await.PASSWORD
                password = self.__password
                return self._later(
                    lambda at: self._send_message(
                        password_message(password, self._our_checksum), at
                    ),
                    now,
                )
            return self._later(self._next_read, now)
        if self._await is Await.PASSWORD:
            return self._fail(PasswordRefusedError("the meter refused the password"))
        self._partial += message.data
        if message.partial:
            return self._later(lambda at: self._send(bytes((ACK,)), at), now)
        data = bytes(self._partial)
        self._partial.clear()
        self._checks.append(message.check_ok)
        return self._on_answer(data, now)

    @property
    def _our_checksum(self) -> Checksum:
        return Checksum.SUM if self.settings.checksum is Checksum.SUM else Checksum.XOR

    def _bad_check(self, now: float) -> list[Action]:
        self._naks += 1
        if self._naks > MAX_REPEATS:
            return self._fail(
                ChecksumError(f"the meter's answer failed its block check {MAX_REPEATS + 1} times")
            )
        return self._later(lambda at: self._send(bytes((NAK,)), at), now)

    def _on_ack(self, now: float) -> list[Action]:
        if self._await is Await.PASSWORD:
            self._await = Await.ANSWER
            return self._later(self._next_read, now)
        return []

    def _on_nak(self, now: float) -> list[Action]:
        if self._await is Await.PASSWORD:
            return self._fail(PasswordRefusedError("the meter refused the password"))
        if self._await is Await.OPERAND:
            return []
        self._repeats += 1
        if self._repeats > MAX_REPEATS:
            code = self.codes[self._index]
            return self._fail(
                ProtocolError(f"the meter refused the read of {code} {self._repeats} times")
            )
        message = self._last_message
        return self._later(lambda at: self._send(message, at), now)

    def _next_read(self, now: float) -> list[Action]:
        self._await = Await.ANSWER
        self._repeats = 0
        code = self.codes[self._index]
        return self._send_message(read_message(code, self.command, self._our_checksum), now)

    def _on_answer(self, data: bytes, now: float) -> list[Action]:
        code = self.codes[self._index]
        text = data.decode("latin-1")
        datasets = parse_data_block(text).datasets
        values = datasets[0].values if datasets else ()
        if not values or (len(values) == 1 and _ERROR_VALUE.fullmatch(values[0].value.strip())):
            self.unknown.append(code)
        else:
            self._datasets.append(DataSet(address=code, values=values))
        self._index += 1
        if self._index < len(self.codes):
            return self._later(self._next_read, now)
        return self._later(lambda at: self._send_break(self._result), now)

    def _send_break(self, then: _Step) -> list[Action]:
        self.phase = Phase.BREAK
        self._step = self._step_at = None
        message = break_message(self._our_checksum)
        self.sent.append(message)
        self._echo.clear()
        self._echo_matched = 0

        # The port is set back to the initial rate right after the session: let the break
        # leave the wire first (drain may return before the adapter has sent it), with the
        # same margin as before the switch after the ACK (half the meter's reaction time):
        # a meter that misses the break stays in programming mode at the data rate and does
        # not hear the next request.
        assert self.identification is not None  # a break follows our programming ACK only
        margin = self.settings.switch_delay + self.identification.reaction_time / 2
        on_wire = wire_time(len(message), self.rate) + margin

        def after(drained: float) -> tuple[float, _Step]:
            return drained + on_wire, then

        self._after_drain = after
        return [Send(message), Drain()]

    def _result(self, now: float) -> list[Action]:
        checks = [check for check in self._checks if check is not None]
        readout = Readout(
            identification=self.identification,
            datasets=tuple(self._datasets),
            raw=bytes(self._raw),
            checksum_ok=(all(checks) if checks else None),
            baudrate=self.rate,
            mode=str(self.settings.mode),
            duration=self.last_rx - self.started,
        )
        self.phase = Phase.DONE
        if self.unknown and self.strict:
            return [
                Failed(
                    UnknownRegisterError(
                        f"the meter does not know register(s) {', '.join(self.unknown)}",
                        tuple(self.unknown),
                        readout,
                    )
                )
            ]
        return [Done(readout)]
