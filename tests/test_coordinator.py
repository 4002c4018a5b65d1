"""The coordinator on recorded readouts: cycles, failures, recovery, energy guard, repairs.

The meter is the injected reader (a script of readouts and errors per cycle); scheduled cycles
are driven by Home Assistant's time (``async_fire_time_changed``), never by waiting.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
import itertools
import logging

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.dlms_meter.const import DOMAIN, FAILURES_BEFORE_ISSUE
from custom_components.dlms_meter.coordinator import DATA_READER, DlmsCoordinator, clean_text
from custom_components.dlms_meter.iec62056 import (
    ChecksumError,
    Iec62056Error,
    NoAnswerError,
    PortNotFoundError,
    ProtocolError,
    Readout,
    ReadSettings,
    SharedPort,
    read_meter,
    shared_port,
)
from custom_components.dlms_meter.iec62056.probe import probe_meter

from .meter import INTERVAL, ScriptedMeter, corpus_entry, corpus_readout, with_values

IMPORT = "sensor.landis_gyr_zmf100ac_m26_energy_import"
VOLTAGE = "sensor.landis_gyr_zmf100ac_m26_voltage_l1"
E350 = corpus_readout(5)


def _entry(**options: object) -> MockConfigEntry:
    return corpus_entry(5, title="Landis+Gyr ZMF100AC.M26", **options)


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> DlmsCoordinator:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry.runtime_data


async def _next_cycle(hass: HomeAssistant, coordinator: DlmsCoordinator) -> None:
    """Let the scheduled update run (time moves on by one interval)."""
    interval = coordinator.update_interval or timedelta(seconds=INTERVAL)
    async_fire_time_changed(hass, dt_util.utcnow() + interval + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_scheduled_cycles_read_the_meter(
    hass: HomeAssistant, scripted: ScriptedMeter
) -> None:
    """Each update interval runs one read cycle; the values follow the meter."""
    scripted.then(E350)
    coordinator = await _setup(hass, _entry(codes=["1.8.0", "32.7"]))
    assert coordinator.update_interval == timedelta(seconds=INTERVAL)
    scripted.then(with_values(E350, _1_8_0="061562.000"))

    await _next_cycle(hass, coordinator)

    assert scripted.reads == ["/dev/ttyUSB0"] * 2
    assert hass.states.get(IMPORT).state == "61562.0"
    stats = coordinator.stats.as_dict()
    assert stats["reads"] == stats["successes"] == 2
    assert stats["negotiated_baudrate"] == 4800
    assert stats["last_read_duration"] == 0.5
    assert coordinator.last_read_time == coordinator.stats.last_duration


async def test_reads_never_overlap(hass: HomeAssistant, scripted: ScriptedMeter) -> None:
    """Two refreshes at once: the second waits for the first."""
    scripted.then(E350)
    coordinator = await _setup(hass, _entry(codes=["1.8.0"]))
    running = 0
    most = 0
    release = asyncio.Event()

    async def slow(port: str, settings: ReadSettings) -> Readout:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        return E350

    coordinator.reader = slow
    both = asyncio.gather(coordinator.async_refresh(), coordinator.async_refresh())
    await asyncio.sleep(0)
    release.set()
    await both

    assert most == 1
    assert coordinator.last_update_success
    assert coordinator.stats.reads == 3


async def test_the_reader_gets_port_and_settings(hass: HomeAssistant) -> None:
    """The injected reader is called with the entry's port and protocol settings."""
    calls: list[tuple[str, ReadSettings]] = []

    async def reader(port: str, settings: ReadSettings) -> Readout:
        calls.append((port, settings))
        return E350

    hass.data[DATA_READER] = reader
    await _setup(hass, _entry(codes=["1.8.0"], baudrate="9600", port="/dev/ttyAMA0"))
    assert len(calls) == 1
    assert calls[0][0] == "/dev/ttyAMA0"
    assert calls[0][1].baudrate == 9600


async def test_failure_makes_entities_unavailable_then_recovers(
    hass: HomeAssistant, scripted: ScriptedMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """No answer: unavailable (never 0), logged once; the next good read brings them back."""
    scripted.then(E350)
    coordinator = await _setup(hass, _entry(codes=["1.8.0", "32.7"]))
    scripted.then(PortNotFoundError("gone"))

    with caplog.at_level(logging.INFO):
        await _next_cycle(hass, coordinator)
        assert hass.states.get(IMPORT).state == STATE_UNAVAILABLE
        assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
        await _next_cycle(hass, coordinator)
        assert hass.states.get(IMPORT).state == STATE_UNAVAILABLE

        scripted.then(E350)
        await _next_cycle(hass, coordinator)

    assert hass.states.get(IMPORT).state == "61561.289"
    assert coordinator.stats.failures == {"port_not_found": 2}
    assert caplog.text.count("Error fetching") == 1
    assert caplog.text.count("recovered") == 1


@pytest.mark.parametrize(
    ("step", "kind"),
    [
        (dataclasses.replace(E350, checksum_ok=False), "checksum"),
        (ChecksumError("bad"), "checksum"),
        (NoAnswerError("silent"), "no_answer"),
        (ProtocolError("garbage"), "not_iec62056"),
    ],
)
async def test_bad_readout_is_never_published(
    hass: HomeAssistant, scripted: ScriptedMeter, step: Readout | Iec62056Error, kind: str
) -> None:
    """A corrupted, missing or foreign answer: the last values are not replaced by it."""
    scripted.then(E350)
    coordinator = await _setup(hass, _entry(codes=["1.8.0"]))
    if isinstance(step, Readout):
        step = with_values(step, _1_8_0="061999.999")
    scripted.then(step)

    await _next_cycle(hass, coordinator)

    assert coordinator.stats.failures == {kind: 1}
    assert not coordinator.last_update_success
    assert hass.states.get(IMPORT).state == STATE_UNAVAILABLE
    assert coordinator.data.values["1.8.0"].value == "061561.289"
    err = coordinator.last_exception
    assert err is not None
    assert err.translation_key == kind  # type: ignore[attr-defined]


async def test_energy_total_never_goes_down(
    hass: HomeAssistant, scripted: ScriptedMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """A lower import total is not published; the last value stays; counted and logged."""
    scripted.then(E350)
    coordinator = await _setup(hass, _entry(codes=["1.8.0", "32.7"]))
    scripted.then(with_values(E350, _1_8_0="000100.000", _32_7="200"))

    await _next_cycle(hass, coordinator)

    assert hass.states.get(IMPORT).state == "61561.289"
    assert hass.states.get(VOLTAGE).state == "200.0"  # other values are published
    assert coordinator.stats.rejected_decreases == 1
    assert "went down from 61561.289 to 100.0" in caplog.text

    scripted.then(with_values(E350, _1_8_0="061562.000"))
    await _next_cycle(hass, coordinator)
    assert hass.states.get(IMPORT).state == "61562.0"
    assert coordinator.stats.rejected_decreases == 1


async def test_meter_not_answering_issue(
    hass: HomeAssistant, scripted: ScriptedMeter, issue_registry: ir.IssueRegistry
) -> None:
    """Raised after N failed cycles in a row, deleted by the first good read."""
    scripted.then(E350)
    entry = _entry(codes=["1.8.0"])
    coordinator = await _setup(hass, entry)
    issue_id = f"meter_not_answering_{entry.entry_id}"
    scripted.then(NoAnswerError("silent"))

    for _ in range(FAILURES_BEFORE_ISSUE - 1):
        await _next_cycle(hass, coordinator)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await _next_cycle(hass, coordinator)

    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["failures"] == str(FAILURES_BEFORE_ISSUE)
    assert issue.translation_placeholders["port"] == "/dev/ttyUSB0"

    scripted.then(E350)
    await _next_cycle(hass, coordinator)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert coordinator.stats.consecutive_failures == 0


async def test_interval_never_shorter_than_a_read(
    hass: HomeAssistant, scripted: ScriptedMeter, issue_registry: ir.IssueRegistry
) -> None:
    """A 7.9 s read every 5 s: the interval becomes 10 s (read + 1.5 s), with an issue."""
    scripted.then(dataclasses.replace(E350, duration=7.9))
    entry = _entry(codes=["1.8.1"], update_interval=5)
    coordinator = await _setup(hass, entry)
    issue_id = f"interval_too_short_{entry.entry_id}"

    assert coordinator.update_interval == timedelta(seconds=10)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["configured"] == "5"
    assert issue.translation_placeholders["needed"] == "10"

    # the user lengthens the interval: the issue goes with the next read
    coordinator.configured_interval = 60
    await coordinator.async_refresh()
    assert coordinator.update_interval == timedelta(seconds=60)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert await hass.config_entries.async_unload(entry.entry_id)


def test_clean_text() -> None:
    """Control characters and escape sequences go; blank is None; 255 characters at most."""
    assert clean_text("  M26\r\n") == "M26"
    assert clean_text("\x1b[1;31mA\x00B\x7f\x9b") == "AB"
    assert clean_text("\x00 \x01") is None
    assert clean_text("x" * 256) == "x" * 255


@pytest.mark.parametrize("probe_first", [False, True])
async def test_a_probe_and_the_coordinator_never_read_one_port_at_once(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, probe_first: bool
) -> None:
    """The default reader and the config flow's probe share the library's port object.

    Opening the port is held until the test lets it go: while one of them is in its session,
    the other waits for it (never two sessions on one port), then runs its own. The port
    object's clock jumps ahead at each look, so the quiet time never waits in real time.
    """
    port = f"/dev/ttyDLMS-shared-{probe_first}"
    shared = shared_port(port)
    ticks = itertools.count(0.0, 100.0)
    monkeypatch.setattr(shared, "clock", lambda: next(ticks))
    gate = asyncio.Event()
    first_opened = asyncio.Event()
    opened: list[str] = []
    active = peak = 0

    async def slow_open(self: SharedPort, baudrate: int) -> tuple[object, object]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        opened.append(self.name)
        first_opened.set()
        try:
            await gate.wait()
        finally:
            active -= 1
        raise PortNotFoundError(f"{self.name} is gone")

    monkeypatch.setattr(SharedPort, "open", slow_open)
    entry = _entry()  # added, not set up: no injected reader, no first read
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, "port": port})
    assert DATA_READER not in hass.data
    coordinator = DlmsCoordinator(hass, entry)
    assert coordinator.reader is read_meter  # the library's reader, through the shared port

    async def probe() -> None:
        with pytest.raises(PortNotFoundError):
            await probe_meter(port, ReadSettings(), use_fallbacks=False, try_other_modes=False)

    first, second = (
        (probe, coordinator.async_refresh)
        if probe_first
        else (
            coordinator.async_refresh,
            probe,
        )
    )
    first_task = asyncio.create_task(first())
    await asyncio.wait_for(first_opened.wait(), 10)
    second_task = asyncio.create_task(second())
    for _ in range(50):
        await asyncio.sleep(0)
    assert opened == [port]  # the second one waits for the first one's session
    assert shared.busy()
    gate.set()
    await asyncio.gather(first_task, second_task)
    assert opened == [port, port]
    assert peak == 1
    assert not coordinator.last_update_success
    assert coordinator.stats.failures == {"port_not_found": 1}
