"""Thin serialx wrapper: open 7E1, change the rate, drain, close, map errors; shared ports.

:class:`SharedPort` (one per port name, from :func:`shared_port`) serialises the sessions on
a port and owns the quiet time between them, so that probes, coordinators, register reads
and several meters on one bus never talk at the same time or too soon after each other.
Port names in messages are masked (:func:`.redact.mask_port`): no credentials leak.

Works with serialx 1.7.3 (no ``reconfigure_port``: the rate is set on the underlying
serial object in an executor thread, as the old API's blocking setter does termios
calls) and with newer serialx (``transport.reconfigure_port``, already non-blocking).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
import errno
import time
from typing import Any
import weakref

import serialx

from .errors import (
    AddressRequiredError,
    Iec62056Error,
    PortBusyError,
    PortError,
    PortNotFoundError,
)
from .redact import mask_port, mask_secrets, mask_text

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


def _errno(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    return code if isinstance(code, int) else None


def map_port_error(exc: BaseException, port: str) -> Iec62056Error:
    """Translate an exception from opening or using ``port`` into a library error.

    The port name, and any copy of it in the exception's text, is masked.
    """
    text = mask_text(str(exc), port)
    name = mask_port(port)
    if isinstance(exc, FileNotFoundError) or _errno(exc) == errno.ENOENT:
        return PortNotFoundError(f"{name}: no such port")
    if _errno(exc) in _BUSY_ERRNOS or "exclusively lock" in text or "already locked" in text:
        return PortBusyError(f"{name}: port busy ({text})")
    return PortError(f"{name}: {text or type(exc).__name__}")


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
        raise PortError(f"cannot set {baudrate} Bd: {mask_secrets(str(exc))}") from exc


async def drain(writer: Writer) -> None:
    """Wait until written bytes left asyncio's buffer and the OS (tcdrain) where possible."""
    try:
        await writer.drain()
        async with asyncio.timeout(FLUSH_TIMEOUT):
            await writer.transport.flush()
    except (*_PORT_ERRORS, TimeoutError) as exc:  # serialx 1.7.3: termios.error from tcdrain
        raise PortError(f"write failed: {mask_secrets(str(exc))}") from exc


async def write(writer: Writer, data: bytes) -> None:
    """Write ``data`` and wait for the asyncio buffer to drain."""
    try:
        writer.write(data)
        await writer.drain()
    except (OSError, serialx.SerialException) as exc:
        raise PortError(f"write failed: {mask_secrets(str(exc))}") from exc


async def close_port(writer: Writer) -> None:
    """Close the port and wait (bounded) until it is released; never raises."""
    with contextlib.suppress(Exception):
        writer.close()
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await writer.wait_closed()


def wire_time(length: int, baudrate: int) -> float:
    """Return the seconds ``length`` characters take on the wire (10 bits each)."""
    return length * 10 / baudrate


@dataclass(slots=True)
class _Queue:
    """The holder flag and the waiters (oldest first) of one port in one event loop."""

    busy: bool = False
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


def normalize_address(address: str) -> str:
    """Return the device address as the meter compares it: leading zeros do not count."""
    stripped = address.lstrip("0")
    return stripped if stripped or not address else "0"


class SharedPort:
    """One serial port (device path or URL) shared by everything that reads through it.

    The port's scheduler: :meth:`session` runs every session on the port (full readouts,
    register reads, probes, several meters on a bus) one at a time, in the order they
    asked (FIFO: a new caller never overtakes one that is already waiting), with the quiet
    time ``gap`` between the end of one session and the start of the next. Get instances
    from :func:`shared_port`, so that every user of a port shares one object.

    A bus: every user of a meter on the port calls :meth:`register_address` (and
    :meth:`unregister_address` when it goes away). While more than one address is
    registered, a session without an address is refused (AddressRequiredError): every
    meter on the line would answer it at once.
    """

    def __init__(
        self,
        name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Create the port object for ``name`` (nothing is opened here)."""
        self.name = name
        self.clock = clock
        self.sleep = sleep
        self.last_session_end: float | None = None
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary()
        )
        self._addresses: Counter[str] = Counter()

    @property
    def masked_name(self) -> str:
        """Return the name with credentials and secret parameters masked."""
        return mask_port(self.name)

    def __repr__(self) -> str:
        """Show the masked name only."""
        return f"SharedPort({self.masked_name!r})"

    # ---- bus of meters -----------------------------------------------------------

    def register_address(self, address: str) -> None:
        """Register a meter (its device address, "" for none) as a user of this port."""
        self._addresses[normalize_address(address)] += 1

    def unregister_address(self, address: str) -> None:
        """Undo one :meth:`register_address` (unknown addresses are ignored)."""
        key = normalize_address(address)
        if self._addresses[key] <= 1:
            self._addresses.pop(key, None)
        else:
            self._addresses[key] -= 1

    @property
    def addresses(self) -> frozenset[str]:
        """Return the registered device addresses (normalized; "" = a meter without one)."""
        return frozenset(self._addresses)

    @property
    def is_bus(self) -> bool:
        """Return True when more than one meter (address) is registered on this port."""
        return len(self._addresses) > 1

    def check_address(self, address: str) -> None:
        """Raise AddressRequiredError for a request without address on a bus."""
        if not address and self.is_bus:
            raise AddressRequiredError(
                f"{self.masked_name}: several meters share this port; "
                "a request needs the meter's device address"
            )

    # ---- scheduler -----------------------------------------------------------------

    def _queue(self) -> _Queue:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        return queue

    def busy(self) -> bool:
        """Return True while a session holds the port (in the running loop)."""
        return self._queue().busy

    @property
    def waiting(self) -> int:
        """Return how many sessions wait for the port (in the running loop)."""
        return sum(1 for waiter in self._queue().waiters if not waiter.done())

    def quiet_until(self, gap: float) -> float:
        """Return the clock time from which a new session may start."""
        if self.last_session_end is None:
            return float("-inf")
        return self.last_session_end + gap

    async def _acquire(self) -> _Queue:
        queue = self._queue()
        if not queue.busy and not queue.waiters:
            queue.busy = True
            return queue
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release(queue)  # we were handed the port: pass it on
            else:
                with contextlib.suppress(ValueError):
                    queue.waiters.remove(waiter)
            raise
        return queue

    @staticmethod
    def _release(queue: _Queue) -> None:
        while queue.waiters:
            waiter = queue.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the port goes straight to the oldest waiter
                return
        queue.busy = False

    @contextlib.asynccontextmanager
    async def session(self, gap: float, *, address: str | None = None) -> AsyncIterator[SharedPort]:
        """Hold the port for one session: wait for its turn (FIFO) and the quiet time ``gap``.

        ``address``: the device address the session's request carries; "" is refused on a
        bus (see :meth:`check_address`); None = no request (listening only) or not known.
        The end of the session is recorded when the block is left (also on errors and
        cancellation); callers open and close the serial port inside the block.
        """
        if address is not None:
            self.check_address(address)
        queue = await self._acquire()
        try:
            remaining = self.quiet_until(gap) - self.clock()
            if remaining > 0:
                await self.sleep(remaining)
            if address is not None:
                self.check_address(address)
            try:
                yield self
            finally:
                self.last_session_end = self.clock()
        finally:
            self._release(queue)

    async def open(self, baudrate: int) -> tuple[Reader, Writer]:
        """Open the port at ``baudrate`` 7E1 (see :func:`open_port`)."""
        return await open_port(self.name, baudrate)


_PORTS: dict[str, SharedPort] = {}


def shared_port(name: str) -> SharedPort:
    """Return the one :class:`SharedPort` for the port ``name`` (created on first use)."""
    port = _PORTS.get(name)
    if port is None:
        port = _PORTS[name] = SharedPort(name)
    return port


def forget_ports() -> None:
    """Drop every registered port (tests; a port in use keeps working)."""
    _PORTS.clear()
