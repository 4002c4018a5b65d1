"""A wire-faithful IEC 62056-21 meter simulator on a pseudo-terminal.

The simulator sits on the master side of a pty; a client opens the slave through a stable symlink
(`MeterSimulator.port`) with serialx, exactly like a real port. It runs in its own thread with its
own asyncio loop, so it works from sync code, tests, the demo and the CLI::

    with MeterSimulator("lgz_e350") as sim:
        readout = await read_meter(sim.port, ReadSettings())

What "wire-faithful" means here:

* Every byte takes 10 bit times at the current rate (7E1), in both directions: the meter's
  answer arrives no faster than a UART would deliver it, and the client's bytes reach the meter
  only after their wire time (a pty write itself is instant and `tcdrain` returns at once).
* The client's line rate is read from the pty's termios (what serialx set on the slave). Bytes
  exchanged at different rates are turned into what a UART would receive (bit-level resampling),
  so switching the rate too early or too late garbles the traffic, as on a real optical head.
  The pty does not keep CS7/PARENB, so only the rate is modelled, not the character format.
* Protocol: modes A, B, C (ACK/option select, fallback to 300 Bd or silence) and D (push);
  reaction times, ACK timeout tt, device address, wake-up, IR-head echo, line noise.
* Programming mode (mode C profiles with `programming`, the default): `ACK 0 Z 1` opens it; the
  meter sends its operand `SOH P0 STX () ETX BCC`, checks the password of `P1` (ACK, or NAK when
  wrong) if the profile has one, answers `R5`/`R1` reads with the data set exactly as its readout
  would send it (`STX 1.7.0(00.49*kW) ETX BCC`) or `(ERROR)`, answers a message with a wrong
  block check with NAK, repeats its last answer on our NAK, refuses (NAK) every other command
  (writes and executes are counted in `SimStats.forbidden_commands`) and leaves programming mode
  on `B0` (or after `PROGRAMMING_IDLE` seconds of silence, or on a new request).
* A bus (`bus=[(profile, address), ...]`): several meters on one pty, each answering only the
  request with its own address; a request without address is answered by every meter at once,
  which garbles the line (the identifications are combined bit by bit, as on a wired-AND line),
  and no session follows.
* Faults (`Fault`) can be injected at runtime; `unplug()` / `replug()` emulate pulling the USB
  head (the symlink disappears and comes back).

Never imports homeassistant.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Mapping, Sequence
import contextlib
from dataclasses import dataclass
import enum
import errno
import os
from pathlib import Path
import random
import re
import signal
import sys
import tempfile
import termios
import threading
import time
import tty
from types import TracebackType
from typing import Self

from .profiles import (
    PROFILES,
    RATES_C,
    MeterProfile,
    block_check,
    format_like,
    parse_number,
    register_dataset,
    register_value,
    replace_register,
)

__all__ = [
    "PROFILES",
    "Fault",
    "MeterProfile",
    "MeterSimulator",
    "SimStats",
    "main",
    "uart_resample",
]

#: The standard's tt: without an ACK within this time after the identification, a mode C meter
#: continues (data at 300 Bd) or gives up (meters that need the ACK). 1.5 s < tt <= 2.2 s.
ACK_TIMEOUT = 1.8
#: The standard's ta: longest gap between two characters of one message.
CHAR_TIMEOUT = 1.5
#: Wake-up (battery meters): NULs for at least this long, then at least this pause.
WAKEUP_NULS = 2.0
WAKEUP_PAUSE = 1.4
#: Ultraheat-style wake-up (profiles with `answer_rate`): at least 40 NULs at 300 Bd, and the
#: request may follow them at once (the published Ultraheat readers send no pause).
ULTRAHEAT_NULS = 40 * 10 / 300
WAKEUP_MAX_GAP = 0.5
#: Meter -> client: bytes are written in chunks of about this much wire time.
TX_CHUNK = 0.01
#: Client -> meter: bytes are moved across the virtual wire in steps of about this long.
RX_STEP = 0.005
#: The client may change its rate this long before its last byte's end (within the stop bit).
RATE_SLACK = 0.0015
IDLE_RATE = 300
_WRONG_RATE = {300: 1200, 600: 300, 1200: 300, 2400: 4800, 4800: 9600, 9600: 4800, 19200: 9600}
_REQUEST_RE = re.compile(rb"/\?([0-9A-Za-z ]{0,32})!\r\n\Z")
_ACK_RE = re.compile(rb"\x06(.)(.)(.)\r\n\Z", re.DOTALL)
#: Programming mode ends after this much silence from the client.
PROGRAMMING_IDLE = 5.0
_SOH, _STX, _ETX, _EOT, _ACK, _NAK = 0x01, 0x02, 0x03, 0x04, 0x06, 0x15


class Fault(enum.StrEnum):
    """Faults the simulator can inject (each consumed by one session or push)."""

    #: The meter ignores the next request (mode D: skips one push).
    SILENCE = "silence"
    #: One character of a value in the data block is changed after the check was computed.
    CORRUPT = "corrupt"
    #: The data message stops halfway (no "!", ETX or check).
    TRUNCATE = "truncate"
    #: The meter answers the request with a stream of junk instead of an identification.
    GARBAGE = "garbage"
    #: The data is sent at another rate than announced/acknowledged (arrives as junk).
    WRONG_RATE = "wrong_rate"


@dataclass(frozen=True, slots=True)
class SimStats:
    """Counters (a snapshot)."""

    #: Data messages (mode D: telegrams) sent to the end.
    sessions: int
    #: Valid requests answered with an identification (or junk for Fault.GARBAGE).
    requests: int
    #: Requests ignored: wrong address, no wake-up, Fault.SILENCE.
    ignored_requests: int
    #: Bytes the meter transmitted (without echo).
    bytes_sent: int
    #: Bytes that reached the meter from the client.
    bytes_received: int
    #: Injected faults that were used.
    faults_injected: int
    #: Rate of the last data message (the negotiated rate), None before the first one.
    last_rate: int | None
    #: Bytes dropped because the client did not read (pty buffer full).
    overruns: int
    unplugs: int
    #: Programming-mode sessions opened (P0 sent) and register reads (R1/R5) answered.
    programming_sessions: int = 0
    register_reads: int = 0
    #: NAKs the meter sent for a message with a wrong block check.
    naks: int = 0
    #: Commands other than P1, R1, R5, B0 received in programming mode (writes, executes).
    forbidden_commands: int = 0
    #: Requests without address that several meters of a bus answered at once.
    collisions: int = 0


def _speed_table() -> dict[int, int]:
    table: dict[int, int] = {}
    for rate in (50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200):
        table[getattr(termios, f"B{rate}")] = rate
    for rate in (38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000):
        if hasattr(termios, f"B{rate}"):
            table[getattr(termios, f"B{rate}")] = rate
    return table


_SPEEDS = _speed_table()


def _parity(byte: int) -> int:
    return (byte & 0x7F).bit_count() & 1


def uart_resample(data: bytes, tx_rate: int, rx_rate: int) -> bytes:
    """What a 7E1 UART at `rx_rate` receives when `data` is sent as 7E1 at `tx_rate`.

    Bit-level model: the line idles high; the receiver waits for a falling edge, checks the
    start bit in its middle, samples 7 data bits (parity is not checked, as with serialx's
    INPCK off) and the stop bit; a low stop bit is a framing error, read as NUL (Linux tty).
    """
    if tx_rate == rx_rate:
        return bytes(data)
    if tx_rate <= 0 or rx_rate <= 0:
        return b""
    bits: list[int] = []
    for byte in data:
        bits.append(0)
        bits.extend((byte >> i) & 1 for i in range(7))
        bits.append(_parity(byte))
        bits.append(1)
    nbits = len(bits)
    tx_bit = 1.0 / tx_rate
    rx_bit = 1.0 / rx_rate

    def level(t: float) -> int:
        k = int(t * tx_rate)
        return bits[k] if 0 <= k < nbits else 1

    out = bytearray()
    t = 0.0
    while True:
        k = max(0, int(t * tx_rate))
        while k < nbits and bits[k] == 1:
            k += 1
        if k >= nbits:
            break
        edge = max(t, k * tx_bit)
        if level(edge + 0.5 * rx_bit) != 0:
            t = edge + 0.5 * rx_bit
            continue
        value = 0
        for i in range(7):
            value |= level(edge + (1.5 + i) * rx_bit) << i
        stop = level(edge + 9.5 * rx_bit)
        out.append(value if stop else 0)
        t = edge + 9.5 * rx_bit
    return bytes(out)


def _resolve(profile: MeterProfile | str) -> MeterProfile:
    if isinstance(profile, MeterProfile):
        return profile
    if profile in PROFILES:
        return PROFILES[profile]
    if Path(profile).is_file():
        return MeterProfile.from_capture(profile)
    raise KeyError(f"unknown profile {profile!r} (known: {', '.join(sorted(PROFILES))})")


def _same_address(requested: str, own: str) -> bool:
    """Device addresses: leading zeros are not significant; all-zero addresses are equal."""
    return requested.lstrip("0") == own.lstrip("0")


class MeterSimulator:
    """A meter on a pty, served from its own thread and event loop.

    Options left at None take the profile's value. `grow` maps register addresses to an
    increase per hour (energy registers that count up, for the demo).
    """

    def __init__(
        self,
        profile: MeterProfile | str,
        *,
        link: str | os.PathLike[str] | None = None,
        echo: bool | None = None,
        address: str | None = None,
        wakeup: bool | None = None,
        noise: bytes | None = None,
        requires_ack: bool | None = None,
        reaction_time: float | None = None,
        push_interval: float | None = None,
        ack_timeout: float = ACK_TIMEOUT,
        strict_timing: bool = True,
        grow: Mapping[str, float] | None = None,
        seed: int = 0,
        programming: bool | None = None,
        password: str | None = None,
        bus: Sequence[tuple[MeterProfile | str, str]] = (),
    ) -> None:
        """Prepare a simulator (nothing is opened before `start()`).

        `bus`: further meters on the same line, each (profile, device address); the first
        meter (`profile`, `address`) needs an address too then.
        """
        base = _resolve(profile)
        changes: dict[str, object] = {}
        for key, value in (
            ("echo", echo),
            ("address", address),
            ("wakeup", wakeup),
            ("noise", noise),
            ("requires_ack", requires_ack),
            ("reaction_time", reaction_time),
            ("push_interval", push_interval),
            ("programming", programming),
            ("password", password),
        ):
            if value is not None:
                changes[key] = value
        self.profile: MeterProfile = base.replace(**changes) if changes else base
        self._primary = self.profile
        self._bus: list[MeterProfile] = [self.profile]
        for other, other_address in bus:
            self._bus.append(_resolve(other).replace(address=other_address))
        if len(self._bus) > 1:
            keys = [meter.address.lstrip("0") for meter in self._bus]
            if not all(meter.address for meter in self._bus) or len(set(keys)) != len(keys):
                raise ValueError("every meter on a bus needs its own device address")
        self.ack_timeout = ack_timeout
        #: Ignore an ACK that starts earlier than the reaction time after the identification.
        self.strict_timing = strict_timing
        self._link_arg = Path(link) if link is not None else None
        self._tmpdir: str | None = None
        self._link: Path | None = None
        self._rng = random.Random(seed)
        self._lock = threading.Condition()
        self._faults: dict[Fault, int] = dict.fromkeys(Fault, 0)
        self._values: dict[str, str] = {}
        self._growth: dict[str, tuple[float, float, str, float]] = {}
        self._counts: dict[str, int] = dict.fromkeys(
            (
                "sessions",
                "requests",
                "ignored_requests",
                "bytes_sent",
                "bytes_received",
                "faults_injected",
                "overruns",
                "unplugs",
                "programming_sessions",
                "register_reads",
                "naks",
                "forbidden_commands",
                "collisions",
            ),
            0,
        )
        self._last_rate: int | None = None
        self._pushes: list[tuple[float, float]] = []
        self._timeline: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        # Loop-thread state (only touched from the simulator's thread once started).
        self._master: int | None = None
        self._slave: int | None = None
        self._device: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._rx_fifo = bytearray()
        self._rx_times: list[float] = []
        self._rx_wake: asyncio.Event | None = None
        self._rx_free = 0.0
        self._tx_free = 0.0
        self._inbox = bytearray()
        self._inbox_times: list[float] = []
        self._inbox_wake: asyncio.Event | None = None
        self._meter_rate = IDLE_RATE
        self._pending_request: tuple[bytes, list[float]] | None = None
        for reg, per_hour in (grow or {}).items():
            self.set_growth(reg, per_hour)

    # ---------------------------------------------------------------- public API

    @property
    def port(self) -> str:
        """The stable path the client opens (a symlink to the current pty slave)."""
        if self._link is None:
            raise RuntimeError("the simulator is not started")
        return str(self._link)

    @property
    def device(self) -> str | None:
        """The current pty slave device (None while unplugged or stopped)."""
        return self._device

    def is_running(self) -> bool:
        """True between start() and stop()."""
        return self._thread is not None and self._thread.is_alive()

    def is_plugged(self) -> bool:
        """False after unplug() until replug()."""
        return self._master is not None

    def start(self) -> Self:
        """Open the pty, create the symlink and start serving (returns when ready)."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already started")
        if self._link_arg is not None:
            self._link = self._link_arg
        else:
            self._tmpdir = tempfile.mkdtemp(prefix="dlms-sim-")
            self._link = Path(self._tmpdir) / "ttyMETER"
        self._ready.clear()
        self._error = None
        thread = threading.Thread(
            target=self._thread_main, name=f"meter-sim-{self.profile.name}", daemon=True
        )
        self._thread = thread
        thread.start()
        self._ready.wait(10)
        error = self._start_error()
        if error is not None:
            thread.join(5)
            self._thread = None
            self._cleanup_paths()
            raise RuntimeError("the simulator failed to start") from error
        return self

    def _start_error(self) -> BaseException | None:
        return self._error

    def stop(self) -> None:
        """Stop serving, close every fd, remove the symlink and join the thread."""
        thread = self._thread
        if thread is None:
            return
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(10)
        self._thread = None
        self._cleanup_paths()

    def __enter__(self) -> Self:
        """Start (context manager)."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop (context manager)."""
        self.stop()

    async def __aenter__(self) -> Self:
        """Start from async code without blocking the caller's loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop from async code without blocking the caller's loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.stop)

    def inject(self, fault: Fault | str, count: int = 1) -> None:
        """Arm `fault` for the next `count` sessions (thread-safe)."""
        with self._lock:
            self._faults[Fault(fault)] += count

    def clear_faults(self) -> None:
        """Disarm all faults."""
        with self._lock:
            self._faults = dict.fromkeys(Fault, 0)

    def pending_faults(self) -> dict[Fault, int]:
        """Armed faults not used yet."""
        with self._lock:
            return {fault: n for fault, n in self._faults.items() if n}

    def set_value(self, address: str, value: str) -> None:
        """Change a register value for the following readouts (KeyError if unknown)."""
        replace_register(self.profile.block, address, value)  # validates address and value
        with self._lock:
            self._values[address] = value
            self._growth.pop(address, None)

    def value(self, address: str) -> str:
        """The value register `address` has now (as the next readout would send it)."""
        return register_value(self._render_block(time.monotonic()), address)

    @property
    def meters(self) -> tuple[MeterProfile, ...]:
        """The meters on the line (the first is `profile`; more with `bus`)."""
        return tuple(self._bus)

    def set_growth(self, address: str, per_hour: float) -> None:
        """Let a numeric register count up by `per_hour` units per hour (0 stops it)."""
        now = time.monotonic()
        template = register_value(self._render_block(now), address)
        start = parse_number(template)
        with self._lock:
            self._growth[address] = (start, per_hour, template, now)
            self._values.pop(address, None)

    def stats(self) -> SimStats:
        """A snapshot of the counters."""
        with self._lock:
            return SimStats(last_rate=self._last_rate, **self._counts)

    def timeline(self) -> dict[str, float]:
        """Wire times (time.monotonic) of the last session's phases.

        Keys, when they happened: request_start/request_end (the client's request on the
        wire), ident_start/ident_end, ack_start/ack_end, data_start/data_end.
        """
        with self._lock:
            return dict(self._timeline)

    @property
    def pushes(self) -> list[tuple[float, float]]:
        """Mode D: (start, end) monotonic times of the recent telegrams on the wire."""
        with self._lock:
            return list(self._pushes)

    def client_rate(self) -> int | None:
        """The rate the client's port is set to now (None while unplugged)."""
        master = self._master
        if master is None:
            return None
        with contextlib.suppress(OSError):
            return self._rate_of(master, out=False)
        return None

    def wait_for(self, predicate: Callable[[SimStats], bool], timeout: float) -> bool:
        """Block until `predicate(stats)` holds (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(SimStats(last_rate=self._last_rate, **self._counts)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def unplug(self) -> None:
        """Pull the head: close the pty (the client sees a hang-up) and remove the symlink."""
        self._call_in_loop(self._unplug_now)
        with self._lock:
            self._counts["unplugs"] += 1

    def replug(self) -> None:
        """Plug it back: a new pty behind the same symlink path."""
        self._call_in_loop(self._plug)

    # ---------------------------------------------------------------- thread plumbing

    def _call_in_loop(self, func: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            raise RuntimeError("the simulator is not started")
        done = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                func()
            except BaseException as err:  # handed to the caller
                errors.append(err)
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        if not done.wait(10):
            raise TimeoutError("the simulator thread did not answer")
        if errors:
            raise errors[0]

    def _thread_main(self) -> None:
        loop = asyncio.SelectorEventLoop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as err:  # reported to start()
            self._error = err
            self._ready.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None

    async def _main(self) -> None:
        self._stop_event = asyncio.Event()
        self._plug()
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            self._unplug_now()
            tasks = [task for task in self._tasks if not task.done()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _cleanup_paths(self) -> None:
        if self._link is not None and self._link.is_symlink():
            with contextlib.suppress(OSError):
                self._link.unlink()
        if self._tmpdir is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._tmpdir)
            self._tmpdir = None
            self._link = None

    def _plug(self) -> None:
        """(loop thread) Open a new pty, point the symlink at it and start serving."""
        if self._master is not None:
            return
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            attrs = termios.tcgetattr(slave)
            attrs[4] = attrs[5] = termios.B300
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
            os.set_blocking(master, False)
            device = os.ttyname(slave)
            assert self._link is not None
            tmp = self._link.with_name(self._link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(device)
            tmp.replace(self._link)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self._master, self._slave, self._device = master, slave, device
        loop = asyncio.get_running_loop()
        self._rx_fifo.clear()
        self._rx_times.clear()
        self._inbox.clear()
        self._inbox_times.clear()
        self._pending_request = None
        self._rx_wake = asyncio.Event()
        self._inbox_wake = asyncio.Event()
        self._rx_free = self._tx_free = loop.time()
        self._meter_rate = self.profile.push_rate if self.profile.mode == "D" else IDLE_RATE
        loop.add_reader(master, self._on_readable)
        self._tasks = [
            loop.create_task(self._rx_wire()),
            loop.create_task(self._push_loop() if self.profile.mode == "D" else self._serve()),
        ]

    def _unplug_now(self) -> None:
        """(loop thread) Stop serving and close the pty; the symlink disappears."""
        for task in self._tasks:
            task.cancel()
        master, slave = self._master, self._slave
        self._master = self._slave = self._device = None
        if master is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(master)
            os.close(master)
        if slave is not None:
            os.close(slave)
        if self._link is not None and self._link.is_symlink():
            with contextlib.suppress(OSError):
                self._link.unlink()

    # ---------------------------------------------------------------- the wire

    @staticmethod
    def _rate_of(fd: int, *, out: bool) -> int:
        attrs = termios.tcgetattr(fd)
        ispeed, ospeed = attrs[4], attrs[5]
        speed = ospeed if out or not ispeed else ispeed
        return _SPEEDS.get(speed, speed if speed >= 50 else 0)

    def _client_rate(self, *, out: bool) -> int:
        """The client's transmit (out=True) or receive rate, from the pty's termios."""
        master = self._master
        if master is None:
            return 0
        try:
            return self._rate_of(master, out=out)
        except OSError:
            return 0

    def _write(self, data: bytes) -> None:
        master = self._master
        if master is None or not data:
            return
        try:
            written = os.write(master, data)
        except BlockingIOError:
            written = 0
        except OSError as err:
            if err.errno not in (errno.EIO, errno.EBADF):
                raise
            written = 0
        if written < len(data):
            with self._lock:
                self._counts["overruns"] += len(data) - written

    async def _sleep_until(self, when: float) -> None:
        delay = when - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _transmit(self, data: bytes, rate: int) -> float:
        """Send `data` at `rate` with real wire time, until the last byte has arrived.

        Returns the time the first start bit began (the end is `self._tx_free`).
        """
        loop = asyncio.get_running_loop()
        char = 10.0 / rate
        start = max(loop.time(), self._tx_free)
        per_chunk = max(1, int(TX_CHUNK / char))
        sent = 0
        while sent < len(data):
            chunk = data[sent : sent + per_chunk]
            end = start + (sent + len(chunk)) * char
            self._tx_free = end
            # The client must listen at our rate from the middle of the chunk's first start bit.
            await self._sleep_until(start + (sent + 0.05) * char)
            rate_before = self._client_rate(out=False)
            await self._sleep_until(end)
            rate_after = self._client_rate(out=False)
            if rate_before == rate_after == rate:
                self._write(chunk)
            else:
                self._write(uart_resample(chunk, rate, rate_after))
            sent += len(chunk)
            with self._lock:
                self._counts["bytes_sent"] += len(chunk)
        return start

    def _on_readable(self) -> None:
        master = self._master
        if master is None:
            return
        try:
            data = os.read(master, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # No slave open (cannot happen while we hold one): stop polling a dead fd.
            asyncio.get_running_loop().remove_reader(master)
            return
        self._rx_fifo += data
        self._rx_times.extend([asyncio.get_running_loop().time()] * len(data))
        assert self._rx_wake is not None
        self._rx_wake.set()

    async def _rx_wire(self) -> None:
        """Move the client's bytes across the virtual wire at the client's transmit rate."""
        assert self._rx_wake is not None
        while True:
            if not self._rx_fifo:
                self._rx_wake.clear()
                await self._rx_wake.wait()
                continue
            rate = self._client_rate(out=True)
            if rate <= 0:
                self._rx_fifo.clear()
                self._rx_times.clear()
                continue
            char = 10.0 / rate
            count = max(1, int(RX_STEP / char))
            chunk = bytes(self._rx_fifo[:count])
            start = max(self._rx_times[0], self._rx_free)
            del self._rx_fifo[:count]
            del self._rx_times[:count]
            end = start + len(chunk) * char
            self._rx_free = end
            # A rate change during the last stop bit does no harm: look just before the end.
            await self._sleep_until(end - min(RATE_SLACK, 0.5 * char))
            rate_end = self._client_rate(out=True)
            await self._sleep_until(end)
            if rate_end != rate:
                # The client changed its rate while these bytes were on the wire.
                chunk = uart_resample(chunk, rate, rate_end)
            self._line_from_client(chunk, rate, end)

    def _line_from_client(self, chunk: bytes, rate: int, end: float) -> None:
        if self.profile.echo:
            client = self._client_rate(out=False)
            self._write(chunk if client == rate else uart_resample(chunk, rate, client))
        if self.profile.mode == "D":
            return
        data = chunk if rate == self._meter_rate else uart_resample(chunk, rate, self._meter_rate)
        if not data:
            return
        char = 10.0 / self._meter_rate
        self._inbox += data
        self._inbox_times.extend(end - (len(data) - 1 - i) * char for i in range(len(data)))
        with self._lock:
            self._counts["bytes_received"] += len(data)
        assert self._inbox_wake is not None
        self._inbox_wake.set()

    # ---------------------------------------------------------------- meter input

    def _inbox_clear(self) -> None:
        self._inbox.clear()
        self._inbox_times.clear()

    async def _wait_inbox(self, ready: Callable[[], bool], deadline: float | None) -> bool:
        loop = asyncio.get_running_loop()
        assert self._inbox_wake is not None
        while not ready():
            self._inbox_wake.clear()
            if deadline is None:
                await self._inbox_wake.wait()
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._inbox_wake.wait(), remaining)
        return True

    async def _next_line(self, deadline: float | None) -> tuple[bytes, list[float]] | None:
        """The next line (up to LF) with the arrival time of each byte; None on timeout."""
        if not await self._wait_inbox(lambda: b"\n" in self._inbox, deadline):
            return None
        end = self._inbox.index(b"\n") + 1
        line, times = bytes(self._inbox[:end]), self._inbox_times[:end]
        del self._inbox[:end]
        del self._inbox_times[:end]
        return line, times

    # ---------------------------------------------------------------- modes A, B, C

    def _take_fault(self, fault: Fault) -> bool:
        with self._lock:
            if self._faults[fault] <= 0:
                return False
            self._faults[fault] -= 1
            self._counts["faults_injected"] += 1
            return True

    def _mark(self, event: str, when: float, *, new: bool = False) -> None:
        """Record when something happened on the wire in the current session."""
        with self._lock:
            if new:
                self._timeline = {}
            self._timeline[event] = when

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1
            self._lock.notify_all()

    def _woken(self, line: bytes, times: Sequence[float], slash: int) -> bool:
        """Did a wake-up (>= 2 s of NULs, then a pause) precede the request at `slash`?

        Profiles with an `answer_rate` (Ultraheat) need only >= 40 NULs, with or without a pause.
        """
        char = 10.0 / IDLE_RATE
        last = slash - 1
        if last < 0 or line[last] != 0:
            return False
        first = last
        while (
            first > 0
            and line[first - 1] == 0
            and times[first] - times[first - 1] <= (WAKEUP_MAX_GAP + char)
        ):
            first -= 1
        nul_time = times[last] - (times[first] - char)
        pause = (times[slash] - char) - times[last]
        if self.profile.answer_rate is not None:
            return nul_time >= ULTRAHEAT_NULS - 0.5 * char
        return nul_time >= WAKEUP_NULS and pause >= WAKEUP_PAUSE

    async def _serve(self) -> None:
        """Modes A, B, C: wait for requests and answer them."""
        while True:
            if self._pending_request is not None:
                line, times = self._pending_request
                self._pending_request = None
            else:
                got = await self._next_line(None)
                assert got is not None
                line, times = got
            match = _REQUEST_RE.search(line)
            if match is None:
                continue
            requested = match.group(1).decode("ascii")
            if len(self._bus) > 1:
                meters = [
                    meter
                    for meter in self._bus
                    if not requested or _same_address(requested, meter.address)
                ]
            else:
                own = self.profile.address
                meters = [] if own and not _same_address(requested, own) else [self.profile]
            meters = [
                meter
                for meter in meters
                if not meter.wakeup or self._woken(line, times, match.start())
            ]
            if not meters:
                self._count("ignored_requests")
                continue
            if self._take_fault(Fault.SILENCE):
                self._count("ignored_requests")
                continue
            self._count("requests")
            char = 10.0 / IDLE_RATE
            self._mark("request_end", times[-1], new=True)
            self._mark("request_start", times[match.start()] - char)
            if len(meters) > 1:
                await self._collide(meters, times[-1])
                continue
            self.profile = meters[0]
            try:
                await self._session(times[-1])
            finally:
                self._meter_rate = IDLE_RATE
                self.profile = self._primary

    async def _collide(self, meters: Sequence[MeterProfile], request_end: float) -> None:
        """Several meters answer at once: the line carries the AND of their bits."""
        await self._sleep_until(request_end + min(meter.tr for meter in meters))
        messages = [meter.identification_message() for meter in meters]
        length = max(len(message) for message in messages)
        garbled = bytearray(b"\x7f" * length)
        for message in messages:
            for index, byte in enumerate(message):
                garbled[index] &= byte
        self._count("collisions")
        await self._transmit(bytes(garbled), IDLE_RATE)

    async def _session(self, request_end: float) -> None:
        profile = self.profile
        tr = profile.tr
        self._inbox_clear()
        await self._sleep_until(request_end + tr)
        answer_rate = profile.answer_rate or IDLE_RATE
        if self._take_fault(Fault.GARBAGE):
            junk = bytes(
                self._rng.choice(b"\x00\x7f#%&*+-.:;<=>?@ABCZ[]^_`az{|}~") for _ in range(60)
            )
            await self._transmit(junk + b"\r\n", answer_rate)
            return
        if profile.noise:
            await self._transmit(profile.noise, answer_rate)
        self._mark(
            "ident_start", await self._transmit(profile.identification_message(), answer_rate)
        )
        ident_end = self._tx_free
        self._mark("ident_end", ident_end)
        rate = answer_rate
        if profile.mode == "B":
            rate = profile.offered_rate
            self._meter_rate = rate
            await self._sleep_until(ident_end + tr)
        elif profile.mode == "C":
            ack = await self._await_ack(ident_end)
            if ack is None:
                if profile.requires_ack or self._pending_request is not None:
                    return
            else:
                rate, ack_end, option = ack
                self._mark("ack_end", ack_end)
                self._meter_rate = rate
                await self._sleep_until(ack_end + tr)
                if option == "1":
                    await self._programming(rate)
                    return
        else:
            await self._sleep_until(ident_end + tr)
        await self._send_data(rate)

    async def _await_ack(self, ident_end: float) -> tuple[int, float, str] | None:
        """Mode C: the ACK/option select within tt -> (rate, time of its LF, mode character Y).

        None if none came. Y is "1" (programming mode) only for a profile with programming.
        """
        profile = self.profile
        deadline = ident_end + self.ack_timeout
        char = 10.0 / IDLE_RATE
        self._inbox_clear()
        while True:
            if not await self._wait_inbox(lambda: bool(self._inbox), deadline):
                return None
            first = self._inbox_times[0]
            got = await self._next_line(first + CHAR_TIMEOUT)
            if got is None:
                self._inbox_clear()
                continue
            line, times = got
            if _REQUEST_RE.search(line):
                self._pending_request = (line, times)  # a new request ends this session
                return None
            match = _ACK_RE.search(line)
            if match is None:
                continue
            start = times[match.start()] - char
            if self.strict_timing and start < ident_end + profile.tr - 0.001:
                continue  # too early: the meter was not listening yet
            self._mark("ack_start", start)
            control, baud, mode = (match.group(i).decode("latin-1") for i in (1, 2, 3))
            rate = RATES_C.get(baud, 0)
            option = "1" if mode == "1" and profile.programming else "0"
            if control != "0" or mode != option or rate == 0 or rate > profile.offered_rate:
                rate = IDLE_RATE  # unsupported option select: readout at 300 Bd
                option = "0"
            return rate, times[-1], option

    def _render_block(self, now: float, profile: MeterProfile | None = None) -> bytes:
        """The data block of `profile` (default: the first meter) with the values set now."""
        meter = self._primary if profile is None else profile
        block = meter.block
        if meter is not self._primary:
            return block
        with self._lock:
            values = dict(self._values)
            growth = dict(self._growth)
        for address, value in values.items():
            block = replace_register(block, address, value)
        for address, (start, per_hour, template, since) in growth.items():
            number = start + per_hour * (now - since) / 3600.0
            block = replace_register(block, address, format_like(template, number))
        return block

    def _corrupt(self, message: bytes) -> bytes:
        """Change one digit of a value (the check byte stays the old one)."""
        digits = [i for i, b in enumerate(message) if 0x30 <= b <= 0x39]
        if not digits:
            return message
        index = digits[len(digits) // 2]
        out = bytearray(message)
        out[index] = 0x30 + (out[index] - 0x30 + 1) % 10
        return bytes(out)

    async def _send_data(self, rate: int) -> None:
        loop = asyncio.get_running_loop()
        message = self.profile.data_message(self._render_block(time.monotonic(), self.profile))
        if self._take_fault(Fault.CORRUPT):
            message = self._corrupt(message)
        if self._take_fault(Fault.TRUNCATE):
            message = message[: len(message) // 2]
        tx_rate = _WRONG_RATE[rate] if self._take_fault(Fault.WRONG_RATE) else rate
        with self._lock:
            self._last_rate = rate
        if self.profile.mode == "D":
            self._mark("data_start", loop.time(), new=True)
        start = await self._transmit(message, tx_rate)
        self._mark("data_start", start)
        self._mark("data_end", self._tx_free)
        if self.profile.mode == "D":
            with self._lock:
                self._pushes.append((start, self._tx_free))
                del self._pushes[:-20]
        self._count("sessions")

    # ---------------------------------------------------------------- programming mode

    def _frame(self, start: int, scope: bytes) -> bytes:
        """`start scope check` with the profile's block check (XOR where it has none)."""
        kind = self.profile.checksum
        return bytes((start,)) + scope + block_check(scope, "xor" if kind == "none" else kind)

    def _message_length(self) -> int:
        """Length of the complete message at the start of the inbox (0: not complete yet).

        Bytes that cannot start a message (line noise, CR LF) are dropped first.
        """
        inbox = self._inbox
        while inbox and inbox[0] not in (_SOH, _STX, _ACK, _NAK, 0x2F):
            del inbox[0]
            del self._inbox_times[0]
        if not inbox:
            return 0
        if inbox[0] in (_ACK, _NAK):
            return 1
        if inbox[0] == 0x2F:
            return inbox.index(b"\n") + 1 if b"\n" in inbox else 0
        for index, byte in enumerate(inbox):
            if byte in (_ETX, _EOT):
                return index + 2 if len(inbox) > index + 1 else 0
        return 0

    async def _next_message(self, deadline: float) -> tuple[bytes, float] | None:
        """The next message of the client and the time of its last byte; None to leave.

        None on silence until `deadline`, or when a new request arrives (it is kept).
        """
        if not await self._wait_inbox(lambda: self._message_length() > 0, deadline):
            return None
        length = self._message_length()
        message, times = bytes(self._inbox[:length]), self._inbox_times[:length]
        del self._inbox[:length]
        del self._inbox_times[:length]
        if message[:1] == b"/":
            if _REQUEST_RE.search(message):
                self._pending_request = (message, times)
                return None
            return await self._next_message(deadline)
        return message, times[-1]

    async def _programming(self, rate: int) -> None:
        """Programming mode at `rate`: P0, then P1/R1/R5 until B0 (see the module docstring)."""
        loop = asyncio.get_running_loop()
        profile = self.profile
        with self._lock:
            self._last_rate = rate
        self._count("programming_sessions")
        self._inbox_clear()
        await self._transmit(self._frame(_SOH, b"P0\x02()\x03"), rate)
        authorised = profile.password is None
        last: bytes | None = None
        while True:
            got = await self._next_message(max(loop.time(), self._tx_free) + PROGRAMMING_IDLE)
            if got is None:
                return
            message, end = got
            if message == self._frame(_SOH, b"B0\x03"):
                return  # the break: back to idle at once
            await self._sleep_until(end + profile.tr)
            if message[0] in (_ACK, _NAK):
                if message[0] == _NAK and last is not None:
                    await self._transmit(last, rate)
                continue
            scope = message[1:-1]
            if self._frame(message[0], scope) != message:
                self._count("naks")
                await self._transmit(bytes((_NAK,)), rate)
                continue
            header, _, data = scope[:-1].partition(b"\x02")
            command = header[:2]
            if command == b"P1":
                secret = (profile.password or "").encode("latin-1")
                accepted = profile.password is None or data == b"(" + secret + b")"
                authorised = authorised or accepted
                await self._transmit(bytes((_ACK if accepted else _NAK,)), rate)
                continue
            if command not in (b"R1", b"R5") or message[0] != _SOH:
                self._count("forbidden_commands")
                await self._transmit(bytes((_NAK,)), rate)
                continue
            self._count("register_reads")
            code = data.partition(b"(")[0].decode("latin-1")
            dataset = b"(ERROR)"
            if authorised:
                with contextlib.suppress(KeyError):
                    dataset = register_dataset(self._render_block(time.monotonic(), profile), code)
            last = self._frame(_STX, dataset + b"\x03")
            answer = self._corrupt(last) if self._take_fault(Fault.CORRUPT) else last
            await self._transmit(answer, rate)

    # ---------------------------------------------------------------- mode D

    async def _push_loop(self) -> None:
        loop = asyncio.get_running_loop()
        rate = self.profile.push_rate
        while True:
            started = loop.time()
            if not self._take_fault(Fault.SILENCE):
                if self._take_fault(Fault.GARBAGE):
                    await self._transmit(bytes(self._rng.randrange(128) for _ in range(80)), rate)
                else:
                    await self._send_data(rate)
            await self._sleep_until(started + self.profile.push_interval)


# -------------------------------------------------------------------- CLI


def _parse_grow(items: Sequence[str]) -> dict[str, float]:
    grow: dict[str, float] = {}
    for item in items:
        address, _, per_hour = item.partition("=")
        grow[address] = float(per_hour or "1")
    return grow


def main(argv: Sequence[str] | None = None) -> int:
    """Run a simulator until Ctrl-C; the first stdout line is the port path."""
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.dlms_meter.iec62056.simulator",
        description="IEC 62056-21 meter simulator on a pty.",
    )
    parser.add_argument("profile", help=f"{', '.join(sorted(PROFILES))} or a capture file")
    parser.add_argument("--link", help="symlink path for the port (default: a temp dir)")
    parser.add_argument("--echo", action="store_true", default=None, help="echo like an IR head")
    parser.add_argument("--address", help="answer only /?ADDRESS!")
    parser.add_argument("--wakeup", action="store_true", default=None, help="require a wake-up")
    parser.add_argument("--noise", action="store_true", help="NUL/0x7F before the answer")
    parser.add_argument("--push-interval", type=float, help="mode D push period (s)")
    parser.add_argument(
        "--grow",
        action="append",
        default=[],
        metavar="ADDR=PER_HOUR",
        help="let a register count up (e.g. 1.8.0=0.5)",
    )
    parser.add_argument("--password", help="programming mode: the password P1 must carry")
    parser.add_argument(
        "--no-programming", action="store_true", help="no programming mode (ACK 0 Z 1)"
    )
    parser.add_argument(
        "--bus",
        action="append",
        default=[],
        metavar="PROFILE:ADDRESS",
        help="another meter on the same line (needs --address for the first one)",
    )
    args = parser.parse_args(argv)
    bus = [tuple(item.rsplit(":", 1)) for item in args.bus]
    if any(len(item) != 2 for item in bus):
        parser.error("--bus takes PROFILE:ADDRESS")
    try:
        sim = MeterSimulator(
            args.profile,
            link=args.link,
            echo=args.echo,
            address=args.address,
            wakeup=args.wakeup,
            noise=b"\x00\x7f\x7f" if args.noise else None,
            push_interval=args.push_interval,
            grow=_parse_grow(args.grow),
            password=args.password,
            programming=False if args.no_programming else None,
            bus=[(profile, address) for profile, address in bus],
        )
    except (KeyError, ValueError) as err:
        parser.error(str(err))
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with sim:
            profile = sim.profile
            print(sim.port, flush=True)
            print(
                f"{profile.name}: /{profile.identification} mode {profile.mode} "
                f"{profile.offered_rate} Bd on {sim.device}; Ctrl-C to stop",
                file=sys.stderr,
                flush=True,
            )
            while not stop.wait(0.2):
                pass
            print(f"stopped: {sim.stats()}", file=sys.stderr)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
