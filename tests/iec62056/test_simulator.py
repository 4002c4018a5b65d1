"""The meter simulator, talked to with raw serialx over its pty (not through the driver)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
import contextlib
import os
from pathlib import Path
import signal
import subprocess
import sys
import termios
import threading
import time

import pytest
import serialx

from meter_sim.profiles import (
    PROFILES,
    MeterProfile,
    block_check,
    decode_capture_text,
    format_like,
    parse_number,
    register_dataset,
    split_capture,
)
from meter_sim.simulator import (
    Fault,
    MeterSimulator,
    main,
    uart_resample,
)

CORPUS = Path(__file__).parent.parent / "fixtures" / "corpus"
REQUEST = b"/?!\r\n"
CHAR300 = 10 / 300


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """These tests need no Home Assistant instance (overrides the top-level autouse fixture)."""


class Client:
    """A raw serialx client on the simulator's port (7E1, starts at 300 Bd)."""

    def __init__(self, reader: asyncio.StreamReader, writer: serialx.SerialStreamWriter) -> None:  # type: ignore[type-arg]
        self.reader = reader
        self.writer = writer
        self.buffer = b""

    async def set_rate(self, rate: int) -> None:
        transport = self.writer.transport
        if hasattr(transport, "reconfigure_port"):
            await transport.reconfigure_port(baudrate=rate)
        else:  # serialx < 1.8
            transport.serial.baudrate = rate

    def write(self, data: bytes) -> float:
        """Write and return the time the write began."""
        started = time.monotonic()
        self.writer.write(data)
        return started

    async def read_until(self, done: bytes | None, wait: float) -> bytes:
        """Read until `done` is in the data (None: for `wait` seconds); returns all read."""
        deadline = time.monotonic() + wait
        while done is None or done not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                chunk = await asyncio.wait_for(self.reader.read(4096), remaining)
            except TimeoutError:
                break
            if not chunk:
                break
            self.buffer += chunk
        data, self.buffer = self.buffer, b""
        return data

    async def read_until_true(self, done: Callable[[bytes], bool], wait: float = 20) -> bytes:
        """Read until `done(data)` holds (event-based; `wait` is only a generous deadline)."""
        deadline = time.monotonic() + wait
        data = b""
        while not done(data) and time.monotonic() < deadline:
            data += await self.read_until(None, min(0.1, max(0.0, deadline - time.monotonic())))
        return data

    async def read_message(self, wait: float) -> bytes:
        """Read up to ETX plus the check byte."""
        data = await self.read_until(b"\x03", wait)
        if b"\x03" in data and data.endswith(b"\x03"):
            data += await self.read_until(None, 0.05)
        return data

    async def request(self, sim: MeterSimulator, request: bytes = REQUEST) -> bytes:
        self.write(request)
        return await self.read_until(b"\n", 4)

    async def ack(
        self, z: str, sim: MeterSimulator, *, rate: int | None, option: str = "0"
    ) -> None:
        """Wait tr, send ACK 0 Z Y (Y = `option`), wait until it has left the wire, switch.

        Before switching, wait (event-based, generous deadline) until the simulator has taken
        the whole ACK off the virtual wire: on a busy machine its thread may do so later than
        the wire time, and a switch before that would garble the ACK itself.
        """
        await asyncio.sleep(sim.profile.tr + 0.01)
        started = self.write(b"\x060" + z.encode() + option.encode() + b"\r\n")
        await asyncio.sleep(max(0.0, started + 6 * CHAR300 + 0.002 - time.monotonic()))
        if rate is not None:
            deadline = time.monotonic() + 10
            # the simulator's thread offers no asyncio event for this: poll its timeline
            while "ack_end" not in sim.timeline() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.002)
            await self.set_rate(rate)

    async def read_session(self, sim: MeterSimulator, sessions: int = 1) -> bytes:
        """Read until the simulator has sent its data message to the end (event-based)."""
        deadline = time.monotonic() + 20
        data = b""
        while sim.stats().sessions < sessions and time.monotonic() < deadline:
            data += await self.read_until(None, 0.1)
        return data + await self.read_until(None, 0.3)


@contextlib.asynccontextmanager
async def connect(sim: MeterSimulator, rate: int = 300) -> AsyncIterator[Client]:
    reader, writer = await serialx.open_serial_connection(
        sim.port, baudrate=rate, parity=serialx.Parity.EVEN, byte_size=7
    )
    try:
        yield Client(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@pytest.fixture
def running() -> Iterator[list[MeterSimulator]]:
    """Simulators started by a test are stopped after it (even if it fails)."""
    sims: list[MeterSimulator] = []
    yield sims
    for sim in sims:
        sim.stop()


def start(
    running: list[MeterSimulator], profile: MeterProfile | str, **options: object
) -> MeterSimulator:
    sim = MeterSimulator(profile, **options)  # type: ignore[arg-type]
    running.append(sim)
    return sim.start()


def xor_ok(message: bytes) -> bool:
    start = message.index(b"\x02") + 1
    etx = message.index(b"\x03", start)
    return block_check(message[start : etx + 1], "xor") == message[etx + 1 : etx + 2]


# ------------------------------------------------------------------ pure functions


def test_uart_resample_same_rate_is_identity() -> None:
    assert uart_resample(b"/?!\r\n", 300, 300) == b"/?!\r\n"


def test_uart_resample_mismatched_rates_give_junk() -> None:
    data = b"1.8.0(001846.0*kWh)\r\n"
    slow_listener = uart_resample(data, 9600, 300)
    fast_listener = uart_resample(data, 300, 4800)
    assert slow_listener != data
    assert len(slow_listener) < len(data)  # a slow UART sees far fewer characters
    assert fast_listener != data
    assert len(fast_listener) > len(data)  # a fast UART sees many (mostly NUL) characters
    assert fast_listener.count(0) > len(data)
    assert uart_resample(data, 0, 300) == b""


def test_capture_bin_and_txt_give_the_same_profile() -> None:
    raw = (CORPUS / "raw" / "05_LandisGyr_E350_ZMF100AC_M26.bin").read_bytes()
    text = (CORPUS / "05_LandisGyr_E350_ZMF100AC_M26.txt").read_text()
    assert decode_capture_text(text) == raw
    from_bin = MeterProfile.from_capture(CORPUS / "raw" / "05_LandisGyr_E350_ZMF100AC_M26.bin")
    from_txt = MeterProfile.from_capture(CORPUS / "05_LandisGyr_E350_ZMF100AC_M26.txt")
    assert from_bin.identification == from_txt.identification == "LGZ4ZMF100AC.M26"
    assert from_bin.block == from_txt.block
    # The simulator's framing reproduces the captured message byte for byte.
    assert raw.endswith(from_bin.data_message())


def test_capture_lf_only_lines_are_kept() -> None:
    text = (CORPUS / "04_LandisGyr_E350_ZMF100AC_M27.txt").read_text()
    ident, block = split_capture(decode_capture_text(text))
    assert ident == "LGZ4ZMF100AC.M27"
    assert block.startswith(b"F.F(00)\n\n")
    assert block.endswith(b"!\r\n")


def test_capture_without_identification_is_rejected() -> None:
    with pytest.raises(ValueError, match="identification"):
        MeterProfile.from_bytes(b"\x02F.F(00)\r\n!\r\n\x03\x00", name="x")


def test_profiles_checks_match_the_captures() -> None:
    assert PROFILES["lgz_e350"].data_message().endswith(b"\x03\x01")
    assert PROFILES["iskra_mt174"].data_message().endswith(b"\x03f")
    assert PROFILES["kamstrup_mc66"].data_message().endswith(b"\x03a")  # 7-bit SUM
    assert PROFILES["iskra_mt174"].tr == pytest.approx(0.02)  # "ISk": lower-case third letter
    assert PROFILES["lgz_e350"].tr == pytest.approx(0.2)
    assert PROFILES["lgz_zmd120"].offered_rate == 300
    assert PROFILES["emh_ehz"].data_message().startswith(b"/EMH5----eHZ-E0018E\r\n\r\n1-0:")
    assert b"Y\x02" not in PROFILES["itron_ace3000"].block


def test_format_like_keeps_width_and_decimals() -> None:
    assert format_like("001846.0", 1846.04) == "001846.0"
    assert format_like("001846.0", 1847.25) == "001847.2"
    assert format_like(" 20000", 20001) == " 20001"
    assert format_like("0032826.545", 32826.5456) == "0032826.546"


def test_capture_variants() -> None:
    # LF-only blank line (mode D), no "!" at all, "!" followed by a bare LF
    ident, block = split_capture(b"/ABC5X\r\n\n1.8.0(1)\n!\nJUNK")
    assert (ident, block) == ("ABC5X", b"1.8.0(1)\n!\n")
    assert split_capture(b"/ABC5X\r\n\x021.8.0(1)")[1] == b"1.8.0(1)\r\n!\r\n"
    assert split_capture(b"/ABC5X\r\n\x021.8.0(1)!\x03\x00")[1] == b"1.8.0(1)!\r\n"
    profile = MeterProfile.from_bytes(
        b"\x021.8.0(1)\r\n!\r\n\x03\x00", name="x", identification="ABCD1", mode="B"
    )
    assert profile.offered_rate == 4800
    assert profile.replace(mode="A").offered_rate == 300
    assert profile.replace(mode="D", push_rate=9600).offered_rate == 9600
    assert profile.replace(reaction_time=0.05).tr == pytest.approx(0.05)
    assert profile.value("1.8.0") == "1"
    with pytest.raises(KeyError):
        profile.value("2.8.0")


def test_format_like_edge_cases() -> None:
    assert format_like("n/a", 1.5) == "1.500"
    assert format_like("12.", 13.2) == "13."
    assert format_like("+001.0", 2) == "+002.0"
    with pytest.raises(ValueError, match="not a number"):
        parse_number("abc")


def test_profile_from_a_capture_path(running: list[MeterSimulator]) -> None:
    sim = MeterSimulator(str(CORPUS / "raw" / "07_Itron_EM214.bin"))
    assert sim.profile.identification == "ITR5EM214"
    assert sim.profile.name == "07_Itron_EM214"


def test_wait_for_times_out() -> None:
    sim = MeterSimulator("lgz_e350")
    assert not sim.wait_for(lambda s: s.sessions > 0, 0.05)
    assert sim.wait_for(lambda s: s.sessions == 0, 0.05)
    assert sim.client_rate() is None
    assert sim.timeline() == {}


def test_unknown_profile_is_rejected() -> None:
    with pytest.raises(KeyError):
        MeterSimulator("no_such_meter")


def test_set_value_rejects_unknown_register_and_bad_value() -> None:
    sim = MeterSimulator("lgz_e350")
    with pytest.raises(KeyError):
        sim.set_value("99.99.99", "1")
    with pytest.raises(ValueError, match="illegal"):
        sim.set_value("1.8.0", "1(2")


# ------------------------------------------------------------------ lifecycle


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_start_stop_leaves_no_fd_thread_or_link() -> None:
    fds, threads = _open_fds(), threading.active_count()
    sim = MeterSimulator("lgz_e350")
    with sim:
        port = sim.port
        assert Path(port).is_symlink()
        assert Path(os.readlink(port)).exists()
        assert sim.is_running()
        assert threading.active_count() == threads + 1
    assert not sim.is_running()
    assert not Path(port).exists()
    assert not Path(port).parent.exists()
    assert threading.active_count() == threads
    assert _open_fds() == fds
    sim.stop()  # idempotent


def test_start_twice_is_an_error(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    with pytest.raises(RuntimeError):
        sim.start()


def test_port_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        _ = MeterSimulator("lgz_e350").port


async def test_async_context_manager_and_session_leave_no_fd() -> None:
    fds = _open_fds()
    async with MeterSimulator("lgz_e350") as sim, connect(sim) as client:
        assert (await client.request(sim)).startswith(b"/LGZ4")
    await asyncio.sleep(0.05)
    assert _open_fds() - fds <= {"epoll"}  # nothing of the simulator's left open
    assert not sim.is_running()


def test_start_failure_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    fds, threads = _open_fds(), threading.active_count()
    sim = MeterSimulator("lgz_e350", link=tmp_path / "missing-dir" / "tty")
    with pytest.raises(RuntimeError, match="failed to start"):
        sim.start()
    assert not sim.is_running()
    assert _open_fds() == fds
    assert threading.active_count() == threads


def test_link_option_uses_the_given_path(tmp_path: Path, running: list[MeterSimulator]) -> None:
    link = tmp_path / "ttyD0"
    sim = start(running, "lgz_e350", link=link)
    assert sim.port == str(link)
    assert link.is_symlink()
    sim.stop()
    assert not link.exists()
    assert tmp_path.exists()


# ------------------------------------------------------------------ mode C


async def test_identification_comes_after_wire_time_and_reaction_time(
    running: list[MeterSimulator],
) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        sent = client.write(REQUEST)
        ident = await client.read_until(b"\n", 4)
        elapsed = time.monotonic() - sent
    assert ident == b"/LGZ4ZMF100AC.M26\r\n"
    # request on the wire + tr + identification on the wire
    assert elapsed >= 5 * CHAR300 + 0.2 + len(ident) * CHAR300 - 0.005
    assert sim.stats().requests == 1


async def test_ack_switches_to_the_offered_rate(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        await client.request(sim)
        await client.ack("4", sim, rate=4800)
        message = await client.read_message(3)
    assert message == PROFILES["lgz_e350"].data_message()
    assert xor_ok(message)
    assert sim.wait_for(lambda s: s.sessions == 1, 2)
    stats = sim.stats()
    assert stats.last_rate == 4800
    assert stats.bytes_sent == 19 + len(message)
    assert stats.bytes_received == 5 + 6
    t = sim.timeline()
    assert t["request_end"] - t["request_start"] == pytest.approx(5 * CHAR300, abs=0.002)
    assert t["ident_start"] - t["request_end"] >= 0.2
    assert t["ack_start"] - t["ident_end"] >= 0.2
    assert t["data_start"] - t["ack_end"] >= 0.2
    assert t["data_end"] - t["data_start"] >= len(message) * 10 / 4800 - 0.002


async def test_ack_with_lower_rate_and_zero(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        await client.request(sim)
        await client.ack("3", sim, rate=2400)
        assert xor_ok(await client.read_message(3))
        assert sim.stats().last_rate == 2400
        await asyncio.sleep(0.1)
        await client.set_rate(300)  # the meter is back at 300 after the session
        await client.request(sim)
        await client.ack("0", sim, rate=None)
        first = await client.read_until(b"\n", 2)
    assert first == b"\x02F.F(00)\r\n"
    assert sim.stats().last_rate == 300


async def test_ack_above_the_offer_stays_at_300(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        await client.request(sim)
        await client.ack("5", sim, rate=None)
        first = await client.read_until(b"\n", 2)
    assert first == b"\x02F.F(00)\r\n"
    assert sim.stats().last_rate == 300


async def test_listening_at_the_wrong_rate_gives_junk(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        await client.request(sim)
        await client.ack("4", sim, rate=9600)  # the meter sends at 4800
        junk = await client.read_session(sim)
    assert junk
    assert b"F.F(00)" not in junk
    assert b"\x03\x01" not in junk
    assert sim.wait_for(lambda s: s.sessions == 1, 2)


async def test_not_switching_gives_junk(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        await client.request(sim)
        await client.ack("4", sim, rate=None)  # stays at 300 while the meter sends at 4800
        junk = await client.read_session(sim)
    assert b"F.F" not in junk
    assert sim.wait_for(lambda s: s.sessions == 1, 2)


async def test_request_at_the_wrong_rate_is_not_understood(
    running: list[MeterSimulator],
) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim, rate=9600) as client:
        client.write(REQUEST)
        answer = await client.read_until(None, 1.0)
    assert answer == b""
    assert sim.stats().requests == 0
    assert sim.stats().bytes_received < 5


async def test_switching_before_the_ack_has_left_garbles_it(
    running: list[MeterSimulator],
) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        await client.request(sim)
        await asyncio.sleep(0.21)
        client.write(b"\x0604 0\r\n".replace(b" ", b""))
        await asyncio.sleep(0.05)  # 1.5 of 6 characters have left the wire
        await client.set_rate(4800)
        answer = await client.read_until(None, 2.6)
    assert answer == b""  # the E350 needs a valid ACK: silence
    assert sim.stats().sessions == 0


async def test_ack_too_early_is_ignored(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        await client.request(sim)
        client.write(b"\x06040\r\n")  # no wait of tr after the identification
        await asyncio.sleep(6 * CHAR300 + 0.01)
        await client.set_rate(4800)
        answer = await client.read_until(None, 2.2)
    assert answer == b""
    assert sim.stats().sessions == 0


async def test_ack_too_early_is_accepted_when_not_strict(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350", strict_timing=False)
    async with connect(sim) as client:
        await client.request(sim)
        started = client.write(b"\x06040\r\n")
        await asyncio.sleep(started + 6 * CHAR300 + 0.003 - time.monotonic())
        await client.set_rate(4800)
        assert xor_ok(await client.read_message(3))


async def test_no_ack_falls_back_to_300(running: list[MeterSimulator]) -> None:
    sim = start(running, "iskra_mt174")
    async with connect(sim) as client:
        ident = await client.request(sim)
        ident_end = time.monotonic()
        first = await client.read_until(b"\n", 4)
        waited = time.monotonic() - ident_end
    assert ident == b"/ISk5MT174-0001\r\n"
    assert first == b"\x021-0:0.9.1*255(201455)\r\n"
    assert waited >= 1.5  # tt, then the first line at 300 Bd
    assert sim.stats().last_rate == 300


async def test_no_ack_meter_that_needs_it_stays_silent(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        await client.request(sim)
        answer = await client.read_until(None, 2.6)
    assert answer == b""
    assert sim.stats().sessions == 0
    assert sim.stats().requests == 1


async def test_300_only_meter_never_switches(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_zmd120")
    async with connect(sim) as client:
        ident = await client.request(sim)
        await client.ack("0", sim, rate=None)
        first = await client.read_until(b"\n", 2)
    assert ident == b"/LGZ02ZMD120APt.G03\r\n"
    assert first == b"\x02F.F(00000000)\r\n"


async def test_junk_lines_are_ignored(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        client.write(b"hello\r\n")
        assert await client.request(sim) == b"/LGZ4ZMF100AC.M26\r\n"
        await asyncio.sleep(0.2)
        client.write(b"x\r\n")
        await client.ack("4", sim, rate=4800)
        assert xor_ok(await client.read_message(3))


async def test_new_request_instead_of_ack_restarts(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        await client.request(sim)
        await asyncio.sleep(0.3)
        assert await client.request(sim) == b"/LGZ4ZMF100AC.M26\r\n"
    assert sim.stats().requests == 2


# ------------------------------------------------------------------ modes A, B, D


async def test_mode_a_sends_data_right_after_the_identification(
    running: list[MeterSimulator],
) -> None:
    sim = start(running, "kamstrup_mc66")
    async with connect(sim) as client:
        ident = await client.request(sim)
        message = await client.read_message(5)
    assert ident == b"/KAM MC\r\n"
    assert message == PROFILES["kamstrup_mc66"].data_message()
    assert message.endswith(b"\x03a")


async def test_mode_b_switches_without_ack(running: list[MeterSimulator]) -> None:
    profile = PROFILES["lgz_e350"].replace(mode="B", identification="LGZDZMF100AC.M26")
    sim = start(running, profile)
    async with connect(sim) as client:
        assert await client.request(sim) == b"/LGZDZMF100AC.M26\r\n"
        await client.set_rate(4800)
        message = await client.read_message(3)
    assert xor_ok(message)
    assert sim.stats().last_rate == 4800


async def test_mode_d_pushes_at_its_rate(running: list[MeterSimulator]) -> None:
    sim = start(running, "emh_ehz", push_interval=0.3)
    async with connect(sim, rate=9600) as client:
        await client.read_until(b"!\r\n", 1)  # maybe a partial telegram
        telegram = await client.read_until(b"!\r\n", 1)
    assert telegram.startswith(b"/EMH5----eHZ-E0018E\r\n\r\n")
    assert telegram == PROFILES["emh_ehz"].data_message()
    pushes = sim.pushes
    assert pushes
    start_, end = pushes[-1]
    assert end - start_ >= len(telegram) * 10 / 9600 - 0.002
    assert sim.stats().last_rate == 9600


async def test_mode_d_at_the_wrong_rate_is_junk(running: list[MeterSimulator]) -> None:
    sim = start(running, "emh_ehz", push_interval=0.3)
    async with connect(sim, rate=2400) as client:
        junk = await client.read_until_true(lambda d: len(d) >= 10)
    assert junk
    assert b"EMH" not in junk


# ------------------------------------------------------------------ options


async def test_address_is_required_and_leading_zeros_do_not_matter(
    running: list[MeterSimulator],
) -> None:
    sim = start(running, "lgz_e350", address="12345678")
    async with connect(sim) as client:
        client.write(REQUEST)
        assert await client.read_until(None, 0.8) == b""
        client.write(b"/?999!\r\n")
        assert await client.read_until(None, 0.8) == b""
        assert await client.request(sim, b"/?0012345678!\r\n") == b"/LGZ4ZMF100AC.M26\r\n"
    assert sim.stats().ignored_requests == 2
    assert sim.stats().requests == 1


async def test_wakeup_is_required(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350", wakeup=True)
    async with connect(sim) as client:
        client.write(REQUEST)
        assert await client.read_until(None, 0.8) == b""
        # too short: 1 s of NULs
        started = client.write(b"\x00" * 30)
        await asyncio.sleep(started + 30 * CHAR300 + 1.5 - time.monotonic())
        client.write(REQUEST)
        assert await client.read_until(None, 0.8) == b""
        # 2.2 s of NULs, 1.5 s after the last one has left the wire
        started = client.write(b"\x00" * 66)
        await asyncio.sleep(started + 66 * CHAR300 + 1.5 - time.monotonic())
        ident = await client.request(sim)
    assert ident == b"/LGZ4ZMF100AC.M26\r\n"
    assert sim.stats().ignored_requests == 2


async def test_wakeup_without_pause_is_ignored(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350", wakeup=True)
    async with connect(sim) as client:
        client.write(b"\x00" * 66 + REQUEST)
        assert await client.read_until(None, 3.2) == b""
    assert sim.stats().ignored_requests == 1


async def test_echo_returns_what_the_client_sends(running: list[MeterSimulator]) -> None:
    sim = start(running, "itron_ace3000")
    async with connect(sim) as client:
        answer = await client.request(sim)
        answer += await client.read_until(b"\n", 2)
    assert answer.startswith(REQUEST)
    assert answer.endswith(b"\x7f" * 5 + b"/ACE0\\3k260V01.19\r\n")


async def test_echo_option_on_any_profile(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350", echo=True)
    async with connect(sim) as client:
        echoed = await client.request(sim)
        ident = await client.read_until(b"\n", 2)
        await asyncio.sleep(0.2)
        client.write(b"\x06040\r\n")
        ack_echo = await client.read_until(b"\n", 1)
    assert echoed == REQUEST
    assert ident == b"/LGZ4ZMF100AC.M26\r\n"
    assert ack_echo == b"\x06040\r\n"


async def test_set_value_changes_the_next_readout(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    sim.set_value("1.8.0", "061600.000")
    assert sim.value("1.8.0") == "061600.000"
    async with connect(sim) as client:
        await client.request(sim)
        await client.ack("4", sim, rate=4800)
        message = await client.read_message(3)
    assert b"\r\n1.8.0(061600.000*kWh)\r\n" in message
    assert xor_ok(message)


def test_full_obis_address_matches_reduced_form(running: list[MeterSimulator]) -> None:
    sim = MeterSimulator("iskra_mt174")
    sim.set_value("1.8.0", "0009999.999")
    assert sim.value("1-0:1.8.0*255") == "0009999.999"
    assert sim.value("1-0:1.8.0*01") != "0009999.999"  # history values are other registers


def test_growth_counts_up(running: list[MeterSimulator]) -> None:
    sim = MeterSimulator("lgz_zmd120", grow={"1.8.0": 3600.0 * 100})  # 100 kWh per second
    before = float(sim.value("1.8.0"))
    time.sleep(0.05)
    after = float(sim.value("1.8.0"))
    assert after > before
    assert len(sim.value("1.8.0")) == len("001846.0")
    sim.set_value("1.8.0", "000001.0")  # a fixed value stops the growth
    assert sim.value("1.8.0") == "000001.0"


# ------------------------------------------------------------------ faults


async def test_fault_silence_skips_one_request(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    sim.inject(Fault.SILENCE)
    assert sim.pending_faults() == {Fault.SILENCE: 1}
    async with connect(sim) as client:
        client.write(REQUEST)
        assert await client.read_until(None, 1.0) == b""
        assert await client.request(sim) == b"/LGZ4ZMF100AC.M26\r\n"
    stats = sim.stats()
    assert stats.faults_injected == 1
    assert stats.ignored_requests == 1
    assert sim.pending_faults() == {}


async def test_fault_corrupt_breaks_the_check(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    sim.inject(Fault.CORRUPT)
    async with connect(sim) as client:
        await client.request(sim)
        await client.ack("4", sim, rate=4800)
        message = await client.read_message(3)
    good = PROFILES["lgz_e350"].data_message()
    assert len(message) == len(good)
    assert sum(a != b for a, b in zip(message, good, strict=True)) == 1
    assert not xor_ok(message)


async def test_fault_truncate_cuts_the_message(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    sim.inject(Fault.TRUNCATE)
    async with connect(sim) as client:
        await client.request(sim)
        await client.ack("4", sim, rate=4800)
        message = await client.read_session(sim)
    good = PROFILES["lgz_e350"].data_message()
    assert message == good[: len(good) // 2]


async def test_fault_garbage_instead_of_identification(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    sim.inject(Fault.GARBAGE)
    async with connect(sim) as client:
        client.write(REQUEST)
        junk = await client.read_until(b"\r\n", 20)
    assert len(junk) > 20
    assert b"/" not in junk
    assert b"LGZ" not in junk


async def test_fault_wrong_rate(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    sim.inject(Fault.WRONG_RATE)
    async with connect(sim) as client:
        await client.request(sim)
        await client.ack("4", sim, rate=4800)
        junk = await client.read_session(sim)
    assert b"F.F(00)" not in junk
    assert sim.stats().last_rate == 4800  # negotiated, but not what was used


async def test_faults_in_mode_d(running: list[MeterSimulator]) -> None:
    sim = MeterSimulator("emh_ehz", push_interval=0.25)
    running.append(sim)
    sim.inject(Fault.SILENCE)  # the first push is skipped
    sim.inject(Fault.TRUNCATE)  # the second is cut in half
    sim.start()
    full = PROFILES["emh_ehz"].data_message()
    async with connect(sim, rate=9600) as client:
        stream = await client.read_until_true(lambda d: len(d) >= len(full) // 2 + 2 * len(full))
    assert stream.startswith(full[: len(full) // 2] + full + full)
    assert sim.stats().faults_injected == 2
    sim.clear_faults()
    assert sim.pending_faults() == {}


async def test_garbage_push_in_mode_d(running: list[MeterSimulator]) -> None:
    sim = MeterSimulator("emh_ehz", push_interval=0.2)
    running.append(sim)
    sim.inject(Fault.GARBAGE)
    sim.start()
    full = PROFILES["emh_ehz"].data_message()
    async with connect(sim, rate=9600) as client:
        # the next push may follow before the read returns: look for the whole telegram
        stream = await client.read_until_true(lambda d: full in d)
    assert not stream.startswith(full)  # the garbage came first
    assert full in stream


def test_a_client_that_does_not_read_causes_overruns(running: list[MeterSimulator]) -> None:
    profile = PROFILES["iskra_mt174"].replace(mode="D", push_rate=115200, push_interval=0.05)
    sim = start(running, profile)
    fd = os.open(sim.port, os.O_RDWR | os.O_NOCTTY)
    try:
        attrs = termios.tcgetattr(fd)
        attrs[4] = attrs[5] = termios.B115200
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        assert sim.wait_for(lambda s: s.overruns > 0, 5)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ unplug / replug


async def test_unplug_and_replug(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    port = sim.port
    old_device = sim.device
    async with connect(sim) as client:
        sim.unplug()
        assert not _link_exists(port)
        assert not sim.is_plugged()
        assert sim.client_rate() is None
        # The client sees a hang-up: end of stream or an error, never a hang.
        with contextlib.suppress(OSError, serialx.SerialException):
            assert await asyncio.wait_for(client.reader.read(10), 2) == b""
    with pytest.raises((OSError, serialx.SerialException)):
        async with connect(sim):
            pass
    sim.replug()
    assert _link_exists(port)
    assert sim.device is not None
    assert sim.is_plugged()
    async with connect(sim) as client:
        assert await client.request(sim) == b"/LGZ4ZMF100AC.M26\r\n"
        assert sim.client_rate() == 300
    assert sim.stats().unplugs == 1
    assert old_device is not None


def _link_exists(path: str) -> bool:
    return os.path.islink(path)


def test_unplug_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        MeterSimulator("lgz_e350").unplug()


def test_unplug_replug_stop_leaves_nothing(running: list[MeterSimulator]) -> None:
    fds, threads = _open_fds(), threading.active_count()
    sim = MeterSimulator("emh_ehz")
    with sim:
        sim.unplug()
        sim.unplug()  # twice is harmless
        sim.replug()
        sim.replug()
    assert _open_fds() == fds
    assert threading.active_count() == threads


# ------------------------------------------------------------------ CLI


def test_cli_prints_the_port_and_stops_on_sigint(tmp_path: Path) -> None:
    link = tmp_path / "ttyCLI"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meter_sim.simulator",
            "lgz_e350",
            "--link",
            str(link),
            "--echo",
            "--grow",
            "1.8.0=1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent.parent,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(link)
        assert link.is_symlink()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not link.exists()


def test_cli_in_process_until_sigint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "ttyIN"
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    before = signal.getsignal(signal.SIGINT)
    timer.start()
    try:
        args = ["emh_ehz", "--link", str(link), "--noise", "--push-interval", "0.2"]
        assert main([*args, "--grow", "1.8.1"]) == 0
    finally:
        timer.cancel()
        timer.join()
    out = capsys.readouterr()
    assert out.out.splitlines()[0] == str(link)
    assert "sessions=" in out.err
    assert signal.getsignal(signal.SIGINT) is before
    assert not link.exists()


def test_cli_rejects_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["no_such_meter"])
    assert "unknown profile" in capsys.readouterr().err


async def test_ultraheat_wakes_on_nuls_and_answers_at_2400(running: list[MeterSimulator]) -> None:
    """Ultraheat profile: a request without NULs is ignored; 40 NULs + request (no pause) are
    answered with identification and data at 2400 Bd, without any ACK."""
    sim = start(running, "ultraheat_uh50")
    async with connect(sim) as client:
        client.write(REQUEST)
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(
            None, sim.wait_for, lambda s: s.ignored_requests == 1, 20.0
        )
        started = client.write(bytes(40) + REQUEST)
        await asyncio.sleep(max(0.0, started + 45 * CHAR300 + 0.01 - time.monotonic()))
        await client.set_rate(2400)
        answer = await client.read_until_true(lambda d: b"\x03" in d and not d.endswith(b"\x03"))
    assert answer.startswith(b"/LUGCUH50\r\n\x02")
    assert xor_ok(answer[answer.index(b"\x02") :])
    assert sim.stats().last_rate == 2400
    assert sim.stats().requests == 1


# ------------------------------------------------------------------ programming mode


def soh(scope: bytes) -> bytes:
    """``SOH scope BCC`` (XOR), the client's command messages."""
    return b"\x01" + scope + block_check(scope, "xor")


def stx(scope: bytes) -> bytes:
    return b"\x02" + scope + block_check(scope, "xor")


async def _open_programming(client: Client, sim: MeterSimulator) -> bytes:
    """Request, identification, ACK 0 4 1, switch to 4800: return the operand message."""
    assert await client.request(sim) == b"/LGZ4ZMF100AC.M26\r\n"
    await client.ack("4", sim, rate=4800, option="1")
    return await client.read_message(10)


async def _command(client: Client, message: bytes, done: bytes = b"\x03") -> bytes:
    """Send a command at the programming rate and read the answer (ETX + check, or one byte)."""
    client.write(message)
    if done == b"\x03":
        return await client.read_message(10)
    return await client.read_until(done, 10)


async def test_programming_mode_on_the_wire(running: list[MeterSimulator]) -> None:
    """P0, R5/R1 answers as in the readout, (ERROR), NAK on a bad check, our NAK repeats,
    writes and executes refused, B0 ends it: the next request is answered at 300 Bd."""
    sim = start(running, "lgz_e350")
    block = PROFILES["lgz_e350"].block
    async with connect(sim) as client:
        assert await _open_programming(client, sim) == soh(b"P0\x02()\x03")
        answer = await _command(client, soh(b"R5\x021.8.1()\x03"))
        assert answer == stx(register_dataset(block, "1.8.1") + b"\x03")
        assert answer == stx(b"1.8.1(042951.721*kWh)\x03")
        assert await _command(client, soh(b"R1\x02C.1.0()\x03")) == stx(b"C.1.0(13647123)\x03")
        assert await _command(client, soh(b"R5\x029.9.9()\x03")) == stx(b"(ERROR)\x03")
        assert await _command(client, b"\x15") == stx(b"(ERROR)\x03")  # repeated
        bad = soh(b"R5\x021.8.1()\x03")[:-1] + b"\x00"
        assert await _command(client, bad, b"\x15") == b"\x15"
        for forbidden in (b"W5\x021.8.1(0)\x03", b"E2\x02x()\x03", b"W1\x020.9.1(1)\x03"):
            assert await _command(client, soh(forbidden), b"\x15") == b"\x15"
        client.write(soh(b"B0\x03"))
        await asyncio.sleep(6 * 10 / 4800 + 0.05)
        await client.set_rate(300)
        assert await client.request(sim) == b"/LGZ4ZMF100AC.M26\r\n"
    stats = sim.stats()
    assert stats.programming_sessions == 1
    assert stats.register_reads == 3  # the message with the bad check was not read
    assert stats.naks == 1
    assert stats.forbidden_commands == 3
    assert stats.sessions == 0
    assert stats.last_rate == 4800


async def test_programming_password(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350", password="00000000")
    async with connect(sim) as client:
        await _open_programming(client, sim)
        assert await _command(client, soh(b"R5\x021.8.1()\x03")) == stx(b"(ERROR)\x03")
        assert await _command(client, soh(b"P1\x02(12345678)\x03"), b"\x15") == b"\x15"
        assert await _command(client, soh(b"P1\x02(00000000)\x03"), b"\x06") == b"\x06"
        answer = await _command(client, soh(b"R5\x021.8.1()\x03"))
        assert answer == stx(b"1.8.1(042951.721*kWh)\x03")


async def test_programming_corrupt_fault_and_idle(
    running: list[MeterSimulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corrupt answer, repeated intact after our NAK; silence ends programming mode."""
    monkeypatch.setattr("meter_sim.simulator.PROGRAMMING_IDLE", 0.5)
    sim = start(running, "lgz_e350")
    sim.inject(Fault.CORRUPT)
    async with connect(sim) as client:
        await _open_programming(client, sim)
        good = stx(b"1.8.1(042951.721*kWh)\x03")
        corrupt = await _command(client, soh(b"R5\x021.8.1()\x03"))
        assert corrupt != good
        assert len(corrupt) == len(good)
        assert await _command(client, b"\x15") == good
        client.write(b"\x06")  # an ACK is ignored
        await asyncio.sleep(1.0)  # idle: back to 300 Bd
        await client.set_rate(300)
        assert await client.request(sim) == b"/LGZ4ZMF100AC.M26\r\n"


async def test_programming_ended_by_a_new_request(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350")
    async with connect(sim) as client:
        await _open_programming(client, sim)
        client.write(b"/?!\r\n")  # at 4800 Bd: the meter hears the request and starts over
        await asyncio.sleep(5 * 10 / 4800 + 0.01)
        await client.set_rate(300)  # it answers at 300 Bd, tr after the request
        assert await client.read_until(b"\n", 4) == b"/LGZ4ZMF100AC.M26\r\n"
    assert sim.stats().requests == 2


async def test_meter_without_programming_mode_sends_its_readout(
    running: list[MeterSimulator],
) -> None:
    """ACK 0 Z 1 to a meter without programming mode: unsupported, the readout at 300 Bd."""
    sim = start(running, "itron_em214", programming=False)
    async with connect(sim) as client:
        await client.request(sim)
        await client.ack("5", sim, rate=None, option="1")
        data = await client.read_session(sim)
    assert data.startswith(b"\x02F.F(00000000)")
    assert sim.stats().last_rate == 300
    assert sim.stats().programming_sessions == 0


async def test_bus_meters_answer_their_address_only(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350", address="1001", bus=[("itron_em214", "2002")])
    async with connect(sim) as client:
        assert await client.request(sim, b"/?2002!\r\n") == b"/ITR5EM214\r\n"
        await client.read_session(sim)  # no ACK: the EM214 sends its readout at 300 Bd
        assert await client.request(sim, b"/?001001!\r\n") == b"/LGZ4ZMF100AC.M26\r\n"
        await asyncio.sleep(2.0)  # the E350 needs an ACK: it gives up after tt
        assert await client.read_until(None, 0.3) == b""
        client.write(b"/?3003!\r\n")
        assert await client.read_until(None, 0.8) == b""
        client.write(REQUEST)
        garbled = await client.read_until_true(lambda data: len(data) >= 17)
    idents = (b"/LGZ4ZMF100AC.M26\r\n", b"/ITR5EM214\r\n")
    assert garbled not in idents
    assert garbled[:1] == b"/"
    assert (
        bytes(a & b for a, b in zip(idents[0], idents[1] + b"\x7f" * 8, strict=False))[:10]
        == garbled[:10]
    )
    stats = sim.stats()
    assert stats.collisions == 1
    assert stats.ignored_requests == 1
    assert [meter.address for meter in sim.meters] == ["1001", "2002"]


def test_bus_values_belong_to_the_first_meter(running: list[MeterSimulator]) -> None:
    sim = start(running, "lgz_e350", address="1", bus=[("itron_em214", "2")])
    sim.set_value("1.8.1", "000001.000")
    assert sim.value("1.8.1") == "000001.000"
    assert sim._render_block(0.0, sim.meters[1]) == PROFILES["itron_em214"].block


def test_cli_bus_and_programming_options(capsys: pytest.CaptureFixture[str]) -> None:
    """--bus needs PROFILE:ADDRESS and distinct addresses; --password/--no-programming parse."""
    with pytest.raises(SystemExit):
        main(["lgz_e350", "--bus", "itron_em214"])
    assert "PROFILE:ADDRESS" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["lgz_e350", "--bus", "itron_em214:2", "--password", "x", "--no-programming"])
    assert "own device address" in capsys.readouterr().err


def test_cli_runs_a_bus_until_sigint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "ttyBUS"
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        args = ["lgz_e350", "--link", str(link), "--address", "1", "--bus", "itron_em214:2"]
        assert main([*args, "--password", "pw", "--no-programming"]) == 0
    finally:
        timer.cancel()
        timer.join()
    assert capsys.readouterr().out.splitlines()[0] == str(link)
