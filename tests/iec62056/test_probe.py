"""The library's probing strategy: every fallback path, the heat-meter sign-on, SML, best error.

Most tests inject a fake meter (a rule from settings to a readout or an error) and a fake clock:
no ports, no real time. A few read the simulator on a pty to show the real driver agrees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from dataclasses import replace
import socket
import threading

import pytest

from custom_components.dlms_meter.iec62056 import (
    Checksum,
    ChecksumError,
    DataSet,
    Identification,
    Iec62056Error,
    NoAnswerError,
    PortBusyError,
    PortError,
    PortNotFoundError,
    ProtocolError,
    Readout,
    ReadSettings,
    ReadTimeoutError,
    Value,
    errors as library_errors,
)
from custom_components.dlms_meter.iec62056.probe import (
    ALL_PUSH_BAUDRATES,
    FATAL_KINDS,
    MAX_ATTEMPTS,
    Attempt,
    EmptyReadoutError,
    Stage,
    fallbacks,
    first_attempts,
    heat_meter_candidates,
    heat_meter_mode_b_settings,
    heat_meter_settings,
    probe_meter,
    progress,
    push_settings,
)
from meter_sim.simulator import PROFILES, MeterSimulator

C = ReadSettings()
WOKEN = replace(C, wakeup=True)
HEAT = heat_meter_settings(C)
HEAT_B = heat_meter_mode_b_settings(C)
D9600 = ReadSettings(mode="D", baudrate=9600)
D2400 = ReadSettings(mode="D", baudrate=2400)
IDENT = Identification(raw="LGZ4ZMF100AC.M26", manufacturer="LGZ", baud_char="4", model="ZMF")
READOUT = Readout(IDENT, (DataSet("1.8.0", (Value("000123.4", "kWh"),)),), duration=2.5)
PORT = "/dev/ttyIR"

type Rule = Callable[[ReadSettings], Readout | Iec62056Error]


class SmlError(ProtocolError):
    """What the library raises for an SML stream (contract 2: kind "sml")."""

    kind = "sml"


class KindError(Iec62056Error):
    """An error of any kind (for kinds whose classes other branches add)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"a {kind} error")
        self.kind = kind  # type: ignore[misc]


class FakeMeter:
    """A reader that answers by ``rule`` and advances a fake clock by ``seconds`` per read."""

    def __init__(self, rule: Rule, seconds: float = 3.0) -> None:
        self.rule = rule
        self.seconds = seconds
        self.now = 1000.0
        self.calls: list[ReadSettings] = []
        self.ports: list[str] = []

    def clock(self) -> float:
        return self.now

    async def __call__(self, port: str, settings: ReadSettings) -> Readout:
        self.calls.append(settings)
        self.ports.append(port)
        self.now += self.seconds
        outcome = self.rule(settings)
        if isinstance(outcome, Iec62056Error):
            raise outcome
        return outcome


async def _probe(meter: FakeMeter, settings: ReadSettings = C, **kwargs: object) -> Readout:
    result = await probe_meter(PORT, settings, read=meter, clock=meter.clock, **kwargs)  # type: ignore[arg-type]
    return result.readout


def _only(wanted: ReadSettings, otherwise: Iec62056Error | None = None) -> Rule:
    """A meter that answers only ``wanted``; anything else: ``otherwise`` (default no answer)."""

    def rule(settings: ReadSettings) -> Readout | Iec62056Error:
        if settings == wanted:
            return READOUT
        return otherwise if otherwise is not None else NoAnswerError("silence")

    return rule


# --- fallbacks: which settings follow which failure -----------------------------------------


def test_no_answer_tries_wakeup_then_heat_meter_then_listening() -> None:
    """Silence: wake the meter up; in automatic mode the heat-meter sign-on, then push meters."""
    assert fallbacks(C, "no_answer", try_other_modes=True) == [
        (Stage.FIX, WOKEN),
        (Stage.HEAT_METER, HEAT),
        (Stage.HEAT_METER, HEAT_B),
        (Stage.PUSH, D9600),
        (Stage.PUSH, D2400),
    ]
    assert fallbacks(C, "no_answer", try_other_modes=False) == [(Stage.FIX, WOKEN)]
    assert fallbacks(WOKEN, "no_answer", try_other_modes=False) == []


def test_woken_meter_answering_junk_may_be_a_heat_meter() -> None:
    """A woken meter that answers at another rate: the heat-meter sign-on; unwoken junk: push."""
    assert fallbacks(WOKEN, "not_iec62056", try_other_modes=True) == [
        (Stage.HEAT_METER, HEAT),
        (Stage.HEAT_METER, HEAT_B),
        (Stage.PUSH, D9600),
        (Stage.PUSH, D2400),
    ]
    assert fallbacks(WOKEN, "timeout", try_other_modes=True)[1] == (Stage.HEAT_METER, HEAT)
    assert fallbacks(C, "not_iec62056", try_other_modes=True) == [
        (Stage.PUSH, D9600),
        (Stage.PUSH, D2400),
    ]
    assert fallbacks(C, "not_iec62056", try_other_modes=False) == []


def test_heat_meter_sign_on() -> None:
    """Wake-up and request at 300 Bd, the answer at 2400 Bd, no ACK; address and check kept."""
    base = replace(C, address="7", checksum=Checksum.SUM, baudrate=9600, no_waiting=True)
    heat = heat_meter_settings(base)
    assert heat == replace(
        base,
        mode="A",
        baudrate=None,
        wakeup=True,
        no_waiting=False,
        answer_baudrate=2400,
    )
    assert heat.start_baudrate == 300


def test_heat_meter_sign_on_as_ultraheat_api() -> None:
    """The other Ultraheat sign-on: NULs and request at 300 Bd, the identification at 300 Bd,
    then mode B's switch to the baud character's rate (2400 Bd), no ACK."""
    base = replace(C, address="7", checksum=Checksum.SUM, baudrate=9600, no_waiting=True)
    assert heat_meter_mode_b_settings(base) == replace(
        heat_meter_settings(base), mode="B", answer_baudrate=300
    )
    assert heat_meter_candidates(base) == [
        heat_meter_settings(base),
        heat_meter_mode_b_settings(base),
    ]
    assert fallbacks(HEAT_B, "not_iec62056", try_other_modes=True) == []


def test_heat_meter_attempt_is_not_varied_into_other_modes() -> None:
    """The sign-on failing is no reason for more sign-ons; its checksum can still be fixed."""
    assert fallbacks(HEAT, "no_answer", try_other_modes=True) == []
    assert fallbacks(HEAT, "not_iec62056", try_other_modes=True) == []
    assert fallbacks(HEAT, "checksum", try_other_modes=True) == [
        (Stage.FIX, replace(HEAT, checksum=Checksum.SUM))
    ]


def test_checksum_tries_sum_and_no_switch() -> None:
    """A failed XOR check: SUM, then 300 Bd without switching (garbled fast data)."""
    assert fallbacks(C, "checksum", try_other_modes=True) == [
        (Stage.FIX, replace(C, checksum=Checksum.SUM)),
        (Stage.FIX, replace(C, baudrate=300)),
    ]
    summed = replace(C, checksum=Checksum.SUM, baudrate=300)
    assert fallbacks(summed, "checksum", try_other_modes=True) == []


def test_timeout_drops_shortcuts_and_stays_slow() -> None:
    """The data stopped: wait as the standard says, stay at 300 Bd, maybe it is a push meter."""
    fast = replace(C, no_waiting=True)
    assert fallbacks(fast, "timeout", try_other_modes=False) == [
        (Stage.FIX, replace(fast, no_waiting=False)),
        (Stage.FIX, replace(fast, baudrate=300)),
    ]
    assert fallbacks(C, "timeout", try_other_modes=True) == [
        (Stage.FIX, replace(C, baudrate=300)),
        (Stage.PUSH, D9600),
        (Stage.PUSH, D2400),
    ]
    # Mode A neither waits nor switches: nothing of that kind to vary.
    assert (
        fallbacks(ReadSettings(mode="A", no_waiting=True), "timeout", try_other_modes=False) == []
    )


def test_port_error_stays_at_300() -> None:
    """A transport that refuses the rate switch (raw socket) may work at 300 Bd."""
    assert fallbacks(C, "port_error", try_other_modes=True) == [
        (Stage.FIX, replace(C, baudrate=300))
    ]


def test_listening_varies_only_the_rate_when_bytes_came() -> None:
    """Silence at a push rate: nobody pushes. Bytes without an identification: other rates."""
    assert fallbacks(D9600, "no_answer", try_other_modes=True) == []
    others = fallbacks(D9600, "not_iec62056", try_other_modes=True)
    assert [s.baudrate for _stage, s in others] == [2400, 4800, 19200, 1200, 600, 300]
    assert {stage for stage, _s in others} == {Stage.PUSH_OTHER}
    assert fallbacks(D9600, "not_iec62056", try_other_modes=False) == []
    assert fallbacks(D9600, "not_iec62056", try_other_modes=False, search_push_rates=True)
    assert fallbacks(D9600, "checksum", try_other_modes=True) == []


def test_first_attempts_and_push_settings() -> None:
    """Mode D without a rate listens at 9600 then 2400 Bd; anything else is tried as given."""
    assert first_attempts(C) == [C]
    assert first_attempts(ReadSettings(mode="D")) == [D9600, D2400]
    assert first_attempts(D2400) == [D2400]
    woken_heat = replace(HEAT, address="7")
    assert push_settings(woken_heat) == [
        replace(D9600, address="7"),
        replace(D2400, address="7"),
    ]
    assert ALL_PUSH_BAUDRATES == (9600, 2400, 4800, 19200, 1200, 600, 300)


def test_progress_ranks_how_far_an_attempt_got() -> None:
    """A whole readout with a bad check beats a stalled one, which beats junk and silence."""
    order = [
        PortError("x"),
        NoAnswerError("x"),
        ProtocolError("x"),
        ReadTimeoutError("x"),
        KindError("read_time_limit"),
        ChecksumError("x"),
    ]
    ranks = [progress(err) for err in order]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)
    assert progress(EmptyReadoutError("x")) == progress(ReadTimeoutError("x"))
    assert progress(KindError("readout_too_long")) == progress(KindError("read_time_limit"))
    assert progress(KindError("something_new")) == 0


# --- the probe against a fake meter -----------------------------------------------------------


async def test_given_settings_that_work_are_read_once() -> None:
    """One read, the settings as given, the duration from the injected clock."""
    meter = FakeMeter(lambda _s: READOUT)
    seen: list[tuple[int, ReadSettings]] = []
    outcomes: list[Attempt] = []

    result = await probe_meter(
        PORT,
        C,
        read=meter,
        clock=meter.clock,
        on_attempt=lambda n, s: seen.append((n, s)),
        on_outcome=outcomes.append,
    )

    assert result.settings == C
    assert result.readout is READOUT
    assert result.attempts == 1
    assert result.duration == 3.0  # the clock, longer than the readout's own 2.5 s
    assert result.history == (Attempt(C, None, 3.0),)
    assert seen == [(1, C)]
    assert outcomes == list(result.history)
    assert meter.ports == [PORT]


async def test_duration_is_at_least_the_readouts_own() -> None:
    """A reader that returns at once still reports the readout's measured duration."""
    meter = FakeMeter(lambda _s: READOUT, seconds=0.0)
    result = await probe_meter(PORT, C, read=meter, clock=meter.clock)
    assert result.duration == 2.5


async def test_wakeup_found() -> None:
    """A battery meter that answers only after the wake-up: the second attempt."""
    meter = FakeMeter(_only(WOKEN))
    result = await probe_meter(PORT, C, read=meter, clock=meter.clock)
    assert meter.calls == [C, WOKEN]
    assert result.settings == WOKEN
    assert [a.error for a in result.history] == ["no_answer", None]


async def test_fixes_add_up() -> None:
    """Silent without wake-up, SUM check: wake-up, then wake-up and SUM."""
    woken_sum = replace(WOKEN, checksum=Checksum.SUM)

    def rule(settings: ReadSettings) -> Readout | Iec62056Error:
        if not settings.wakeup or settings.mode != "C":
            return NoAnswerError("silence")
        return READOUT if settings.checksum is Checksum.SUM else ChecksumError("bad")

    meter = FakeMeter(rule)
    result = await probe_meter(PORT, C, read=meter, clock=meter.clock)
    assert meter.calls == [C, WOKEN, woken_sum]
    assert result.settings == woken_sum


async def test_no_waiting_shortcut_dropped() -> None:
    """The ACK came too early: the standard's reaction time works."""
    fast = replace(C, no_waiting=True)
    meter = FakeMeter(_only(C, ReadTimeoutError("stopped")))
    result = await probe_meter(PORT, fast, read=meter, clock=meter.clock, try_other_modes=False)
    assert meter.calls == [fast, C]
    assert result.settings == C


async def test_stays_at_300_when_the_switch_fails() -> None:
    """Garbled data after the switch (timeout or checksum): reading at 300 Bd works."""
    at_300 = replace(C, baudrate=300)
    meter = FakeMeter(_only(at_300, ReadTimeoutError("stopped")))
    result = await probe_meter(PORT, C, read=meter, clock=meter.clock)
    assert meter.calls == [C, at_300]
    assert result.settings == at_300


async def test_port_error_of_a_rate_switch_falls_back_to_300() -> None:
    """A raw socket that refuses the switch: 300 Bd."""
    at_300 = replace(C, baudrate=300)
    meter = FakeMeter(_only(at_300, PortError("cannot set the rate")))
    result = await probe_meter(PORT, C, read=meter, clock=meter.clock)
    assert result.settings == at_300


async def test_heat_meter_found_without_the_user_knowing() -> None:
    """Ultraheat: silent to a plain request, junk at 300 Bd once woken, the sign-on works.

    It comes before any push listening (which takes 15 s per rate).
    """

    def rule(settings: ReadSettings) -> Readout | Iec62056Error:
        if settings.answer_baudrate == 2400 and settings.wakeup:
            return READOUT
        if settings.wakeup:
            return ProtocolError("3 bytes received, but no IEC 62056-21 identification")
        return NoAnswerError("silence")

    meter = FakeMeter(rule)
    result = await probe_meter(PORT, C, read=meter, clock=meter.clock)
    assert meter.calls == [C, WOKEN, HEAT]
    assert result.settings == HEAT
    assert result.settings.answer_baudrate == 2400


async def test_silent_heat_meter_tried_after_wakeup_at_300() -> None:
    """No answer with and without wake-up at 300 Bd: the heat-meter sign-on is next."""
    meter = FakeMeter(_only(HEAT))
    result = await probe_meter(PORT, C, read=meter, clock=meter.clock)
    assert meter.calls == [C, WOKEN, HEAT]
    assert result.attempts == 3


async def test_no_meter_at_all() -> None:
    """Nothing answers: plain, woken, both heat-meter sign-ons, push at 9600 and 2400; silence is
    no push meter.

    The first error (no answer) is raised; the other push rates are not tried.
    """
    meter = FakeMeter(lambda _s: NoAnswerError("silence"))
    with pytest.raises(NoAnswerError):
        await _probe(meter)
    assert meter.calls == [C, WOKEN, HEAT, HEAT_B, D9600, D2400]


async def test_push_meter_at_9600() -> None:
    """An eHZ pushes at 9600 Bd: junk at the 300-Bd request, then listening at 9600 Bd."""
    meter = FakeMeter(_only(D9600, ProtocolError("junk")))
    result = await probe_meter(PORT, C, read=meter, clock=meter.clock)
    assert meter.calls == [C, D9600]
    assert result.settings == D9600


async def test_push_meter_at_2400() -> None:
    """A standard mode D meter: junk at 9600 Bd, read at 2400 Bd (before any other rate)."""
    meter = FakeMeter(_only(D2400, ProtocolError("junk")))
    result = await probe_meter(PORT, C, read=meter, clock=meter.clock)
    assert meter.calls == [C, D9600, D2400]
    assert result.settings == D2400


async def test_push_meter_at_an_unusual_rate() -> None:
    """Junk at 9600 and 2400 Bd: a meter pushes at another rate; the others, most common first."""
    d19200 = ReadSettings(mode="D", baudrate=19200)
    meter = FakeMeter(_only(d19200, ProtocolError("junk")))
    result = await probe_meter(PORT, C, read=meter, clock=meter.clock)
    assert [s.baudrate for s in meter.calls] == [None, 9600, 2400, 4800, 19200]
    assert result.settings == d19200


async def test_mode_d_without_a_rate_searches_every_push_rate() -> None:
    """``read --mode D``: listening at 9600, 2400, then the others when bytes came."""
    d4800 = ReadSettings(mode="D", baudrate=4800)
    meter = FakeMeter(_only(d4800, ProtocolError("junk")))
    result = await probe_meter(
        PORT, ReadSettings(mode="D"), read=meter, clock=meter.clock, try_other_modes=False
    )
    assert [s.baudrate for s in meter.calls] == [9600, 2400, 4800]
    assert result.settings == d4800


async def test_mode_d_with_a_rate_is_only_listened_at_that_rate() -> None:
    """A fixed push rate in a fixed mode: one attempt."""
    meter = FakeMeter(lambda _s: ProtocolError("junk"))
    with pytest.raises(ProtocolError):
        await _probe(meter, D2400, try_other_modes=False)
    assert meter.calls == [D2400]


async def test_fixed_mode_tries_no_other_mode() -> None:
    """The user chose mode C: wake-up yes, but no heat-meter sign-on and no listening."""
    meter = FakeMeter(lambda _s: NoAnswerError("silence"))
    with pytest.raises(NoAnswerError):
        await _probe(meter, try_other_modes=False)
    assert meter.calls == [C, WOKEN]


async def test_without_fallbacks_only_the_given_settings() -> None:
    """``use_fallbacks=False`` (``read --no-fallback``): the settings as given, once."""
    meter = FakeMeter(lambda _s: NoAnswerError("silence"))
    with pytest.raises(NoAnswerError):
        await _probe(meter, use_fallbacks=False)
    assert meter.calls == [C]


async def test_sml_ends_the_probe_at_once() -> None:
    """An SML meter recognised while listening: no further attempt, the SML error is raised."""

    def rule(settings: ReadSettings) -> Readout | Iec62056Error:
        if settings == D9600:
            return SmlError("SML escape sequence")
        return ProtocolError("junk")

    meter = FakeMeter(rule)
    with pytest.raises(SmlError):
        await _probe(meter)
    assert meter.calls == [C, D9600]


@pytest.mark.parametrize(
    "error", [PortNotFoundError("gone"), PortBusyError("taken"), SmlError("sml")]
)
async def test_fatal_errors_end_the_probe_at_once(error: Iec62056Error) -> None:
    """No setting fixes a missing or busy port, or a meter that speaks SML."""
    assert error.kind in FATAL_KINDS
    outcomes: list[Attempt] = []
    meter = FakeMeter(lambda _s: error)
    with pytest.raises(type(error)):
        await _probe(meter, on_outcome=outcomes.append)
    assert meter.calls == [C]
    assert outcomes == [Attempt(C, error.kind, 3.0)]


async def test_best_error_is_the_one_that_got_furthest() -> None:
    """Woken, the meter sends a whole readout that fails every check: the checksum error wins."""
    bad_check = ChecksumError("does not verify")

    def rule(settings: ReadSettings) -> Readout | Iec62056Error:
        return bad_check if settings.wakeup and settings.mode == "C" else NoAnswerError("quiet")

    meter = FakeMeter(rule)
    with pytest.raises(ChecksumError) as err:
        await _probe(meter)
    assert err.value is bad_check
    assert meter.calls[:2] == [C, WOKEN]
    assert replace(WOKEN, checksum=Checksum.SUM) in meter.calls


async def test_first_of_equal_errors_is_kept() -> None:
    """Ties keep the earlier error (closest to what the user asked for)."""
    first = NoAnswerError("first")
    errors = iter([first])
    meter = FakeMeter(lambda _s: next(errors, NoAnswerError("later")))
    with pytest.raises(NoAnswerError) as err:
        await _probe(meter)
    assert err.value is first


async def test_long_readouts_rank_above_stalled_ones() -> None:
    """A readout cut by the size cap beats a stalled read and junk."""
    too_long = KindError("readout_too_long")

    def rule(settings: ReadSettings) -> Readout | Iec62056Error:
        if settings == C:
            return ReadTimeoutError("stopped")
        if settings.mode == "D":
            return too_long
        return NoAnswerError("quiet")

    meter = FakeMeter(rule)
    with pytest.raises(KindError) as err:
        await _probe(meter)
    assert err.value is too_long


async def test_empty_readout_is_not_a_success() -> None:
    """A readout without data sets: keep looking; if nothing else works, the empty-readout error."""
    empty = Readout(IDENT, ())
    meter = FakeMeter(lambda s: empty if s == C else NoAnswerError("quiet"))
    with pytest.raises(EmptyReadoutError) as err:
        await _probe(meter)
    assert err.value.kind == "not_iec62056"
    assert len(meter.calls) > 1


async def test_attempts_are_capped() -> None:
    """At most ``max_attempts`` reads (the flow's progress bar counts up to MAX_ATTEMPTS)."""
    meter = FakeMeter(lambda _s: ProtocolError("junk"))
    with pytest.raises(ProtocolError):
        await _probe(meter, max_attempts=4)
    assert len(meter.calls) == 4
    every = FakeMeter(lambda _s: ProtocolError("junk"))
    with pytest.raises(ProtocolError):
        await _probe(every)
    assert len(every.calls) <= MAX_ATTEMPTS
    with pytest.raises(ValueError, match="max_attempts"):
        await _probe(meter, max_attempts=0)


async def test_no_candidate_is_read_twice() -> None:
    """Fallbacks found by several failures are tried once."""
    meter = FakeMeter(lambda _s: ReadTimeoutError("stopped"))
    with pytest.raises(ReadTimeoutError):
        await _probe(meter)
    assert len(meter.calls) == len(set(meter.calls))


# --- the probe against the simulator (real driver, real pty) ---------------------------------


async def test_simulated_battery_meter_needs_wakeup() -> None:
    """The real driver: a meter that answers only after the wake-up sequence."""
    with MeterSimulator("lgz_e350", wakeup=True) as sim:
        result = await probe_meter(sim.port, C, try_other_modes=False)
    assert result.settings == WOKEN
    assert [a.error for a in result.history] == ["no_answer", None]
    assert result.readout.identification is not None
    assert result.readout.identification.raw == IDENT.raw
    assert result.duration >= result.readout.duration > 0


async def test_simulated_ehz_found_by_listening_at_9600() -> None:
    """Mode D without a rate finds an eHZ that pushes at 9600 Bd on the first attempt."""
    with MeterSimulator(PROFILES["emh_ehz"]) as sim:
        result = await probe_meter(sim.port, ReadSettings(mode="D"), try_other_modes=False)
    assert result.settings == D9600
    assert result.attempts == 1
    assert result.readout.datasets


async def test_simulated_missing_port_fails_at_once() -> None:
    """No fallback can fix a missing port."""
    with pytest.raises(PortNotFoundError):
        await probe_meter("/dev/does-not-exist-dlms-probe", C)


async def test_simulated_heat_meter_found() -> None:
    """The Ultraheat UH50 profile (everything answered at 2400 Bd, as the ESPHome uh50reader
    reads it): silent to a plain request, junk at 300 Bd once woken, then the first sign-on."""
    with MeterSimulator(PROFILES["ultraheat_uh50"]) as sim:
        result = await probe_meter(sim.port, C)
    assert result.settings == HEAT
    assert result.history[0].error == "no_answer"
    assert result.history[-1].error is None
    assert result.attempts <= 4
    assert result.readout.identification is not None
    assert result.readout.identification.raw == "LUGCUH50"
    assert len(result.readout.datasets) == 66


async def test_simulated_heat_meter_answering_its_identification_at_300() -> None:
    """An Ultraheat that sends its identification at 300 Bd and the data at 2400 Bd (what
    ultraheat-api reads): the first sign-on fails, the second one reads it; still bounded."""
    with MeterSimulator(PROFILES["ultraheat_uh50"].replace(answer_rate=300)) as sim:
        result = await probe_meter(sim.port, C)
    assert result.settings == HEAT_B
    assert HEAT in [a.settings for a in result.history[:-1]]
    assert result.attempts <= MAX_ATTEMPTS
    assert result.readout.baudrate == 2400
    assert len(result.readout.datasets) == 66


# --- an SML meter on a network head (socket://): the real driver recognises it -------------------

#: One SML file: escape + version 1, a message, escape + end. Real SML meters push this at 9600 Bd.
SML_FILE = (
    bytes.fromhex("1b1b1b1b01010101")
    + bytes.fromhex("76050000000062006200726500000101760101") * 8
    + bytes.fromhex("1b1b1b1b1a000000")
)
LIBRARY_KNOWS_SML = hasattr(library_errors, "SmlStreamError")


@contextlib.contextmanager
def sml_network_head() -> Iterator[str]:
    """A TCP "network head" whose meter pushes SML files (what ser2net would pass through)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _addr = server.accept()
            except TimeoutError:
                continue
            with conn:
                while not stop.is_set():
                    try:
                        conn.sendall(SML_FILE)
                    except OSError:
                        break
                    stop.wait(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"socket://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        server.close()


@pytest.mark.skipif(not LIBRARY_KNOWS_SML, reason="the library recognises SML once lib's is merged")
@pytest.mark.usefixtures("socket_enabled")  # a local TCP network head
async def test_real_sml_stream_ends_the_probe() -> None:
    """The driver raises the SML error on the first attempt; the probe tries nothing else."""
    outcomes: list[Attempt] = []
    with sml_network_head() as url, pytest.raises(Iec62056Error) as err:
        await probe_meter(url, C, on_outcome=outcomes.append)
    assert err.value.kind == "sml"
    assert [a.error for a in outcomes] == ["sml"]
