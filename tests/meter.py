"""Config entries as the config flow creates them, for simulated meters and recorded readouts.

Recorded readouts (the corpus) reach the real coordinator through its injected reader
(:class:`ScriptedMeter`, one step per read cycle), the guard's clock too (:class:`FakeClock`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dlms_meter import catalog
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
    CONF_RESET_BAUDRATE,
    CONF_SERIAL_NUMBER,
    CONF_UPDATE_INTERVAL,
    CONF_WAKEUP,
    DOMAIN,
)
from custom_components.dlms_meter.iec62056 import (
    Checksum,
    ChecksumError,
    Iec62056Error,
    Readout,
    ReadSettings,
    Value,
    parse_capture,
)
from custom_components.dlms_meter.probe import serial_number
from meter_sim.simulator import MeterSimulator

from .iec62056.corpus import render_txt

# Landis+Gyr E350 (corpus 05): every data set it sends, as normalised keys
E350_SERIAL = "13647123"
E350_CODES = [
    "97.97",
    "0.0",
    "96.1.0",
    "96.1.1",
    "1.8.1",
    "1.8.2",
    "2.8.1",
    "2.8.2",
    "1.8.0",
    "2.8.0",
    "15.8.0",
    "96.7.0",
    "32.7",
    "52.7",
    "72.7",
    "31.7",
    "51.7",
    "71.7",
    "82.8.1",
    "82.8.2",
    "0.2.0",
    "96.5.0",
]
INTERVAL = 30
# The protocol settings both entry helpers store (the config flow's defaults for a mode C meter).
PROTOCOL_OPTIONS: dict[str, Any] = {
    CONF_MODE: "C",
    CONF_BAUDRATE: "auto",
    CONF_CHECKSUM: "xor",
    CONF_ADDRESS: "",
    CONF_WAKEUP: False,
    CONF_RESET_BAUDRATE: True,
    CONF_NO_WAITING: False,
}


def meter_entry(
    sim: MeterSimulator,
    *,
    codes: list[str] | None = None,
    serial: str = E350_SERIAL,
    title: str = "Landis+Gyr ZMF100AC.M26",
    **options: Any,
) -> MockConfigEntry:
    """An entry for the simulated meter ``sim`` (data + options like the config flow's)."""
    ident = sim.profile.identification
    return MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=serial,
        data={
            CONF_PORT: sim.port,
            CONF_SERIAL_NUMBER: serial,
            CONF_IDENTIFICATION: ident,
            CONF_MANUFACTURER: "Landis+Gyr" if ident.startswith("LGZ") else "",
            CONF_MODEL: ident[4:],
        },
        options={
            CONF_UPDATE_INTERVAL: INTERVAL,
            CONF_CODES: E350_CODES if codes is None else codes,
            **PROTOCOL_OPTIONS,
        }
        | options,
    )


# --- recorded readouts through the injected reader (no pty, no real time) ----------------------


def corpus_readout(nn: int) -> Readout:
    """The readout of corpus capture ``nn`` (its own block check: XOR, SUM or none)."""
    data = render_txt(nn)
    for checksum in (Checksum.XOR, Checksum.SUM, Checksum.NONE):
        try:
            readouts = parse_capture(data, checksum)
        except ChecksumError:
            continue
        if readouts:
            return dataclasses.replace(readouts[0], baudrate=4800, mode="C", duration=0.5)
    raise AssertionError(f"corpus {nn} does not parse")  # pragma: no cover


def with_values(readout: Readout, **changes: str | tuple[str, str | None]) -> Readout:
    """``readout`` with the first value of data sets replaced: ``key=value`` or (value, unit).

    Keys are data-set keys with ``_`` for ``.`` (``_1_8_0`` for 1.8.0, ``C_1_0`` for C.1.0 is
    written ``_96_1_0``); a value without a unit keeps the unit the meter sent.
    """
    wanted = {key.lstrip("_").replace("_", "."): change for key, change in changes.items()}
    datasets = []
    for dataset in readout.datasets:
        change = wanted.get(catalog.dataset_key(dataset))
        if change is None or not dataset.values:
            datasets.append(dataset)
            continue
        first = dataset.values[0]
        value = Value(*change) if isinstance(change, tuple) else Value(change, first.unit)
        datasets.append(dataclasses.replace(dataset, values=(value, *dataset.values[1:])))
    return dataclasses.replace(readout, datasets=tuple(datasets))


type Step = Readout | Iec62056Error


@dataclass
class ScriptedMeter:
    """The injected reader: each read returns the next step of the script (the last repeats).

    A step is a readout or a library error (raised). ``reads`` records every port read.
    """

    steps: list[Step]
    reads: list[str] = field(default_factory=list)

    async def read(self, port: str, settings: ReadSettings) -> Readout:
        """One read (the signature of ``read_meter``)."""
        assert isinstance(settings, ReadSettings)
        self.reads.append(port)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        await asyncio.sleep(0)
        if isinstance(step, Iec62056Error):
            raise step
        return step

    def then(self, *steps: Step) -> None:
        """The following reads (replacing what is left of the script)."""
        self.steps = list(steps)


@dataclass
class FakeClock:
    """The guard's clock: seconds since the epoch, moved on by the test."""

    now: float = 1_780_000_000.0

    def __call__(self) -> float:
        """The current time."""
        return self.now


def corpus_entry(
    nn: int,
    *,
    codes: list[str] | None = None,
    port: str = "/dev/ttyUSB0",
    title: str | None = None,
    **options: Any,
) -> MockConfigEntry:
    """An entry for corpus meter ``nn`` as the config flow creates it (serial from the readout)."""
    readout = corpus_readout(nn)
    serial = serial_number(readout)
    ident = readout.identification
    assert serial is not None
    return MockConfigEntry(
        domain=DOMAIN,
        title=title or f"Meter {nn:02d}",
        unique_id=serial,
        data={
            CONF_PORT: port,
            CONF_SERIAL_NUMBER: serial,
            CONF_IDENTIFICATION: ident.raw if ident is not None else "",
            CONF_MANUFACTURER: catalog.manufacturer_name(ident.manufacturer) if ident else "",
            CONF_MODEL: ident.model if ident is not None else "",
        },
        options={
            CONF_UPDATE_INTERVAL: INTERVAL,
            CONF_CODES: [] if codes is None else codes,
            **PROTOCOL_OPTIONS,
        }
        | options,
    )
