"""The probing strategy: which settings follow which failure, the serial number, the option dict."""

from __future__ import annotations

from dataclasses import replace

import pytest

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
    DataSet,
    Identification,
    PortNotFoundError,
    Readout,
    ReadSettings,
    Value,
)
from custom_components.dlms_meter.probe import (
    EmptyReadoutError,
    fallbacks,
    first_attempts,
    options_from_settings,
    probe_meter,
    push_settings,
    serial_number,
    settings_from_options,
)
from meter_sim.simulator import PROFILES, Fault, MeterSimulator

C = ReadSettings()
D2400 = ReadSettings(mode="D", baudrate=2400)
D9600 = ReadSettings(mode="D", baudrate=9600)
IDENT = Identification(raw="LGZ4ZMF100AC.M26", manufacturer="LGZ", baud_char="4", model="ZMF")


def _readout(*datasets: tuple[str, str], ident: Identification | None = IDENT) -> Readout:
    return Readout(
        identification=ident,
        datasets=tuple(DataSet(address, (Value(value),)) for address, value in datasets),
    )


# --- fallbacks ------------------------------------------------------------------------------


def test_no_answer_tries_wakeup_then_listening() -> None:
    """Silence: wake the meter up; in automatic mode also listen for a push meter."""
    assert fallbacks(C, "no_answer", try_other_modes=True) == [
        replace(C, wakeup=True),
        D2400,
        D9600,
    ]
    assert fallbacks(C, "no_answer", try_other_modes=False) == [replace(C, wakeup=True)]
    woken = replace(C, wakeup=True)
    assert fallbacks(woken, "no_answer", try_other_modes=False) == []


def test_checksum_tries_sum_and_no_switch() -> None:
    """A failed XOR check: SUM, then 300 Bd without switching (garbled fast data)."""
    assert fallbacks(C, "checksum", try_other_modes=True) == [
        replace(C, checksum=Checksum.SUM),
        replace(C, baudrate=300),
    ]
    summed = replace(C, checksum=Checksum.SUM, baudrate=300)
    assert fallbacks(summed, "checksum", try_other_modes=True) == []


def test_timeout_drops_shortcuts_and_stays_slow() -> None:
    """The data stopped: wait as the standard says, stay at 300 Bd, maybe it is a push meter."""
    fast = replace(C, no_waiting=True)
    assert fallbacks(fast, "timeout", try_other_modes=False) == [
        replace(fast, no_waiting=False),
        replace(fast, baudrate=300),
    ]
    assert fallbacks(C, "timeout", try_other_modes=True) == [replace(C, baudrate=300), D2400, D9600]


def test_port_error_stays_at_300() -> None:
    """A transport that refuses the rate switch (raw socket) may work at 300 Bd."""
    assert fallbacks(C, "port_error", try_other_modes=True) == [replace(C, baudrate=300)]


def test_push_modes_are_not_varied() -> None:
    """Listening has nothing to vary; garbage at a pull request may be a push meter."""
    assert fallbacks(D2400, "no_answer", try_other_modes=True) == []
    assert fallbacks(C, "not_iec62056", try_other_modes=True) == [D2400, D9600]
    assert fallbacks(C, "not_iec62056", try_other_modes=False) == []


def test_first_attempts() -> None:
    """Mode D without a rate listens at both usual rates; anything else is tried as given."""
    assert first_attempts(C) == [C]
    assert first_attempts(ReadSettings(mode="D")) == [D2400, D9600]
    assert first_attempts(D9600) == [D9600]
    assert push_settings(replace(C, wakeup=True, address="7")) == [
        replace(D2400, address="7"),
        replace(D9600, address="7"),
    ]


# --- serial number --------------------------------------------------------------------------


def test_serial_number_prefers_maker_serial() -> None:
    """C.1.0 (96.1.0) before the device address 0.0.0 / 0.0; blank values are skipped."""
    readout = _readout(("0.0", " 120858"), ("C.1.1", "  "), ("C.1.0", "13647123"))
    assert serial_number(readout) == "13647123"
    assert serial_number(_readout(("0.0.0", " 20000"), ("1.8.0", "1"))) == "20000"
    assert serial_number(_readout(("0-0:96.1.255*255", "0000680476"))) == "0000680476"
    assert serial_number(_readout(("C.1.0", "   "), ("0.0.0", "42"))) == "42"


def test_serial_number_falls_back_to_identification() -> None:
    """No serial data set: the identification text; nothing at all: None."""
    assert serial_number(_readout(("1.8.0", "1"), ("ET0PE", "2"))) == "LGZ4ZMF100AC.M26"
    assert serial_number(_readout(("1.8.0", "1"), ident=None)) is None
    readout = Readout(IDENT, (DataSet("0.0.0", ()),))
    assert serial_number(readout) == "LGZ4ZMF100AC.M26"


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


@pytest.mark.parametrize(
    "settings",
    [ReadSettings(), D9600, ReadSettings(mode="A", checksum=Checksum.NONE, wakeup=True)],
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
