"""One complete IEC 62056-21 read cycle over serialx: :func:`read_meter`.

A thin loop that executes the actions of the sans-I/O :class:`.session.ReadSession` or
:class:`.programming.ProgrammingSession` (:func:`read_registers`) (which
holds the whole sequence, its timing and its errors): write, drain, switch the rate, read
until the next wake-up time. The port is held through its :class:`.port.SharedPort` (one
session at a time, quiet time between sessions) and is always closed, also on errors and
cancellation. serialx is imported only when this module is (the CLI imports it lazily).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
import contextlib
import time

from . import port as serial_port
from .errors import PortError
from .models import Readout
from .programming import ProgrammingSession
from .redact import mask_secrets
from .session import Action, Done, Drain, Failed, ReadSession, Send, SwitchRate
from .settings import Mode, ReadSettings

_READ_SIZE = 4096
_RESET_TIMEOUT = 2.0


async def _execute(
    session: ReadSession,
    reader: serial_port.Reader,
    writer: serial_port.Writer,
    clock: Callable[[], float],
) -> Readout:
    """Run ``session`` on an open port until it is done or failed."""
    pending: deque[Action] = deque(session.start())
    while True:
        while pending:
            action = pending.popleft()
            if isinstance(action, Send):
                await serial_port.write(writer, action.data)
            elif isinstance(action, Drain):
                await serial_port.drain(writer)
                pending.extend(session.drained(clock()))
            elif isinstance(action, SwitchRate):
                await serial_port.set_baudrate(writer, action.baudrate)
            elif isinstance(action, Done):
                return action.readout
            elif isinstance(action, Failed):
                raise action.error
            # WakeAt: session.wake_at holds the latest one
        try:
            async with asyncio.timeout(max(0.0, session.wake_at - clock())):
                chunk = await reader.read(_READ_SIZE)
        except TimeoutError:
            pending.extend(session.tick(clock()))
            continue
        except OSError as exc:
            raise PortError(f"read failed: {mask_secrets(str(exc))}") from exc
        if not chunk:
            raise PortError("the port was closed (device unplugged?)")
        pending.extend(session.receive(chunk, clock()))


async def _run(
    port: str | serial_port.SharedPort,
    settings: ReadSettings,
    make_session: Callable[[float], ReadSession],
    clock: Callable[[], float],
) -> Readout:
    """Hold the shared port, open it, execute the session, reset the rate, close."""
    shared = serial_port.shared_port(port) if isinstance(port, str) else port
    address = None if settings.mode == Mode.D else settings.address
    async with shared.session(settings.session_gap, address=address):
        session = make_session(clock())
        writer: serial_port.Writer | None = None
        try:
            try:
                async with asyncio.timeout(settings.timeout):
                    reader, writer = await shared.open(session.start_rate)
            except TimeoutError:
                raise PortError(f"{shared.masked_name}: opening the port timed out") from None
            session = make_session(clock())
            return await _execute(session, reader, writer, clock)
        finally:
            if writer is not None:
                if settings.reset_baudrate and session.rate != session.start_rate:
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(_RESET_TIMEOUT):
                            await serial_port.set_baudrate(writer, session.start_rate)
                await serial_port.close_port(writer)


async def read_meter(
    port: str | serial_port.SharedPort,
    settings: ReadSettings,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Readout:
    """Run one complete read cycle on ``port`` and return the readout.

    ``port`` is a device path or serialx URL (its shared :class:`~.port.SharedPort` is
    used), or a ``SharedPort``. Raises only :class:`~.errors.Iec62056Error` subclasses
    (and CancelledError when cancelled). The port is closed before this returns or raises.
    ``clock`` is the monotonic clock the session's timing is measured with. A request
    without a device address on a port with several registered meters is refused
    (:class:`~.errors.AddressRequiredError`).
    """
    return await _run(port, settings, lambda now: ReadSession(settings, now=now), clock)


async def read_registers(
    port: str | serial_port.SharedPort,
    settings: ReadSettings,
    codes: Sequence[str],
    *,
    password: str | None = None,
    command: str = "R5",
    strict: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> Readout:
    """Read the registers ``codes`` in programming mode (one session) and return them.

    The :class:`~.models.Readout` holds one data set per register the meter knew, in the
    order asked, each addressed by its code as asked; codes the meter answered with
    ``(ERROR)`` are left out (``strict=True``: :class:`~.errors.UnknownRegisterError`
    instead, with ``codes`` and the partial ``readout``). ``settings`` must use mode C;
    ``command`` is "R5" or "R1"; ``password`` is sent in ``P1`` if given (never logged or
    put into an error). The session shares the port's scheduler with :func:`read_meter`.
    Raises ValueError for unusable settings, codes or passwords (before the port is
    touched), else only :class:`~.errors.Iec62056Error` subclasses, e.g.
    NoProgrammingModeError and PasswordRefusedError.
    """
    codes = tuple(codes)
    ProgrammingSession(settings, codes, now=0.0, password=password, command=command)

    def make(now: float) -> ReadSession:
        return ProgrammingSession(
            settings, codes, now=now, password=password, command=command, strict=strict
        )

    return await _run(port, settings, make, clock)
