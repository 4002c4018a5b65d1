"""The sans-I/O read session: every branch, driven by scripted bytes and an injected clock.

No ports, no threads, no real time: each test calls the session's entry points with the
time it chooses and checks the actions that come back.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from custom_components.dlms_meter import iec62056
from custom_components.dlms_meter.iec62056 import (
    ERROR_KINDS,
    ChecksumError,
    Iec62056Error,
    Mode,
    NoAnswerError,
    ProtocolError,
    ReadoutTooLongError,
    ReadSettings,
    ReadTimeLimitError,
    ReadTimeoutError,
    SmlStreamError,
)
from custom_components.dlms_meter.iec62056.checksum import bcc_xor
from custom_components.dlms_meter.iec62056.identification import (
    MODE_B_RATES,
    MODE_C_RATES,
    RATE_TABLE,
    STANDARD_RATES,
)
from custom_components.dlms_meter.iec62056.port import SharedPort, forget_ports, shared_port
from custom_components.dlms_meter.iec62056.session import (
    SML_START,
    Action,
    Done,
    Drain,
    Failed,
    Phase,
    ReadSession,
    Send,
    SwitchRate,
    WakeAt,
    ack_message,
    wire_time,
)
from custom_components.dlms_meter.iec62056.settings import WAKEUP_PAUSE, wakeup_bytes

IDENT = b"/LGZ4ZMF100AC.M26\r\n"  # 200 ms, offers 4800 (mode C "4")
FAST_IDENT = b"/ISk5MT174-0001\r\n"  # lower-case k: 20 ms, offers 9600
BLOCK = b"F.F(00)\r\n1.8.0(001234.567*kWh)\r\n!\r\n"
REQUEST = b"/?!\r\n"


def framed(block: bytes = BLOCK) -> bytes:
    payload = block + b"\x03"
    return b"\x02" + payload + bytes((bcc_xor(payload),))


def kinds(actions: list[Action]) -> list[type]:
    return [type(action) for action in actions]


def wake(actions: list[Action]) -> float:
    last = actions[-1]
    assert isinstance(last, WakeAt)
    return last.when


def done(actions: list[Action]) -> Done:
    assert isinstance(actions[-1], Done), actions
    return actions[-1]


def failed(actions: list[Action]) -> Iec62056Error:
    assert isinstance(actions[-1], Failed), actions
    return actions[-1].error


def test_mode_c_full_sequence() -> None:
    """Request, identification, tr, ACK, drain, switch halfway into tr, data."""
    session = ReadSession(ReadSettings(), now=100.0)
    assert session.start_rate == 300
    actions = session.start()
    assert actions[0] == Send(REQUEST)
    # the answer is due answer_timeout after the request has left the wire
    assert wake(actions) == pytest.approx(100.0 + wire_time(5, 300) + 3.0)
    actions = session.receive(IDENT, 100.5)
    assert kinds(actions) == [WakeAt]
    assert wake(actions) == pytest.approx(100.7)  # tr = 200 ms after the identification
    assert session.tick(100.6) == [WakeAt(pytest.approx(100.7))]  # early tick: nothing yet
    actions = session.tick(100.7)
    assert actions == [Send(ack_message(4800)), Drain()]
    assert ack_message(4800) == b"\x06040\r\n"
    assert session.phase is Phase.ACK_SENT
    actions = session.drained(100.75)
    on_wire = 100.7 + wire_time(6, 300)
    assert wake(actions) == pytest.approx(on_wire + 0.1)
    actions = session.tick(on_wire + 0.1)
    assert actions[0] == SwitchRate(4800)
    assert session.rate == 4800
    readout = done(session.receive(framed(), 102.0)).readout
    assert readout.baudrate == 4800
    assert readout.mode == "C"
    assert readout.checksum_ok is True
    assert readout.identification is not None
    assert readout.identification.model == "ZMF100AC.M26"
    assert readout.duration == pytest.approx(2.0)
    assert session.done
    assert session.receive(b"more", 103.0) == []
    assert session.tick(200.0) == []
    assert session.drained(200.0) == []


def test_mode_c_options_no_waiting_switch_delay_and_caps() -> None:
    """no_waiting sends the ACK at once; switch_delay adds to the switch; max_baudrate caps."""
    settings = ReadSettings(no_waiting=True, switch_delay=0.25, max_baudrate=2400)
    session = ReadSession(settings, now=0.0)
    session.start()
    actions = session.receive(FAST_IDENT, 1.0)
    assert actions == [Send(ack_message(2400)), Drain()]
    actions = session.drained(1.0)
    assert wake(actions) == pytest.approx(1.0 + wire_time(6, 300) + 0.01 + 0.25)
    assert session.tick(1.5)[0] == SwitchRate(2400)


def test_mode_c_fixed_rate_same_as_initial_needs_no_switch() -> None:
    """An ACK for 300 Bd: no SwitchRate."""
    session = ReadSession(ReadSettings(baudrate=300, no_waiting=True), now=0.0)
    session.start()
    assert session.receive(IDENT, 0.5)[0] == Send(ack_message(300))
    session.drained(0.5)
    actions = session.tick(1.0)
    assert not any(isinstance(a, SwitchRate) for a in actions)
    assert done(session.receive(framed(), 2.0)).readout.baudrate == 300


def test_meter_that_does_not_wait_for_the_ack() -> None:
    """Data that arrives while we wait tr before the ACK is the readout (at 300 Bd)."""
    session = ReadSession(ReadSettings(), now=0.0)
    session.start()
    assert done(session.receive(IDENT + framed(), 0.5)).readout.baudrate == 300


def test_mode_a_and_b() -> None:
    """Mode A reads on at the initial rate; mode B switches right after the identification."""
    session = ReadSession(ReadSettings(mode="A"), now=0.0)
    session.start()
    assert kinds(session.receive(IDENT, 0.5)) == [WakeAt]
    assert done(session.receive(framed(), 1.0)).readout.mode == "A"

    session = ReadSession(ReadSettings(mode=Mode.B), now=0.0)
    session.start()
    actions = session.receive(b"/LUGCUH50\r\n", 0.5)
    assert actions[0] == SwitchRate(MODE_B_RATES["C"])
    readout = done(session.receive(framed(), 1.0)).readout
    assert readout.baudrate == 2400
    assert readout.mode == "B"


def test_mode_d_listens_only() -> None:
    """Mode D sends nothing; a pushed telegram is the readout; 15 s without one: no answer."""
    settings = ReadSettings(mode="D", baudrate=9600, checksum="none")  # type: ignore[arg-type]
    session = ReadSession(settings, now=0.0)
    assert session.start_rate == 9600
    actions = session.start()
    assert kinds(actions) == [WakeAt]
    assert wake(actions) == pytest.approx(15.0)
    # the tail of a telegram already under way, then a whole one
    actions = session.receive(b"(1*kWh)\r\n!\r\n/EMH5eHZ\r\n\r\n1.8.0(1*kWh)\r\n", 1.0)
    assert kinds(actions) == [WakeAt]
    readout = done(session.receive(b"!\r\n", 1.1)).readout
    assert readout.mode == "D"
    assert readout.identification is not None

    session = ReadSession(ReadSettings(mode="D"), now=0.0)
    session.start()
    assert isinstance(failed(session.tick(15.0)), NoAnswerError)


def test_mode_d_junk_without_identification_is_not_iec() -> None:
    """Bytes without an identification within the answer time: not IEC 62056-21."""
    session = ReadSession(ReadSettings(mode="D", answer_timeout=2.0), now=0.0)
    session.start()
    session.receive(b"\x55\x66\x77", 0.5)
    actions = session.receive(b"\x55\x66\x77", 1.9)
    assert wake(actions) == pytest.approx(2.0)  # bytes do not extend the wait
    assert isinstance(failed(session.tick(2.0)), ProtocolError)


def test_wakeup_then_request() -> None:
    """NULs for ~2.2 s, drained, their wire time + 1.5 s pause, then the request."""
    session = ReadSession(ReadSettings(wakeup=True), now=0.0)
    nuls = wakeup_bytes(300)
    assert session.start() == [Send(nuls), Drain()]
    assert session.phase is Phase.WAKEUP
    actions = session.drained(0.1)  # the OS drain returned before the NULs left the wire
    due = wire_time(len(nuls), 300) + WAKEUP_PAUSE
    assert wake(actions) == pytest.approx(due)
    assert kinds(session.tick(due - 0.5)) == [WakeAt]
    actions = session.tick(due)
    assert actions[0] == Send(REQUEST)
    assert session.receive(nuls[:10], due + 0.1) == [WakeAt(pytest.approx(wake(actions)))]
    session.receive(REQUEST + IDENT, due + 0.5)  # echo removed by the framer
    assert session.identification is not None


def test_drained_without_drain_is_a_bug() -> None:
    """drained() is only valid after a Drain action."""
    session = ReadSession(ReadSettings(), now=0.0)
    session.start()
    with pytest.raises(RuntimeError):
        session.drained(1.0)


def test_answer_baudrate_ultraheat() -> None:
    """Request (after NULs, no pause) at 300 Bd, then listen at 2400 for ident and data."""
    settings = ReadSettings(mode="B", wakeup=True, answer_baudrate=2400)
    session = ReadSession(settings, now=0.0)
    nuls = wakeup_bytes(300)
    actions = session.start()
    assert actions == [Send(nuls + REQUEST), Drain()]
    assert session.phase is Phase.REQUEST
    actions = session.drained(0.2)
    on_wire = wire_time(len(nuls) + 5, 300)
    assert wake(actions) == pytest.approx(on_wire)
    assert session.tick(on_wire) == [SwitchRate(2400), WakeAt(pytest.approx(session.wake_at))]
    assert session.phase is Phase.IDENT
    actions = session.receive(b"/LUGCUH50\r\n", on_wire + 0.3)
    assert not any(isinstance(a, SwitchRate) for a in actions)  # "C" = 2400: already there
    readout = done(session.receive(framed(), on_wire + 1.0)).readout
    assert readout.baudrate == 2400
    assert readout.identification is not None
    assert readout.identification.manufacturer == "LUG"


def test_answer_baudrate_identification_lost() -> None:
    """If the identification came at another rate (junk), a framed telegram still counts."""
    session = ReadSession(ReadSettings(mode="A", answer_baudrate=2400), now=0.0)
    session.start()
    session.drained(0.0)
    session.tick(1.0)
    readout = done(session.receive(b"\x7f\x13#" + framed(), 1.5)).readout
    assert readout.identification is None
    assert readout.baudrate == 2400


def test_answer_baudrate_equal_to_request_rate_is_plain() -> None:
    """answer_baudrate == the request rate: no drain, no switch."""
    session = ReadSession(ReadSettings(answer_baudrate=300), now=0.0)
    assert kinds(session.start()) == [Send, WakeAt]


def test_echo_is_removed() -> None:
    """The head's echo of the request and of the ACK never reaches the parser."""
    session = ReadSession(ReadSettings(no_waiting=True), now=0.0)
    session.start()
    session.receive(REQUEST[:3], 0.1)
    actions = session.receive(REQUEST[3:] + IDENT, 0.5)
    assert actions[0] == Send(ack_message(4800))
    session.drained(0.6)
    session.tick(1.0)
    assert done(session.receive(ack_message(4800)[:2], 1.1) + session.receive(framed(), 1.2))


def test_no_answer() -> None:
    """Nothing at all within the answer time: NoAnswerError."""
    session = ReadSession(ReadSettings(answer_timeout=1.0), now=0.0)
    deadline = wake(session.start())
    assert isinstance(failed(session.tick(deadline)), NoAnswerError)


def test_junk_that_never_becomes_an_identification() -> None:
    """A stream of junk: ProtocolError at the identification deadline, not the overall one."""
    session = ReadSession(ReadSettings(answer_timeout=1.0), now=0.0)
    session.start()
    now = 0.1
    while not session.done and now < 30:
        actions = session.receive(b"#%&*+-.:;<=", now)
        now += 0.2
        if not session.done and now >= session.wake_at:
            actions = session.tick(now)
    assert now < 3.0
    assert isinstance(failed(actions), ProtocolError)


def test_data_stops() -> None:
    """The meter stops halfway: ReadTimeoutError after char_timeout of silence."""
    session = ReadSession(ReadSettings(mode="A", char_timeout=1.5), now=0.0)
    session.start()
    session.receive(IDENT + framed()[:10], 0.5)
    assert session.wake_at == pytest.approx(2.0)
    assert isinstance(failed(session.tick(2.0)), ReadTimeoutError)


def test_unframed_data_ends_with_silence() -> None:
    """A mode C meter without STX: the telegram ends at '!' when the line goes quiet."""
    session = ReadSession(ReadSettings(mode="A"), now=0.0)
    session.start()
    actions = session.receive(IDENT + BLOCK, 0.5)
    assert kinds(actions) == [WakeAt]  # waits: an ETX could still follow
    readout = done(session.tick(2.0)).readout
    assert readout.checksum_ok is None
    assert readout.datasets[1].address == "1.8.0"


def test_checksum_error_fails_the_session() -> None:
    """A wrong check byte: ChecksumError."""
    session = ReadSession(ReadSettings(mode="A"), now=0.0)
    session.start()
    bad = framed()[:-1] + bytes(((framed()[-1] + 1) & 0x7F,))
    assert isinstance(failed(session.receive(IDENT + bad, 1.0)), ChecksumError)


@pytest.mark.parametrize(
    "chunks",
    [
        [SML_START + b"\x76\x05"],
        [b"\x00\x1b\x1b", b"\x1b\x1b\x01", b"\x01\x01\x01\x76"],
        [bytes(b | 0x80 for b in SML_START)],
    ],
)
def test_sml_is_recognised_at_once(chunks: list[bytes]) -> None:
    """The SML escape sequence (also split, also with bit 7 set) fails at once."""
    session = ReadSession(ReadSettings(mode="D"), now=0.0)
    session.start()
    actions: list[Action] = []
    for chunk in chunks:
        actions = session.receive(chunk, 0.1)
    error = failed(actions)
    assert isinstance(error, SmlStreamError)
    assert isinstance(error, ProtocolError)
    assert error.kind == "sml"
    assert "EDL21" in str(error)


def test_readout_too_long() -> None:
    """Beyond the 64 KiB cap: ReadoutTooLongError, not a timeout."""
    session = ReadSession(ReadSettings(mode="D"), now=0.0)
    session.start()
    session.receive(b"/EMH5eHZ\r\n\r\n", 0.1)
    line = b"1.8.0(000001.000*kWh)\r\n"
    actions: list[Action] = []
    for index in range(4000):
        actions = session.receive(line, 0.2 + index * 0.001)
        if session.done:
            break
    error = failed(actions)
    assert isinstance(error, ReadoutTooLongError)
    assert error.kind == "readout_too_long"


def test_overall_time_limit() -> None:
    """Still sending when the overall limit runs out: ReadTimeLimitError; silent: stall."""
    session = ReadSession(ReadSettings(mode="A", timeout=5.0), now=0.0)
    session.start()
    session.receive(IDENT, 0.5)
    now = 0.6
    while now < 5.0:
        session.receive(b"1.8.0(1)\r\n", now)
        now += 0.5
    error = failed(session.tick(5.0))
    assert isinstance(error, ReadTimeLimitError)
    assert "5 s" in str(error)

    session = ReadSession(ReadSettings(timeout=2.0, answer_timeout=10.0), now=0.0)
    session.start()
    assert isinstance(failed(session.tick(2.0)), NoAnswerError)


def test_second_identification_in_data_phase_is_ignored() -> None:
    """A new identification after ours does not restart the negotiation."""
    session = ReadSession(ReadSettings(mode="A"), now=0.0)
    session.start()
    session.receive(IDENT, 0.5)
    assert kinds(session.receive(b"/XYZ5other\r\n", 0.6)) == [WakeAt]
    assert session.identification is not None
    assert session.identification.manufacturer == "LGZ"


def test_stall_error_texts() -> None:
    """The stall error depends on what was received."""
    session = ReadSession(ReadSettings(), now=0.0)
    assert isinstance(session.stall_error(), NoAnswerError)
    session.receive(b"abc", 0.1)
    assert isinstance(session.stall_error(), ProtocolError)
    assert session.receive(b"", 0.2) == []


# ---- settings, rates, modes, errors -------------------------------------------------


def test_settings_mode_and_address() -> None:
    """Mode accepts the enum or its letter; the address must match in full."""
    assert ReadSettings(mode="B").mode is Mode.B
    assert ReadSettings(mode=Mode.D).mode == "D"
    assert [mode.value for mode in Mode] == ["A", "B", "C", "D"]
    for bad in ("12\n", "1\n2", "x" * 33, "a!b", "/"):
        with pytest.raises(ValueError, match="address"):
            ReadSettings(address=bad)
    assert ReadSettings(address="12 AB").request() == b"/?12 AB!\r\n"
    with pytest.raises(ValueError, match="mode"):
        ReadSettings(mode="E")


def test_settings_answer_baudrate() -> None:
    """answer_baudrate: a standard rate, modes A/B/C only."""
    assert ReadSettings(answer_baudrate=2400).listen_baudrate == 2400
    assert ReadSettings().listen_baudrate == 300
    with pytest.raises(ValueError, match="answer_baudrate"):
        ReadSettings(answer_baudrate=2000)
    with pytest.raises(ValueError, match="answer_baudrate"):
        ReadSettings(mode="D", answer_baudrate=2400)


def test_one_rate_table() -> None:
    """The derived tables agree with the one table."""
    assert STANDARD_RATES == (300, 600, 1200, 2400, 4800, 9600, 19200)
    assert MODE_C_RATES["6"] == 19200
    assert "0" in MODE_C_RATES
    assert MODE_B_RATES == {"A": 600, "B": 1200, "C": 2400, "D": 4800, "E": 9600, "F": 19200}
    assert len(RATE_TABLE) == len(STANDARD_RATES)


def test_error_kinds_derived_from_classes() -> None:
    """ERROR_KINDS holds every kind, new ones included."""
    assert {"readout_too_long", "read_time_limit", "sml", "timeout", "no_answer"} <= ERROR_KINDS
    assert ReadTimeLimitError.kind == "read_time_limit"
    assert issubclass(SmlStreamError, ProtocolError)


# ---- the shared port -----------------------------------------------------------------


async def test_shared_port_serialises_sessions_and_keeps_the_gap() -> None:
    """One session at a time per port; the quiet time is measured with the port's clock."""
    now = [100.0]
    port = SharedPort("socket://user:secret@host:1", clock=lambda: now[0])
    assert "secret" not in repr(port)
    assert port.quiet_until(1.5) == float("-inf")
    order: list[str] = []

    async def session(name: str) -> None:
        async with port.session(0.0):
            order.append(f"{name} in")
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            order.append(f"{name} out")

    await asyncio.gather(session("a"), session("b"))
    assert order == ["a in", "a out", "b in", "b out"]
    assert port.last_session_end == 100.0
    assert port.quiet_until(1.5) == 101.5
    assert not port.busy()
    # the gap has passed on the port's clock: no wait
    now[0] = 200.0
    async with port.session(1.5):
        assert port.busy()
    with pytest.raises(KeyError):
        async with port.session(0.0):
            raise KeyError("error inside")
    assert port.last_session_end == 200.0


async def test_shared_port_waits_out_the_gap() -> None:
    """A session that starts within the gap waits for the rest of it."""
    times = iter([10.0, 10.0, 10.0, 10.01])
    port = SharedPort("/dev/x", clock=lambda: next(times))
    async with port.session(0.0):
        pass
    async with port.session(0.02):  # 0.02 s gap, 0 s passed on the port's clock
        pass
    assert port.last_session_end == 10.01


def test_shared_port_registry() -> None:
    """One object per port name."""
    forget_ports()
    assert shared_port("/dev/ttyUSB0") is shared_port("/dev/ttyUSB0")
    assert shared_port("/dev/ttyUSB0") is not shared_port("/dev/ttyUSB1")
    forget_ports()


def test_package_imports_no_serial_backend() -> None:
    """Parsing and the CLI's --help need no serialx: the driver is imported on first use."""
    code = (
        "import sys; import custom_components.dlms_meter.iec62056 as lib; "
        "import custom_components.dlms_meter.iec62056.cli; "
        "import custom_components.dlms_meter.iec62056.programming; "
        "lib.ProgrammingSession; "
        "assert 'serialx' not in sys.modules, 'serialx imported'; "
        "lib.read_registers; assert 'serialx' in sys.modules; lib.read_meter"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


def test_package_unknown_attribute() -> None:
    """The lazy attributes do not hide real AttributeErrors."""
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = iec62056.no_such_thing


def test_readout_mode_is_a_plain_string() -> None:
    """Readout.mode stays a plain str (snapshots, JSON), not the enum."""
    session = ReadSession(ReadSettings(mode=Mode.A), now=0.0)
    session.start()
    readout = done(session.receive(IDENT + framed(), 1.0)).readout
    assert type(readout.mode) is str
