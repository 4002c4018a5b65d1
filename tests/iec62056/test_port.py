"""The serialx wrapper: error mapping, rate changes with and without reconfigure_port."""

from __future__ import annotations

import asyncio
import errno
import os
import pty
import termios
from typing import Any

import pytest

from custom_components.dlms_meter.iec62056 import (
    AddressRequiredError,
    PortBusyError,
    PortError,
    PortNotFoundError,
    ReadSettings,
    parse_identification,
    port as serial_port,
)
from custom_components.dlms_meter.iec62056.settings import choose_baudrate, wakeup_bytes


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file"), PortNotFoundError),
        (OSError(errno.EBUSY, "Serial port is already locked by another process"), PortBusyError),
        (OSError(errno.EAGAIN, "try again"), PortBusyError),
        (OSError("Could not exclusively lock port"), PortBusyError),
        (OSError(errno.EACCES, "Permission denied"), PortError),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), PortError),
        (ValueError(), PortError),
    ],
)
def test_error_mapping(exc: BaseException, kind: type[PortError]) -> None:
    """OS errors become the library's port errors."""
    mapped = serial_port.map_port_error(exc, "/dev/x")
    assert type(mapped) is kind
    assert "/dev/x" in str(mapped)


class _OldTransport:
    """What serialx 1.7.3's transport offers: no reconfigure_port, only .serial."""

    def __init__(self, real: Any) -> None:
        self.serial = real.serial


class _OldWriter:
    def __init__(self, real: Any) -> None:
        self.transport = _OldTransport(real.transport)


async def test_set_baudrate_both_serialx_apis() -> None:
    """reconfigure_port where present; otherwise the serial object's rate in an executor."""
    master, slave = pty.openpty()
    name = os.ttyname(slave)
    try:
        _reader, writer = await serial_port.open_port(name, 300)
        try:
            await serial_port.set_baudrate(writer, 9600)
            assert termios.tcgetattr(slave)[5] == termios.B9600
            await serial_port.set_baudrate(_OldWriter(writer), 1200)  # type: ignore[arg-type]
            assert termios.tcgetattr(slave)[5] == termios.B1200
            await serial_port.write(writer, b"/?!\r\n")
            await serial_port.drain(writer)
            assert os.read(master, 16) == b"/?!\r\n"
        finally:
            await serial_port.close_port(writer)
        # reopened at the rate it is already at: the pty quirk path
        _reader, writer = await serial_port.open_port(name, 1200)
        await serial_port.close_port(writer)
        assert termios.tcgetattr(slave)[5] == termios.B1200
    finally:
        os.close(master)
        os.close(slave)


def test_wire_time_and_masked_errors() -> None:
    """Wire time; port names in the library's port errors never carry secrets."""
    assert serial_port.wire_time(6, 300) == pytest.approx(0.2)
    url = "socket://meteruser:hunter4@host:2000/?key=abc"
    error = serial_port.map_port_error(OSError(f"cannot reach {url}"), url)
    assert "hunter4" not in str(error)
    assert "abc" not in str(error)
    assert "host:2000" in str(error)
    error = serial_port.map_port_error(FileNotFoundError(errno.ENOENT, "x"), url)
    assert "hunter4" not in str(error)


def test_settings_validation_and_defaults() -> None:
    """Invalid settings are refused; per-mode defaults."""
    for bad in (
        {"mode": "E"},
        {"baudrate": 1234},
        {"mode": "D", "baudrate": 0},
        {"initial_baudrate": 1},
        {"max_baudrate": 100},
        {"address": "x" * 33},
        {"timeout": -1},
    ):
        with pytest.raises(ValueError):  # noqa: PT011
            ReadSettings(**bad)
    assert ReadSettings(mode="D", baudrate=115200).start_baudrate == 115200
    assert ReadSettings(mode="D").start_baudrate == 2400
    assert ReadSettings(initial_baudrate=9600).start_baudrate == 9600
    assert ReadSettings().first_answer_timeout == 3.0
    assert ReadSettings(mode="D").first_answer_timeout == 15.0
    assert ReadSettings(answer_timeout=1.0).first_answer_timeout == 1.0
    assert ReadSettings(address="123").request() == b"/?123!\r\n"
    assert len(wakeup_bytes(300)) == 66
    assert set(wakeup_bytes(300)) == {0}


@pytest.mark.parametrize(
    ("ident", "settings", "rate"),
    [
        ("LGZ4X", {}, 4800),
        ("LGZ4X", {"mode": "A"}, 300),
        ("LGZ4X", {"baudrate": 19200}, 19200),
        ("LGZ4X", {"max_baudrate": 2400}, 2400),
        ("LGZ4X", {"max_baudrate": 9600}, 4800),
        ("KAM MC", {}, 300),
        ("LGZEX", {"mode": "B"}, 9600),
        ("LGZEX", {"mode": "B", "baudrate": 2400}, 2400),
        ("LGZ4X", {"mode": "B"}, 300),
    ],
)
def test_choose_baudrate(ident: str, settings: dict[str, Any], rate: int) -> None:
    """Automatic, fixed and capped rates per mode."""
    parsed = parse_identification(ident)
    assert parsed is not None
    assert choose_baudrate(parsed, ReadSettings(**settings)) == rate


def test_termios_error_is_mapped() -> None:
    """serialx 1.7.3 lets termios.error escape; its errno is used too."""
    mapped = serial_port.map_port_error(termios.error(errno.EBUSY, "busy"), "/dev/x")
    assert type(mapped) is PortBusyError


async def _write_until_it_fails(writer: serial_port.Writer) -> None:
    """Write and drain until the hang-up surfaces (on the next write or drain)."""
    for _ in range(50):
        await serial_port.write(writer, b"/?!\r\n")
        await serial_port.drain(writer)
        await asyncio.sleep(0.01)


async def test_hung_up_port_errors_are_port_errors() -> None:
    """Writing, draining and switching on a port whose other end is gone (the head was
    pulled) raise PortError, never a raw OSError."""
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    reader, writer = await serial_port.open_port(path, 300)
    try:
        os.close(master)  # hang-up: the slave now fails every write with EIO
        with pytest.raises(PortError):
            await _write_until_it_fails(writer)
        with pytest.raises(PortError):
            await serial_port.set_baudrate(writer, 4800)
    finally:
        await serial_port.close_port(writer)
    assert reader is not None


def test_module_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m custom_components.dlms_meter.iec62056`` runs the CLI (in-process here)."""
    import runpy
    import sys

    argv = sys.argv
    sys.argv = ["iec62056", "parse", "/nonexistent/capture.bin"]
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_module("custom_components.dlms_meter.iec62056", run_name="__main__")
    finally:
        sys.argv = argv
    assert exit_info.value.code == 1
    assert "cannot read /nonexistent/capture.bin" in capsys.readouterr().err


class FakeTime:
    """An injected clock whose sleep advances it (and yields to the loop)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_scheduler_is_fifo_with_the_quiet_time_between_sessions() -> None:
    """Five sessions queue on one port; they run in the order they asked, one at a time,
    each starting the gap after the previous one ended, whoever wakes first."""
    fake = FakeTime()
    port = serial_port.SharedPort("/dev/ttyFAKE", clock=fake.clock, sleep=fake.sleep)
    log: list[tuple[str, str, float]] = []
    release = {name: asyncio.Event() for name in "abcde"}

    async def job(name: str, duration: float) -> None:
        async with port.session(1.5):
            log.append(("start", name, fake.now))
            assert port.busy()
            await release[name].wait()
            fake.now += duration
            log.append(("end", name, fake.now))

    tasks = {}
    for name in "abcde":
        tasks[name] = asyncio.create_task(job(name, 2.0))
        await asyncio.sleep(0)  # each asks in turn
    assert port.waiting == 4
    # release them in reverse order: the port still goes to the oldest waiter
    for name in "edcba":
        release[name].set()
    await asyncio.gather(*tasks.values())
    starts = [entry for entry in log if entry[0] == "start"]
    assert [name for _, name, _ in starts] == list("abcde")
    ends = {name: at for kind, name, at in log if kind == "end"}
    for previous, current in zip("abcd", "bcde", strict=True):
        start = next(at for kind, name, at in starts if name == current)
        assert start == pytest.approx(ends[previous] + 1.5)
        assert log.index(("end", previous, ends[previous])) < log.index(("start", current, start))
    assert fake.sleeps == pytest.approx([1.5] * 4)
    assert not port.busy()
    assert port.waiting == 0


async def test_scheduler_cancelled_waiters_and_holders_pass_the_port_on() -> None:
    fake = FakeTime()
    port = serial_port.SharedPort("/dev/ttyFAKE", clock=fake.clock, sleep=fake.sleep)
    order: list[str] = []
    hold = asyncio.Event()

    async def job(name: str) -> None:
        async with port.session(0.0):
            order.append(name)
            if name == "a":
                await hold.wait()

    first = asyncio.create_task(job("a"))
    await asyncio.sleep(0)
    second = asyncio.create_task(job("b"))
    third = asyncio.create_task(job("c"))
    await asyncio.sleep(0)
    second.cancel()  # a waiter that gives up leaves the queue
    await asyncio.sleep(0)
    hold.set()
    await asyncio.gather(first, third)
    with pytest.raises(asyncio.CancelledError):
        await second
    assert order == ["a", "c"]
    # the holder is cancelled: the next waiter still gets the port
    hold.clear()
    first = asyncio.create_task(job("a"))
    await asyncio.sleep(0)
    fourth = asyncio.create_task(job("d"))
    await asyncio.sleep(0)
    first.cancel()
    await fourth
    assert order[-2:] == ["a", "d"]
    assert not port.busy()


async def test_scheduler_handed_over_then_cancelled() -> None:
    """A waiter cancelled right after it was handed the port passes it on."""
    port = serial_port.SharedPort("/dev/ttyFAKE")
    queue = port._queue()
    queue.busy = True
    loop = asyncio.get_running_loop()
    waiter_task = asyncio.create_task(port._acquire())
    await asyncio.sleep(0)
    other: asyncio.Future[None] = loop.create_future()
    queue.waiters.append(other)
    port._release(queue)  # hands the port to waiter_task ...
    waiter_task.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter_task
    assert other.done()  # passed on to the next waiter
    assert queue.busy


async def test_bus_addresses_refuse_requests_without_address() -> None:
    port = serial_port.SharedPort("/dev/ttyBUS")
    port.register_address("")
    async with port.session(0.0, address=""):
        pass  # one meter without address: fine
    port.register_address("0012345")
    assert port.addresses == frozenset({"", "12345"})
    assert port.is_bus
    with pytest.raises(AddressRequiredError) as info:
        async with port.session(0.0, address=""):
            pass
    assert info.value.kind == "address_required"
    async with port.session(0.0, address="12345"):
        pass
    async with port.session(0.0, address=None):  # listening only
        pass
    port.unregister_address("")
    port.register_address("12345")
    port.unregister_address("012345")
    assert port.addresses == frozenset({"12345"})
    port.unregister_address("unknown")
    port.unregister_address("12345")
    assert port.addresses == frozenset()
    assert serial_port.normalize_address("000") == "0"
    assert serial_port.normalize_address("") == ""


async def test_bus_registered_while_waiting_is_checked_again() -> None:
    fake = FakeTime()
    port = serial_port.SharedPort("/dev/ttyBUS", clock=fake.clock, sleep=fake.sleep)
    port.last_session_end = fake.now
    port.register_address("1")

    async def register_during_the_gap() -> None:
        port.register_address("2")

    async def read() -> None:
        async with port.session(1.0, address=""):
            pass

    task = asyncio.create_task(read())
    await register_during_the_gap()
    with pytest.raises(AddressRequiredError):
        await task


def test_shared_port_is_one_per_name() -> None:
    serial_port.forget_ports()
    assert serial_port.shared_port("/dev/x") is serial_port.shared_port("/dev/x")
    assert "secret" not in repr(serial_port.shared_port("socket://u:secret@h:1"))
    serial_port.forget_ports()
