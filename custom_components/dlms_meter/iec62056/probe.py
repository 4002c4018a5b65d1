"""Find settings that read a meter, the way a patient user would by hand.

Used by the config flow and by the command line (``read PORT`` in automatic mode, ``probe PORT``).
:func:`probe_meter` first reads with the settings as given. When that fails, it tries what the
old plugin's setup procedure told users to try, each fallback derived from the attempt that failed,
so that fixes add up (wake-up *and* SUM):

1. **Fixes** of the failed attempt (:attr:`Stage.FIX`): wake the meter up first (no answer), the
   other block check (SUM instead of XOR, checksum error), the standard's reaction time instead of
   the ``no_waiting`` shortcut, stay at 300 Bd instead of switching (garbled data after the switch,
   or a transport that refuses the switch).
2. **The heat-meter sign-on** (:attr:`Stage.HEAT_METER`, automatic mode only): Landis+Gyr
   Ultraheat heat meters (UH50, T550) wake up on at least 40 NULs at 300 Bd directly followed by
   the request. The published readers disagree on the answer, so both are tried, in this order:

   a. everything at 2400 Bd (:func:`heat_meter_settings`, as the ESPHome uh50reader reads it:
      :attr:`ReadSettings.answer_baudrate` 2400). It also reads a meter of the other kind as long
      as its data is framed: the identification sent at 300 Bd is lost, but a telegram with its
      check byte is a readout;
   b. the identification at 300 Bd, then the data at 2400 Bd without an acknowledgement
      (:func:`heat_meter_mode_b_settings`, as ultraheat-api reads it, the library behind Home
      Assistant's ``landisgyr_heat_meter``: mode B, the identification's baud character ``C``).

   Tried once a 300-Bd request got no answer without and with the wake-up (or a woken meter
   answered with junk at 300 Bd): the user never has to know.
3. **Push meters** (:attr:`Stage.PUSH`, automatic mode only, or mode D without a rate): listen
   (mode D) at 9600 Bd (eHZ, EasyMeter, Hager, Logarex; SML meters are recognised there too),
   then 2400 Bd (the standard's mode D rate).
4. **Other push rates** (:attr:`Stage.PUSH_OTHER`): only when listening heard bytes but no
   identification (a meter pushes, at another rate): 4800, 19200, 1200, 600, 300 Bd.

The first settings that give a readout with data sets win. When nothing works, the error of the
attempt that got furthest is raised (a checksum error: the meter sent a whole readout). Some
errors end the probe at once, because no protocol setting fixes them (:data:`FATAL_KINDS`): the
port is missing or busy, or the meter speaks SML, not IEC 62056-21.

The reader (``read``) and the clock are injectable, so the strategy is tested without ports.
Never imports homeassistant; the serial driver is imported only when a port is really read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
import enum
import heapq
import time
from typing import Final

from .checksum import Checksum
from .errors import Iec62056Error, ProtocolError
from .models import Readout
from .settings import ReadSettings

type Reader = Callable[[str, ReadSettings], Awaitable[Readout]]
type Clock = Callable[[], float]
type AttemptCallback = Callable[[int, ReadSettings], None]
type OutcomeCallback = Callable[[Attempt], None]

#: Rates push meters (mode D) are listened at first, most common first.
PUSH_BAUDRATES: Final = (9600, 2400)
#: The other standard rates, tried only when a push meter was heard but not understood.
OTHER_PUSH_BAUDRATES: Final = (4800, 19200, 1200, 600, 300)
ALL_PUSH_BAUDRATES: Final = (*PUSH_BAUDRATES, *OTHER_PUSH_BAUDRATES)
#: Landis+Gyr Ultraheat (UH50, T550): request at 300 Bd, answer (or the data) at this rate.
HEAT_METER_ANSWER_BAUDRATE: Final = 2400
HEAT_METER_REQUEST_BAUDRATE: Final = 300
#: Upper bound of attempts (the config flow shows its progress as attempts / MAX_ATTEMPTS).
MAX_ATTEMPTS: Final = 12

#: Errors no other setting can fix: the port is missing or taken, or the meter speaks SML.
#: (A port_error can come from a rate switch the transport refuses: staying at 300 Bd may help.)
FATAL_KINDS: Final = frozenset({"port_not_found", "port_busy", "sml"})

# All attempts failed: report the one that got furthest. A checksum error means a whole readout
# came; a readout that was too long or took too long means the meter talked IEC 62056-21.
_PROGRESS_RANK: Final = {
    "port_error": 0,
    "no_answer": 1,
    "not_iec62056": 2,
    "timeout": 3,
    "read_time_limit": 4,
    "readout_too_long": 4,
    "checksum": 5,
}
_PULL_RETRY_KINDS: Final = frozenset({"no_answer", "not_iec62056", "timeout"})


class Stage(enum.IntEnum):
    """Where a candidate goes in the order of attempts (lower first)."""

    GIVEN = 0
    FIX = 1
    HEAT_METER = 2
    PUSH = 3
    PUSH_OTHER = 4


class EmptyReadoutError(ProtocolError):
    """The meter answered but sent no data sets: nothing to offer the user."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One read of the probe: its settings, how it ended (None = it worked) and how long it took."""

    settings: ReadSettings
    error: str | None
    duration: float


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What worked: the settings, the readout they produced and how long the read took (s).

    ``attempts`` counts the reads (the last one worked); ``history`` lists them in order.
    """

    settings: ReadSettings
    readout: Readout
    duration: float
    attempts: int
    history: tuple[Attempt, ...] = ()


def push_settings(
    base: ReadSettings, rates: tuple[int, ...] = PUSH_BAUDRATES
) -> list[ReadSettings]:
    """Listen-only settings for a meter that pushes its readout (mode D) at ``rates``."""
    return [
        replace(base, mode="D", baudrate=rate, wakeup=False, answer_baudrate=None) for rate in rates
    ]


def heat_meter_settings(base: ReadSettings) -> ReadSettings:
    """The Landis+Gyr Ultraheat sign-on: wake-up and request at 300 Bd, the answer at 2400 Bd.

    No acknowledgement, no rate switch of our own (mode A): the meter sends its identification and
    data at the answer rate right after the request. Address and block check stay as given.
    """
    return replace(
        base,
        mode="A",
        baudrate=None,
        initial_baudrate=None,
        wakeup=True,
        no_waiting=False,
        answer_baudrate=HEAT_METER_ANSWER_BAUDRATE,
    )


def heat_meter_mode_b_settings(base: ReadSettings) -> ReadSettings:
    """The Ultraheat sign-on as ultraheat-api does it: identification at 300 Bd, data at 2400 Bd.

    Mode B (the meter switches to the rate of its baud character, ``C`` = 2400 Bd, right after
    the identification, no acknowledgement). ``answer_baudrate`` 300 (the request's own rate)
    selects the Ultraheat wake-up: the NULs directly followed by the request, no pause; it also
    marks the settings as a battery heat meter's.
    """
    return replace(heat_meter_settings(base), mode="B", answer_baudrate=HEAT_METER_REQUEST_BAUDRATE)


def heat_meter_candidates(base: ReadSettings) -> list[ReadSettings]:
    """Both Ultraheat sign-ons, in the order tried (see the module docstring)."""
    return [heat_meter_settings(base), heat_meter_mode_b_settings(base)]


def first_attempts(settings: ReadSettings) -> list[ReadSettings]:
    """What to try first: the settings as given; mode D without a rate listens at the push rates."""
    if settings.mode == "D" and settings.baudrate is None:
        return push_settings(settings)
    return [settings]


def fallbacks(
    failed: ReadSettings,
    kind: str,
    *,
    try_other_modes: bool,
    search_push_rates: bool | None = None,
) -> list[tuple[Stage, ReadSettings]]:
    """Settings worth trying after ``failed`` ended with an error of ``kind``, with their stage.

    ``try_other_modes`` (automatic mode) allows the heat-meter sign-on and listening for a push
    meter; ``search_push_rates`` (default: the same) allows the other push rates after a push
    meter was heard at a rate where it could not be understood.
    """
    if search_push_rates is None:
        search_push_rates = try_other_modes
    found: list[tuple[Stage, ReadSettings]] = []
    if failed.mode == "D":
        # Listening has nothing to vary but the rate: bytes without an identification are a push
        # meter at another rate (or junk); silence means nobody pushes, at any rate.
        if kind == "not_iec62056" and search_push_rates:
            rates = tuple(
                r for r in (*PUSH_BAUDRATES, *OTHER_PUSH_BAUDRATES) if r != failed.baudrate
            )
            found.extend((Stage.PUSH_OTHER, s) for s in push_settings(failed, rates))
        return found
    if kind == "no_answer" and not failed.wakeup:
        found.append((Stage.FIX, replace(failed, wakeup=True)))  # Battery or sleepy meters.
    if kind == "checksum" and failed.checksum is Checksum.XOR:
        found.append((Stage.FIX, replace(failed, checksum=Checksum.SUM)))  # Kamstrup, Energomera.
    if kind in ("checksum", "timeout") and failed.no_waiting and failed.mode == "C":
        found.append((Stage.FIX, replace(failed, no_waiting=False)))  # The shortcut was too fast.
    if (
        kind in ("checksum", "timeout", "port_error")
        and failed.mode in ("B", "C")
        and failed.baudrate != 300
        and failed.answer_baudrate is None
    ):
        found.append((Stage.FIX, replace(failed, baudrate=300)))  # The switch failed: stay at 300.
    if not try_other_modes or failed.answer_baudrate is not None:
        return found
    # A sleeping Ultraheat is silent; woken, it answers at 2400 Bd (junk or a stalled read here).
    if kind == "no_answer" or (failed.wakeup and kind in _PULL_RETRY_KINDS):
        found.extend((Stage.HEAT_METER, s) for s in heat_meter_candidates(failed))
    if kind in _PULL_RETRY_KINDS:
        found.extend((Stage.PUSH, s) for s in push_settings(failed))
    return found


def progress(err: Iec62056Error) -> int:
    """How far an attempt that ended with ``err`` got (higher = further)."""
    if isinstance(err, EmptyReadoutError):
        return _PROGRESS_RANK["timeout"]  # A whole readout came, only without data sets.
    return _PROGRESS_RANK.get(err.kind, 0)


class _Plan:
    """The candidates still to try, by stage, then in the order they were found."""

    def __init__(self, settings: ReadSettings, *, try_other_modes: bool) -> None:
        self.try_other_modes = try_other_modes
        self.search_push_rates = try_other_modes or (
            settings.mode == "D" and settings.baudrate is None
        )
        self._queue: list[tuple[int, int, ReadSettings]] = []
        self._seen: set[ReadSettings] = set()
        for candidate in first_attempts(settings):
            self.add(Stage.GIVEN, candidate)

    def add(self, stage: Stage, candidate: ReadSettings) -> None:
        if candidate not in self._seen:
            self._seen.add(candidate)
            heapq.heappush(self._queue, (stage, len(self._seen), candidate))

    def pop(self) -> ReadSettings | None:
        return heapq.heappop(self._queue)[2] if self._queue else None

    def failed(self, candidate: ReadSettings, kind: str) -> None:
        for stage, found in fallbacks(
            candidate,
            kind,
            try_other_modes=self.try_other_modes,
            search_push_rates=self.search_push_rates,
        ):
            self.add(stage, found)


async def _read_meter(port: str, settings: ReadSettings) -> Readout:
    from .driver import read_meter  # serialx only when a port is really read

    return await read_meter(port, settings)


async def probe_meter(
    port: str,
    settings: ReadSettings,
    *,
    try_other_modes: bool = True,
    use_fallbacks: bool = True,
    on_attempt: AttemptCallback | None = None,
    on_outcome: OutcomeCallback | None = None,
    read: Reader | None = None,
    clock: Clock = time.monotonic,
    max_attempts: int = MAX_ATTEMPTS,
) -> ProbeResult:
    """Read the meter on ``port``, falling back to what a user would try by hand.

    ``on_attempt(number, settings)`` is called before each read, ``on_outcome(attempt)`` after it.
    ``use_fallbacks=False`` reads with the settings as given only (mode D without a rate still
    listens at :data:`PUSH_BAUDRATES`). ``read`` replaces :func:`read_meter` (tests, a shared
    port). Raises the error of the attempt
    that got furthest when nothing works, or at once an error of :data:`FATAL_KINDS`.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    reader = _read_meter if read is None else read
    plan = _Plan(settings, try_other_modes=try_other_modes)
    history: list[Attempt] = []
    best: Iec62056Error | None = None
    while len(history) < max_attempts and (candidate := plan.pop()) is not None:
        if on_attempt is not None:
            on_attempt(len(history) + 1, candidate)
        started = clock()
        try:
            readout = await reader(port, candidate)
            if not readout.datasets:
                raise EmptyReadoutError("the meter sent no data sets")
        except Iec62056Error as err:
            attempt = Attempt(candidate, err.kind, clock() - started)
            history.append(attempt)
            if on_outcome is not None:
                on_outcome(attempt)
            if err.kind in FATAL_KINDS:
                raise
            if best is None or progress(err) > progress(best):
                best = err
            if use_fallbacks:
                plan.failed(candidate, err.kind)
            continue
        duration = max(clock() - started, readout.duration)
        attempt = Attempt(candidate, None, duration)
        history.append(attempt)
        if on_outcome is not None:
            on_outcome(attempt)
        return ProbeResult(candidate, readout, duration, len(history), tuple(history))
    assert best is not None  # At least one attempt ran (the plan starts with one), and failed.
    raise best
