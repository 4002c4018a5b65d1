"""Issue 10's findings, each reproduced against the real coordinator in a real Home Assistant.

Every test scripts the meter's readouts per read cycle through the coordinator's injected reader
(recorded readouts of the corpus, changed where the finding needs it) and the value guard's
clock, and asserts on every state change of every entity of the meter.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)

from custom_components.dlms_meter import catalog
from custom_components.dlms_meter.const import CONF_CODES, CONF_PORT, CONF_SERIAL_NUMBER, DOMAIN
from custom_components.dlms_meter.coordinator import DATA_CLOCK, DATA_READER, DlmsCoordinator
from custom_components.dlms_meter.iec62056 import (
    ERROR_KINDS,
    Iec62056Error,
    PortError,
    Readout,
    ReadoutTooLongError,
    ReadTimeLimitError,
    SmlStreamError,
)
from custom_components.dlms_meter.iec62056.identification import parse_identification
from custom_components.dlms_meter.iec62056.identity import legacy_serial_number, unique_id_for
from custom_components.dlms_meter.sensor import ATTR_HELD_BACK

from .meter import FakeClock, ScriptedMeter, corpus_entry, corpus_readout, with_values

E350 = corpus_readout(5)  # serial 13647123, 1.8.0 061561.289 kWh
CODES = ["96.1.0", "1.8.0", "2.8.0", "32.7", "0.2.0"]
SERIAL = "sensor.e350_serial_number"
IMPORT = "sensor.e350_energy_import"
EXPORT = "sensor.e350_energy_export"
VOLTAGE = "sensor.e350_voltage_l1"
FIRMWARE = "sensor.e350_firmware"
ALL = (SERIAL, IMPORT, EXPORT, VOLTAGE, FIRMWARE)
HALF_HOUR = 1800.0

type Change = tuple[str, str] | tuple[str, str, int]


@dataclass
class Meter:
    """The E350 entry loaded on scripted readouts, with every state change of its entities."""

    hass: HomeAssistant
    entry: MockConfigEntry
    script: ScriptedMeter
    clock: FakeClock
    changes: list[Change] = field(default_factory=list)

    @property
    def coordinator(self) -> DlmsCoordinator:
        """The entry's (current) coordinator."""
        coordinator: DlmsCoordinator = self.entry.runtime_data
        return coordinator

    @callback
    def record(self, event: Event[EventStateChangedData]) -> None:
        """Every change of state or of the held-back attribute."""
        state = event.data["new_state"]
        if state is None or state.entity_id not in ALL:
            return
        held = state.attributes.get(ATTR_HELD_BACK)
        self.changes.append(
            (state.entity_id, state.state) if held is None else (state.entity_id, state.state, held)
        )

    def take(self) -> list[Change]:
        """The changes since the last call."""
        taken, self.changes = self.changes, []
        return taken

    async def cycle(self, readout: Readout | Iec62056Error, seconds: float = HALF_HOUR) -> None:
        """One scheduled read cycle, ``seconds`` after the previous one."""
        self.clock.now += seconds
        self.script.then(readout)
        await self.coordinator.async_refresh()
        await self.hass.async_block_till_done()

    def state(self, entity_id: str) -> str:
        """The current state of one entity."""
        state = self.hass.states.get(entity_id)
        assert state is not None, entity_id
        return state.state


async def _load(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


@pytest.fixture
async def meter(hass: HomeAssistant, scripted: ScriptedMeter, clock: FakeClock) -> Meter:
    """The E350 with five entities, its first (true) readout published."""
    entry = corpus_entry(5, codes=CODES, title="E350")
    meter = Meter(hass, entry, scripted, clock)
    hass.bus.async_listen(EVENT_STATE_CHANGED, meter.record)
    entry.add_to_hass(hass)
    scripted.then(E350)
    await _load(hass, entry)
    assert sorted(meter.take()) == sorted(
        [
            (SERIAL, "13647123"),
            (IMPORT, "61561.289"),
            (EXPORT, "10.49"),
            (VOLTAGE, "241.0"),
            (FIRMWARE, "M26"),
        ]
    )
    return meter


def _import(value: str, unit: str | None = "kWh") -> Readout:
    return with_values(E350, _1_8_0=(value, unit))


# 1 ------------------------------------------------------------------------------------------------


async def test_1_a_spike_never_latches(meter: Meter) -> None:
    """061561.289 -> 961561.289 -> 061562.000, 061563.000, 061600.000: the spike is held back.

    The entity keeps the last good value (with the held-back attribute), the true values that
    follow are published, the spike is never shown and never becomes the floor.
    """
    await meter.cycle(_import("961561.289"))
    assert meter.take() == [(IMPORT, "61561.289", 1)]
    await meter.cycle(_import("061562.000"))
    assert meter.take() == [(IMPORT, "61562.0")]
    await meter.cycle(_import("061563.000"))
    assert meter.take() == [(IMPORT, "61563.0")]
    await meter.cycle(_import("061600.000"))
    assert meter.take() == [(IMPORT, "61600.0")]
    stats = meter.coordinator.stats
    assert (stats.held_back, stats.rejected_decreases, stats.confirmed_jumps) == (1, 0, 0)


async def test_1_a_real_jump_is_confirmed_by_the_following_readings(meter: Meter) -> None:
    """A jump the next two readings continue from is accepted with the second of them."""
    for value, expected in (
        ("062561.289", (IMPORT, "61561.289", 1)),
        ("062561.500", (IMPORT, "61561.289", 2)),
        ("062562.000", (IMPORT, "62562.0")),
        ("062562.500", (IMPORT, "62562.5")),
    ):
        await meter.cycle(_import(value), seconds=60)
        assert meter.take() == [expected], value
    assert meter.coordinator.stats.confirmed_jumps == 1


async def test_1_held_jumps_that_do_not_continue_are_dropped(meter: Meter) -> None:
    """Scattered spikes restart the confirmation; a decrease is never published."""
    for value in ("961561.289", "561561.289", "961561.289"):
        await meter.cycle(_import(value), seconds=60)
    await meter.cycle(_import("000100.000"), seconds=60)
    # one change (the attribute); the same state and attribute again are no change
    assert meter.take() == [(IMPORT, "61561.289", 1)]
    assert meter.coordinator.stats.held_back == 3
    assert meter.coordinator.stats.rejected_decreases == 1
    assert meter.state(IMPORT) == "61561.289"


async def test_1_max_power_option_is_the_limit(
    hass: HomeAssistant, scripted: ScriptedMeter
) -> None:
    """With a 3 kW maximum power, 2 kWh in 10 min (12 kW) is held back; 0.4 kWh is not."""
    entry = corpus_entry(5, codes=["1.8.0"], title="E350", max_power=3)
    entry.add_to_hass(hass)
    scripted.then(E350)
    await _load(hass, entry)
    coordinator: DlmsCoordinator = entry.runtime_data
    assert coordinator.max_per_hour("kWh") == 3
    assert coordinator.max_per_hour("Wh") == 3000
    assert coordinator.max_per_hour("m³") == 50
    assert coordinator.max_per_hour("h") == 1
    assert coordinator.max_per_hour("°C") == float("inf")
    clock = hass.data[DATA_CLOCK]
    assert isinstance(clock, FakeClock)
    for value, expected in (("061563.289", "61561.289"), ("061561.689", "61561.689")):
        clock.now += 600
        scripted.then(_import(value))
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        assert hass.states.get("sensor.e350_energy_import").state == expected


# 2 ------------------------------------------------------------------------------------------------


async def test_2_units_are_converted_or_the_entity_goes_unavailable(
    meter: Meter, issue_registry: ir.IssueRegistry
) -> None:
    """Wh and MWh are converted to the entity's kWh; m³ makes it unavailable, with an issue."""
    await meter.cycle(_import("061561289", "Wh"))
    assert meter.take() == []  # the same value: no state change
    assert meter.state(IMPORT) == "61561.289"
    await meter.cycle(_import("61.562", "MWh"))
    assert meter.take() == [(IMPORT, "61562.0")]
    await meter.cycle(_import("000100.000", "m3"))
    assert meter.take() == [(IMPORT, STATE_UNAVAILABLE)]
    assert meter.state(EXPORT) == "10.49"
    issue_id = f"unit_changed_1.8.0_{meter.entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {
        "title": "E350",
        "code": "1.8.0",
        "unit": "kWh",
        "sent": "m³",
    }
    await meter.cycle(_import("061563.000"))
    assert meter.take() == [(IMPORT, "61563.0")]
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert meter.coordinator.stats.unit_mismatches == 1


# 3 ------------------------------------------------------------------------------------------------


async def test_3_a_different_meter_is_never_adopted(
    meter: Meter, issue_registry: ir.IssueRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """Another C.1.0 with a higher 1.8.0: nothing published, unavailable, an issue."""
    other = with_values(E350, _96_1_0="99999999", _1_8_0="071561.289", _2_8_0="000001.000")
    await meter.cycle(other)
    assert sorted(meter.take()) == sorted((entity, STATE_UNAVAILABLE) for entity in ALL)
    issue_id = f"other_meter_{meter.entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["serial"] == "99999999"
    assert meter.coordinator.stats.failures == {"other_meter": 1}
    assert meter.coordinator.readout is not other
    assert "99999999" in caplog.text  # "a different meter (serial 99999999) answers on ..."

    await meter.cycle(with_values(E350, _1_8_0="061562.000"))
    assert sorted(meter.take()) == sorted(
        [
            (SERIAL, "13647123"),
            (IMPORT, "61562.0"),
            (EXPORT, "10.49"),
            (VOLTAGE, "241.0"),
            (FIRMWARE, "M26"),
        ]
    )
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


def _as3000() -> Readout:
    """The Elster AS3000 (corpus 50, only 0.0.1) with the identification it sends on sign-on."""
    ident = parse_identification("ELS0\\@AS3000")
    assert ident is not None
    return dataclasses.replace(corpus_readout(50), identification=ident)


def _legacy_entry(readout: Readout, old_id: str) -> MockConfigEntry:
    """An entry as earlier versions created it: ``old_id`` as unique id and serial number."""
    values = catalog.readout_values(readout)
    return MockConfigEntry(
        domain=DOMAIN,
        title="Old",
        unique_id=old_id,
        data={CONF_PORT: "/dev/ttyUSB0", CONF_SERIAL_NUMBER: old_id},
        options={CONF_CODES: catalog.preselect(values) or list(values)[:3]},
    )


# meters whose id changed with the serial-number order of iec62056.identity
LEGACY_IDS = {
    "elster_as3000_0.0.1": (_as3000(), "ELS0\\@AS3000"),  # ident text; now 0.0.1
    "dsmr_gas_meter_id": (corpus_readout(28), "4730303339303031373633333738373137"),
    "all_zero_serial": (corpus_readout(33), "0000000000000000000000000000000000"),
    "mt382_ident_text": (corpus_readout(42), "ISK5\\2MT382-1008"),  # now 0-0:96.1.1
    "no_serial_ident_text": (corpus_readout(15), "EKT5CE301v12"),  # no serial at all
}


@pytest.mark.parametrize("case", sorted(LEGACY_IDS))
async def test_3_entries_made_with_the_old_id_rule_keep_publishing(
    hass: HomeAssistant, scripted: ScriptedMeter, issue_registry: ir.IssueRegistry, case: str
) -> None:
    """The old id (identification text, gas meter's id, zeros) still names the meter."""
    readout, old_id = LEGACY_IDS[case]
    assert legacy_serial_number(readout) == old_id
    assert unique_id_for(readout, "/dev/ttyUSB0") != old_id  # the rule changed for this meter
    entry = _legacy_entry(readout, old_id)
    entry.add_to_hass(hass)
    scripted.then(readout)
    await _load(hass, entry)
    coordinator: DlmsCoordinator = entry.runtime_data
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert coordinator.stats.failures == {}
    assert coordinator.other_serial is None
    assert issue_registry.async_get_issue(DOMAIN, f"other_meter_{entry.entry_id}") is None
    states = [hass.states.get(entity) for entity in hass.states.async_entity_ids("sensor")]
    assert states
    assert all(state is not None and state.state != STATE_UNAVAILABLE for state in states)


@pytest.mark.parametrize(
    ("case", "swapped"),
    [
        ("elster_as3000_0.0.1", corpus_readout(5)),  # an E350 with its C.1.0
        ("dsmr_gas_meter_id", corpus_readout(31)),  # another DSMR meter with its gas meter
        ("all_zero_serial", corpus_readout(29)),
        ("no_serial_ident_text", corpus_readout(5)),
    ],
)
async def test_3_a_real_swap_of_an_old_entry_is_still_caught(
    hass: HomeAssistant,
    scripted: ScriptedMeter,
    issue_registry: ir.IssueRegistry,
    case: str,
    swapped: Readout,
) -> None:
    """Another meter in front of the head of an old entry: nothing published, an issue."""
    readout, old_id = LEGACY_IDS[case]
    entry = _legacy_entry(readout, old_id)
    entry.add_to_hass(hass)
    scripted.then(readout)
    await _load(hass, entry)
    coordinator: DlmsCoordinator = entry.runtime_data
    scripted.then(swapped)
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    assert coordinator.stats.failures == {"other_meter": 1}
    issue = issue_registry.async_get_issue(DOMAIN, f"other_meter_{entry.entry_id}")
    assert issue is not None
    assert issue.data is not None
    assert issue.data["unique_id"] == unique_id_for(swapped, "/dev/ttyUSB0")
    assert coordinator.readout is readout


async def test_3_an_entry_without_any_id_publishes_what_it_reads(
    hass: HomeAssistant, scripted: ScriptedMeter, issue_registry: ir.IssueRegistry
) -> None:
    """No unique id and no serial number stored: nothing to compare with, no issue."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="No id",
        data={CONF_PORT: "/dev/ttyUSB0", CONF_SERIAL_NUMBER: ""},
        options={CONF_CODES: ["1.8.0"]},
    )
    entry.add_to_hass(hass)
    scripted.then(E350)
    await _load(hass, entry)
    coordinator: DlmsCoordinator = entry.runtime_data
    scripted.then(with_values(E350, _96_1_0="99999999"))
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert issue_registry.async_get_issue(DOMAIN, f"other_meter_{entry.entry_id}") is None


async def test_3_an_entry_without_serial_number_accepts_its_meter_and_catches_one_with_a_serial(
    hass: HomeAssistant, scripted: ScriptedMeter, issue_registry: ir.IssueRegistry
) -> None:
    """Today's id of a meter without serial (identification + port key): no serial, no swap.

    Two meters without a serial number cannot be told apart; a meter that sends one can.
    """
    readout = corpus_readout(15)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="CE301",
        unique_id=unique_id_for(readout, "/dev/ttyUSB0"),
        data={CONF_PORT: "/dev/ttyUSB0", CONF_SERIAL_NUMBER: ""},
        options={CONF_CODES: ["ET0PE"]},
    )
    entry.add_to_hass(hass)
    scripted.then(readout)
    await _load(hass, entry)
    coordinator: DlmsCoordinator = entry.runtime_data
    assert coordinator.last_update_success
    scripted.then(corpus_readout(5))
    await coordinator.async_refresh()
    assert coordinator.stats.failures == {"other_meter": 1}
    issue = issue_registry.async_get_issue(DOMAIN, f"other_meter_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["serial"] == "13647123"


# 4 ------------------------------------------------------------------------------------------------


async def test_4_overflowing_numbers_are_never_published(
    meter: Meter, caplog: pytest.LogCaptureFixture
) -> None:
    """A 400-digit value: the total keeps its last value, a measurement is unknown; no errors."""
    huge = "9" * 400
    await meter.cycle(with_values(E350, _1_8_0=huge, _32_7=huge))
    assert meter.take() == [(VOLTAGE, STATE_UNKNOWN)]
    assert meter.coordinator.last_update_success
    assert meter.state(IMPORT) == "61561.289"
    await meter.cycle(with_values(E350, _1_8_0="061562.000"))
    assert sorted(meter.take()) == [(IMPORT, "61562.0"), (VOLTAGE, "241.0")]
    assert meter.coordinator.stats.invalid_numbers == 2
    assert "non-finite" not in caplog.text


# 5 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-61561.289", "-0", "-0.000"])
async def test_5_negative_totals_on_the_first_read(
    hass: HomeAssistant, scripted: ScriptedMeter, value: str
) -> None:
    """A negative (or minus zero) lifetime total on the very first read: unknown, never shown."""
    entry = corpus_entry(5, codes=["1.8.0", "2.8.0"], title="E350")
    entry.add_to_hass(hass)
    scripted.then(with_values(E350, _1_8_0=value, _2_8_0=value))
    await _load(hass, entry)
    assert hass.states.get(IMPORT).state == STATE_UNKNOWN
    assert hass.states.get(EXPORT).state == STATE_UNKNOWN
    scripted.then(E350)
    await entry.runtime_data.async_refresh()
    assert hass.states.get(IMPORT).state == "61561.289"


# 6 ------------------------------------------------------------------------------------------------


async def test_6_text_loses_control_characters_and_is_cut(meter: Meter) -> None:
    """NUL and escape sequences are removed; more than 255 characters are cut."""
    await meter.cycle(with_values(E350, _0_2_0="M\x0026\x1b[31m"))
    assert meter.take() == []  # cleaned, it is the firmware shown already
    assert meter.state(FIRMWARE) == "M26"
    await meter.cycle(with_values(E350, _0_2_0="M" * 300))
    assert meter.take() == [(FIRMWARE, "M" * 255)]
    await meter.cycle(with_values(E350, _0_2_0="\x1b\x00"))
    assert meter.take() == [(FIRMWARE, STATE_UNKNOWN)]


# 7 ------------------------------------------------------------------------------------------------

SECRET_PORTS = [
    "rfc2217://meteruser:hunter4@192.0.2.7:4001",
    "socket://meteruser:hunter4@192.0.2.7:4001",
    "esphome://192.0.2.7/?port_name=ir&key=hunter4&password=hunter4",
]


@pytest.mark.parametrize("port", SECRET_PORTS)
async def test_7_no_secret_leaves_the_entry(
    hass: HomeAssistant,
    scripted: ScriptedMeter,
    hass_client: Any,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
    port: str,
) -> None:
    """Setup retry reason, log lines, exceptions, issues, task name and diagnostics: masked."""
    caplog.set_level(logging.DEBUG)
    entry = corpus_entry(5, codes=["1.8.0"], title="E350", port=port)
    entry.add_to_hass(hass)
    task_names: list[str] = []
    failing = PortError(f"The port {port} cannot be used: connection refused")

    async def read(read_port: str, settings: Any) -> Readout:
        import asyncio

        task = asyncio.current_task()
        assert task is not None
        task_names.append(task.get_name())
        assert read_port == port  # the reader itself gets the real port
        return await scripted.read(read_port, settings)

    hass.data[DATA_READER] = read
    scripted.then(failing)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    reason = entry.reason or ""
    assert "***" in reason
    scripted.then(E350)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: DlmsCoordinator = entry.runtime_data
    for _ in range(5):
        scripted.then(failing)
        await coordinator.async_refresh()
    issue = issue_registry.async_get_issue(DOMAIN, f"meter_not_answering_{entry.entry_id}")
    assert issue is not None
    scripted.then(with_values(E350, _96_1_0="99999999"))
    await coordinator.async_refresh()
    other = issue_registry.async_get_issue(DOMAIN, f"other_meter_{entry.entry_id}")
    assert other is not None
    assert coordinator.last_exception is not None
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    texts = [
        reason,
        caplog.text,
        str(coordinator.last_exception),
        repr(coordinator.last_exception.translation_placeholders),  # type: ignore[attr-defined]
        repr(issue.translation_placeholders),
        repr(other.translation_placeholders),
        *task_names,
        repr(diagnostics),
    ]
    for text in texts:
        assert "hunter4" not in text, text
        assert "meteruser" not in text, text
    assert "***" in diagnostics["entry"]["data"]["port"]
    assert "192.0.2.7" in diagnostics["entry"]["data"]["port"]
    assert all("***" in name for name in task_names)
    assert "***" in issue.translation_placeholders["port"]  # type: ignore[index]


# 9 ------------------------------------------------------------------------------------------------


class _Kind(Iec62056Error):
    """A library error of a kind chosen per instance (a kind the library may add later)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # type: ignore[misc]


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (ReadoutTooLongError, "readout_too_long", "longer than 64 KiB"),
        (ReadTimeLimitError, "read_time_limit", "still sending"),
        (SmlStreamError, "sml", "EDL21"),
    ],
)
async def test_9_new_error_kinds_have_their_own_message(
    meter: Meter, hass_client: Any, error: type[Iec62056Error], kind: str, words: str
) -> None:
    """Cap hit, time limit hit, SML: each its own translated error, counted in diagnostics."""
    await meter.cycle(error("details"))
    assert sorted(meter.take()) == sorted((entity, STATE_UNAVAILABLE) for entity in ALL)
    err = meter.coordinator.last_exception
    assert err is not None
    assert err.translation_key == kind  # type: ignore[attr-defined]
    assert words in str(err)
    diagnostics = await get_diagnostics_for_config_entry(meter.hass, hass_client, meter.entry)
    failures = diagnostics["statistics"]["failures"]
    assert failures[kind] == 1
    assert set(failures) == (ERROR_KINDS - {"error"}) | {"other_meter"}  # every kind, 0 or more
    assert sum(failures.values()) == 1


async def test_9_unknown_kind_is_read_failed(meter: Meter) -> None:
    """A kind without its own message: the generic one, still counted by kind."""
    await meter.cycle(_Kind("brand_new", "odd"))
    err = meter.coordinator.last_exception
    assert err is not None
    assert err.translation_key == "read_failed"  # type: ignore[attr-defined]
    assert meter.coordinator.stats.failures == {"brand_new": 1}


async def test_9_the_base_error_kind_is_read_failed(meter: Meter) -> None:
    """A plain library error (kind "error", no message of its own): the generic message."""
    await meter.cycle(Iec62056Error("something odd"))
    err = meter.coordinator.last_exception
    assert err is not None
    assert err.translation_key == "read_failed"  # type: ignore[attr-defined]
    assert meter.coordinator.stats.failures == {"error": 1}


# 10 -----------------------------------------------------------------------------------------------


async def test_10_the_guard_survives_a_restart(meter: Meter, hass: HomeAssistant) -> None:
    """After a restart the first read is as strict as any other: no decrease, no spike."""
    await meter.cycle(_import("061562.000"))
    assert meter.take() == [(IMPORT, "61562.0")]
    assert await hass.config_entries.async_unload(meter.entry.entry_id)
    meter.take()

    meter.clock.now += HALF_HOUR
    meter.script.then(_import("000100.000"))
    await _load(hass, meter.entry)
    changes = dict(meter.take())
    assert changes[IMPORT] == "61562.0"  # not 100: the stored total is the floor
    assert meter.coordinator.stats.rejected_decreases == 1

    await meter.cycle(_import("961562.000"))
    assert meter.take() == [(IMPORT, "61562.0", 1)]
    await meter.cycle(_import("061562.500"))
    assert meter.take() == [(IMPORT, "61562.5")]


async def test_10_a_stored_total_in_another_unit_is_converted(
    meter: Meter, hass: HomeAssistant
) -> None:
    """The meter switched to Wh while Home Assistant was down: the entity stays in kWh."""
    assert await hass.config_entries.async_unload(meter.entry.entry_id)
    meter.take()
    meter.script.then(_import("061561000", "Wh"))
    await _load(hass, meter.entry)
    assert meter.state(IMPORT) == "61561.289"  # 61561.000 kWh would be a decrease
    assert meter.coordinator.specs["1.8.0"].unit == "kWh"
    assert meter.coordinator.stats.rejected_decreases == 1


async def test_10_the_store_of_another_meter_is_ignored(
    hass: HomeAssistant, scripted: ScriptedMeter, hass_storage: dict[str, Any]
) -> None:
    """A store written for another serial number (or malformed) does not bind the guard."""
    entry = corpus_entry(5, codes=["1.8.0"], title="E350")
    hass_storage[f"dlms_meter.{entry.entry_id}"] = {
        "version": 1,
        "key": f"dlms_meter.{entry.entry_id}",
        "data": {
            "serial": "other",
            "totals": {"1.8.0": {"unit": "kWh", "accepted": {"value": 1e9, "time": 0}}},
        },
    }
    entry.add_to_hass(hass)
    scripted.then(E350)
    await _load(hass, entry)
    assert hass.states.get(IMPORT).state == "61561.289"


async def test_10_unload_writes_the_store(meter: Meter, hass_storage: dict[str, Any]) -> None:
    """What the guard accepted is in the store after an unload, with unit and time."""
    await meter.cycle(_import("061562.000"))
    assert await meter.hass.config_entries.async_unload(meter.entry.entry_id)
    stored = hass_storage[f"dlms_meter.{meter.entry.entry_id}"]["data"]
    assert stored["serial"] == "13647123"
    assert stored["totals"]["1.8.0"] == {
        "unit": "kWh",
        "accepted": {"value": 61562.0, "time": meter.clock.now},
    }
    assert stored["units"]["1.8.0"] == "kWh"
    assert stored["max_power_seen"] > 0


# contract 8 ---------------------------------------------------------------------------------------


async def test_the_probe_readout_is_used_without_a_second_read(
    hass: HomeAssistant, scripted: ScriptedMeter
) -> None:
    """The config flow's readout (hass.data) is published at set-up; the meter is not read."""
    entry = corpus_entry(5, codes=["1.8.0"], title="E350")
    entry.add_to_hass(hass)
    hass.data.setdefault(DOMAIN, {})["probe_readouts"] = {entry.unique_id: E350}
    scripted.then(PortError("must not be read"))
    await _load(hass, entry)
    assert scripted.reads == []
    assert hass.states.get(IMPORT).state == "61561.289"
    assert hass.data[DOMAIN]["probe_readouts"] == {}
    coordinator: DlmsCoordinator = entry.runtime_data
    assert coordinator.update_interval == timedelta(seconds=30)


async def test_a_probe_readout_of_another_meter_is_not_used(
    hass: HomeAssistant, scripted: ScriptedMeter
) -> None:
    """A probe readout that fails the checks: the first refresh reads the meter instead."""
    entry = corpus_entry(5, codes=["1.8.0"], title="E350")
    entry.add_to_hass(hass)
    foreign = with_values(E350, _96_1_0="99999999")
    hass.data.setdefault(DOMAIN, {})["probe_readouts"] = {entry.unique_id: foreign}
    scripted.then(E350)
    await _load(hass, entry)
    assert len(scripted.reads) == 1
    assert hass.states.get(IMPORT).state == "61561.289"


async def test_7_errors_of_any_class_are_masked_and_keep_their_kind(
    hass: HomeAssistant, scripted: ScriptedMeter
) -> None:
    """An error class with its own constructor: the cause logged is a masked copy, same kind."""
    port = SECRET_PORTS[0]
    entry = corpus_entry(5, codes=["1.8.0"], title="E350", port=port)
    entry.add_to_hass(hass)
    scripted.then(_Kind("sml", f"SML on {port}"))
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert "hunter4" not in (entry.reason or "")
    scripted.then(E350)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: DlmsCoordinator = entry.runtime_data
    scripted.then(_Kind("sml", f"SML on {port}"))
    await coordinator.async_refresh()
    err = coordinator.last_exception
    assert err is not None
    cause = err.__cause__
    assert isinstance(cause, Iec62056Error)
    assert cause.kind == "sml"
    assert "hunter4" not in str(cause)
    assert "***" in str(cause)


async def test_10_a_stored_total_in_a_unit_that_does_not_convert_is_dropped(
    hass: HomeAssistant, scripted: ScriptedMeter, hass_storage: dict[str, Any]
) -> None:
    """A stored total whose unit does not convert to the entity's: the guard starts empty."""
    entry = corpus_entry(5, codes=["1.8.0"], title="E350")
    hass_storage[f"dlms_meter.{entry.entry_id}"] = {
        "version": 1,
        "key": f"dlms_meter.{entry.entry_id}",
        "data": {
            "serial": "13647123",
            "units": {"1.8.0": "kWh"},
            "totals": {
                "1.8.0": {"unit": "m³", "accepted": {"value": 1e9, "time": 0}},
                "2.8.0": "malformed",
            },
            "max_power_seen": 12.5,
        },
    }
    entry.add_to_hass(hass)
    scripted.then(E350)
    await _load(hass, entry)
    assert hass.states.get(IMPORT).state == "61561.289"
    coordinator: DlmsCoordinator = entry.runtime_data
    assert coordinator.max_power_seen == 12.5


async def test_1_the_limit_grows_with_the_power_the_meter_measured(
    hass: HomeAssistant, scripted: ScriptedMeter
) -> None:
    """Twice the largest power seen (power registers, V x I per phase), at least 100 kW."""
    entry = corpus_entry(5, codes=["1.8.0"], title="E350")
    entry.add_to_hass(hass)
    scripted.then(with_values(E350, _31_7="300.00", _51_7="000.52"))
    await _load(hass, entry)
    coordinator: DlmsCoordinator = entry.runtime_data
    seen = (241 * 300 + 243 * 0.52 + 242 * 0.47) / 1000
    assert coordinator.max_power_seen == pytest.approx(seen)
    assert coordinator.max_per_hour("kWh") == pytest.approx(2 * seen)

    easy = corpus_entry(20, codes=["1-0:1.8.0*255"], title="Easy")
    easy.add_to_hass(hass)
    scripted.then(with_values(corpus_readout(20), **{"1-0:1_7_255*255": "-080000.00"}))
    await _load(hass, easy)
    assert easy.runtime_data.max_power_seen == pytest.approx(80.0)
    assert easy.runtime_data.max_per_hour("Wh") == pytest.approx(160_000.0)
