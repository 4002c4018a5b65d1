"""Diagnostics: settings, identification, the last raw readout and the read statistics.

The statistics count failed reads per error kind (every kind of the library, also at 0); the
last readout says how many malformed lines the parser skipped (``skipped_lines``).

The meter's serial number and device address are redacted wherever they appear, also in the raw
readout text (the values of every data set that carries an id of the meter). The port is shown
masked (credentials and secret parameters of a port URL replaced by ``***``), and so is every
other text that could carry it; a password option is redacted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.config_entries import ConfigEntryState

from . import catalog
from .const import CONF_ADDRESS, CONF_PASSWORD, CONF_PORT, CONF_SERIAL_NUMBER
from .iec62056.redact import mask_port, mask_text

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import DlmsConfigEntry
    from .iec62056 import Readout

TO_REDACT: Final = {CONF_SERIAL_NUMBER, CONF_ADDRESS, CONF_PASSWORD}
_MARKERS: Final = {0x01: "<SOH>", 0x02: "<STX>", 0x03: "<ETX>", 0x04: "<EOT>", 0x06: "<ACK>"}


def _secrets(entry: DlmsConfigEntry, readout: Readout | None) -> list[str]:
    """Every text that identifies the meter: serial number, address, id data-set values."""
    found = {
        str(entry.data.get(CONF_SERIAL_NUMBER, "")),
        str(entry.options.get(CONF_ADDRESS, "")),
        str(entry.options.get(CONF_PASSWORD, "")),
    }
    if readout is not None:
        for key, dataset in catalog.datasets_by_key(readout).items():
            if catalog.is_serial_number(key):
                found.update(value.value.strip() for value in dataset.values)
    return sorted((text for text in found if text.strip()), key=len, reverse=True)


def _redact_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def readout_text(raw: bytes) -> str:
    """The raw bytes as text; control bytes other than CR and LF shown as markers."""
    return "".join(
        _MARKERS.get(byte, f"<0x{byte:02X}>")
        if (byte < 0x20 and byte not in (0x0A, 0x0D)) or byte > 0x7E
        else chr(byte)
        for byte in raw
    )


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: DlmsConfigEntry
) -> dict[str, Any]:
    """Diagnostics for one meter."""
    coordinator = entry.runtime_data if entry.state is ConfigEntryState.LOADED else None
    readout = coordinator.readout if coordinator is not None else None
    secrets = _secrets(entry, readout)
    port = str(entry.data.get(CONF_PORT, ""))
    data = async_redact_data(dict(entry.data), TO_REDACT)
    if CONF_PORT in data:
        data[CONF_PORT] = mask_port(port)
    result: dict[str, Any] = {
        "entry": {
            "title": mask_text(_redact_text(entry.title, secrets), port),
            "data": data,
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "loaded": coordinator is not None,
    }
    if coordinator is None:
        return result
    result["update_interval"] = {
        "configured": coordinator.configured_interval,
        "effective": (
            None
            if coordinator.update_interval is None
            else coordinator.update_interval.total_seconds()
        ),
    }
    result["statistics"] = coordinator.stats.as_dict()
    result["fast_values"] = None if coordinator.fast is None else coordinator.fast.as_dict()
    result["guard"] = {
        "max_power_option_kw": coordinator.max_power_option or None,
        "max_power_seen_kw": round(coordinator.max_power_seen, 3),
        "totals": {
            key: {
                "accepted": None if guard.accepted is None else guard.accepted.value,
                "held_readings": len(guard.held),
            }
            for key, guard in sorted(coordinator.guards.items())
        },
        "other_meter_answering": coordinator.other_serial is not None,
    }
    result["entities"] = sorted(coordinator.specs)
    if readout is None:  # pragma: no cover - a loaded entry always has a readout
        return result
    ident = readout.identification
    result["identification"] = (
        None
        if ident is None
        else {
            "raw": _redact_text(ident.raw, secrets),
            "manufacturer": ident.manufacturer,
            "manufacturer_name": catalog.manufacturer_name(ident.manufacturer),
            "baud_char": ident.baud_char,
            "model": _redact_text(ident.model, secrets),
            "enhanced": list(ident.enhanced),
        }
    )
    result["last_readout"] = {
        "mode": readout.mode,
        "baudrate": readout.baudrate,
        "checksum_ok": readout.checksum_ok,
        "duration": round(readout.duration, 3),
        "datasets": len(readout.datasets),
        "skipped_lines": readout.skipped_lines,  # malformed lines the parser dropped
        "text": _redact_text(readout_text(readout.raw), secrets),
    }
    return result
