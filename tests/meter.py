"""Config entries for simulated meters, as the config flow would create them (see const.py)."""

from __future__ import annotations

from typing import Any

from pytest_homeassistant_custom_component.common import MockConfigEntry

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
from meter_sim.simulator import MeterSimulator

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
            CONF_MODE: "C",
            CONF_BAUDRATE: "auto",
            CONF_CHECKSUM: "xor",
            CONF_ADDRESS: "",
            CONF_WAKEUP: False,
            CONF_RESET_BAUDRATE: True,
            CONF_NO_WAITING: False,
        }
        | options,
    )
