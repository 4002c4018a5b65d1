"""Thin serialx wrapper: open 7E1, change the rate, drain, close, map errors.

Works with serialx 1.7.3 (no ``reconfigure_port``: the rate is set on the underlying
serial object in an executor thread, as the old API's blocking setter does termios
calls) and with newer serialx (``transport.reconfigure_port``, already non-blocking).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time
from typing import Any

import serialx

from .errors import Iec62056Error, PortBusyError, PortError, PortNotFoundError

try:  # serialx 1.7.3 lets termios.error (not an OSError) escape from tcsetattr
    from termios import error as _TermiosError
except ImportError:  # pragma: no cover - not POSIX
    _TermiosError = OSError  # type: ignore[assignment,misc]

_PORT_ERRORS = (OSError, _TermiosError, serialx.SerialException, ValueError)

type Reader = asyncio.StreamReader
type Writer = serialx.SerialStreamWriter[serialx.BaseSerialTransport]

CLOSE_TIMEOUT = 5.0
FLUSH_TIMEOUT = 5.0
_BUSY_ERRNOS = frozenset((errno.EBUSY, errno.EAGAIN))
_ALTERNATIVE_RATE = 9600
_last_session_end: dict[str, float] = {}


def _errno(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    return code if isinstance(code, int) else None


def map_port_error(exc: BaseException, port: str) -> Iec62056Error:
    """Translate an exception from opening or using ``port`` into a library error."""
    text = str(exc)
    if isinstance(exc, FileNotFoundError) or _errno(exc) == errno.ENOENT:
        return PortNotFoundError(f"{port}: no such port")
    if _errno(exc) in _BUSY_ERRNOS or "exclusively lock" in text or "already locked" in text:
        return PortBusyError(f"{port}: port busy ({text})")
    return PortError(f"{port}: {text or type(exc).__name__}")


async def _open(port: str, baudrate: int) -> tuple[Reader, Writer]:
    return await serialx.open_serial_connection(
        port,
        baudrate=baudrate,
        byte_size=7,
        parity=serialx.Parity.EVEN,
        stopbits=serialx.StopBits.ONE,
    )


async def open_port(port: str, baudrate: int) -> tuple[Reader, Writer]:
    """Open ``port`` at ``baudrate``, 7 data bits, even parity, 1 stop bit.

    Pseudo-terminals keep CS8 and no parity whatever is asked; when the port is already
    at ``baudrate``, the only requested change (CS7/PARENB) cannot be made and tcsetattr
    fails with EINVAL. Then the port is opened at another rate and switched to
    ``baudrate``, which tcsetattr accepts (real serial ports never take this path).
    """
    try:
        try:
            return await _open(port, baudrate)
        except (OSError, _TermiosError) as exc:
            if _errno(exc) != errno.EINVAL:
                raise
        other = _ALTERNATIVE_RATE if baudrate != _ALTERNATIVE_RATE else _ALTERNATIVE_RATE * 2
        reader, writer = await _open(port, other)
        try:
            await set_baudrate(writer, baudrate)
        except BaseException:
            await close_port(writer)
            raise
        return reader, writer
    except _PORT_ERRORS as exc:
        raise map_port_error(exc, port) from exc


async def set_baudrate(writer: Writer, baudrate: int) -> None:
    """Change the rate of an open port without blocking the event loop."""
    transport: Any = writer.transport
    try:
        reconfigure = getattr(transport, "reconfigure_port", None)
        if reconfigure is not None:
            await reconfigure(baudrate=baudrate)
        else:
            serial = transport.serial
            await asyncio.get_running_loop().run_in_executor(
                None, setattr, serial, "baudrate", baudrate
            )
    except _PORT_ERRORS as exc:
        raise PortError(f"cannot set {baudrate} Bd: {exc}") from exc


async def drain(writer: Writer) -> None:
    """Wait until written bytes left asyncio's buffer and the OS (tcdrain) where possible."""
    try:
        await writer.drain()
        async with asyncio.timeout(FLUSH_TIMEOUT):
            await writer.transport.flush()
    except (OSError, serialx.SerialException, TimeoutError) as exc:
        raise PortError(f"write failed: {exc}") from exc


async def write(writer: Writer, data: bytes) -> None:
    """Write ``data`` and wait for the asyncio buffer to drain."""
    try:
        writer.write(data)
        await writer.drain()
    except (OSError, serialx.SerialException) as exc:
        raise PortError(f"write failed: {exc}") from exc


async def close_port(writer: Writer) -> None:
    """Close the port and wait (bounded) until it is released; never raises."""
    with contextlib.suppress(Exception):
        writer.close()
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await writer.wait_closed()


def wire_time(length: int, baudrate: int) -> float:
    """Return the seconds ``length`` characters take on the wire (10 bits each)."""
    return length * 10 / baudrate


async def wait_session_gap(port: str, gap: float) -> None:
    """Sleep until ``gap`` seconds have passed since the last session on ``port`` ended."""
    last = _last_session_end.get(port)
    if last is not None:
        remaining = last + gap - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)


def mark_session_end(port: str) -> None:
    """Record that a session on ``port`` ended now."""
    _last_session_end[port] = time.monotonic()
