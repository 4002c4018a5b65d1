"""Fast values (register reads), one scheduler per port and a bus of meters (issue 13, HA side).

Recorded readouts through the injected readers: the full readout (:class:`ScriptedMeter`) and
the register reader (:class:`Registers`, answers from a dict of registers); scheduled cycles are
driven by Home Assistant's time, never by waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import dataclasses
from datetime import timedelta
import logging

from homeassistant.components.diagnostics import REDACTED
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.dlms_meter.config_flow import ADVANCED
from custom_components.dlms_meter.const import (
    CONF_ADDRESS,
    CONF_FAST_CAPABLE,
    CONF_FAST_CODES,
    CONF_FAST_INTERVAL,
    CONF_MODE,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
    FAST_FAILURES_BEFORE_FALLBACK,
    ISSUE_FAST_VALUES_FALLBACK,
)
from custom_components.dlms_meter.coordinator import (
    DATA_READER,
    DATA_REGISTER_READER,
    DlmsCoordinator,
)
from custom_components.dlms_meter.diagnostics import async_get_config_entry_diagnostics
from custom_components.dlms_meter.iec62056 import (
    DataSet,
    Iec62056Error,
    NoAnswerError,
    NoProgrammingModeError,
    Readout,
    ReadSettings,
    SharedPort,
    Value,
    port as port_module,
)
from custom_components.dlms_meter.issues import issue_id
from meter_sim.simulator import MeterSimulator

from .meter import INTERVAL, ScriptedMeter, corpus_entry, corpus_readout

E350 = corpus_readout(5)
SERIAL = "13647123"
PASSWORD = "s3cr3t-Pw"


def _serial_dataset() -> DataSet:
    """The data set of the E350's readout that carries its serial number."""
    return next(d for d in E350.datasets if any(v.value.strip() == SERIAL for v in d.values))


@dataclasses.dataclass
class Registers:
    """The injected register reader: answers the registers it knows, records each session."""

    values: dict[str, Value]
    error: Iec62056Error | None = None
    sessions: list[tuple[str, tuple[str, ...], str | None, str]] = dataclasses.field(
        default_factory=list
    )

    async def __call__(
        self, port: str, settings: ReadSettings, codes: Sequence[str], password: str | None
    ) -> Readout:
        self.sessions.append((port, tuple(codes), password, str(settings.mode)))
        await asyncio.sleep(0)
        if self.error is not None:
            raise self.error
        datasets = tuple(
            DataSet(code, (self.values[code],)) for code in codes if code in self.values
        )
        return dataclasses.replace(E350, datasets=datasets, raw=b"")


@pytest.fixture
def registers(hass: HomeAssistant, scripted: ScriptedMeter) -> Registers:
    """The register reader of every coordinator of the test (the E350 answers 1.8.0 and 1.7.0)."""
    serial = _serial_dataset()
    fake = Registers({"1.8.0": Value("061562.000", "kWh"), serial.address: serial.values[0]})
    hass.data[DATA_REGISTER_READER] = fake
    scripted.then(E350)
    return fake


def _entry(**options: object) -> MockConfigEntry:
    return corpus_entry(
        5,
        title="Landis+Gyr ZMF100AC.M26",
        codes=["1.8.0", "2.8.0"],
        **{
            CONF_FAST_CAPABLE: {"1.8.0": "1.8.0", "2.8.0": "2.8.0"},
            CONF_FAST_CODES: ["1.8.0"],
            CONF_FAST_INTERVAL: 5,
            CONF_PASSWORD: PASSWORD,
            **options,
        },
    )


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> DlmsCoordinator:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry.runtime_data


def _state(hass: HomeAssistant, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{SERIAL}_{key}")
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def _later(hass: HomeAssistant, seconds: float) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_fast_values_are_read_by_register_between_full_readouts(
    hass: HomeAssistant, scripted: ScriptedMeter, registers: Registers
) -> None:
    """Every fast interval one register session (the fast code plus the serial number, with the
    password, mode C) updates only the fast entity; the full readout keeps its interval."""
    await _setup(hass, _entry())
    assert _state(hass, "1.8.0") == "61561.289"
    assert registers.sessions == []

    await _later(hass, 6)

    assert registers.sessions == [
        ("/dev/ttyUSB0", ("1.8.0", _serial_dataset().address), PASSWORD, "C")
    ]
    assert _state(hass, "1.8.0") == "61562.0"
    assert scripted.reads == ["/dev/ttyUSB0"]  # no full readout yet (interval 30 s)


async def test_fast_energy_goes_through_the_value_guard(
    hass: HomeAssistant, scripted: ScriptedMeter, registers: Registers
) -> None:
    """A fast total that went down is not published (the guard keeps the accepted one)."""
    await _setup(hass, _entry())
    registers.values["1.8.0"] = Value("000001.000", "kWh")

    await _later(hass, 6)

    assert _state(hass, "1.8.0") == "61561.289"
    assert hass.data[DATA_READER] is not None
    coordinator: DlmsCoordinator = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    assert coordinator.stats.rejected_decreases == 1


async def test_fast_values_of_another_meter_are_not_published(
    hass: HomeAssistant, scripted: ScriptedMeter, registers: Registers
) -> None:
    """The serial register is read with the fast values: another meter's values never show."""
    await _setup(hass, _entry())
    registers.values[_serial_dataset().address] = Value("99999999")
    registers.values["1.8.0"] = Value("061600.000", "kWh")

    await _later(hass, 6)

    assert _state(hass, "1.8.0") == STATE_UNAVAILABLE


async def test_no_programming_mode_falls_back_with_a_repair_issue(
    hass: HomeAssistant, scripted: ScriptedMeter, registers: Registers
) -> None:
    """A meter that stops answering register reads: the full readout keeps the values, a repair
    issue says so (without the password), retries run at the full interval and clear it."""
    coordinator = await _setup(hass, _entry())
    registers.error = NoProgrammingModeError("no P0")

    await _later(hass, 6)

    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, issue_id(ISSUE_FAST_VALUES_FALLBACK, coordinator.config_entry)
    )
    assert issue is not None
    assert issue.translation_placeholders == {
        "title": "Landis+Gyr ZMF100AC.M26",
        "codes": "1.8.0",
        "error": "no_programming_mode",
        "interval": str(INTERVAL),
    }
    assert coordinator.fast is not None
    assert coordinator.fast.update_interval == timedelta(seconds=INTERVAL)
    assert _state(hass, "1.8.0") == "61561.289"  # still available, from the full readout

    registers.error = None
    await _later(hass, INTERVAL + 1)

    assert (
        ir.async_get(hass).async_get_issue(
            DOMAIN, issue_id(ISSUE_FAST_VALUES_FALLBACK, coordinator.config_entry)
        )
        is None
    )
    assert coordinator.fast.update_interval == timedelta(seconds=5)
    assert _state(hass, "1.8.0") == "61562.0"


async def test_repeated_errors_fall_back(
    hass: HomeAssistant, scripted: ScriptedMeter, registers: Registers
) -> None:
    """Other errors: the fast values fall back after a few failed sessions in a row only."""
    coordinator = await _setup(hass, _entry())
    registers.error = NoAnswerError("silence")
    fast = coordinator.fast
    assert fast is not None
    for number in range(1, FAST_FAILURES_BEFORE_FALLBACK + 1):
        assert fast.fallen_back is False
        await _later(hass, 6 * number)
    assert fast.consecutive_failures == FAST_FAILURES_BEFORE_FALLBACK
    assert fast.fallen_back is True


async def test_password_is_never_shown(
    hass: HomeAssistant,
    scripted: ScriptedMeter,
    registers: Registers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The password reaches the register reader only: not the logs, diagnostics or issues."""
    caplog.set_level(logging.DEBUG)
    coordinator = await _setup(hass, _entry())
    registers.error = NoProgrammingModeError("no P0")
    await _later(hass, 6)

    diagnostics = await async_get_config_entry_diagnostics(hass, coordinator.config_entry)

    assert diagnostics["entry"]["options"][CONF_PASSWORD] == REDACTED
    assert diagnostics["fast_values"]["fallen_back"] is True
    assert PASSWORD not in repr(diagnostics)
    assert PASSWORD not in caplog.text
    for issue in ir.async_get(hass).issues.values():
        assert PASSWORD not in repr(issue.translation_placeholders)
    assert registers.sessions[0][2] == PASSWORD


async def test_no_fast_values_outside_mode_c(
    hass: HomeAssistant, scripted: ScriptedMeter, registers: Registers
) -> None:
    """A meter read in another mode has no programming mode: no register sessions at all."""
    coordinator = await _setup(hass, _entry(mode="b"))
    await _later(hass, 6)
    assert coordinator.fast is None
    assert registers.sessions == []


# --- one scheduler per port, a bus of meters --------------------------------------------------


@dataclasses.dataclass
class FakeTime:
    """The port's clock and sleep: time moves only when a session sleeps or reads."""

    now: float = 100.0
    sleeps: list[float] = dataclasses.field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_two_entries_on_one_port_never_overlap(hass: HomeAssistant, clock: object) -> None:
    """Two meters on one port (a bus): their sessions run one at a time, with the quiet time
    between them (injected clock), each with its own device address."""
    fake_time = FakeTime()
    port_module._PORTS["/dev/ttyBus"] = SharedPort(
        "/dev/ttyBus", clock=fake_time, sleep=fake_time.sleep
    )
    active: list[str] = []
    log: list[tuple[str, str, float]] = []

    async def read(port: str, settings: ReadSettings) -> Readout:
        active.append(settings.address)
        log.append(("start", settings.address, fake_time.now))
        assert len(active) == 1, f"overlapping sessions: {active}"
        for _ in range(3):
            await asyncio.sleep(0)
        fake_time.now += 0.5  # the session's own time
        log.append(("end", settings.address, fake_time.now))
        active.remove(settings.address)
        return E350 if settings.address == "1" else _other_meter()

    hass.data[DATA_READER] = read
    first = corpus_entry(5, codes=["1.8.0"], port="/dev/ttyBus", address="1")
    second = corpus_entry(5, codes=["1.8.0"], port="/dev/ttyBus", address="2")
    second = MockConfigEntry(
        domain=DOMAIN,
        title="Second",
        unique_id="22222222",
        data={**second.data, "serial_number": "22222222"},
        options=second.options,
    )
    one = await _setup(hass, first)
    two = await _setup(hass, second)
    assert port_module.shared_port("/dev/ttyBus").addresses == {"1", "2"}
    log.clear()
    fake_time.sleeps.clear()

    await asyncio.gather(one.async_refresh(), two.async_refresh(), one.async_refresh())

    assert [(kind, address) for kind, address, _ in log] == [
        ("start", "1"),
        ("end", "1"),
        ("start", "2"),
        ("end", "2"),
        ("start", "1"),
        ("end", "1"),
    ]
    starts = [time for kind, _, time in log if kind == "start"]
    ends = [time for kind, _, time in log if kind == "end"]
    for end, start in zip(ends, starts[1:], strict=False):
        assert start - end >= 1.5  # the quiet time the standard asks for
    assert one.last_update_success and two.last_update_success

    assert await hass.config_entries.async_unload(second.entry_id)
    assert port_module.shared_port("/dev/ttyBus").addresses == {"1"}


def _other_meter() -> Readout:
    serial = _serial_dataset()
    datasets = tuple(
        DataSet(d.address, (Value("22222222"),)) if d is serial else d for d in E350.datasets
    )
    return dataclasses.replace(E350, datasets=datasets)


async def test_no_request_without_address_on_a_bus(
    hass: HomeAssistant, scripted: ScriptedMeter, clock: object
) -> None:
    """Two meters registered on one port: an entry without address is never read (the library
    refuses the request), its entities are unavailable with a translated error."""
    scripted.then(E350)
    port = port_module.shared_port("/dev/ttyUSB0")
    port.register_address("7")  # another meter with its address on the same line
    port.register_address("8")
    entry = corpus_entry(5, codes=["1.8.0"])
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert scripted.reads == []
    assert "" not in port.addresses  # the failed setup unregistered it again
    if entry.error_reason_translation_key is not None:
        assert entry.error_reason_translation_key == "address_required"
    else:  # Home Assistant 2026.5 keeps only the translated message of the error
        assert entry.reason is not None
        assert "address" in entry.reason.lower()


# --- on the simulator: a bus of two meters on one pty, added through the config flow ----------


async def _flow_to(hass: HomeAssistant, flow_id: str, user_input: dict[str, object]) -> dict:
    """Submit a step that starts the probe; let the probe finish; continue the flow."""
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] == "progress", result
    await hass.async_block_till_done()
    return dict(await hass.config_entries.flow.async_configure(flow_id))


async def test_two_meters_on_one_pty_with_fast_values(hass: HomeAssistant) -> None:
    """Simulator: an E350 (address 1) and an MT174 (address 2) on one line. Both are added
    through the config flow (the second by the address step), both offer fast values, and a
    fast value follows the meter between two full readouts."""
    with MeterSimulator("lgz_e350", address="1", bus=[("iskra_mt174", "2")]) as sim:
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        result = await _flow_to(
            hass,
            result["flow_id"],
            {CONF_PORT: sim.port, ADVANCED: {CONF_MODE: "c", CONF_ADDRESS: "1"}},
        )
        assert result["step_id"] == "select_codes"
        assert result["description_placeholders"]["serial"] == SERIAL
        assert int(result["description_placeholders"]["fast"]) > 0
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"energy": ["1.8.0"], CONF_FAST_CODES: ["1.8.0"], CONF_UPDATE_INTERVAL: 600},
        )
        assert result["type"] == "create_entry"
        await hass.async_block_till_done()

        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_PORT: sim.port, ADVANCED: {CONF_MODE: "c"}}
        )
        assert result["step_id"] == "address"
        result = await _flow_to(hass, result["flow_id"], {CONF_ADDRESS: "2"})
        assert result["step_id"] == "select_codes"
        assert result["description_placeholders"]["serial"] == "63355730"
        assert int(result["description_placeholders"]["fast"]) > 0
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"energy": ["1-0:1.8.0*255"], CONF_UPDATE_INTERVAL: 600}
        )
        assert result["type"] == "create_entry"
        await hass.async_block_till_done()

        entries = hass.config_entries.async_entries(DOMAIN)
        assert [e.state for e in entries] == [ConfigEntryState.LOADED] * 2
        assert port_module.shared_port(sim.port).addresses == {"1", "2"}
        assert _state(hass, "1.8.0") == "61561.289"
        sim.set_value("1.8.0", "061561.300")  # +11 Wh: the guard lets it pass

        await _later(hass, 600 - 1)  # fast values only: the full readouts are due at 600 s

        main = entries[0].runtime_data
        assert main.fast is not None, entries[0].options
        assert main.fast.last_exception is None, main.fast.as_dict()
        assert main.fast.reads >= 1
        assert _state(hass, "1.8.0") == "61561.3"
        assert sim.stats().programming_sessions >= 3  # 2 probes + at least one fast session
        assert sim.stats().collisions == 0
