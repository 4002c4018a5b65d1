"""One complete IEC 62056-21 read cycle over serialx: :func:`read_meter`.

A thin loop that executes the actions of the sans-I/O :class:`.session.ReadSession` (which
holds the whole sequence, its timing and its errors): write, drain, switch the rate, read
until the next wake-up time. The port is held through its :class:`.port.SharedPort` (one
session at a time, quiet time between sessions) and is always closed, also on errors and
cancellation. serialx is imported only when this module is (the CLI imports it lazily).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
import contextlib
import time

from . import port as serial_port
from .errors import PortError
from .models import Readout
from .redact import mask_secrets
from .session import Action, Done, Drain, Failed, ReadSession, Send, SwitchRate
from .settings import ReadSettings

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
    ``clock`` is the monotonic clock the session's timing is measured with.
    """
    shared = serial_port.shared_port(port) if isinstance(port, str) else port
    async with shared.session(settings.session_gap):
        session = ReadSession(settings, now=clock())
        writer: serial_port.Writer | None = None
        try:
            try:
                async with asyncio.timeout(settings.timeout):
                    reader, writer = await shared.open(session.start_rate)
            except TimeoutError:
                raise PortError(f"{shared.masked_name}: opening the port timed out") from None
            session = ReadSession(settings, now=clock())
            return await _execute(session, reader, writer, clock)
        finally:
            if writer is not None:
                if settings.reset_baudrate and session.rate != session.start_rate:
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(_RESET_TIMEOUT):
                            await serial_port.set_baudrate(writer, session.start_rate)
                await serial_port.close_port(writer)
