"""The Home Assistant side of probing: the option dict, the re-exports, probes of simulated meters.

The strategy itself (which settings follow which failure) and the identity (serial number, unique
id) are tested in tests/iec62056/test_probe.py and tests/iec62056/test_probe_identity.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from custom_components.dlms_meter import probe
from custom_components.dlms_meter.const import (
    CONF_ADDRESS,
    CONF_BAUDRATE,
    CONF_CHECKSUM,
    CONF_MODE,
    CONF_NO_WAITING,
    CONF_RESET_BAUDRATE,
    CONF_WAKEUP,
)
from custom_components.dlms_meter.iec62056 import (
    Checksum,
    PortNotFoundError,
    ReadSettings,
    identity,
    probe as library_probe,
)
from custom_components.dlms_meter.probe import (
    CONF_ANSWER_BAUDRATE,
    EmptyReadoutError,
    answer_baudrate,
    heat_meter_settings,
    options_from_settings,
    probe_meter,
    settings_from_options,
)
from meter_sim.simulator import PROFILES, Fault, MeterSimulator

C = ReadSettings()
D9600 = ReadSettings(mode="D", baudrate=9600)


def test_strategy_and_identity_are_the_librarys() -> None:
    """One probe and one identity, used by the flow, the coordinator and the command line."""
    assert probe.probe_meter is library_probe.probe_meter
    assert probe.fallbacks is library_probe.fallbacks
    assert probe.ProbeResult is library_probe.ProbeResult
    assert probe.serial_number is identity.serial_number
    assert probe.unique_id_for is identity.unique_id_for
    assert probe.legacy_serial_number is identity.legacy_serial_number
    assert probe.SERIAL_CODES is identity.SERIAL_CODES


# --- option dict <-> settings ---------------------------------------------------------------


def test_settings_from_options() -> None:
    """Automatic mode reads mode C; strings from the form become library values."""
    assert settings_from_options({}) == ReadSettings()
    settings = settings_from_options(
        {
            CONF_MODE: "auto",
            CONF_BAUDRATE: "9600",
            CONF_CHECKSUM: "sum",
            CONF_ADDRESS: " 12 ",
            CONF_WAKEUP: True,
            CONF_RESET_BAUDRATE: False,
            CONF_NO_WAITING: True,
        }
    )
    assert settings == ReadSettings(
        mode="C",
        baudrate=9600,
        checksum=Checksum.SUM,
        address="12",
        wakeup=True,
        reset_baudrate=False,
        no_waiting=True,
    )
    with pytest.raises(ValueError, match="address"):
        settings_from_options({CONF_ADDRESS: "1/2"})
    # Lowercase selector keys (contract 4) and the letters stored so far read the same.
    assert settings_from_options({CONF_MODE: "d", CONF_BAUDRATE: "9600"}) == D9600
    assert settings_from_options({CONF_MODE: "D", CONF_BAUDRATE: "9600"}) == D9600


def test_answer_baudrate_option() -> None:
    """The heat-meter answer rate: "" or missing = none, a number = that rate."""
    assert settings_from_options({}).answer_baudrate is None
    assert settings_from_options({CONF_ANSWER_BAUDRATE: ""}).answer_baudrate is None
    assert settings_from_options({CONF_ANSWER_BAUDRATE: None}).answer_baudrate is None
    assert settings_from_options({CONF_ANSWER_BAUDRATE: "2400"}).answer_baudrate == 2400
    assert answer_baudrate(heat_meter_settings(ReadSettings())) == 2400
    assert answer_baudrate(ReadSettings()) is None
    assert options_from_settings(ReadSettings())[CONF_ANSWER_BAUDRATE] == ""
    heat = options_from_settings(heat_meter_settings(ReadSettings()))
    assert heat[CONF_ANSWER_BAUDRATE] == "2400"
    assert heat[CONF_MODE] == "a"
    assert heat[CONF_WAKEUP] is True


@pytest.mark.parametrize(
    "settings",
    [
        ReadSettings(),
        D9600,
        ReadSettings(mode="A", checksum=Checksum.NONE, wakeup=True),
        heat_meter_settings(ReadSettings(address="12")),
    ],
)
def test_options_round_trip(settings: ReadSettings) -> None:
    """What the flow stores reads back as the settings the probe found."""
    options = options_from_settings(settings)
    assert all(isinstance(value, str | bool) for value in options.values())
    assert settings_from_options(options) == settings


# --- probing real (simulated) meters ----------------------------------------------------------


async def test_probe_reads_with_given_settings(simulator: MeterSimulator) -> None:
    """A meter that answers: one attempt, the settings as given, the read time measured."""
    attempts: list[ReadSettings] = []

    result = await probe_meter(simulator.port, C, on_attempt=lambda _n, s: attempts.append(s))

    assert attempts == [C]
    assert result.settings == C
    assert result.attempts == 1
    assert result.readout.baudrate == 4800
    assert result.duration >= result.readout.duration > 0


async def test_probe_missing_port_fails_at_once(simulator: MeterSimulator) -> None:
    """No fallback can fix a missing port."""
    with pytest.raises(PortNotFoundError):
        await probe_meter(simulator.port + ".gone", C)


async def test_probe_finds_wakeup() -> None:
    """A battery meter that only answers after the wake-up sequence."""
    with MeterSimulator("lgz_e350", wakeup=True) as sim:
        result = await probe_meter(sim.port, C, try_other_modes=False)

    assert result.settings == replace(C, wakeup=True)
    assert result.attempts == 2


@pytest.mark.parametrize("sim_profile", ["iskra_me162"])
async def test_probe_stays_at_300_when_the_switch_fails(simulator: MeterSimulator) -> None:
    """The data comes garbled after the switch: reading at 300 Bd works."""
    simulator.inject(Fault.WRONG_RATE, 1)

    result = await probe_meter(simulator.port, C, try_other_modes=False)

    assert result.settings.baudrate == 300
    assert result.readout.baudrate == 300
    assert result.attempts >= 2


async def test_probe_rejects_a_readout_without_data() -> None:
    """A meter that sends an empty data block has nothing to offer: a protocol error."""
    empty = PROFILES["lgz_e350"].replace(name="empty", block=b"!\r\n")
    with MeterSimulator(empty) as sim, pytest.raises(EmptyReadoutError) as err:
        await probe_meter(sim.port, C, try_other_modes=False)

    assert err.value.kind == "not_iec62056"
