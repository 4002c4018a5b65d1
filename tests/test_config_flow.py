"""Config, options and reconfigure flows against simulated meters on real ptys."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dlms_meter import config_flow
from custom_components.dlms_meter.config_flow import ADVANCED, code_label
from custom_components.dlms_meter.const import (
    CONF_ADDRESS,
    CONF_BAUDRATE,
    CONF_CHECKSUM,
    CONF_CODES,
    CONF_IDENTIFICATION,
    CONF_MANUFACTURER,
    CONF_MODE,
    CONF_MODEL,
    CONF_NO_WAITING,
    CONF_PORT,
    CONF_READ_TIME,
    CONF_RESET_BAUDRATE,
    CONF_SERIAL_NUMBER,
    CONF_UPDATE_INTERVAL,
    CONF_WAKEUP,
    DOMAIN,
)
from custom_components.dlms_meter.iec62056 import PortBusyError, ReadSettings, Value, read_meter
from meter_sim.simulator import PROFILES, Fault, MeterSimulator

from .meter import E350_SERIAL, meter_entry

MISSING_PORT = "/dev/serial/by-id/usb-no-such-head-if00-port0"
E350_ENERGY = ["1.8.1", "1.8.2", "2.8.1", "2.8.2", "1.8.0", "2.8.0"]


@pytest.fixture
def silent_meter() -> Generator[MeterSimulator]:
    """A meter that ignores every request (head not on the meter, or wrong port)."""
    with MeterSimulator(PROFILES["lgz_e350"]) as sim:
        sim.inject(Fault.SILENCE, 100)
        yield sim


def _advanced(**changes: Any) -> dict[str, Any]:
    """The advanced section as the frontend sends it (defaults plus ``changes``)."""
    return {
        CONF_MODE: "auto",
        CONF_BAUDRATE: "auto",
        CONF_CHECKSUM: "xor",
        CONF_RESET_BAUDRATE: True,
        CONF_NO_WAITING: False,
        CONF_ADDRESS: "",
        CONF_WAKEUP: False,
    } | changes


def _suggested(result: FlowResult, key: str, section: str | None = None) -> Any:
    """The suggested (pre-filled) value of a form field."""
    schema = result["data_schema"]
    assert schema is not None
    if section is not None:
        marker = next(m for m in schema.schema if m.schema == section)
        schema = schema.schema[marker].schema
    marker = next(m for m in schema.schema if m.schema == key)
    return (marker.description or {}).get("suggested_value")


def _default(result: FlowResult, key: str) -> Any:
    schema = result["data_schema"]
    assert schema is not None
    marker = next(m for m in schema.schema if m.schema == key)
    return marker.default()


def _option_values(result: FlowResult, key: str) -> dict[str, str]:
    """value -> label of the select options of a form field."""
    schema = result["data_schema"]
    assert schema is not None
    marker = next(m for m in schema.schema if m.schema == key)
    return {o["value"]: o["label"] for o in schema.schema[marker].config["options"]}


async def _submit_and_probe(
    hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]
) -> FlowResult:
    """Submit the port form, let the probe (a progress task) finish, continue the flow."""
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["step_id"] == "probe"
    assert result["progress_action"] == "probe"
    await hass.async_block_till_done()
    return await hass.config_entries.flow.async_configure(flow_id)


async def _start_user_flow(hass: HomeAssistant) -> FlowResult:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return result


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


# --- user flow --------------------------------------------------------------------------------


async def test_user_flow_creates_entry(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """Port -> probe -> picker (what was found, energy and power pre-selected) -> entry."""
    result = await _start_user_flow(hass)

    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "select_codes"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["manufacturer"] == "Landis+Gyr"
    assert placeholders["model"] == "ZMF100AC.M26"
    assert placeholders["serial"] == E350_SERIAL
    assert placeholders["baudrate"] == "4800"
    assert placeholders["mode"] == "C"
    assert placeholders["count"] == "22"
    assert float(placeholders["read_time"]) > 0
    preselected = _default(result, CONF_CODES)
    assert set(E350_ENERGY) <= set(preselected)
    assert not {"97.97", "96.5.0", "82.8.1", "0.2.0"} & set(preselected)
    labels = _option_values(result, CONF_CODES)
    assert len(labels) == 22
    assert labels["1.8.0"].startswith("1.8.0 ")
    assert labels["1.8.0"].endswith("— 061561.289 kWh")
    assert labels["32.7"].endswith("— 241 V")

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CODES: ["1.8.0", "2.8.0", "32.7"]}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Landis+Gyr ZMF100AC.M26"
    assert result["data"] == {
        CONF_PORT: simulator.port,
        CONF_SERIAL_NUMBER: E350_SERIAL,
        CONF_IDENTIFICATION: "LGZ4ZMF100AC.M26",
        CONF_MANUFACTURER: "Landis+Gyr",
        CONF_MODEL: "ZMF100AC.M26",
    }
    options = result["options"]
    assert options[CONF_CODES] == ["1.8.0", "2.8.0", "32.7"]
    assert options[CONF_MODE] == "C"
    assert options[CONF_BAUDRATE] == "auto"
    assert options[CONF_CHECKSUM] == "xor"
    assert options[CONF_WAKEUP] is False
    assert 0 < options[CONF_READ_TIME] < 60
    assert options[CONF_UPDATE_INTERVAL] == 60
    entry = result["result"]
    assert entry.unique_id == E350_SERIAL
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED  # the coordinator reads with what was found


async def test_picker_requires_a_code(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """Choosing nothing is refused; then a choice creates the entry."""
    result = await _start_user_flow(hass)
    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_CODES: []})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_codes"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CODES: ["1.8.0"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_CODES] == ["1.8.0"]


async def test_missing_port_then_fixed(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """A port that does not exist: error on the form, input kept; the right port then works."""
    result = await _start_user_flow(hass)
    advanced = _advanced(wakeup=True)

    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: MISSING_PORT, ADVANCED: advanced}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "port_not_found"}
    assert _suggested(result, CONF_PORT) == MISSING_PORT
    assert _suggested(result, CONF_WAKEUP, ADVANCED) is True

    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "select_codes"
    assert result["errors"] == {}


async def test_silent_meter_no_answer(hass: HomeAssistant, silent_meter: MeterSimulator) -> None:
    """Nothing answers, not even after a wake-up: "no_answer"."""
    result = await _start_user_flow(hass)

    result = await _submit_and_probe(
        hass,
        result["flow_id"],
        {CONF_PORT: silent_meter.port, ADVANCED: _advanced(mode="C")},
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_answer"}
    assert silent_meter.stats().ignored_requests == 2  # as asked, then with the wake-up
    assert _suggested(result, CONF_MODE, ADVANCED) == "C"


async def test_closed_while_probing_releases_port(
    hass: HomeAssistant, silent_meter: MeterSimulator
) -> None:
    """Closing the dialog stops the probe and closes the port at once."""
    result = await _start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: silent_meter.port, ADVANCED: _advanced(mode="C")}
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS

    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done()
    silent_meter.clear_faults()

    assert not hass.config_entries.flow.async_progress()
    readout = None
    for _ in range(50):  # the cancelled probe closes the port as it unwinds
        try:
            readout = await read_meter(silent_meter.port, ReadSettings())
        except PortBusyError:
            await asyncio.sleep(0.1)
        else:
            break
    assert readout is not None
    assert readout.identification is not None


@pytest.mark.parametrize("sim_profile", ["kamstrup_mc66"])
async def test_sum_check_found_by_probe(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """A meter with the 7-bit SUM check: the XOR read fails, the probe finds SUM."""
    result = await _start_user_flow(hass)

    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )

    assert result["step_id"] == "select_codes"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["manufacturer"] == "Kamstrup"
    assert placeholders["serial"] == "00005077354"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CODES: ["6.8"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_CHECKSUM] == "sum"
    assert result["title"] == "Kamstrup MC"


@pytest.mark.parametrize("sim_profile", ["kamstrup_mc66"])
async def test_checksum_error_when_nothing_helps(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """Every readout is corrupted: the checksum error is shown, not a lesser one."""
    simulator.inject(Fault.CORRUPT, 100)
    result = await _start_user_flow(hass)

    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )

    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "checksum"}


@pytest.mark.parametrize("sim_profile", ["emh_ehz"])
async def test_push_meter_found_by_listening(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """Mode D without a rate: listening at 2400 Bd hears garbage, at 9600 Bd the meter."""
    result = await _start_user_flow(hass)

    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced(mode="D")}
    )

    assert result["step_id"] == "select_codes"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["mode"] == "D"
    assert placeholders["baudrate"] == "9600"
    assert placeholders["manufacturer"] == "EMH metering"
    assert placeholders["serial"] == "0000680476"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CODES: ["1-0:1.8.1*255"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_MODE] == "D"
    assert result["options"][CONF_BAUDRATE] == "9600"


async def test_unexpected_error(
    hass: HomeAssistant, simulator: MeterSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the probe (not a protocol error) is logged and shown as "unknown"."""

    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(config_flow, "probe_meter", broken)
    result = await _start_user_flow(hass)

    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )

    assert result["errors"] == {"base": "unknown"}


async def test_invalid_address(hass: HomeAssistant) -> None:
    """A device address the protocol cannot send is refused before probing."""
    result = await _start_user_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: MISSING_PORT, ADVANCED: _advanced(address="12/34")}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_address"}
    assert _suggested(result, CONF_ADDRESS, ADVANCED) == "12/34"


async def test_same_port_aborts(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """A port that an entry already uses is not probed again."""
    meter_entry(simulator).add_to_hass(hass)
    result = await _start_user_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert simulator.stats().requests == 0


async def test_same_meter_aborts(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """The same meter (serial number) on another path: already configured."""
    entry = meter_entry(simulator)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PORT: "/dev/ttyUSB7"})
    result = await _start_user_flow(hass)

    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# --- options flow -----------------------------------------------------------------------------


async def test_options_interval_not_shorter_than_read(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """Not loaded: the stored read time limits the interval; then the options are saved."""
    entry = meter_entry(simulator, codes=["1.8.0", "2.8.0"], **{CONF_READ_TIME: 12.5})
    entry.add_to_hass(hass)

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["description_placeholders"] == {"read_time": "12.5"}
    assert _suggested(result, CONF_CODES) == ["1.8.0", "2.8.0"]
    assert set(_option_values(result, CONF_CODES)) == {"1.8.0", "2.8.0"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_UPDATE_INTERVAL: 10, CONF_CODES: ["1.8.0"], ADVANCED: _advanced(mode="C")},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_UPDATE_INTERVAL: "interval_too_short"}
    assert result["description_placeholders"] == {"read_time": "12.5"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_UPDATE_INTERVAL: 30, CONF_CODES: [], ADVANCED: _advanced(mode="C")},
    )
    assert result["errors"] == {CONF_CODES: "no_codes"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_UPDATE_INTERVAL: 30, CONF_CODES: ["1.8.0"], ADVANCED: _advanced(address="a/b")},
    )
    assert result["errors"] == {"base": "invalid_address"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_UPDATE_INTERVAL: 30,
            CONF_CODES: ["1.8.0"],
            ADVANCED: _advanced(mode="C", checksum="sum", no_waiting=True),
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_UPDATE_INTERVAL] == 30
    assert entry.options[CONF_CODES] == ["1.8.0"]
    assert entry.options[CONF_CHECKSUM] == "sum"
    assert entry.options[CONF_NO_WAITING] is True
    assert entry.options[CONF_READ_TIME] == 12.5  # kept


async def test_options_of_a_running_meter(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """Loaded: every code of the last readout is offered with its value; saving reloads."""
    entry = meter_entry(simulator, codes=["1.8.0", "99.99.9"], **{CONF_READ_TIME: 0.1})
    await _setup(hass, entry)
    read_time = entry.runtime_data.last_read_time
    assert read_time is not None

    result = await hass.config_entries.options.async_init(entry.entry_id)
    labels = _option_values(result, CONF_CODES)
    assert len(labels) == 23  # 22 from the readout plus the stored code the meter no longer sends
    assert labels["1.8.0"].endswith("— 061561.289 kWh")
    assert labels["99.99.9"] == "99.99.9"
    assert result["description_placeholders"] == {"read_time": f"{read_time:.1f}"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_UPDATE_INTERVAL: 45, CONF_CODES: ["1.8.0", "32.7"], ADVANCED: _advanced(mode="C")},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.configured_interval == 45  # a new coordinator: reloaded


# --- reconfigure flow -------------------------------------------------------------------------


async def _reconfigure(
    hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any]
) -> FlowResult:
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    return await _submit_and_probe(hass, result["flow_id"], user_input)


async def test_reconfigure_success(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """The running entry frees the port, the probe reads the same meter, the entry reloads."""
    entry = meter_entry(simulator, **{CONF_UPDATE_INTERVAL: 5})
    await _setup(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    assert _suggested(result, CONF_PORT) == simulator.port
    assert _suggested(result, CONF_MODE, ADVANCED) == "C"
    assert result["description_placeholders"] == {"title": entry.title}

    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced(baudrate="300")}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.options[CONF_BAUDRATE] == "300"
    read_time = entry.options[CONF_READ_TIME]
    assert read_time > 5  # 300 Bd all through
    assert entry.options[CONF_UPDATE_INTERVAL] == 60  # raised: 5 s is shorter than a read
    assert entry.options[CONF_CODES] == meter_entry(simulator).options[CONF_CODES]


async def test_reconfigure_other_meter(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """Another meter answers: abort, the entry is set up again unchanged."""
    entry = meter_entry(simulator, serial="999", title="Old meter")
    simulator.set_value("C.1.0", "999")  # meter 999 is read at set-up, then another one answers
    await _setup(hass, entry)
    simulator.set_value("C.1.0", "13647123")

    result = await _reconfigure(hass, entry, {CONF_PORT: simulator.port, ADVANCED: _advanced()})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"
    await hass.async_block_till_done()
    # set up again; it waits (retries) since the meter answering is not meter 999 (issue 10.3)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.unique_id == "999"


async def test_reconfigure_error_then_retry(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """A wrong port: error on the form and the entry runs again; the right port then works."""
    entry = meter_entry(simulator)
    await _setup(hass, entry)

    result = await _reconfigure(hass, entry, {CONF_PORT: MISSING_PORT, ADVANCED: _advanced()})

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["errors"] == {"base": "port_not_found"}
    assert _suggested(result, CONF_PORT) == MISSING_PORT
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_PORT] == simulator.port

    result = await _submit_and_probe(
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_invalid_address(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """A bad device address is refused before the entry is touched."""
    entry = meter_entry(simulator)
    await _setup(hass, entry)
    result = await entry.start_reconfigure_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced(address="é")}
    )

    assert result["errors"] == {"base": "invalid_address"}
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_not_loaded_entry(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """An entry that is not loaded is not unloaded first, nor set up after a failure."""
    entry = meter_entry(simulator)
    entry.add_to_hass(hass)

    result = await _reconfigure(hass, entry, {CONF_PORT: MISSING_PORT, ADVANCED: _advanced()})

    assert result["errors"] == {"base": "port_not_found"}
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_reconfigure_closed_while_probing(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """The dialog is closed during the probe: the probe stops, the entry is set up again."""
    entry = meter_entry(simulator)
    await _setup(hass, entry)
    simulator.inject(Fault.SILENCE, 100)  # the probe waits (and would try fallbacks)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    for _ in range(100):
        if entry.state is ConfigEntryState.NOT_LOADED:
            break
        await asyncio.sleep(0.05)
    assert entry.state is ConfigEntryState.NOT_LOADED  # unloaded for the probe
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.SHOW_PROGRESS  # asked again: still probing
    simulator.clear_faults()

    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_PORT] == simulator.port


async def test_reconfigure_closed_after_probe(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """Closed after the probe found the meter but before the entry was updated: set up again."""
    entry = meter_entry(simulator)
    await _setup(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced()}
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED

    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED


# --- helpers --------------------------------------------------------------------------------


def test_code_label() -> None:
    """Code, translated name with its placeholders, value and unit as the meter sent them."""
    names = {"voltage_phase": "Voltage {phase}", "energy_import": "Import energy {oops}"}
    assert code_label("32.7", Value("241", "V"), names) == "32.7 Voltage L1 — 241 V"
    # a translation with an unknown placeholder is shown as written, not dropped
    assert code_label("1.8.0", Value(" 0012.5", "kWh"), names) == (
        "1.8.0 Import energy {oops} — 0012.5 kWh"
    )
    assert code_label("0.2.0", Value("M26"), {}) == "0.2.0 — M26"
    assert code_label("99.99.9", Value("  "), names) == "99.99.9"


async def test_advanced_section_defaults_reach_the_frontend(hass: HomeAssistant) -> None:
    """The form as the frontend gets it: the section has no default of its own, so the
    frontend fills in the defaults of its fields (a ``{}`` default hid them: "Not all
    required fields are filled in")."""
    from homeassistant.helpers.data_entry_flow import FlowManagerIndexView

    result = await _start_user_flow(hass)
    view = FlowManagerIndexView(hass.config_entries.flow)
    fields = view._prepare_result_json(result)["data_schema"]
    advanced = next(field for field in fields if field["name"] == ADVANCED)
    assert "default" not in advanced
    inner = {field["name"]: field.get("default") for field in advanced["schema"]}
    assert inner[CONF_MODE] == "auto"
    assert inner[CONF_BAUDRATE] == "auto"
    assert inner[CONF_CHECKSUM] == "xor"
