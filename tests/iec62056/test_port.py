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
