"""Soak run: thousands of read cycles with random faults through the real coordinator.

A real Home Assistant instance (the test harness's ``async_test_home_assistant``, no pytest) loads
one config entry per simulated meter; each cycle gives the meter new values, maybe arms a fault,
runs ``coordinator.async_refresh()`` and checks every state change Home Assistant publishes against
the meter's true values of that cycle. Several meters run in parallel, because the standard's quiet
time between two sessions on one port (shortened here with ``--gap``) bounds the rate per port.

    scripts/soak --cycles 2000 --seed 1 [--meters 4] [--gap 0.5] [--fault-rate 0.5]

Exit status 1 if a wrong value was published, file descriptors or threads grew, or resident
memory grew by more than ``--rss-tolerance`` MiB.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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

from custom_components.dlms_meter import catalog, coordinator as coordinator_module
from custom_components.dlms_meter.const import (
    CONF_CODES,
    CONF_MODE,
    CONF_PORT,
    CONF_SERIAL_NUMBER,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.dlms_meter.coordinator import DlmsCoordinator
from custom_components.dlms_meter.iec62056 import Iec62056Error, ReadSettings, parse_data_block
from custom_components.dlms_meter.probe import settings_from_options
from meter_sim.profiles import replace_register
from meter_sim.simulator import Fault, MeterSimulator

PROFILE = "iskra_me162"  # 9600 Bd, 195-byte readout
CHANGING = ("1.8.0", "1.8.1", "1.8.2")
FAULTS = (*(str(fault) for fault in Fault), "unplug", "unplug_mid_read", "port_busy", "echo")
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


@dataclass
class Meter:
    """One simulated meter, its entry and what its entities must show in this cycle."""

    sim: MeterSimulator
    entry: MockConfigEntry
    block: bytes
    rng: random.Random
    entities: dict[str, str] = field(default_factory=dict)  # entity_id -> key
    truth: dict[str, object] = field(default_factory=dict)
    step: int = 0

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
        datasets: dict[str, Any] = {}
        for dataset in parse_data_block(self.block.decode("latin-1")).datasets:
            datasets.setdefault(catalog.dataset_key(dataset), dataset)
        self.truth = {}
        for key, spec in self.coordinator.specs.items():
            text = datasets[key].value.value
            self.truth[key] = catalog.parse_number(text) if spec.numeric else text.strip() or None

    def is_true(self, key: str, state: str) -> bool:
        """Whether ``state`` is what the meter really sent for ``key`` in this cycle."""
        expected = self.truth[key]
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
    codes = [
        catalog.dataset_key(ds) for ds in parse_data_block(sim.profile.block.decode()).datasets
    ]
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"Soak meter {index}",
        unique_id=f"soak{index}",
        data={CONF_PORT: sim.port, CONF_SERIAL_NUMBER: f"soak{index}"},
        options={CONF_UPDATE_INTERVAL: 3600, CONF_CODES: codes, CONF_MODE: "C"},
    )
    entry.add_to_hass(hass)
    meter = Meter(sim, entry, sim.profile.block, random.Random(seed * 1000 + index))
    for _ in range(5):  # the first read may hit a fault-free hiccup: set-up is retried
        if await hass.config_entries.async_setup(entry.entry_id):
            break
        await hass.config_entries.async_unload(entry.entry_id)
    else:
        raise SystemExit(f"meter {index}: set-up failed")
    registry = er.async_get(hass)
    for reg in er.async_entries_for_config_entry(registry, entry.entry_id):
        if reg.disabled_by is None:
            meter.entities[reg.entity_id] = reg.unique_id.removeprefix(f"soak{index}_")
    return meter


def _lock(path: str) -> int:
    """Hold the port like another program does (an exclusive flock on its own open file)."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


async def _cycle(meter: Meter, totals: Totals, fault_rate: float) -> None:
    sim, rng = meter.sim, meter.rng
    meter.new_values()
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

    totals.reads += 1
    if fault is not None and used:
        totals.faults[fault] += 1
    coordinator = meter.coordinator
    if coordinator.last_update_success:
        totals.good += 1
        totals.faulted_but_good += fault not in (None, "echo")
        for key, value in coordinator.data.values.items():  # what the coordinator accepted
            if key in meter.truth and not meter.is_true(key, _state_of(coordinator, key, value)):
                totals.wrong.append(f"accepted {key}={value.value!r} (cycle {meter.step})")
    else:
        cause = coordinator.last_exception
        error = cause.__cause__ if cause is not None else None
        kind = error.kind if isinstance(error, Iec62056Error) else type(cause).__name__
        totals.failures[kind] += 1


def _state_of(coordinator: DlmsCoordinator, key: str, value: Any) -> str:
    spec = coordinator.specs.get(key)
    if spec is not None and spec.numeric:
        number = catalog.parse_number(value.value)
        return STATE_UNKNOWN if number is None else str(number)
    return value.value.strip() or STATE_UNKNOWN


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
                f"published {state.entity_id}={state.state}, meter sent {meter.truth[key]}"
                f" (cycle {meter.step})"
            )

    return on_state


async def _meter_loop(meter: Meter, cycles: int, totals: Totals, fault_rate: float) -> None:
    for _ in range(cycles):
        await _cycle(meter, totals, fault_rate)


def _resources() -> tuple[int, int, int]:
    return _fds(), _threads(), _rss_kib()


async def soak(args: argparse.Namespace) -> int:
    """Run the soak; return the exit status."""
    fast: dict[str, Any] = {
        "session_gap": args.gap,
        "answer_timeout": 1.0,
        "switch_delay": args.switch_delay,
    }

    def settings(options: Mapping[str, Any]) -> ReadSettings:
        return replace(settings_from_options(options), **fast)

    # the protocol timing for every read (the options have no field for these)
    setattr(coordinator_module, "settings_from_options", settings)  # noqa: B010
    totals = Totals()
    async with async_test_home_assistant() as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
        meters = [await _setup_meter(hass, i, args.seed) for i in range(args.meters)]
        unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, _watch(meters, totals))
        # warm up: a few cycles without faults (executor threads, translations, caches)
        for meter in meters:
            meter.new_values()
            await meter.coordinator.async_refresh()
        start = _resources()
        began = time.monotonic()
        per_meter = -(-args.cycles // args.meters)
        await asyncio.gather(*(_meter_loop(m, per_meter, totals, args.fault_rate) for m in meters))
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
        f"session gap {args.gap} s, switch delay {args.switch_delay} s"
    )
    print(f"time: {elapsed:.1f} s ({elapsed / max(totals.reads, 1):.2f} s per read, all meters)")
    print(f"reads: {totals.reads}  good reads: {totals.good}  failed: {totals.reads - totals.good}")
    print(f"faults injected (used): {dict(sorted(totals.faults.items()))}")
    print(f"failures by kind: {dict(sorted(totals.failures.items()))}")
    print(f"faulted reads that still succeeded: {totals.faulted_but_good}")
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
    parser.add_argument("--gap", type=float, default=0.5, help="quiet time between sessions (s)")
    parser.add_argument(
        "--switch-delay", type=float, default=0.0, help="extra wait after the ACK (s)"
    )
    parser.add_argument("--rss-tolerance", type=float, default=32.0, help="MiB (32)")
    args = parser.parse_args(argv)
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
