"""Read settings for :func:`read_meter` and the baud rate choice."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import re

from .checksum import Checksum
from .identification import STANDARD_RATES, Identification


class Mode(StrEnum):
    """IEC 62056-21 protocol mode; the values are the standard's letters."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


#: The modes' letters (kept for callers of the old tuple).
MODES: tuple[str, ...] = tuple(mode.value for mode in Mode)
_ADDRESS = re.compile(r"[0-9A-Za-z ]{0,32}")
DEFAULT_ANSWER_TIMEOUT = 3.0
DEFAULT_PUSH_TIMEOUT = 15.0
WAKEUP_SECONDS = 2.2
WAKEUP_PAUSE = 1.5


@dataclass(frozen=True, slots=True)
class ReadSettings:
    """How to read a meter.

    mode
        "C" (default: request, identification, ACK with the chosen rate, switch, data),
        "A" (request, identification, data at the initial rate), "B" (request,
        identification, both sides switch to the rate of the B letter right after the
        identification, no ACK) or "D" (listen only; sync on ``/``).
    baudrate
        None = automatic: the rate the identification offers (300 Bd if its baud
        character is invalid, e.g. a space). An int = fixed: in mode C the ACK asks for
        this rate whatever the meter offers; in mode B we switch to it (for meters that
        announce the wrong letter); in mode A it is ignored; in mode D it is the rate we
        listen at (default 2400 Bd, any positive rate allowed).
    max_baudrate
        Cap for mode C: the ACK asks for the highest standard rate <= the cap.
    checksum
        Block check of framed data: XOR (standard), SUM (Kamstrup MC66, Energomera) or
        NONE (do not check). A failed check raises ChecksumError.
    address
        Device address in the request ``/?address!`` (0..32 of ``0-9 A-Z a-z`` and space).
    wakeup
        Send ~2.2 s of NUL characters at the initial rate, wait until they have left the
        wire plus 1.5 s, then send the request (battery meters).
    reset_baudrate
        True: when a session switched to another rate, the port is set back to the
        initial rate before it is closed (also after errors), so that an adapter or
        proxy that keeps its last setting (ESPHome serial proxy, RFC 2217 / ser2net
        servers) starts the next session at the initial rate, in step with the meter,
        which falls back to it at the end of a readout. False: leave the port at the
        data rate. Every session still opens the port at the initial rate.
    no_waiting
        False (standard): wait the meter's reaction time tr (200 ms, or 20 ms if the
        third FLAG letter is lower case), counted from the identification's last byte,
        before sending the ACK. True: send the ACK as soon as the identification is
        complete. The wait for the ACK to leave the wire before switching the rate is
        never skipped.
    switch_delay
        Extra seconds to wait, after the ACK has provably left the wire (asyncio drain +
        OS drain, and at least ``len(ACK) * 10 / initial rate`` seconds since the write
        began), before switching the rate. 0 by default; 0.05-0.25 s helps USB adapters
        that switch their rate while bytes are still in their FIFO.
    initial_baudrate
        Rate of the request and identification in modes A/B/C (None = 300 Bd, the
        standard; some meters start at 9600).
    answer_baudrate
        None (standard): the meter answers at the rate of the request. An int: the rate
        the meter answers a request at when it differs from the request rate (Landis+Gyr
        Ultraheat UH50/T550 heat meters: request at 300 Bd, identification and data at
        2400 Bd). The port is switched to it as soon as the request has left the wire; a
        wake-up is then sent as NULs directly followed by the request (no pause), as the
        published Ultraheat readers do; no ACK is needed in mode A/B.
    answer_timeout
        Seconds to wait for the first byte after each message we send (request, ACK).
        None = 3 s in modes A/B/C; in mode D the time to wait for the start of a pushed
        telegram (None = 15 s).
    char_timeout
        Seconds of silence between two received bytes that end the read (ta = 1.5 s).
    timeout
        Overall limit for the whole session in seconds (600 s; a 9.5 kB readout at
        300 Bd takes over 5 minutes).
    session_gap
        Minimum quiet time between the end of one session and the start of the next on
        the same port (1.5 s, the standard's ta).
    """

    mode: Mode | str = Mode.C
    baudrate: int | None = None
    max_baudrate: int | None = None
    checksum: Checksum = Checksum.XOR
    address: str = ""
    wakeup: bool = False
    reset_baudrate: bool = True
    no_waiting: bool = False
    switch_delay: float = 0.0
    initial_baudrate: int | None = None
    answer_timeout: float | None = None
    char_timeout: float = 1.5
    timeout: float = 600.0
    session_gap: float = 1.5
    answer_baudrate: int | None = None

    def __post_init__(self) -> None:
        """Reject settings that cannot work (ValueError); store the mode as a :class:`Mode`."""
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        object.__setattr__(self, "mode", Mode(self.mode))
        if self.answer_baudrate is not None:
            if self.mode == Mode.D:
                raise ValueError("answer_baudrate is for modes A, B and C")
            if self.answer_baudrate not in STANDARD_RATES:
                raise ValueError(f"answer_baudrate must be one of {STANDARD_RATES}")
        if self.baudrate is not None:
            if self.mode == "D":
                if self.baudrate <= 0:
                    raise ValueError("baudrate must be positive")
            elif self.baudrate not in STANDARD_RATES:
                raise ValueError(f"baudrate must be one of {STANDARD_RATES}")
        if self.initial_baudrate is not None and self.initial_baudrate not in STANDARD_RATES:
            raise ValueError(f"initial_baudrate must be one of {STANDARD_RATES}")
        if self.max_baudrate is not None and self.max_baudrate < STANDARD_RATES[0]:
            raise ValueError("max_baudrate must be at least 300")
        if not isinstance(self.address, str) or not _ADDRESS.fullmatch(self.address):
            raise ValueError(
                "address: 0 to 32 characters of 0-9, A-Z, a-z and space, nothing else "
                f"(no line breaks), not {self.address!r}"
            )
        for name in ("switch_delay", "char_timeout", "timeout", "session_gap"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    @property
    def start_baudrate(self) -> int:
        """Return the rate the session starts at."""
        if self.mode == "D":
            return self.baudrate or 2400
        return self.initial_baudrate or STANDARD_RATES[0]

    @property
    def first_answer_timeout(self) -> float:
        """Return the answer timeout with its per-mode default applied."""
        if self.answer_timeout is not None:
            return self.answer_timeout
        return DEFAULT_PUSH_TIMEOUT if self.mode == "D" else DEFAULT_ANSWER_TIMEOUT

    @property
    def listen_baudrate(self) -> int:
        """Return the rate the meter's answer comes at (before any negotiated switch)."""
        return self.answer_baudrate or self.start_baudrate

    def request(self) -> bytes:
        """Return the request (sign-on) message."""
        return f"/?{self.address}!\r\n".encode("ascii")


def choose_baudrate(ident: Identification, settings: ReadSettings) -> int:
    """Return the data rate for ``settings.mode`` after ``ident`` (modes A, B, C)."""
    initial = settings.listen_baudrate
    if settings.mode == "A":
        return initial
    if settings.mode == "B":
        return settings.baudrate or ident.baudrate("B") or initial
    rate = settings.baudrate or ident.baudrate("C") or initial
    if settings.max_baudrate is not None and rate > settings.max_baudrate:
        rate = max(r for r in STANDARD_RATES if r <= settings.max_baudrate)
    return rate


def wakeup_bytes(baudrate: int) -> bytes:
    """Return the NUL characters that fill :data:`WAKEUP_SECONDS` at ``baudrate``."""
    return bytes(-(-int(WAKEUP_SECONDS * baudrate) // 10))
