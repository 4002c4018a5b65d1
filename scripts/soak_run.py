"""Soak run: thousands of read cycles with random faults through the real coordinator.

A real Home Assistant instance (the test harness's ``async_test_home_assistant``, no pytest) loads
one config entry per simulated meter; each cycle gives the meter new values, maybe arms a fault,
runs ``coordinator.async_refresh()`` and checks every state change Home Assistant publishes against
the meter's true values of that cycle. Several meters run in parallel, because the standard's quiet
time between two sessions on one port (shortened here with ``--gap``) bounds the rate per port.

Value glitches (``--glitch-rate``) pass the check byte but are wrong or different: a *spike* (one
energy register jumps by 100 000 to 900 000 kWh for one readout; the entity must keep its last
accepted value), a *unit change* (the readout's kWh values arrive in Wh; the entity must show
the same kWh value) and a *meter swap* (another serial number for one readout; nothing may be
published, the entities must be unavailable). The value guard's clock is injected: each cycle is
ten minutes of meter time.

    scripts/soak --cycles 2000 --seed 1 [--meters 4] [--gap 0.5] [--fault-rate 0.5]

Exit status 1 if a wrong value was published, file descriptors or threads grew, or resident
memory grew by more than ``--rss-tolerance`` MiB.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
import fcntl
import os
import random
import sys
import threading
import time
from typing import Any

from homeassistant import loader
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.dlms_meter import catalog
from custom_components.dlms_meter.const import (
    CONF_CODES,
    CONF_MODE,
    CONF_PORT,
    CONF_SERIAL_NUMBER,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.dlms_meter.coordinator import DATA_READER, DlmsCoordinator
from custom_components.dlms_meter.iec62056 import (
    Iec62056Error,
    Readout,
    ReadSettings,
    Value,
    parse_data_block,
    read_meter,
)
from meter_sim.profiles import replace_register
from meter_sim.simulator import Fault, MeterSimulator

PROFILE = "iskra_me162"  # 9600 Bd, 195-byte readout
CHANGING = ("1.8.0", "1.8.1", "1.8.2")
FAULTS = (*(str(fault) for fault in Fault), "unplug", "unplug_mid_read", "port_busy", "echo")
GLITCHES = ("spike", "unit_change", "meter_swap")
SERIALS = ("C.1.0", "0.0.0")  # the ME162 sends its serial number in both
CYCLE_SECONDS = 600.0  # meter time per cycle (the value guard's clock)
POOL_PREFIXES = ("SyncWorker_", "asyncio_")  # Home Assistant's executor, the loop's default one


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _threads() -> int:
    """Threads alive, without executor workers (pools that are reused, up to their limit)."""
    return sum(not t.name.startswith(POOL_PREFIXES) for t in threading.enumerate())


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass
class Totals:
    """What all meters did."""

    reads: int = 0
    good: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    states_checked: int = 0
    wrong: list[str] = field(default_factory=list)
    faulted_but_good: int = 0
    glitches: Counter[str] = field(default_factory=Counter)
    held_back: int = 0
    other_meter: int = 0


@dataclass
class Meter:
    """One simulated meter, its entry and what its entities must show in this cycle."""

    sim: MeterSimulator
    entry: MockConfigEntry
    block: bytes
    rng: random.Random
    serial: str = ""
    entities: dict[str, str] = field(default_factory=dict)  # entity_id -> key
    truth: dict[str, object] = field(default_factory=dict)
    accepted: dict[str, object] = field(default_factory=dict)  # guarded totals: last accepted
    spiked: set[str] = field(default_factory=set)  # keys whose readout this cycle is a spike
    swapped: bool = False  # another meter answers in this cycle
    now: float = 1_780_000_000.0
    step: int = 0

    def clock(self) -> float:
        """The value guard's clock of this meter (moved on by each cycle)."""
        return self.now

    @property
    def coordinator(self) -> DlmsCoordinator:
        """The entry's coordinator."""
        coordinator: DlmsCoordinator = self.entry.runtime_data
        return coordinator

    def new_values(self) -> None:
        """The meter's energy registers count up; remember what each entity must show."""
        self.step += 1
        for address in CHANGING:
            old = self.sim.value(address)
            decimals = len(old.partition(".")[2])
            new = f"{float(old) + 0.5 + self.rng.random():0{len(old)}.{decimals}f}"
            self.sim.set_value(address, new)
            self.block = replace_register(self.block, address, new)
        self.truth = self.truth_of_block()

    def truth_of_block(self) -> dict[str, object]:
        """What each entity must show for the meter's current data block."""
        datasets: dict[str, Any] = {}
        for dataset in parse_data_block(self.block.decode("latin-1")).datasets:
            datasets.setdefault(catalog.dataset_key(dataset), dataset)
        truth: dict[str, object] = {}
        for key, spec in self.coordinator.specs.items():
            text = datasets[key].value.value
            truth[key] = catalog.parse_number(text) if spec.numeric else text.strip() or None
        return truth

    def expected(self, key: str) -> object:
        """What the entity of ``key`` must show in this cycle (a held spike: the last accepted)."""
        return self.accepted.get(key) if key in self.spiked else self.truth[key]

    def cycle_done(self, good: bool) -> None:
        """After a good read the guarded totals' accepted values are this cycle's true ones."""
        if good:
            for key, spec in self.coordinator.specs.items():
                if spec.guard_decrease and key not in self.spiked:
                    self.accepted[key] = self.truth[key]
        self.spiked = set()
        self.swapped = False

    def is_true(self, key: str, state: str) -> bool:
        """Whether ``state`` is what the entity of ``key`` must show in this cycle."""
        if self.swapped:
            return False  # another meter: nothing may be published
        expected = self.expected(key)
        if expected is None:
            return state == STATE_UNKNOWN
        if isinstance(expected, float):
            try:
                return float(state) == expected
            except ValueError:
                return False
        return state == expected


async def _setup_meter(hass: HomeAssistant, index: int, seed: int) -> Meter:
    sim = MeterSimulator(PROFILE, seed=seed + index)
    await asyncio.get_running_loop().run_in_executor(None, sim.start)
    serial = f"{28342193 + index:08d}"  # each simulated meter its own serial number
    block = sim.profile.block
    for address in SERIALS:
        sim.set_value(address, serial)
        block = replace_register(block, address, serial)
    codes = [catalog.dataset_key(ds) for ds in parse_data_block(block.decode()).datasets]
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"Soak meter {index}",
        unique_id=serial,
        data={CONF_PORT: sim.port, CONF_SERIAL_NUMBER: serial},
        options={CONF_UPDATE_INTERVAL: 3600, CONF_CODES: codes, CONF_MODE: "C"},
    )
    entry.add_to_hass(hass)
    meter = Meter(sim, entry, block, random.Random(seed * 1000 + index), serial=serial)
    for _ in range(5):  # the first read may hit a fault-free hiccup: set-up is retried
        if await hass.config_entries.async_setup(entry.entry_id):
            break
        await hass.config_entries.async_unload(entry.entry_id)
    else:
        raise SystemExit(f"meter {index}: set-up failed")
    registry = er.async_get(hass)
    for reg in er.async_entries_for_config_entry(registry, entry.entry_id):
        if reg.disabled_by is None:
            meter.entities[reg.entity_id] = reg.unique_id.removeprefix(f"{serial}_")
    meter.coordinator.clock = meter.clock
    meter.truth = meter.truth_of_block()
    meter.cycle_done(good=True)
    return meter


def _lock(path: str) -> int:
    """Hold the port like another program does (an exclusive flock on its own open file)."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _in_wh(readout: Readout) -> Readout:
    """The readout with every kWh value in Wh (as a meter reconfigured to Wh would send it)."""
    datasets = []
    for dataset in readout.datasets:
        first = dataset.value
        if first is not None and first.unit == "kWh":
            wh = Value(str(Decimal(first.value) * 1000), "Wh")
            dataset = replace(dataset, values=(wh, *dataset.values[1:]))  # noqa: PLW2901
        datasets.append(dataset)
    return replace(readout, datasets=tuple(datasets))


def _glitch(meter: Meter, totals: Totals, glitch_rate: float) -> Callable[[], None]:
    """Maybe arm a value glitch for this cycle; return what undoes it after the read."""
    sim, rng = meter.sim, meter.rng
    if rng.random() >= glitch_rate:
        return lambda: None
    glitch = rng.choice(GLITCHES)
    totals.glitches[glitch] += 1
    if glitch == "spike":
        address = rng.choice(CHANGING)
        true = sim.value(address)
        whole = len(true.partition(".")[0])
        spike = float(true) + rng.randint(1, 9) * 10 ** (whole - 2)
        sim.set_value(address, f"{spike:0{len(true)}.{len(true.partition('.')[2])}f}")
        meter.spiked.add(address)
        return lambda: sim.set_value(address, true)
    if glitch == "unit_change":
        reader = meter.coordinator.reader

        async def read_in_wh(port: str, settings: ReadSettings) -> Readout:
            return _in_wh(await reader(port, settings))

        meter.coordinator.reader = read_in_wh

        def undo_unit() -> None:
            meter.coordinator.reader = reader

        return undo_unit
    other = f"{int(meter.serial) + 50000000:08d}"
    for address in SERIALS:
        sim.set_value(address, other)
    meter.swapped = True

    def undo_swap() -> None:
        for address in SERIALS:
            sim.set_value(address, meter.serial)

    return undo_swap


async def _cycle(meter: Meter, totals: Totals, fault_rate: float, glitch_rate: float) -> None:
    sim, rng = meter.sim, meter.rng
    meter.new_values()
    meter.now += CYCLE_SECONDS
    undo = _glitch(meter, totals, glitch_rate)
    fault = rng.choice(FAULTS) if rng.random() < fault_rate else None
    locked: int | None = None
    if fault is not None and fault in set(Fault):
        sim.inject(Fault(fault))
    elif fault == "unplug":
        await asyncio.to_thread(sim.unplug)
    elif fault == "port_busy":
        locked = _lock(sim.port)
    elif fault == "echo":
        sim.profile = sim.profile.replace(echo=not sim.profile.echo)
    if fault == "unplug_mid_read":
        refresh = asyncio.create_task(meter.coordinator.async_refresh())
        await asyncio.sleep(rng.uniform(0.05, 1.5))
        await asyncio.to_thread(sim.unplug)
        await refresh
    else:
        await meter.coordinator.async_refresh()
    if locked is not None:
        os.close(locked)
    if not sim.is_plugged():
        await asyncio.to_thread(sim.replug)
    used = fault is not None and not sim.pending_faults()
    sim.clear_faults()
    undo()

    totals.reads += 1
    if fault is not None and used:
        totals.faults[fault] += 1
    coordinator = meter.coordinator
    if coordinator.last_update_success:
        totals.good += 1
        totals.faulted_but_good += fault not in (None, "echo")
        for key, state in coordinator.data.states.items():  # what the entities show
            if key in meter.truth and not meter.is_true(key, _text(state)):
                totals.wrong.append(f"accepted {key}={state!r} (cycle {meter.step})")
    else:
        cause = coordinator.last_exception
        error = cause.__cause__ if cause is not None else None
        if isinstance(error, Iec62056Error):
            kind = error.kind
        elif getattr(cause, "translation_key", None) == "other_meter":
            kind = "other_meter"
            totals.other_meter += 1
        else:
            kind = type(cause).__name__
        totals.failures[kind] += 1
    meter.cycle_done(coordinator.last_update_success)


def _text(state: float | str | None) -> str:
    """A coordinator state as Home Assistant writes it."""
    return STATE_UNKNOWN if state is None else str(state)


def _watch(meters: list[Meter], totals: Totals) -> Callable[[Event[EventStateChangedData]], None]:
    owners = {entity_id: meter for meter in meters for entity_id in meter.entities}

    @callback
    def on_state(event: Event[EventStateChangedData]) -> None:
        state = event.data["new_state"]
        meter = owners.get(event.data["entity_id"])
        if state is None or meter is None or state.state == STATE_UNAVAILABLE:
            return
        totals.states_checked += 1
        key = meter.entities[state.entity_id]
        if not meter.is_true(key, state.state):
            totals.wrong.append(
                f"published {state.entity_id}={state.state}, expected {meter.expected(key)}"
                f" (cycle {meter.step}{', other meter' if meter.swapped else ''})"
            )

    return on_state


async def _meter_loop(meter: Meter, cycles: int, totals: Totals, args: argparse.Namespace) -> None:
    for _ in range(cycles):
        await _cycle(meter, totals, args.fault_rate, args.glitch_rate)


def _resources() -> tuple[int, int, int]:
    return _fds(), _threads(), _rss_kib()


async def soak(args: argparse.Namespace) -> int:
    """Run the soak; return the exit status."""
    fast: dict[str, Any] = {
        "session_gap": args.gap,
        "answer_timeout": 1.0,
        "switch_delay": args.switch_delay,
    }

    async def fast_read(port: str, settings: ReadSettings) -> Readout:
        return await read_meter(port, replace(settings, **fast))

    totals = Totals()
    async with async_test_home_assistant() as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
        # the injected reader: the protocol timing for every read (no option has these)
        hass.data[DATA_READER] = fast_read
        meters = [await _setup_meter(hass, i, args.seed) for i in range(args.meters)]
        unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, _watch(meters, totals))
        # warm up: a few cycles without faults (executor threads, translations, caches)
        for meter in meters:
            meter.new_values()
            meter.now += CYCLE_SECONDS
            await meter.coordinator.async_refresh()
            meter.cycle_done(meter.coordinator.last_update_success)
        start = _resources()
        began = time.monotonic()
        per_meter = -(-args.cycles // args.meters)
        await asyncio.gather(*(_meter_loop(m, per_meter, totals, args) for m in meters))
        totals.held_back = sum(m.coordinator.stats.held_back for m in meters)
        elapsed = time.monotonic() - began
        end = _resources()
        unsubscribe()
        for meter in meters:
            await hass.config_entries.async_unload(meter.entry.entry_id)
            await asyncio.get_running_loop().run_in_executor(None, meter.sim.stop)
        await hass.async_stop(force=True)
    return _report(args, totals, start, end, elapsed)


def _report(
    args: argparse.Namespace,
    totals: Totals,
    start: tuple[int, int, int],
    end: tuple[int, int, int],
    elapsed: float,
) -> int:
    print(
        f"soak: {args.meters} x {PROFILE} meters, seed {args.seed}, fault rate {args.fault_rate}, "
        f"glitch rate {args.glitch_rate}, session gap {args.gap} s, "
        f"switch delay {args.switch_delay} s"
    )
    print(f"time: {elapsed:.1f} s ({elapsed / max(totals.reads, 1):.2f} s per read, all meters)")
    print(f"reads: {totals.reads}  good reads: {totals.good}  failed: {totals.reads - totals.good}")
    print(f"faults injected (used): {dict(sorted(totals.faults.items()))}")
    print(f"failures by kind: {dict(sorted(totals.failures.items()))}")
    print(f"faulted reads that still succeeded: {totals.faulted_but_good}")
    print(f"value glitches armed: {dict(sorted(totals.glitches.items()))}")
    print(f"spikes held back by the guard: {totals.held_back}")
    print(f"readouts of another meter refused: {totals.other_meter}")
    print(f"published states checked: {totals.states_checked}")
    print(f"wrong values published: {len(totals.wrong)}")
    for wrong in totals.wrong[:20]:
        print(f"  {wrong}")
    rss_growth = (end[2] - start[2]) / 1024
    print(f"open fds: start {start[0]}  end {end[0]}")
    print(f"threads (without executor workers): start {start[1]}  end {end[1]}")
    print(
        f"VmRSS: start {start[2] / 1024:.1f} MiB  end {end[2] / 1024:.1f} MiB  ({rss_growth:+.1f})"
    )
    problems = []
    if totals.wrong:
        problems.append("wrong values were published")
    if end[0] > start[0]:
        problems.append("file descriptors leaked")
    if end[1] > start[1]:
        problems.append("threads leaked")
    if rss_growth > args.rss_tolerance:
        problems.append(f"memory grew by more than {args.rss_tolerance} MiB")
    if totals.good == 0:
        problems.append("no read succeeded")
    print("result: " + ("FAIL: " + "; ".join(problems) if problems else "OK"))
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=1000, help="read cycles in all (1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--meters", type=int, default=4, help="simulated meters in parallel (4)")
    parser.add_argument("--fault-rate", type=float, default=0.5, help="share of faulted cycles")
    parser.add_argument(
        "--glitch-rate", type=float, default=0.2, help="share of cycles with a value glitch (0.2)"
    )
    parser.add_argument("--gap", type=float, default=0.5, help="quiet time between sessions (s)")
    parser.add_argument(
        "--switch-delay", type=float, default=0.0, help="extra wait after the ACK (s)"
    )
    parser.add_argument("--rss-tolerance", type=float, default=32.0, help="MiB (32)")
    args = parser.parse_args(argv)
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
