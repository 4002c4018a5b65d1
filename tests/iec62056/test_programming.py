"""Programming-mode register reads: every branch, with scripted bytes and an injected clock.

No ports, no threads, no real time. The meter's side is written out byte for byte.
"""

from __future__ import annotations

import random

import pytest

from custom_components.dlms_meter.iec62056 import (
    ERROR_KINDS,
    AddressRequiredError,
    ChecksumError,
    Iec62056Error,
    NoAnswerError,
    NoProgrammingModeError,
    PasswordRefusedError,
    ProgrammingSession,
    ProtocolError,
    ReadSettings,
    ReadTimeoutError,
    UnknownRegisterError,
)
from custom_components.dlms_meter.iec62056.checksum import Checksum, bcc_sum, bcc_xor
from custom_components.dlms_meter.iec62056.programming import (
    ALLOWED_COMMANDS,
    HHU_REACTION,
    MAX_ANSWER_BYTES,
    MAX_REPEATS,
    break_message,
    check_code,
    check_password,
    command_message,
    password_message,
    read_message,
)
from custom_components.dlms_meter.iec62056.session import (
    Action,
    Done,
    Drain,
    Failed,
    Phase,
    Send,
    SwitchRate,
    WakeAt,
    ack_message,
    wire_time,
)

IDENT = b"/LGZ4ZMF100AC.M26\r\n"  # 200 ms, offers 4800
SOH, STX, ETX, EOT, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x04", b"\x06", b"\x15"


def block(scope: bytes, *, start: bytes = STX, check: Checksum = Checksum.XOR) -> bytes:
    """``start scope check`` with the check over ``scope`` (which ends in ETX or EOT)."""
    value = bcc_xor(scope) if check is Checksum.XOR else bcc_sum(scope)
    return start + scope + bytes((value,))


def operand(text: bytes = b"()") -> bytes:
    return block(b"P0" + STX + text + ETX, start=SOH)


def answer(text: bytes) -> bytes:
    return block(text + ETX)


METER_BREAK = block(b"B0" + ETX, start=SOH)


def sends(actions: list[Action]) -> list[bytes]:
    return [action.data for action in actions if isinstance(action, Send)]


def last_wake(actions: list[Action]) -> float:
    assert isinstance(actions[-1], WakeAt), actions
    return actions[-1].when


class Meter:
    """Drive a session: it records every Send, drains at once and ticks when due."""

    def __init__(self, session: ProgrammingSession, now: float = 0.0) -> None:
        self.session = session
        self.now = now
        self.sent: list[bytes] = []
        self.result: Action | None = None
        self._handle(session.start())

    def _handle(self, actions: list[Action]) -> None:
        while actions:
            action = actions.pop(0)
            if isinstance(action, Send):
                self.sent.append(action.data)
            elif isinstance(action, Drain):
                actions += self.session.drained(self.now)
            elif isinstance(action, Done | Failed):
                self.result = action

    def settle(self) -> None:
        """Let time pass until the session waits for bytes (run its timed steps)."""
        for _ in range(20):
            if self.session.done or self.session._step_at is None:
                return
            self.now = max(self.now, self.session.wake_at)
            self._handle(self.session.tick(self.now))

    def feed(self, data: bytes, dt: float = 0.1) -> None:
        self.now += dt
        self._handle(self.session.receive(data, self.now))
        self.settle()

    def open(self) -> None:
        """Identification, ACK, switch: the session is in programming mode, awaiting P0."""
        self.feed(IDENT)
        assert self.session.phase is Phase.PROGRAMMING
        assert self.session.rate == 4800

    def wait(self) -> None:
        """Let the session's wake-up time pass."""
        self.now = self.session.wake_at
        self._handle(self.session.tick(self.now))
        self.settle()

    @property
    def readout(self):  # type: ignore[no-untyped-def]
        assert isinstance(self.result, Done), self.result
        return self.result.readout

    @property
    def error(self) -> Iec62056Error:
        assert isinstance(self.result, Failed), self.result
        return self.result.error


def session(codes: tuple[str, ...] = ("1.7.0",), **kwargs: object) -> ProgrammingSession:
    settings = kwargs.pop("settings", ReadSettings())
    assert isinstance(settings, ReadSettings)
    return ProgrammingSession(settings, codes, now=0.0, **kwargs)  # type: ignore[arg-type]


def test_message_bytes_match_the_standards_examples() -> None:
    """The BCCs of the examples recomputed in the protocol notes (LEM/EMH manual)."""
    assert break_message() == b"\x01B0\x03q"
    assert read_message("0.9.2") == b"\x01R5\x020.9.2()\x03\\"
    assert read_message("1.8.0", "R1") == b"\x01R1\x021.8.0()\x03Z"
    assert password_message("00000000") == b"\x01P1\x02(00000000)\x03a"
    assert operand() == b"\x01P0\x02()\x03`"
    assert ack_message(4800, "1") == b"\x06041\r\n"
    assert command_message("R5", b"1.7.0()", Checksum.SUM)[-1] == bcc_sum(b"R5\x021.7.0()\x03")
    assert command_message("B0", None, Checksum.NONE) == break_message()


def test_register_read_full_sequence() -> None:
    """Request, ident, tr, ACK 0 4 1, switch, P0, R5 per code in order, break, readout."""
    meter = Meter(session(("1.8.0", "1.7.0", "C.1.0")))
    assert meter.sent == [b"/?!\r\n"]
    meter.feed(IDENT)
    assert meter.sent[1] == b"\x06041\r\n"
    meter.feed(operand(b"(12345678)"), dt=0.3)
    assert meter.session.operand == "12345678"
    assert meter.sent[2] == read_message("1.8.0")
    meter.feed(answer(b"1.8.0(001234.567*kWh)"))
    assert meter.sent[3] == read_message("1.7.0")
    meter.feed(answer(b"1.7.0(00.321*kW)"))
    meter.feed(answer(b"C.1.0(12345678)"))
    assert meter.sent[-1] == break_message()
    readout = meter.readout
    assert [ds.address for ds in readout.datasets] == ["1.8.0", "1.7.0", "C.1.0"]
    assert readout.datasets[1].values[0].value == "00.321"
    assert readout.datasets[1].values[0].unit == "kW"
    assert readout.checksum_ok is True
    assert readout.baudrate == 4800
    assert readout.mode == "C"
    assert readout.identification is not None
    assert readout.duration == pytest.approx(meter.now - 0.0 - 0.0, abs=0.5)
    assert meter.session.done
    assert meter.session.unknown == []
    assert meter.session.receive(b"more", 99.0) == []


def test_timing_reaction_times_and_switch() -> None:
    """ACK after tr, switch after the ACK's wire time + tr/2, commands 20 ms after answers."""
    sess = session()
    actions = sess.start()
    assert actions[0] == Send(b"/?!\r\n")
    actions = sess.receive(IDENT, 1.0)
    assert last_wake(actions) == pytest.approx(1.2)
    actions = sess.tick(1.2)
    assert actions == [Send(ack_message(4800, "1")), Drain()]
    actions = sess.drained(1.2)
    switch_at = 1.2 + wire_time(6, 300) + 0.1
    assert last_wake(actions) == pytest.approx(switch_at)
    actions = sess.tick(switch_at)
    assert actions[0] == SwitchRate(4800)
    # P0 is due answer_timeout after the ACK has left the wire
    assert last_wake(actions) == pytest.approx(1.2 + wire_time(6, 300) + 3.0)
    actions = sess.receive(operand(), 1.6)
    assert last_wake(actions) == pytest.approx(1.6 + HHU_REACTION)
    actions = sess.tick(1.6 + HHU_REACTION)
    assert sends(actions) == [read_message("1.7.0")]
    actions = sess.receive(answer(b"1.7.0(1*kW)"), 2.0)
    actions += sess.tick(2.0 + HHU_REACTION)
    assert actions[-2:] == [Send(break_message()), Drain()]
    assert sess.phase is Phase.BREAK
    # the break must leave the wire before the port is set back and closed
    # (+ half the meter's reaction time, as before the switch after the ACK)
    actions = sess.drained(2.1)
    assert last_wake(actions) == pytest.approx(2.1 + wire_time(5, 4800) + 0.1)
    assert sess.tick(2.1) == [WakeAt(pytest.approx(2.1 + wire_time(5, 4800) + 0.1))]
    assert isinstance(sess.tick(2.3)[-1], Done)


def test_no_waiting_answers_at_once() -> None:
    meter = Meter(session(settings=ReadSettings(no_waiting=True)))
    meter.now = 0.0
    meter.feed(IDENT, dt=0.0)
    meter.feed(operand(), dt=0.0)
    assert meter.sent[-1] == read_message("1.7.0")


def test_r1_reads() -> None:
    meter = Meter(session(("1.8.0",), command="R1"))
    meter.open()
    meter.feed(operand())
    assert meter.sent[-1] == b"\x01R1\x021.8.0()\x03Z"
    meter.feed(answer(b"(001234.5*kWh)"))  # answer without the address
    assert meter.readout.datasets[0].address == "1.8.0"
    assert meter.readout.datasets[0].values[0].value == "001234.5"


def test_password_accepted() -> None:
    meter = Meter(session(password="00000000"))
    meter.open()
    meter.feed(operand())
    assert meter.sent[-1] == password_message("00000000")
    meter.feed(ACK)
    assert meter.sent[-1] == read_message("1.7.0")
    meter.feed(answer(b"1.7.0(1.5*kW)"))
    assert meter.readout.datasets[0].values[0].value == "1.5"


@pytest.mark.parametrize("refusal", [NAK, METER_BREAK, answer(b"(ERROR)")])
def test_password_refused(refusal: bytes) -> None:
    """NAK, a break or any message instead of ACK: refused; we still send our break."""
    meter = Meter(session(password="secret12"))
    meter.open()
    meter.feed(operand())
    meter.feed(refusal)
    error = meter.error
    assert isinstance(error, PasswordRefusedError)
    assert error.kind == "password_refused"
    assert "secret12" not in str(error)
    assert "secret12" not in repr(meter.session)
    assert meter.sent[-1] == break_message()


def test_password_never_answered() -> None:
    meter = Meter(session(password="pw"))
    meter.open()
    meter.feed(operand())
    meter.wait()
    assert isinstance(meter.error, NoAnswerError)
    assert meter.sent[-1] == break_message()


@pytest.mark.parametrize(
    ("answer_bytes", "message"),
    [
        (None, "no P0"),  # silence after the ACK
        (answer(b"F.F(00)\r\n1.8.0(1*kWh)\r\n!\r\n"), "P0"),  # a data readout instead
        (METER_BREAK, "B0"),
    ],
)
def test_no_programming_mode(answer_bytes: bytes | None, message: str) -> None:
    meter = Meter(session())
    meter.open()
    if answer_bytes is None:
        meter.wait()
    else:
        meter.feed(answer_bytes)
    error = meter.error
    assert isinstance(error, NoProgrammingModeError)
    assert error.kind == "no_programming_mode"
    assert message in str(error)
    assert meter.sent[-1] == break_message()


def test_data_readout_before_the_ack_is_no_programming_mode() -> None:
    """A meter that does not wait for the ACK sends its readout: not programming mode."""
    sess = session()
    sess.start()
    data = b"\x02F.F(00)\r\n!\r\n\x03"
    actions = sess.receive(IDENT + data + bytes((bcc_xor(data[1:]),)), 0.5)
    assert isinstance(actions[-1], Failed)
    assert isinstance(actions[-1].error, NoProgrammingModeError)


def test_unknown_register_is_left_out_or_strict() -> None:
    meter = Meter(session(("1.7.0", "9.9.9", "2.7.0")))
    meter.open()
    meter.feed(operand())
    meter.feed(answer(b"1.7.0(1*kW)"))
    meter.feed(answer(b"(ERROR)"))
    meter.feed(answer(b"2.7.0(0*kW)"))
    assert [ds.address for ds in meter.readout.datasets] == ["1.7.0", "2.7.0"]
    assert meter.session.unknown == ["9.9.9"]

    meter = Meter(session(("9.9.9", "1.7.0"), strict=True))
    meter.open()
    meter.feed(operand())
    meter.feed(answer(b"9.9.9(ERR05)"))
    meter.feed(answer(b"1.7.0(1*kW)"))
    error = meter.error
    assert isinstance(error, UnknownRegisterError)
    assert error.kind == "unknown_register"
    assert error.codes == ("9.9.9",)
    assert error.readout is not None
    assert [ds.address for ds in error.readout.datasets] == ["1.7.0"]
    assert meter.sent[-1] == break_message()


def test_bad_check_is_answered_by_nak_and_repeated() -> None:
    meter = Meter(session())
    meter.open()
    meter.feed(operand())
    good = answer(b"1.7.0(1*kW)")
    bad = good[:-1] + bytes((good[-1] ^ 1,))
    meter.feed(bad)
    assert meter.sent[-1] == NAK
    meter.feed(good)
    assert meter.readout.datasets[0].values[0].value == "1"


def test_bad_check_gives_up_after_the_repeats() -> None:
    meter = Meter(session())
    meter.open()
    meter.feed(operand())
    bad = answer(b"1.7.0(1*kW)")[:-1] + b"\x00"
    for _ in range(MAX_REPEATS):
        meter.feed(bad)
        assert meter.sent[-1] == NAK
    meter.feed(bad)
    assert isinstance(meter.error, ChecksumError)
    assert meter.sent.count(NAK) == MAX_REPEATS
    assert meter.sent[-1] == break_message()


def test_bad_operand_check_is_repeated_too() -> None:
    meter = Meter(session())
    meter.open()
    meter.feed(operand()[:-1] + b"\x00")
    assert meter.sent[-1] == NAK
    meter.feed(operand())
    assert meter.sent[-1] == read_message("1.7.0")


def test_meter_nak_repeats_our_command_then_gives_up() -> None:
    meter = Meter(session())
    meter.open()
    meter.feed(operand())
    for _ in range(MAX_REPEATS):
        meter.feed(NAK)
        assert meter.sent[-1] == read_message("1.7.0")
    meter.feed(NAK)
    error = meter.error
    assert isinstance(error, ProtocolError)
    assert "refused" in str(error)
    assert meter.sent.count(read_message("1.7.0")) == MAX_REPEATS + 1


def test_nak_and_ack_where_they_mean_nothing_are_ignored() -> None:
    meter = Meter(session())
    meter.open()
    meter.feed(NAK)  # before the operand
    meter.feed(b"\r\n\x00")  # noise between messages
    meter.feed(operand())
    meter.feed(ACK)  # an ACK instead of an answer
    assert meter.result is None
    meter.feed(answer(b"1.7.0(1*kW)"))
    assert meter.readout.datasets


def test_partial_blocks_are_acknowledged_and_joined() -> None:
    meter = Meter(session(("P.01",)))
    meter.open()
    meter.feed(operand())
    meter.feed(block(b"P.01(1*kW)" + EOT))
    assert meter.sent[-1] == ACK
    meter.feed(answer(b"(2*kW)"))
    values = meter.readout.datasets[0].values
    assert [v.value for v in values] == ["1", "2"]


def test_meter_break_while_reading() -> None:
    meter = Meter(session())
    meter.open()
    meter.feed(operand())
    meter.feed(METER_BREAK)
    assert isinstance(meter.error, ProtocolError)


def test_answer_timeouts() -> None:
    """No answer to a read: no_answer; an answer that stops: timeout after ta."""
    meter = Meter(session())
    meter.open()
    meter.feed(operand())
    sent_at = meter.now
    assert meter.session.wake_at == pytest.approx(sent_at + wire_time(13, 4800) + 3.0)
    meter.wait()
    assert isinstance(meter.error, NoAnswerError)
    assert "1.7.0" in str(meter.error)

    meter = Meter(session())
    meter.open()
    meter.feed(operand())
    meter.feed(b"\x021.7.0(1")
    assert meter.session.wake_at == pytest.approx(meter.now + 1.5)
    meter.wait()
    assert isinstance(meter.error, ReadTimeoutError)
    assert meter.sent[-1] == break_message()


def test_overall_time_limit_breaks_too() -> None:
    meter = Meter(session(settings=ReadSettings(timeout=5.0, char_timeout=10.0)))
    meter.open()
    meter.feed(operand())
    meter.feed(b"\x021.7.0(1", dt=0.5)
    while meter.now < 4.5:
        meter.feed(b"1", dt=0.5)
    assert meter.result is None
    assert meter.session.wake_at == pytest.approx(5.0)
    meter.wait()
    assert isinstance(meter.result, Failed)
    assert meter.result.error.kind == "read_time_limit"
    assert meter.sent[-1] == break_message()


def test_no_identification_fails_without_a_break() -> None:
    meter = Meter(session())
    meter.wait()
    assert isinstance(meter.error, NoAnswerError)
    assert break_message() not in meter.sent


def test_echo_of_everything_we_send_is_removed() -> None:
    """An IR head that echoes: ACK, commands and NAKs come back first and are skipped."""
    meter = Meter(session(("1.7.0", "2.7.0")))
    meter.feed(b"/?!\r\n" + IDENT)
    meter.feed(meter.sent[-1] + operand())  # echo of the ACK, then P0
    meter.feed(meter.sent[-1] + answer(b"1.7.0(1*kW)"))
    meter.feed(meter.sent[-1][:5] + b"X" + meter.sent[-1][6:])  # a garbled echo is not eaten
    meter.feed(answer(b"2.7.0(2*kW)"))
    assert [ds.address for ds in meter.readout.datasets] == ["1.7.0", "2.7.0"]


def test_too_long_answer() -> None:
    meter = Meter(session())
    meter.open()
    meter.feed(operand())
    meter.feed(b"\x02" + b"1" * (MAX_ANSWER_BYTES + 1))
    assert isinstance(meter.error, ProtocolError)


def test_sum_checksum_meters() -> None:
    settings = ReadSettings(checksum=Checksum.SUM)
    meter = Meter(session(settings=settings))
    meter.open()
    meter.feed(block(b"P0" + STX + b"()" + ETX, start=SOH, check=Checksum.SUM))
    assert meter.sent[-1] == command_message("R5", b"1.7.0()", Checksum.SUM)
    meter.feed(block(b"1.7.0(1*kW)" + ETX, check=Checksum.SUM))
    assert meter.readout.checksum_ok is True

    meter = Meter(session(settings=ReadSettings(checksum=Checksum.NONE)))
    meter.open()
    meter.feed(operand()[:-1] + b"\x00")
    meter.feed(answer(b"1.7.0(1*kW)")[:-1] + b"\x00")
    assert meter.readout.checksum_ok is None


def test_invalid_settings_codes_and_passwords() -> None:
    with pytest.raises(ValueError, match="mode C"):
        session(settings=ReadSettings(mode="A"))
    with pytest.raises(ValueError, match="answer_baudrate"):
        session(settings=ReadSettings(answer_baudrate=2400))
    with pytest.raises(ValueError, match="read command"):
        session(command="W5")
    with pytest.raises(ValueError, match="read command"):
        read_message("1.8.0", "W1")
    with pytest.raises(ValueError, match="no register"):
        session(())
    for bad in ("", "1.8.0()", "1.8.0\x03", "a b", "/?!", "x" * 17, "1.8\x01W1"):
        with pytest.raises(ValueError, match="register code"):
            check_code(bad)
    for bad in ("", "pw(", "pw)", "p\x03w", "p\rw", "x" * 33):
        with pytest.raises(ValueError, match="password") as info:
            check_password(bad)
        if bad:
            assert bad not in str(info.value)
    assert check_password("a b") == "a b"
    for command in ("W1", "W2", "W5", "E2", "P2", "R6", "B1"):
        with pytest.raises(ValueError, match="never sent"):
            command_message(command, b"")
    with pytest.raises(ValueError, match="control"):
        command_message("R5", b"1\x03W1")


def test_error_kinds_are_registered() -> None:
    for error in (
        NoProgrammingModeError,
        PasswordRefusedError,
        UnknownRegisterError,
        AddressRequiredError,
    ):
        assert issubclass(error, Iec62056Error)
        assert error.kind in ERROR_KINDS
    assert {"no_programming_mode", "password_refused", "unknown_register"} <= ERROR_KINDS


def _commands_sent(data: bytes) -> list[bytes]:
    """The command letters after every SOH in ``data``."""
    return [data[i + 1 : i + 3] for i in range(len(data)) if data[i] == 0x01]


_METER_REPLIES = [
    operand(),
    operand(b"(W1)"),
    ACK,
    NAK,
    METER_BREAK,
    answer(b"1.7.0(1*kW)"),
    answer(b"(ERROR)"),
    answer(b"W1(1)")[:-1] + b"\x00",
    block(b"E2(1)" + EOT),
    b"\x021.7.0(",
    b"\r\n",
]


@pytest.mark.parametrize("seed", range(60))
def test_no_write_or_execute_command_ever_leaves(seed: int) -> None:
    """Random codes, passwords and meter behaviour: only sign-on, ACK, P1, R1/R5, B0, ACK/NAK.

    Codes and passwords are drawn with control characters, parentheses and command letters;
    those that are refused raise ValueError before anything is sent. Every byte sent is
    parsed: each SOH starts a message of an allowed command, and no STX/ETX/SOH is inside
    the data that came from the caller.
    """
    rng = random.Random(seed)
    alphabet = "1.8.0:*&-W1E2R5P0B()\x01\x02\x03\x04\x06\x15/! abc"

    def text(low: int, high: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))

    codes = tuple(text(0, 8) for _ in range(rng.randint(1, 4)))
    password = text(0, 10) if rng.random() < 0.5 else None
    try:
        sess = session(codes, password=password, command=rng.choice(["R5", "R1"]))
    except ValueError:
        assert any(
            not code or any(ch in "()/! " or ord(ch) < 0x20 for ch in code) for code in codes
        ) or (
            password is not None
            and (not password or any(ch in "()" or ord(ch) < 0x20 for ch in password))
        )
        return
    meter = Meter(sess)
    meter.feed(IDENT)
    for _ in range(rng.randint(3, 15)):
        if meter.session.done:
            break
        if rng.random() < 0.2:
            meter.wait()
        else:
            meter.feed(rng.choice(_METER_REPLIES))
    for _ in range(10):
        if meter.session.done:
            break
        meter.wait()
    assert meter.session.done
    assert meter.sent == meter.session.sent
    for data in meter.sent:
        if data.startswith(b"/?"):
            assert data == b"/?!\r\n"
        elif data[:1] == ACK and len(data) == 6:
            assert data[3:4] == b"1"  # programming-mode ACK
        elif data in (ACK, NAK):
            pass
        else:
            assert data[:1] == SOH
            assert [c.decode() for c in _commands_sent(data)] == [data[1:3].decode()]
            assert data[1:3].decode() in ALLOWED_COMMANDS
            body = data[3:-2] if data[3:4] == STX else b""
            assert not any(byte < 0x20 for byte in body[1:]), data
    assert meter.sent.count(break_message()) <= 1


def test_read_settings_address_in_the_request() -> None:
    meter = Meter(session(settings=ReadSettings(address="12345678")))
    assert meter.sent == [b"/?12345678!\r\n"]
