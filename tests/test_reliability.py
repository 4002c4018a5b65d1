"""Reliability: faults, bad input, unplugging, a busy port, unload and stop during a read.

Every test runs the real coordinator inside Home Assistant against the project's simulator and
records every state change of the meter's entities for the whole test. Each shows that:

* no wrong value ever reaches a state (every published state is a value the meter really sent);
* the entities go unavailable on the failure and come back on the first good read;
* the port is released (a fresh ``read_meter`` works right after);
* no file descriptor or thread is left behind (HA's fixtures fail on lingering tasks/timers);
* the coordinator logs once when the meter goes away and once when it is back.

The value guard's clock is injected: each new truth of the meter comes an hour after the last
one (the totals grow by 1.25 kWh steps, which the guard must let through, while the tests run in
seconds). Only the wait for an answer is shortened (1.5 s instead of 3 s, so that a silent meter
costs less); the standard's character timeout and quiet time between sessions (1.5 s each) stay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field, replace
import logging
import os
import sys
import threading
import time

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import (
    CoreState,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dlms_meter import catalog
from custom_components.dlms_meter.coordinator import DATA_CLOCK, DATA_READER, DlmsCoordinator
from custom_components.dlms_meter.iec62056 import (
    DataSet,
    Readout,
    ReadSettings,
    parse_data_block,
    read_meter,
)
from meter_sim.profiles import replace_register
from meter_sim.simulator import Fault, MeterSimulator

from .meter import E350_SERIAL, FakeClock, meter_entry

pytestmark = pytest.mark.usefixtures("entity_registry_enabled_by_default")


def fast(settings: ReadSettings) -> ReadSettings:
    """The settings with the shortened answer timeout (everything else as users have it)."""
    return replace(settings, answer_timeout=1.5)


async def _fast_read(port: str, settings: ReadSettings) -> Readout:
    """The injected reader: the library's ``read_meter`` with the shortened answer timeout."""
    return await read_meter(port, fast(settings))


LOGGER = "custom_components.dlms_meter"
POOL_PREFIX = "SyncWorker_"  # Home Assistant's executor (also the loop's default executor)
# registers that change between reads (energy only ever goes up: the guard keeps out of the way)
CHANGING = ("1.8.0", "1.8.1", "32.7")

type Expected = float | str | None


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _threads() -> int:
    """Threads alive, without the executor's reusable workers (a pool grows up to its limit)."""
    return threading.active_count() - sum(
        thread.name.startswith(POOL_PREFIX) for thread in threading.enumerate()
    )


@dataclass
class Rig:
    """A loaded entry on a simulated meter, the meter's true values and every state published."""

    hass: HomeAssistant
    sim: MeterSimulator
    entry: MockConfigEntry
    block: bytes
    truths: list[dict[str, Expected]] = field(default_factory=list)
    published: list[tuple[str, str]] = field(default_factory=list)
    entities: dict[str, str] = field(default_factory=dict)  # entity_id -> data-set key
    fds: int = 0
    threads: int = 0
    bumps: int = 0
    clock: FakeClock = field(default_factory=FakeClock)  # the value guard's clock

    @property
    def coordinator(self) -> DlmsCoordinator:
        """The entry's coordinator."""
        coordinator: DlmsCoordinator = self.entry.runtime_data
        return coordinator

    @callback
    def record(self, event: Event[EventStateChangedData]) -> None:
        """Keep every state change of a sensor (filtered to ours when checked)."""
        state = event.data["new_state"]
        if state is not None and state.entity_id.startswith("sensor."):
            self.published.append((state.entity_id, state.state))

    def expected(self) -> dict[str, Expected]:
        """What each entity must show for the meter's current data block."""
        datasets: dict[str, DataSet] = {}
        for dataset in parse_data_block(self.block.decode("latin-1")).datasets:
            datasets.setdefault(catalog.dataset_key(dataset), dataset)
        found: dict[str, Expected] = {}
        for key, spec in self.coordinator.specs.items():
            value = datasets[key].value
            assert value is not None
            found[key] = (
                catalog.parse_number(value.value) if spec.numeric else value.value.strip() or None
            )
        return found

    def bump(self) -> None:
        """Give the meter new values (a new truth) for the following readouts, an hour later."""
        self.bumps += 1
        self.clock.now += 3600
        for address in CHANGING:
            value = self.sim.value(address)
            number = float(value) + 1.25 * self.bumps
            decimals = len(value.partition(".")[2])
            new = f"{number:0{len(value)}.{decimals}f}"
            self.sim.set_value(address, new)
            self.block = replace_register(self.block, address, new)
        self.truths.append(self.expected())

    def states(self) -> dict[str, str]:
        """The current state of each of the meter's entities, by key."""
        found: dict[str, str] = {}
        for entity_id, key in self.entities.items():
            state = self.hass.states.get(entity_id)
            assert state is not None, entity_id
            found[key] = state.state
        return found

    def assert_unavailable(self) -> None:
        """Every entity of the meter is unavailable (never 0, never the old value)."""
        assert set(self.states().values()) == {STATE_UNAVAILABLE}

    def assert_current(self) -> None:
        """Every entity shows the meter's current value."""
        truth = self.truths[-1]
        mismatched = {
            key: state for key, state in self.states().items() if not _same(state, truth[key])
        }
        assert not mismatched, mismatched

    def assert_no_wrong_value(self) -> None:
        """Every state ever published is one the meter really sent (or unavailable)."""
        checked = 0
        for entity_id, state in self.published:
            key = self.entities.get(entity_id)
            if key is None or state == STATE_UNAVAILABLE:
                continue
            assert any(_same(state, truth[key]) for truth in self.truths), (entity_id, state)
            checked += 1
        assert checked >= len(self.entities)

    async def refresh(self) -> None:
        """One update cycle, as the interval timer runs it."""
        await self.coordinator.async_refresh()
        await self.hass.async_block_till_done()

    async def port_is_free(self) -> None:
        """A fresh read of our own works (the port was released) and gives the true values."""
        readout = await read_meter(self.sim.port, fast(ReadSettings()))
        values = {catalog.dataset_key(ds): ds.value for ds in readout.datasets}
        assert values["1.8.0"] is not None
        assert catalog.parse_number(values["1.8.0"].value) == self.truths[-1]["1.8.0"]

    def remember_resources(self) -> None:
        """Take the baseline for the leak check."""
        self.fds, self.threads = _fds(), _threads()

    def assert_no_leaks(self) -> None:
        """As many file descriptors and threads as at the baseline."""
        assert (_fds(), _threads()) == (self.fds, self.threads)


def _same(state: str, expected: Expected) -> bool:
    if expected is None:
        return state == STATE_UNKNOWN
    if isinstance(expected, float):
        try:
            return float(state) == expected
        except ValueError:
            return False
    return state == expected


def _outage_logs(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    """(error records "Error fetching", info records "... data recovered") of our coordinator."""
    ours = [r for r in caplog.records if r.name == LOGGER]
    failed = sum(
        r.levelno == logging.ERROR and r.getMessage().startswith("Error fetching") for r in ours
    )
    back = sum(
        r.levelno == logging.INFO and r.getMessage().endswith("data recovered") for r in ours
    )
    return failed, back


async def _load(rig: Rig) -> None:
    entry = rig.entry
    assert await rig.hass.config_entries.async_setup(entry.entry_id)
    await rig.hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


@pytest.fixture
async def rig(
    hass: HomeAssistant,
    simulator: MeterSimulator,
    caplog: pytest.LogCaptureFixture,
) -> AsyncGenerator[Rig]:
    """The E350 entry loaded (one good read), every state change recorded from the start."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    rig = Rig(hass, simulator, meter_entry(simulator), simulator.profile.block)
    hass.data[DATA_CLOCK] = rig.clock
    _fast_read.schedules_itself = True  # type: ignore[attr-defined]  # read_meter holds the port
    hass.data[DATA_READER] = _fast_read
    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, rig.record)
    rig.entry.add_to_hass(hass)
    await _load(rig)
    rig.truths.append(rig.expected())
    registry = er.async_get(hass)
    for reg_entry in er.async_entries_for_config_entry(registry, rig.entry.entry_id):
        rig.entities[reg_entry.entity_id] = reg_entry.unique_id.removeprefix(f"{E350_SERIAL}_")
    assert len(rig.entities) == len(rig.coordinator.specs) > 20
    rig.assert_current()
    rig.remember_resources()
    yield rig
    unsubscribe()
    rig.assert_no_wrong_value()


async def _until(predicate: Callable[[], bool], limit: float = 60) -> None:
    """Let the event loop run until ``predicate`` (on the simulator's timeline) holds."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - the timeline has no event to wait on
            await asyncio.sleep(0.01)


async def _requests_above(sim: MeterSimulator, count: int, limit: float = 60) -> None:
    """Wait (on the simulator's condition, in a worker thread) until it saw a further request."""
    seen = await asyncio.to_thread(sim.wait_for, lambda stats: stats.requests > count, limit)
    assert seen, f"no request within {limit} s"


async def _outage_and_recovery(
    rig: Rig,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    cause: Callable[[], object],
    recover: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Two failed cycles (``cause`` arms each), ``recover``, then the first good read."""
    failures = rig.coordinator.stats.failures.get(kind, 0)
    for _ in range(2):
        rig.bump()
        cause()
        await rig.refresh()
        rig.assert_unavailable()
        assert not rig.coordinator.last_update_success
    assert rig.coordinator.stats.failures.get(kind) == failures + 2
    assert rig.coordinator.stats.consecutive_failures == 2

    if recover is not None:
        await recover()
    await rig.refresh()
    assert rig.coordinator.last_update_success, (rig.coordinator.last_exception, rig.sim.timeline())
    rig.assert_current()
    assert _outage_logs(caplog) == (1, 1)
    await rig.port_is_free()
    rig.assert_no_leaks()


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault.SILENCE, "no_answer"),
        (Fault.CORRUPT, "checksum"),
        (Fault.TRUNCATE, "timeout"),
        (Fault.GARBAGE, "not_iec62056"),
        (Fault.WRONG_RATE, "not_iec62056"),
    ],
)
async def test_injected_fault(
    rig: Rig, caplog: pytest.LogCaptureFixture, fault: Fault, kind: str
) -> None:
    """A meter fault: unavailable (never a wrong value), back with the next good read."""
    before = rig.sim.stats().faults_injected
    await _outage_and_recovery(rig, caplog, kind, lambda: rig.sim.inject(fault))
    assert rig.sim.stats().faults_injected == before + 2


async def test_unplug_during_read_and_replug(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """The head pulled mid-read, then missing, then back at the same path."""
    rig.bump()
    requests = rig.sim.stats().requests
    refresh = rig.hass.async_create_task(rig.coordinator.async_refresh())
    await _requests_above(rig.sim, requests)
    await asyncio.to_thread(rig.sim.unplug)
    await refresh
    await rig.hass.async_block_till_done()
    rig.assert_unavailable()
    assert rig.coordinator.stats.failures.get("port_error") == 1

    await rig.refresh()  # still unplugged: the path is gone
    rig.assert_unavailable()
    assert rig.coordinator.stats.failures["port_not_found"] == 1

    await asyncio.to_thread(rig.sim.replug)
    await rig.refresh()
    rig.assert_current()
    assert _outage_logs(caplog) == (1, 1)
    await rig.port_is_free()
    rig.assert_no_leaks()


_LOCKER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
sys.stdin.read()
"""


async def test_port_held_by_another_process(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """Another program holds the port (exclusive lock): port busy until it lets go."""
    locker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _LOCKER,
        rig.sim.port,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert locker.stdin is not None
    assert locker.stdout is not None
    assert await locker.stdout.readline() == b"locked\n"

    async def release() -> None:
        assert locker.stdin is not None
        locker.stdin.close()
        assert await locker.wait() == 0

    await _outage_and_recovery(rig, caplog, "port_busy", lambda: None, release)


async def test_echo_on_and_off(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """An optical head that echoes and one that does not: every read works either way."""
    for echo in (True, False, True, False):
        rig.sim.profile = rig.sim.profile.replace(echo=echo)
        rig.bump()
        received = rig.sim.stats().bytes_received
        await rig.refresh()
        assert rig.coordinator.last_update_success
        rig.assert_current()
        assert rig.sim.stats().bytes_received > received
    assert rig.coordinator.stats.consecutive_failures == 0
    assert _outage_logs(caplog) == (0, 0)
    assert all(state != STATE_UNAVAILABLE for _, state in rig.published)
    rig.assert_no_leaks()


async def _read_in_flight(rig: Rig) -> asyncio.Task[None]:
    """Start a cycle and return once the meter has answered the request."""
    rig.bump()
    sessions, requests = rig.sim.stats().sessions, rig.sim.stats().requests
    refresh = rig.hass.async_create_task(rig.coordinator.async_refresh())
    await _requests_above(rig.sim, requests)
    assert rig.coordinator._read_task is not None
    assert rig.sim.stats().sessions == sessions
    return refresh


async def test_unload_during_read(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """Unload mid-read: the read stops, the port is free; set up again: values are back."""
    sessions = rig.sim.stats().sessions
    refresh = await _read_in_flight(rig)
    coordinator = rig.coordinator

    assert await rig.hass.config_entries.async_unload(rig.entry.entry_id)
    await refresh
    assert coordinator._read_task is None
    assert rig.sim.stats().sessions == sessions  # the readout never completed
    rig.assert_unavailable()
    await rig.port_is_free()

    await _load(rig)
    rig.assert_current()
    assert rig.coordinator is not coordinator
    assert _outage_logs(caplog) == (0, 0)  # an unload is no failure
    rig.assert_no_leaks()


async def test_home_assistant_stops_during_read(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """Home Assistant stopping mid-read: the read stops at once and the port is released."""
    sessions = rig.sim.stats().sessions
    refresh = await _read_in_flight(rig)
    coordinator = rig.coordinator

    await rig.hass.async_stop()
    assert rig.hass.state is CoreState.stopped
    assert refresh.done()
    assert coordinator._read_task is None
    assert rig.sim.stats().sessions == sessions
    assert _outage_logs(caplog) == (0, 0)
    await rig.port_is_free()
    assert _fds() <= rig.fds
    assert _threads() <= rig.threads


async def test_rate_switch_survives_a_late_ack() -> None:
    """The ACK leaves 60 ms late (as through a USB adapter): the meter must still get it.

    The meter waits tr = 200 ms after the ACK before it sends at the new rate, so a client that
    switches within that window (e.g. half of it after the ACK's end) reads the meter. The
    simulator's thread is held for 60 ms just before the ACK, so the ACK starts on its wire late.
    """
    async with MeterSimulator("lgz_e350") as sim:
        read = asyncio.create_task(read_meter(sim.port, fast(ReadSettings())))
        await _until(lambda: "ident_end" in sim.timeline())
        ack_due = sim.timeline()["ident_end"] + sim.profile.tr
        await asyncio.sleep(max(0.0, ack_due - 0.01 - time.monotonic()))
        loop = sim._loop
        assert loop is not None
        loop.call_soon_threadsafe(time.sleep, 0.06)
        readout = await read
    assert readout.baudrate == 4800
    assert "ack_start" in sim.timeline()


# --- issue 10 on the simulator: values that pass the check byte but are wrong ---------------------

IMPORT = "sensor.landis_gyr_zmf100ac_m26_energy_import"


async def test_a_spike_is_held_back_and_never_published(rig: Rig) -> None:
    """1.8.0 jumps to 961561.289 for one readout: the entity keeps its value, then follows."""
    true_value = rig.sim.value("1.8.0")
    rig.sim.set_value("1.8.0", "9" + true_value[1:])
    await rig.refresh()
    assert rig.coordinator.last_update_success
    rig.assert_current()  # the block (the truth) still holds the true value
    state = rig.hass.states.get(IMPORT)
    assert state is not None
    assert state.attributes["held_back_readings"] == 1
    rig.sim.set_value("1.8.0", true_value)
    rig.bump()
    await rig.refresh()
    rig.assert_current()
    assert "held_back_readings" not in rig.hass.states.get(IMPORT).attributes  # type: ignore[union-attr]
    assert rig.coordinator.stats.held_back == 1
    assert rig.coordinator.stats.rejected_decreases == 0


async def test_another_meter_on_the_port_is_never_published(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """C.1.0 changes (another meter in front of the head): unavailable until the meter is back."""
    own = rig.sim.value("C.1.0")
    rig.sim.set_value("C.1.0", "99999999")
    rig.sim.set_value("1.8.0", "071561.289")
    await rig.refresh()
    rig.assert_unavailable()
    assert rig.coordinator.stats.failures == {"other_meter": 1}
    rig.sim.set_value("C.1.0", own)
    rig.sim.set_value("1.8.0", rig.block.decode("latin-1").split("1.8.0(")[1][:10])
    rig.bump()
    await rig.refresh()
    rig.assert_current()


async def test_overflow_and_negative_values_are_never_published(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """A 400-digit total and voltage, then a negative total: nothing non-finite or negative."""
    huge = "9" * 400
    rig.sim.set_value("1.8.0", huge)
    rig.sim.set_value("32.7", huge)
    rig.sim.set_value("2.8.0", "-00010.490")
    await rig.refresh()
    assert rig.coordinator.last_update_success
    states = rig.states()
    assert states["1.8.0"] == str(rig.truths[-1]["1.8.0"])  # the last accepted total stays
    assert states["2.8.0"] == str(rig.truths[-1]["2.8.0"])
    assert states["32.7"] == STATE_UNKNOWN
    rig.truths.append({**rig.truths[-1], "32.7": None})  # unknown is what it must show now
    assert "non-finite" not in caplog.text
    assert rig.coordinator.stats.invalid_numbers == 3

    rig.sim.set_value("1.8.0", rig.block.decode("latin-1").split("1.8.0(")[1][:10])
    rig.sim.set_value("32.7", "241")
    rig.sim.set_value("2.8.0", "000010.490")
    rig.bump()
    await rig.refresh()
    rig.assert_current()
