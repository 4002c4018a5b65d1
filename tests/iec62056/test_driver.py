"""Whole read cycles with read_meter over real ptys, against the project's meter simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
from typing import Any

import pytest
import serialx

from custom_components.dlms_meter.iec62056 import (
    Checksum,
    ChecksumError,
    Iec62056Error,
    NoAnswerError,
    PortBusyError,
    PortError,
    PortNotFoundError,
    ProtocolError,
    ReadSettings,
    ReadTimeoutError,
    SharedPort,
    read_meter,
)
from meter_sim.simulator import PROFILES, Fault, MeterSimulator


def fast(**options: Any) -> ReadSettings:
    """Settings for simulator tests: no gap between sessions; an answer timeout that holds
    on a busy machine (the simulator answers after 200 ms)."""
    return ReadSettings(**{"answer_timeout": 4.0, "session_gap": 0.0, **options})


async def _wait_for_request(sim: MeterSimulator) -> None:
    """Wait (event-based, generous deadline) until the simulator has taken a request."""
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, sim.wait_for, lambda s: s.requests >= 1, 20.0)


@contextlib.contextmanager
def simulator(name: str, **options: object) -> Iterator[MeterSimulator]:
    """Start a simulator for one test."""
    sim = MeterSimulator(name, **options)  # type: ignore[arg-type]
    with sim:
        yield sim


async def _port_is_free(port: str) -> bool:
    try:
        _reader, writer = await serialx.open_serial_connection(port, baudrate=300)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_mode_c_auto_baudrate() -> None:
    """Mode C, automatic rate: the E350 offers 4800 Bd; data checked with XOR."""
    with simulator("lgz_e350") as sim:
        readout = await read_meter(sim.port, fast())
        assert sim.stats().last_rate == 4800
        assert await _port_is_free(sim.port)
    assert readout.identification is not None
    assert readout.identification.raw == "LGZ4ZMF100AC.M26"
    assert readout.baudrate == 4800
    assert readout.mode == "C"
    assert readout.checksum_ok is True
    assert len(readout.datasets) == 22
    assert readout.datasets[4].values[0].value == "042951.721"
    assert readout.raw.startswith(b"/LGZ4ZMF100AC.M26\r\n\x02")
    assert readout.duration > 0


@pytest.mark.parametrize(
    ("settings", "rate"),
    [({"baudrate": 2400}, 2400), ({"max_baudrate": 2400}, 2400), ({"max_baudrate": 3000}, 2400)],
)
async def test_mode_c_fixed_and_capped(settings: dict[str, int], rate: int) -> None:
    """A fixed rate or a cap: the ACK asks for the lower rate and the data comes at it."""
    with simulator("lgz_e350") as sim:
        readout = await read_meter(sim.port, fast(**settings))
        assert sim.stats().last_rate == rate
    assert readout.baudrate == rate
    assert len(readout.datasets) == 22


async def test_mode_a_sum_check() -> None:
    """Mode A (Kamstrup MC66): no ACK, no switch, SUM check byte."""
    with simulator("kamstrup_mc66") as sim:
        readout = await read_meter(sim.port, fast(mode="A", checksum=Checksum.SUM))
        with pytest.raises(ChecksumError):
            await read_meter(sim.port, fast(mode="A"))
    assert readout.baudrate == 300
    assert readout.checksum_ok is True
    assert [d.address for d in readout.datasets] == ["0.0", "6.8", "6.26", "6.31"]


async def test_mode_b_switches_without_ack() -> None:
    """Mode B: the identification's letter D means 4800 Bd; both sides switch, no ACK."""
    profile = PROFILES["lgz_e350"].replace(identification="LGZDZMF100AC.M26", mode="B")
    with simulator(profile) as sim:  # type: ignore[arg-type]
        readout = await read_meter(sim.port, fast(mode="B"))
        assert sim.stats().bytes_received == len(b"/?!\r\n")
    assert readout.baudrate == 4800
    assert len(readout.datasets) == 22


async def test_mode_d_push() -> None:
    """Mode D: listen only at the meter's push rate; no check byte."""
    with simulator("emh_ehz") as sim:
        readout = await read_meter(sim.port, fast(mode="D", baudrate=9600))
        assert sim.stats().bytes_received == 0
    assert readout.mode == "D"
    assert readout.baudrate == 9600
    assert readout.checksum_ok is None
    assert [d.address for d in readout.datasets][:2] == ["1-0:0.0.0*255", "1-0:1.8.1*255"]


async def test_mode_c_request_to_a_push_meter_gives_up() -> None:
    """A meter that pushes on its own answers a mode C request with junk at 300 Bd.

    The stream never pauses long enough for the character timeout, so the read must end
    when no identification has come within the answer time, not at the overall timeout.
    """
    with simulator("emh_ehz", push_interval=0.2) as sim:
        async with asyncio.timeout(30):
            with pytest.raises((ProtocolError, NoAnswerError)):
                await read_meter(sim.port, fast(mode="C"))
        assert sim.stats().bytes_sent > 0


async def test_mode_d_wrong_rate_is_not_a_meter() -> None:
    """Listening at the wrong rate gives junk: no valid identification -> ProtocolError."""
    with simulator("emh_ehz") as sim, pytest.raises((ProtocolError, NoAnswerError)):
        await read_meter(sim.port, ReadSettings(mode="D", answer_timeout=2.5, session_gap=0))


async def test_device_address() -> None:
    """A meter with an address answers /?address! only."""
    with simulator("lgz_e350", address="12345678") as sim:
        readout = await read_meter(sim.port, fast(address="0012345678"))
        assert len(readout.datasets) == 22
        with pytest.raises(NoAnswerError):
            await read_meter(
                sim.port, ReadSettings(address="999", answer_timeout=1.0, session_gap=0)
            )


async def test_wakeup() -> None:
    """A battery meter answers only after the NUL wake-up and the pause."""
    with simulator("kamstrup_mc66", wakeup=True) as sim:
        with pytest.raises(NoAnswerError):
            await read_meter(
                sim.port,
                ReadSettings(mode="A", checksum=Checksum.SUM, answer_timeout=1.0, session_gap=0),
            )
        readout = await read_meter(sim.port, fast(mode="A", checksum=Checksum.SUM, wakeup=True))
    assert len(readout.datasets) == 4


async def test_echo_of_request_and_ack_is_removed() -> None:
    """An IR head that echoes everything: the request and the ACK do not disturb the read."""
    with simulator("lgz_e350", echo=True, noise=b"\x7f\x7f\x00") as sim:
        readout = await read_meter(sim.port, fast())
    assert readout.checksum_ok is True
    assert len(readout.datasets) == 22


async def test_ace3000_noise_echo_and_failed_check() -> None:
    """The ACE3000 profile: 0x7F noise, echo, 300 Bd only; its check byte does not verify."""
    with simulator("itron_ace3000") as sim:
        readout = await read_meter(sim.port, fast(checksum=Checksum.NONE))
    assert readout.baudrate == 300
    assert readout.checksum_ok is None
    assert [d.address for d in readout.datasets] == ["F.F", "C.1", "C.5.0", "1.8.0"]


async def test_corrupt_data_checksum_and_no_checksum() -> None:
    """A corrupted value fails the XOR check (never returned); with no checksum it is data."""
    with simulator("lgz_e350") as sim:
        sim.inject(Fault.CORRUPT)
        with pytest.raises(ChecksumError):
            await read_meter(sim.port, fast())
        sim.inject(Fault.CORRUPT)
        readout = await read_meter(sim.port, fast(checksum=Checksum.NONE))
    assert readout.checksum_ok is None
    assert len(readout.datasets) == 22


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.SILENCE, NoAnswerError),
        (Fault.GARBAGE, ProtocolError),
        (Fault.TRUNCATE, ReadTimeoutError),
    ],
)
async def test_faults(fault: Fault, error: type[Iec62056Error]) -> None:
    """Silence, junk instead of an identification, a stream that stops."""
    with simulator("lgz_e350") as sim:
        sim.inject(fault)
        with pytest.raises(error):
            await read_meter(sim.port, ReadSettings(answer_timeout=1.5, session_gap=0))
        assert await _port_is_free(sim.port)


async def test_wrong_rate_data_is_never_returned() -> None:
    """Data sent at another rate arrives as junk and is reported as an error."""
    with simulator("lgz_e350") as sim:
        sim.inject(Fault.WRONG_RATE)
        with pytest.raises(Iec62056Error):
            await read_meter(sim.port, ReadSettings(answer_timeout=1.5, session_gap=0))


async def test_no_waiting_sends_ack_before_the_meter_listens() -> None:
    """no_waiting skips tr before the ACK: a strict meter that needs the ACK ignores it."""
    with simulator("lgz_e350", requires_ack=True) as sim:
        with pytest.raises(ReadTimeoutError):
            await read_meter(
                sim.port, ReadSettings(no_waiting=True, answer_timeout=1.5, session_gap=0)
            )
        readout = await read_meter(sim.port, fast())
    assert readout.baudrate == 4800


@pytest.mark.parametrize(("reset", "left_at"), [(True, 300), (False, 4800)])
async def test_reset_baudrate(reset: bool, left_at: int) -> None:
    """reset_baudrate puts the port back to the initial rate before it is closed."""
    with simulator("lgz_e350") as sim:
        await read_meter(sim.port, fast(reset_baudrate=reset))
        assert sim.client_rate() == left_at


async def test_switch_delay_still_catches_the_data() -> None:
    """A switch delay inside the meter's reaction time still reads the data."""
    with simulator("lgz_e350") as sim:
        readout = await read_meter(sim.port, fast(switch_delay=0.05))
    assert readout.checksum_ok is True


async def test_session_gap_between_reads() -> None:
    """The second session on a port starts no earlier than session_gap after the first.

    Both reads go through one SharedPort (what probes and coordinators share); the gap is
    checked against the port's own record of the first session's end.
    """
    with simulator("lgz_e350") as sim:
        port = SharedPort(sim.port)
        settings = ReadSettings(answer_timeout=4.0, session_gap=1.0)
        await read_meter(port, settings)
        ended = port.last_session_end
        assert ended is not None
        await read_meter(port, settings)
        assert sim.stats().requests == 2
        assert sim.timeline()["request_start"] >= ended + 1.0


async def test_sessions_on_one_port_never_overlap() -> None:
    """Two reads started together on one port run one after the other, both succeed."""
    with simulator("lgz_e350") as sim:
        first, second = await asyncio.gather(
            read_meter(sim.port, fast()), read_meter(sim.port, fast())
        )
        assert sim.stats().requests == 2
    assert first.checksum_ok is True
    assert second.checksum_ok is True


async def test_ultraheat_answers_at_2400() -> None:
    """Landis+Gyr Ultraheat: NULs + request at 300 Bd, identification and data at 2400 Bd."""
    with simulator("ultraheat_uh50") as sim:
        readout = await read_meter(sim.port, fast(mode="B", wakeup=True, answer_baudrate=2400))
        assert sim.stats().last_rate == 2400
    assert readout.identification is not None
    assert readout.identification.raw == "LUGCUH50"
    assert readout.baudrate == 2400
    assert readout.checksum_ok is True
    assert readout.find("6.8")[0].values[0].value == "0328.871"


async def test_ultraheat_without_answer_baudrate_is_not_read() -> None:
    """Listening at 300 Bd to a meter that answers at 2400 Bd gives no readout."""
    with simulator("ultraheat_uh50") as sim:
        with pytest.raises((ProtocolError, NoAnswerError)):
            await read_meter(sim.port, fast(mode="B", wakeup=True))
        assert sim.stats().requests == 1


async def test_overall_timeout() -> None:
    """The overall timeout ends a session whatever the per-byte timeouts say."""
    with simulator("lgz_e350") as sim:
        sim.inject(Fault.SILENCE)
        with pytest.raises(NoAnswerError):
            await read_meter(sim.port, ReadSettings(timeout=0.5, session_gap=0))


async def test_port_missing() -> None:
    """A path that does not exist."""
    with pytest.raises(PortNotFoundError):
        await read_meter("/dev/does-not-exist-dlms", ReadSettings(session_gap=0))


async def test_port_busy_and_released() -> None:
    """A port held by someone else is busy; after our read it is free again."""
    with simulator("lgz_e350") as sim:
        _reader, writer = await serialx.open_serial_connection(sim.port, baudrate=300)
        try:
            with pytest.raises(PortBusyError):
                await read_meter(sim.port, ReadSettings(session_gap=0))
        finally:
            writer.close()
            await writer.wait_closed()
        assert await _port_is_free(sim.port)


async def test_cancel_closes_the_port() -> None:
    """Cancelling a read mid-session closes the port."""
    with simulator("lgz_e350") as sim:
        task = asyncio.create_task(read_meter(sim.port, ReadSettings(session_gap=0)))
        await _wait_for_request(sim)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _port_is_free(sim.port)


async def test_unplug_mid_read() -> None:
    """Pulling the head during a read is a port error (or a timeout), never data."""
    with simulator("lgz_e350") as sim:
        task = asyncio.create_task(read_meter(sim.port, fast()))
        await _wait_for_request(sim)
        await asyncio.get_running_loop().run_in_executor(None, sim.unplug)
        with pytest.raises((PortError, ReadTimeoutError)):
            await task


@pytest.mark.slow
async def test_iskra_mt174_9600() -> None:
    """The MT174 (20 ms meter) at 9600 Bd: 343 data sets, XOR verified."""
    with simulator("iskra_mt174") as sim:
        readout = await read_meter(sim.port, fast())
    assert readout.baudrate == 9600
    assert readout.checksum_ok is True
    assert len(readout.datasets) == 343
