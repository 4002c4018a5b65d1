"""Config, options and reconfigure flows.

Where the wire matters (the probe's fallbacks, closing the port, a running entry) against
simulated meters on real ptys; everything else on recorded readouts (corpus captures) through
an injected reader: fast and without ptys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dlms_meter import catalog, config_flow, probe
from custom_components.dlms_meter.config_flow import (
    ADVANCED,
    GROUP_FIELDS,
    PICKER_FIELDS,
    clean_text,
    option_label,
    picker_options,
)
from custom_components.dlms_meter.const import (
    CONF_ADDRESS,
    CONF_ANSWER_BAUDRATE,
    CONF_BAUDRATE,
    CONF_CHECKSUM,
    CONF_CODES,
    CONF_FAST_CAPABLE,
    CONF_FAST_CODES,
    CONF_FAST_INTERVAL,
    CONF_FAST_READ_TIME,
    CONF_IDENTIFICATION,
    CONF_MANUFACTURER,
    CONF_MODE,
    CONF_MODEL,
    CONF_NO_WAITING,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_READ_TIME,
    CONF_RESET_BAUDRATE,
    CONF_SERIAL_NUMBER,
    CONF_UPDATE_INTERVAL,
    CONF_WAKEUP,
    DOMAIN,
    HEAT_METER_UPDATE_INTERVAL,
    PROBE_READOUTS,
)
from custom_components.dlms_meter.coordinator import DATA_READER, DATA_REGISTER_READER
from custom_components.dlms_meter.iec62056 import (
    Checksum,
    ChecksumError,
    DataSet,
    Identification,
    NoAnswerError,
    PortBusyError,
    PortNotFoundError,
    Readout,
    ReadSettings,
    Value,
    parse_capture,
    read_meter,
)
from custom_components.dlms_meter.iec62056.identity import (
    legacy_serial_number,
    serial_number,
    unique_id_for,
)
from custom_components.dlms_meter.iec62056.redact import mask_port
from meter_sim.simulator import PROFILES, Fault, MeterSimulator

from .iec62056.corpus import render_txt
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


def _fields(result: FlowResult) -> list[str]:
    schema = result["data_schema"]
    assert schema is not None
    return [str(m.schema) for m in schema.schema]


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
    assert _default(result, "energy") == E350_ENERGY  # pre-selected (not 15.8.0)
    assert _default(result, "grid_quality") == []
    assert _default(result, "meter_info") == []
    labels = _option_values(result, "energy")
    # the simulated E350 reads registers without a password: the probe's register session
    # marks what can be read fast
    assert labels["1.8.0"] == "1.8.0 Energy import — 061561.289 kWh ⚡"
    assert _option_values(result, "grid_quality")["32.7"] == "32.7 Voltage L1 — 241 V"
    assert _option_values(result, "meter_info")["97.97"].startswith("F.F (97.97) Error register")
    groups = [field for field in _fields(result) if field in PICKER_FIELDS]
    assert sum(len(_option_values(result, group)) for group in groups) == 22
    assert set(_option_values(result, CONF_FAST_CODES)) == set(E350_ENERGY)
    assert placeholders["fast"] == "6"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"energy": ["1.8.0", "2.8.0"], "grid_quality": ["32.7"], CONF_UPDATE_INTERVAL: 60},
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
    assert options[CONF_MODE] == "c"
    assert options[CONF_BAUDRATE] == "auto"
    assert options[CONF_CHECKSUM] == "xor"
    assert options[CONF_WAKEUP] is False
    assert 0 < options[CONF_READ_TIME] < 60
    assert options[CONF_UPDATE_INTERVAL] == 60
    assert options[CONF_FAST_CAPABLE] == {code: code for code in E350_ENERGY}
    assert options[CONF_FAST_CODES] == []  # none chosen: no register reads
    assert options[CONF_PASSWORD] == ""
    entry = result["result"]
    assert entry.unique_id == E350_SERIAL
    assert entry.version == 2
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED  # the coordinator reads with what was found


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
        {CONF_PORT: silent_meter.port, ADVANCED: _advanced(mode="c")},
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_answer"}
    assert silent_meter.stats().ignored_requests == 2  # as asked, then with the wake-up
    assert _suggested(result, CONF_MODE, ADVANCED) == "c"


async def test_closed_while_probing_releases_port(
    hass: HomeAssistant, silent_meter: MeterSimulator
) -> None:
    """Closing the dialog stops the probe and closes the port at once."""
    result = await _start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: silent_meter.port, ADVANCED: _advanced(mode="c")}
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
    assert "6.8" in _option_values(result, "energy")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"energy": ["6.8"]})
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
        hass, result["flow_id"], {CONF_PORT: simulator.port, ADVANCED: _advanced(mode="d")}
    )

    assert result["step_id"] == "select_codes"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["mode"] == "D"
    assert placeholders["baudrate"] == "9600"
    assert placeholders["manufacturer"] == "EMH metering"
    assert placeholders["serial"] == "0000680476"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"energy": ["1-0:1.8.1*255"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_MODE] == "d"
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


# --- options flow -----------------------------------------------------------------------------


async def test_options_interval_not_shorter_than_read(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """Not loaded: the stored read time limits the interval; then the options are saved."""
    entry = meter_entry(simulator, codes=["1.8.0", "2.8.0"], **{CONF_READ_TIME: 12.5})
    entry.add_to_hass(hass)

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["description_placeholders"] == {
        "read_time": "12.5",
        "fast": "0",
        "fast_mark": "⚡",
    }
    assert _default(result, "energy") == ["1.8.0", "2.8.0"]
    assert set(_option_values(result, "energy")) == {"1.8.0", "2.8.0"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_UPDATE_INTERVAL: 10, "energy": ["1.8.0"], ADVANCED: _advanced(mode="c")},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_UPDATE_INTERVAL: "interval_too_short"}
    assert result["description_placeholders"] == {
        "read_time": "12.5",
        "fast": "0",
        "fast_mark": "⚡",
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_UPDATE_INTERVAL: 30, "energy": [], ADVANCED: _advanced(mode="c")},
    )
    assert result["errors"] == {"base": "no_codes"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_UPDATE_INTERVAL: 30, "energy": ["1.8.0"], ADVANCED: _advanced(address="a/b")},
    )
    assert result["errors"] == {"base": "invalid_address"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_UPDATE_INTERVAL: 30,
            "energy": ["1.8.0"],
            ADVANCED: _advanced(mode="c", checksum="sum", no_waiting=True),
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_UPDATE_INTERVAL] == 30
    assert entry.options[CONF_CODES] == ["1.8.0"]
    assert entry.options[CONF_CHECKSUM] == "sum"
    assert entry.options[CONF_NO_WAITING] is True
    assert entry.options[CONF_READ_TIME] == 12.5  # kept


async def test_options_fast_values_and_password(
    hass: HomeAssistant, simulator: MeterSimulator
) -> None:
    """Fast-capable codes are marked and offered as fast values; their interval is not shorter
    than one register session plus the quiet time; the password is never suggested back, an
    empty field keeps it, a new one replaces it."""
    entry = meter_entry(
        simulator,
        codes=["1.8.0"],
        **{
            CONF_READ_TIME: 2.0,
            CONF_FAST_CAPABLE: {"1.8.0": "1.8.0", "2.8.0": "2.8.0"},
            CONF_FAST_READ_TIME: 2.2,
            CONF_PASSWORD: "0000abcd",
        },
    )
    entry.add_to_hass(hass)

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["description_placeholders"]["fast"] == "2"
    assert _option_values(result, "energy")["1.8.0"].endswith(" ⚡")
    assert set(_option_values(result, CONF_FAST_CODES)) == {"1.8.0", "2.8.0"}
    assert "0000abcd" not in repr(result["data_schema"].schema)
    assert _suggested(result, CONF_CHECKSUM, ADVANCED) == "xor"  # the others are suggested
    assert _suggested(result, CONF_PASSWORD, ADVANCED) is None

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_UPDATE_INTERVAL: 30,
            "energy": ["1.8.0"],
            CONF_FAST_CODES: ["2.8.0"],
            CONF_FAST_INTERVAL: 3,
            ADVANCED: _advanced(mode="c"),
        },
    )
    assert result["errors"] == {CONF_FAST_INTERVAL: "fast_interval_too_short"}  # 2.2 + 1.5 s

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_UPDATE_INTERVAL: 30,
            "energy": ["1.8.0"],
            CONF_FAST_CODES: ["2.8.0"],
            CONF_FAST_INTERVAL: 4,
            ADVANCED: _advanced(mode="c"),
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_FAST_CODES] == ["2.8.0"]
    assert entry.options[CONF_CODES] == ["1.8.0", "2.8.0"]  # a fast value is a sensor too
    assert entry.options[CONF_FAST_INTERVAL] == 4
    assert entry.options[CONF_PASSWORD] == "0000abcd"  # empty field: kept
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_UPDATE_INTERVAL: 30,
            "energy": ["1.8.0"],
            ADVANCED: _advanced(mode="c", password="new-one"),
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_PASSWORD] == "new-one"
    assert entry.options[CONF_FAST_CODES] == ["2.8.0"]  # not posted: the ticked ones stay
    await hass.async_block_till_done()


async def test_options_of_a_running_meter(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    """Loaded: every code of the last readout is offered with its value; saving reloads."""
    entry = meter_entry(simulator, codes=["1.8.0", "99.99.9"], **{CONF_READ_TIME: 0.1})
    await _setup(hass, entry)
    read_time = entry.runtime_data.last_read_time
    assert read_time is not None

    result = await hass.config_entries.options.async_init(entry.entry_id)
    groups = [f for f in _fields(result) if f in PICKER_FIELDS]
    labels = {k: v for group in groups for k, v in _option_values(result, group).items()}
    assert len(labels) == 23  # 22 from the readout plus the stored code the meter no longer sends
    assert labels["1.8.0"].endswith("— 061561.289 kWh")
    assert labels["99.99.9"] == "99.99.9"
    assert _default(result, "meter_info") == ["99.99.9"]
    assert result["description_placeholders"] == {
        "read_time": f"{read_time:.1f}",
        "fast": "0",
        "fast_mark": "⚡",
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_UPDATE_INTERVAL: 45,
            "energy": ["1.8.0"],
            "grid_quality": ["32.7"],
            "meter_info": [],
            ADVANCED: _advanced(mode="c"),
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.configured_interval == 45  # a new coordinator: reloaded
    assert entry.options[CONF_CODES] == ["1.8.0", "32.7"]


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
    assert _suggested(result, CONF_MODE, ADVANCED) == "c"  # migrated from "C"
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


# --- recorded readouts through an injected reader (no ptys) ------------------------------------

CORPUS = Path(__file__).parent / "fixtures" / "corpus" / "raw"
REMOTE_PORT = "rfc2217://admin:hunter2@10.0.0.5:4001?token=s3cret"


def _recorded(name: str, checksum: Checksum = Checksum.XOR) -> Readout:
    """The first readout of a corpus capture (raw bytes as the meter sent them)."""
    return parse_capture((CORPUS / name).read_bytes(), checksum)[0]


def _text(number: int) -> Readout:
    """The readout of a corpus text capture (rendered back to bytes)."""
    return parse_capture(render_txt(number), Checksum.NONE)[0]


E350 = _recorded("05_LandisGyr_E350_ZMF100AC_M26.bin")
ZMD120 = _recorded("01_LandisGyr_ZMD120AP.bin")
MT174 = _recorded("08_Iskra_MT174_fw103.bin")
EHZ = _recorded("18_EMH_eHZ.bin")
ZMD405 = _text(44)
UH50 = _text(39)
# An Elster AS3000 names itself only by 0.0.1 (no C.1.0, no 0.0.0).
AS3000 = Readout(
    Identification(raw="ELS0\\@AS3000", manufacturer="ELS", baud_char="0", model="\\@AS3000"),
    (
        DataSet("0.0.1", (Value("09080744"),)),
        DataSet("1.8.0", (Value("00005450.425", "kWh"),)),
        DataSet("1.8.0*01", (Value("00005000.000", "kWh"),)),
    ),
)
# A ZMD120 without its property number 0.0.0: no register names the meter.
NO_SERIAL = replace(ZMD120, datasets=tuple(d for d in ZMD120.datasets if d.address != "0.0.0"))


class Reader:
    """Stands in for the library's read_meter: answers with recorded readouts, counts reads."""

    def __init__(self) -> None:
        self.answers: dict[str, Readout | Exception] = {}
        self.reads: list[tuple[str, ReadSettings]] = []

    async def __call__(self, port: str, settings: ReadSettings) -> Readout:
        self.reads.append((port, settings))
        answer = self.answers.get(port, NoAnswerError("silence"))
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def reader(hass: HomeAssistant) -> Reader:
    """The probe (and any coordinator) reads through this reader: the injection point."""
    fake = Reader()
    hass.data[DATA_READER] = fake
    return fake


@pytest.fixture
def mock_setup_entry() -> Generator[AsyncMock]:
    """Created entries are not set up (their coordinator would read a real port)."""
    with patch("custom_components.dlms_meter.async_setup_entry", return_value=True) as mock_setup:
        yield mock_setup


async def _to_picker(hass: HomeAssistant, port: str, **advanced: Any) -> FlowResult:
    result = await _start_user_flow(hass)
    user_input: dict[str, Any] = {CONF_PORT: port}
    if advanced:
        user_input[ADVANCED] = _advanced(**advanced)
    return await _submit_and_probe(hass, result["flow_id"], user_input)


async def _add(hass: HomeAssistant, port: str, choice: dict[str, Any]) -> FlowResult:
    result = await _to_picker(hass, port)
    assert result["step_id"] == "select_codes"
    return await hass.config_entries.flow.async_configure(result["flow_id"], choice)


async def test_recorded_entry_starts_from_the_probe_readout(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """One read: the readout the picker showed is handed to the new entry (contract 8)."""
    reader.answers["/dev/ttyE350"] = E350

    result = await _add(hass, "/dev/ttyE350", {"energy": ["1.8.0"]})

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Landis+Gyr ZMF100AC.M26"
    assert result["result"].unique_id == E350_SERIAL
    assert result["options"][CONF_CODES] == ["1.8.0"]
    assert result["options"][CONF_UPDATE_INTERVAL] == 60
    assert hass.data[DOMAIN][PROBE_READOUTS][E350_SERIAL] is E350
    assert len(reader.reads) == 1


async def test_api_client_posts_only_the_port(hass: HomeAssistant, reader: Reader) -> None:
    """The advanced section is optional: its defaults apply (mode auto = C first, XOR)."""
    reader.answers["/dev/ttyE350"] = E350
    result = await _start_user_flow(hass)

    result = await _submit_and_probe(hass, result["flow_id"], {CONF_PORT: "/dev/ttyE350"})

    assert result["step_id"] == "select_codes"
    assert reader.reads == [("/dev/ttyE350", ReadSettings())]


async def test_picker_in_the_meters_words_grouped(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """Codes as written (normalised code where it differs), names, values, five groups;
    ticked history values are kept in the entry's choice."""
    reader.answers["/dev/ttyMT174"] = MT174

    result = await _to_picker(hass, "/dev/ttyMT174")

    assert _fields(result) == [
        CONF_UPDATE_INTERVAL,
        "energy",
        "power",
        "history",
        "meter_info",
    ]  # no voltage or current: no grid-quality group
    info = _option_values(result, "meter_info")
    assert info["0-0:96.1.0*255"] == ("0-0:C.1.0*255 (0-0:96.1.0*255) Serial number — 63355730")
    history = _option_values(result, "history")
    assert history["1-0:1.8.0*1"].startswith("1-0:1.8.0*01 (1-0:1.8.0*1) ")
    assert _default(result, "history") == []
    assert _default(result, "meter_info") == []
    assert "1-0:1.8.0*255" in _default(result, "energy")
    assert _default(result, "power") == ["1-0:1.7.0*255", "1-0:2.7.0*255"]
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["count"] == str(len(MT174.datasets))

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"energy": ["1-0:1.8.0*255"], "history": ["1-0:1.8.0*1", "1-0:1.8.0*2"]},
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_CODES][0] == "1-0:1.8.0*255"
    assert {"1-0:1.8.0*1", "1-0:1.8.0*2"} <= set(result["options"][CONF_CODES])


async def test_picker_requires_a_code_and_a_long_enough_interval(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """Nothing ticked, or an interval shorter than the read: refused; then created."""
    reader.answers["/dev/ttyE350"] = E350
    result = await _to_picker(hass, "/dev/ttyE350")
    empty: dict[str, Any] = {key: [] for key in _fields(result)[1:]}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], empty)
    assert result["errors"] == {"base": "no_codes"}

    flow = hass.config_entries.flow._progress[result["flow_id"]]
    flow._result = replace(flow._result, duration=90.0)  # a slow 300-Bd read
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**empty, "energy": ["1.8.0"], CONF_UPDATE_INTERVAL: 60}
    )
    assert result["errors"] == {CONF_UPDATE_INTERVAL: "interval_too_short"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**empty, "energy": ["1.8.0"], CONF_UPDATE_INTERVAL: 120}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_UPDATE_INTERVAL] == 120


async def test_heat_meter_defaults_to_a_daily_read(
    hass: HomeAssistant,
    reader: Reader,
    mock_setup_entry: AsyncMock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings with an answer rate (a battery heat meter): one read a day by default."""
    monkeypatch.setattr(config_flow, "answer_baudrate", lambda _settings: 2400)
    reader.answers["/dev/ttyHeat"] = ZMD120

    result = await _to_picker(hass, "/dev/ttyHeat")

    assert _default(result, CONF_UPDATE_INTERVAL) == HEAT_METER_UPDATE_INTERVAL == 86400
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["options"][CONF_UPDATE_INTERVAL] == 86400


async def test_port_in_use_refused_before_reading(hass: HomeAssistant, reader: Reader) -> None:
    """A port another entry reads: a form error naming that entry, the meter is not read."""
    MockConfigEntry(
        domain=DOMAIN, title="Kitchen meter", data={CONF_PORT: "/dev/ttyE350"}
    ).add_to_hass(hass)
    result = await _start_user_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: "/dev/ttyE350"}
    )

    assert result["type"] is FlowResultType.FORM
    # a second meter on a port goes by device address: the entry without one must get one first
    assert result["errors"] == {CONF_PORT: "port_in_use_no_address"}
    assert result["description_placeholders"] == {"title": "Kitchen meter"}
    assert reader.reads == []


def _bus_entry(hass: HomeAssistant, address: str, *, serial: str = "other") -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Flat 1",
        unique_id=serial,
        data={CONF_PORT: "/dev/ttyBus", CONF_SERIAL_NUMBER: serial},
        options={CONF_ADDRESS: address},
    )
    entry.add_to_hass(hass)
    return entry


async def test_second_meter_on_a_port_by_address(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """Port taken by a meter with an address: the flow asks this meter's address (not the
    other's), probes with it and creates a second entry on the same port."""
    _bus_entry(hass, "001")
    reader.answers["/dev/ttyBus"] = E350
    result = await _start_user_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: "/dev/ttyBus"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "address"
    assert result["description_placeholders"] == {"port": "/dev/ttyBus", "titles": "Flat 1"}
    assert reader.reads == []

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_ADDRESS: "1"})
    assert result["errors"] == {CONF_ADDRESS: "address_in_use"}  # leading zeros do not count
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_ADDRESS: " "})
    assert result["errors"] == {CONF_ADDRESS: "invalid_address"}
    assert reader.reads == []

    result = await _submit_and_probe(hass, result["flow_id"], {CONF_ADDRESS: "2"})
    assert result["step_id"] == "select_codes"
    assert {settings.address for _port, settings in reader.reads} == {"2"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"energy": ["1.8.0"], CONF_UPDATE_INTERVAL: 60}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PORT] == "/dev/ttyBus"
    assert result["options"][CONF_ADDRESS] == "2"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 2


async def test_second_meter_with_the_same_serial_is_already_configured(
    hass: HomeAssistant, reader: Reader
) -> None:
    """The meter at the new address answers with the serial number of an entry on the port."""
    _bus_entry(hass, "1", serial=E350_SERIAL)
    reader.answers["/dev/ttyBus"] = E350
    result = await _start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: "/dev/ttyBus"}
    )

    result = await _submit_and_probe(hass, result["flow_id"], {CONF_ADDRESS: "2"})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "meter_already_configured"


async def test_meter_configured_on_another_port_aborts_before_picker(
    hass: HomeAssistant, reader: Reader
) -> None:
    """Its serial number is known after the probe: abort with the entry's title."""
    MockConfigEntry(
        domain=DOMAIN, title="Basement", unique_id=E350_SERIAL, data={CONF_PORT: "/dev/old"}
    ).add_to_hass(hass)
    reader.answers["/dev/ttyE350"] = E350

    result = await _to_picker(hass, "/dev/ttyE350")

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "meter_already_configured"
    assert result["description_placeholders"] == {"title": "Basement", "serial": E350_SERIAL}
    assert len(reader.reads) == 1


async def test_meters_without_serial_number(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """Two meters of one model without a serial register: two entries, told apart by their
    port (hashed: no credential shows), titles told apart; no crash."""
    reader.answers["/dev/ttyA"] = NO_SERIAL
    reader.answers[REMOTE_PORT] = NO_SERIAL

    first = await _add(hass, "/dev/ttyA", {"energy": ["1.8.0"]})
    second = await _add(hass, REMOTE_PORT, {"energy": ["1.8.0"]})

    assert first["type"] is second["type"] is FlowResultType.CREATE_ENTRY
    ids = [first["result"].unique_id, second["result"].unique_id]
    assert ids[0] != ids[1]
    assert ids == [unique_id_for(NO_SERIAL, "/dev/ttyA"), unique_id_for(NO_SERIAL, REMOTE_PORT)]
    assert all(uid.startswith("LGZ52ZMD120APt.G03@") for uid in ids)
    assert first["data"][CONF_SERIAL_NUMBER] == ""
    assert first["title"] == "Landis+Gyr 2ZMD120APt.G03"
    assert second["title"] == f"Landis+Gyr 2ZMD120APt.G03 {ids[1]}"
    for text in (ids[1], second["title"]):
        assert "hunter2" not in text
        assert "s3cret" not in text
    assert hass.data[DOMAIN][PROBE_READOUTS][ids[1]] is NO_SERIAL


async def test_elster_as3000_serial_from_0_0_1_and_two_of_them(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """An AS3000 names itself only by 0.0.1: that is its serial number (not the identification
    text); a second AS3000 on another port is another meter, also beside an entry an earlier
    version made with the identification text as its id; the same one again is refused."""
    other = replace(
        AS3000,
        datasets=(DataSet("0.0.1", (Value("09080745"),)), *AS3000.datasets[1:]),
    )
    MockConfigEntry(
        domain=DOMAIN, unique_id="ELS0\\@AS3000", data={CONF_PORT: "/dev/ttyOld"}
    ).add_to_hass(hass)
    reader.answers["/dev/ttyA"] = AS3000
    reader.answers["/dev/ttyB"] = other
    reader.answers["/dev/ttyC"] = AS3000

    first = await _add(hass, "/dev/ttyA", {"energy": ["1.8.0"]})
    second = await _add(hass, "/dev/ttyB", {"energy": ["1.8.0"]})
    again = await _to_picker(hass, "/dev/ttyC")

    assert first["type"] is second["type"] is FlowResultType.CREATE_ENTRY
    assert first["result"].unique_id == first["data"][CONF_SERIAL_NUMBER] == "09080744"
    assert second["result"].unique_id == "09080745"
    assert again["type"] is FlowResultType.ABORT
    assert again["reason"] == "meter_already_configured"
    assert again["description_placeholders"]["serial"] == "09080744"


async def test_no_identity_at_all_titles_masked_port(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """No identification and no serial: the title names the port, credentials masked."""
    reader.answers[REMOTE_PORT] = replace(NO_SERIAL, identification=None)

    result = await _add(hass, REMOTE_PORT, {"energy": ["1.8.0"]})

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"IEC 62056-21 meter on {mask_port(REMOTE_PORT)}"
    assert "hunter2" not in result["title"]
    assert "s3cret" not in result["title"]


async def test_titles_without_filler_and_told_apart(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """ "EMH5----eHZ-E0018E" -> "EMH metering eHZ-E0018E"; a second one gets its serial."""
    other = replace(
        EHZ,
        datasets=tuple(
            replace(d, values=(replace(d.values[0], value="0000999999"),))
            if d.obis is not None and d.obis.matches("96.1.255")
            else d
            for d in EHZ.datasets
        ),
    )
    reader.answers["/dev/ttyA"] = EHZ
    reader.answers["/dev/ttyB"] = other

    first = await _add(hass, "/dev/ttyA", {"energy": ["1-0:1.8.1*255"], CONF_UPDATE_INTERVAL: 60})
    second = await _add(hass, "/dev/ttyB", {"energy": ["1-0:1.8.1*255"], CONF_UPDATE_INTERVAL: 60})

    assert first["title"] == "EMH metering eHZ-E0018E"
    assert first["data"][CONF_MODEL] == "eHZ-E0018E"
    assert second["title"] == "EMH metering eHZ-E0018E 0000999999"


async def test_migration_of_version_1_mode_letters(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """Entries of version 1 stored "C": version 2 stores the selector key "c"."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        version=1,
        unique_id="1",
        data={CONF_PORT: "/dev/ttyX"},
        options={CONF_MODE: "C", CONF_CODES: ["1.8.0"]},
    )
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)

    assert (entry.version, entry.minor_version) == (2, 1)
    assert entry.options == {CONF_MODE: "c", CONF_CODES: ["1.8.0"]}
    assert probe.settings_from_options(entry.options).mode == "C"


async def test_migration_refuses_a_newer_version(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """After a downgrade an entry of a version this code does not know is not touched."""
    entry = MockConfigEntry(domain=DOMAIN, version=3, data={CONF_PORT: "/dev/ttyX"})
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert entry.version == 3


async def test_reconfigure_keeps_a_legacy_identity(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """A version-1 entry of a meter without serial register has the identification as its
    unique id: reconfigure still recognises it and keeps the id (its entities keep theirs);
    the readout is handed to the reloaded entry."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        version=2,
        title="Landis+Gyr 2ZMD120APt.G03",
        unique_id="LGZ52ZMD120APt.G03",
        data={
            CONF_PORT: "/dev/ttyOld",
            CONF_SERIAL_NUMBER: "LGZ52ZMD120APt.G03",
            CONF_IDENTIFICATION: "LGZ52ZMD120APt.G03",
        },
        options={CONF_MODE: "c", CONF_CODES: ["1.8.0"], CONF_UPDATE_INTERVAL: 60},
    )
    entry.add_to_hass(hass)
    reader.answers["/dev/ttyNew"] = NO_SERIAL

    result = await _reconfigure(hass, entry, {CONF_PORT: "/dev/ttyNew"})

    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == "LGZ52ZMD120APt.G03"
    assert entry.data[CONF_SERIAL_NUMBER] == "LGZ52ZMD120APt.G03"
    assert entry.data[CONF_PORT] == "/dev/ttyNew"
    assert hass.data[DOMAIN][PROBE_READOUTS]["LGZ52ZMD120APt.G03"] is NO_SERIAL


async def test_reconfigure_meter_without_serial_by_identification(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """A version-2 entry of a meter without serial number: same identification, new port."""
    reader.answers["/dev/ttyA"] = NO_SERIAL
    created = await _add(hass, "/dev/ttyA", {"energy": ["1.8.0"]})
    entry = created["result"]
    reader.answers["/dev/ttyB"] = NO_SERIAL

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await _submit_and_probe(hass, result["flow_id"], {CONF_PORT: "/dev/ttyB"})

    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == created["result"].unique_id
    assert entry.data[CONF_PORT] == "/dev/ttyB"


async def test_reconfigure_to_a_port_in_use(hass: HomeAssistant, reader: Reader) -> None:
    """Another entry's port is refused; the entry's own port is not "in use"."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=E350_SERIAL, data={CONF_PORT: "/dev/ttyE350"}, version=2
    )
    entry.add_to_hass(hass)
    MockConfigEntry(domain=DOMAIN, title="Garage", data={CONF_PORT: "/dev/ttyG"}).add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: "/dev/ttyG"}
    )
    assert result["errors"] == {CONF_PORT: "port_in_use"}
    assert result["description_placeholders"] == {"title": "Garage"}
    assert reader.reads == []

    reader.answers["/dev/ttyE350"] = E350
    result = await _submit_and_probe(hass, result["flow_id"], {CONF_PORT: "/dev/ttyE350"})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)  # its polling timer ends


@pytest.mark.parametrize(
    ("error", "key"),
    [
        (NoAnswerError("x"), "no_answer"),
        (ChecksumError("x"), "checksum"),
        (PortNotFoundError("x"), "port_not_found"),
    ],
)
async def test_probe_errors_are_translated_keys(
    hass: HomeAssistant, reader: Reader, error: Exception, key: str
) -> None:
    """Each library error is shown by its kind, on the user form, input kept."""
    reader.answers["/dev/ttyX"] = error

    result = await _to_picker(hass, "/dev/ttyX", mode="c")

    assert result["step_id"] == "user"
    assert result["errors"] == {"base": key}
    assert _suggested(result, CONF_PORT) == "/dev/ttyX"


# --- helpers --------------------------------------------------------------------------------


def test_clean_text() -> None:
    """Filler at the edges goes, inner runs become one space, single - and . stay."""
    assert clean_text("EMH metering ----eHZ-E0018E") == "EMH metering eHZ-E0018E"
    assert clean_text("__ABC . DEF__") == "ABC DEF"
    assert clean_text("ABC..DEF") == "ABC DEF"
    assert clean_text("ZMF100AC.M26") == "ZMF100AC.M26"
    assert clean_text("----") == ""


def _entry(readout: Readout, key: str) -> catalog.DataSetEntry:
    return next(e for e in catalog.entries(readout) if e.key == key)


def test_option_label() -> None:
    """As written, normalised where it differs, translated name (placeholders), value as sent."""
    names = {"voltage_phase": "Voltage {phase}", "energy_import": "Import energy {oops}"}
    assert option_label(_entry(E350, "32.7"), names) == "32.7 Voltage L1 — 241 V"
    # a translation with an unknown placeholder is shown as written, not dropped
    assert option_label(_entry(E350, "1.8.0"), names) == (
        "1.8.0 Import energy {oops} — 061561.289 kWh"
    )
    assert option_label(_entry(E350, "97.97"), {}) == "F.F (97.97) — 00"


def test_picker_options_history_named_and_kept_apart() -> None:
    """History values carry their register's name; "&" and "*" data sets are two options;
    a data set with two values (flow and return temperature) is two options."""
    names = {"energy_import": "Energy import", "temperature_flow": "Flow temperature"}
    history = picker_options(ZMD405, (), names)[GROUP_FIELDS[catalog.Group.HISTORY]]
    labels = {o["value"]: o["label"] for o in history}
    assert "0.1.0*12" in labels
    assert "0.1.0&12" in labels
    assert labels["0.1.0*12"] != labels["0.1.0&12"]
    star = next(key for key in labels if key.startswith("1.8.0*"))
    assert "Energy import" in labels[star]
    heat = {o["value"]: o for field in picker_options(UH50, (), {}).values() for o in field}
    assert {"9.4", "9.4#2"} <= set(heat)
    assert heat["9.4"]["label"] != heat["9.4#2"]["label"]
    assert heat["9.4#2"]["label"].startswith("9.4 #2")


def test_picker_options_of_stored_codes() -> None:
    """A key stored by an earlier version (``1.6.0*1`` for ``1.6.0&01``) keeps its value, so its
    entity keeps its unique id; a chosen code the meter no longer sends is still offered."""
    readout = Readout(
        None,
        (
            DataSet("1.8.0", (Value("000123.4", "kWh"),)),
            DataSet("1.6.0&01", (Value("02.5", "kW"),)),
        ),
    )
    options = picker_options(readout, ["1.6.0*1", "99.99.9"], {})
    values = [o["value"] for field in options.values() for o in field]
    assert values.count("1.6.0*1") == 1
    assert "1.6.0&1" not in values
    other = options[GROUP_FIELDS[catalog.group("99.99.9")]]
    assert {"value": "99.99.9", "label": "99.99.9"} in other
    assert picker_options(None, ["1.8.0"], {}) == {"energy": [{"value": "1.8.0", "label": "1.8.0"}]}


def test_error_key_and_intervals() -> None:
    """Unknown errors are "unknown"; the default interval follows the read time."""
    assert config_flow.error_key(RuntimeError("bug")) == "unknown"
    assert config_flow.error_key(NoAnswerError("x")) == "no_answer"
    assert config_flow.default_update_interval(0.5) == 60
    assert config_flow.default_update_interval(45.2) == 91
    assert config_flow.default_update_interval(45.2, heat_meter=True) == 86400


def test_unique_ids() -> None:
    """One definition (iec62056.identity): serial number from the registers; without one the
    identification plus a key of the port (never the port's text), never a crash."""
    assert serial_number(E350) == E350_SERIAL
    assert serial_number(NO_SERIAL) is None
    assert serial_number(AS3000) == "09080744"
    uid = unique_id_for(NO_SERIAL, REMOTE_PORT)
    assert uid != unique_id_for(NO_SERIAL, "/dev/ttyA")
    assert "10.0.0.5" not in uid
    assert "hunter2" not in uid
    assert unique_id_for(replace(NO_SERIAL, identification=None), "/dev/x").startswith("meter@")
    assert legacy_serial_number(NO_SERIAL) == "LGZ52ZMD120APt.G03"


def test_options_round_trip() -> None:
    """Stored options <-> settings: lowercase mode keys, the old letters still read."""
    options = probe.options_from_settings(ReadSettings(mode="D", baudrate=9600))
    assert options[CONF_MODE] == "d"
    assert options[CONF_ANSWER_BAUDRATE] == ""
    assert probe.settings_from_options(options) == ReadSettings(mode="D", baudrate=9600)
    assert probe.settings_from_options({CONF_MODE: "B"}).mode == "B"
    assert probe.answer_baudrate(ReadSettings()) is None


async def test_progress_shows_the_port_without_credentials(
    hass: HomeAssistant, reader: Reader
) -> None:
    """The progress text names the port with its user, password and secret parameters masked."""
    reader.answers[REMOTE_PORT] = E350
    result = await _start_user_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: REMOTE_PORT}
    )

    assert result["type"] is FlowResultType.SHOW_PROGRESS
    placeholders = result["description_placeholders"]
    assert placeholders == {"port": mask_port(REMOTE_PORT)}
    assert "hunter2" not in placeholders["port"]
    assert "s3cret" not in placeholders["port"]
    await hass.async_block_till_done()
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_picker_offers_fast_values_the_meter_read_by_register(
    hass: HomeAssistant, reader: Reader, mock_setup_entry: AsyncMock
) -> None:
    """The probe's one register session (recorded answers): what the meter answered is marked
    and offered; the fast interval may not be shorter than the session plus the quiet time."""
    sessions: list[tuple[str, ...]] = []

    async def registers(
        port: str, settings: ReadSettings, codes: Sequence[str], password: str | None
    ) -> Readout:
        sessions.append(tuple(codes))
        answered = tuple(d for d in E350.datasets if d.address in {"1.8.0", "2.8.0"})
        return replace(E350, datasets=answered)

    hass.data[DATA_REGISTER_READER] = registers
    reader.answers["/dev/ttyE350"] = E350

    result = await _to_picker(hass, "/dev/ttyE350")

    assert len(sessions) == 1  # one short session, a few codes
    assert set(_option_values(result, CONF_FAST_CODES)) == {"1.8.0", "2.8.0"}
    assert _option_values(result, "energy")["1.8.1"].endswith("kWh")  # not answered: no mark
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"energy": ["1.8.1"], CONF_FAST_CODES: ["1.8.0"], CONF_FAST_INTERVAL: 1},
    )
    assert result["errors"] == {CONF_FAST_INTERVAL: "fast_interval_too_short"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"energy": ["1.8.1"], CONF_FAST_CODES: ["1.8.0"], CONF_FAST_INTERVAL: 5},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_CODES] == ["1.8.1", "1.8.0"]  # a fast value is a sensor too
    assert result["options"][CONF_FAST_CODES] == ["1.8.0"]
    assert result["options"][CONF_FAST_INTERVAL] == 5
