"""Repair issues the coordinator raises; the user can act on each (head, interval, meter, unit).

Ports in placeholders are always masked (the coordinator passes ``mask_port(port)``). The
interval and the other-meter issues are fixable (see :mod:`.repairs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.helpers import issue_registry as ir

from .const import (
    DOMAIN,
    ISSUE_FAST_VALUES_FALLBACK,
    ISSUE_INTERVAL_TOO_SHORT,
    ISSUE_METER_NOT_ANSWERING,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

ISSUE_OTHER_METER: Final = "other_meter"
ISSUE_UNIT_CHANGED: Final = "unit_changed"


def issue_id(kind: str, entry: ConfigEntry) -> str:
    """The id of an issue of ``kind`` for one meter."""
    return f"{kind}_{entry.entry_id}"


def _create(
    hass: HomeAssistant,
    entry: ConfigEntry,
    kind: str,
    *,
    translation_key: str,
    severity: ir.IssueSeverity,
    placeholders: dict[str, str],
    fixable: bool = False,
    data: dict[str, str | int | float | None] | None = None,
) -> None:
    """Raise (or update) the issue ``kind`` of one meter; its title is always a placeholder."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(kind, entry),
        is_fixable=fixable,
        is_persistent=False,
        severity=severity,
        translation_key=translation_key,
        translation_placeholders={"title": entry.title, **placeholders},
        data=data,
    )


def unit_kind(key: str) -> str:
    """The issue kind of a unit change of the data set ``key``."""
    return f"{ISSUE_UNIT_CHANGED}_{key}"


def async_create_interval_too_short(
    hass: HomeAssistant, entry: ConfigEntry, *, configured: int, needed: int
) -> None:
    """The configured update interval is shorter than one read (+ quiet time) takes."""
    _create(
        hass,
        entry,
        ISSUE_INTERVAL_TOO_SHORT,
        translation_key=ISSUE_INTERVAL_TOO_SHORT,
        severity=ir.IssueSeverity.WARNING,
        placeholders={"configured": str(configured), "needed": str(needed)},
        fixable=True,
        data={"entry_id": entry.entry_id, "needed": needed},
    )


def async_create_meter_not_answering(
    hass: HomeAssistant, entry: ConfigEntry, *, port: str, failures: int, error: str
) -> None:
    """The meter failed several read cycles in a row (``port`` and ``error`` masked)."""
    _create(
        hass,
        entry,
        ISSUE_METER_NOT_ANSWERING,
        translation_key=ISSUE_METER_NOT_ANSWERING,
        severity=ir.IssueSeverity.ERROR,
        placeholders={"port": port, "failures": str(failures), "error": error},
    )


def async_create_other_meter(
    hass: HomeAssistant,
    entry: ConfigEntry,
    *,
    serial: str,
    port: str,
    unique_id: str | None = None,
    serial_number: str | None = None,
) -> None:
    """Another meter answers on the entry's port (``port`` masked).

    ``serial``: what identifies it to the user (its serial number, else its unique id);
    ``unique_id``: the id it would get (:func:`identity.unique_id_for`) and ``serial_number`` its
    serial number ("" if it sends none), which the adopt fix flow stores.
    """
    _create(
        hass,
        entry,
        ISSUE_OTHER_METER,
        translation_key=ISSUE_OTHER_METER,
        severity=ir.IssueSeverity.ERROR,
        placeholders={"serial": serial, "port": port},
        fixable=True,
        data={
            "entry_id": entry.entry_id,
            "serial": serial,
            "unique_id": serial if unique_id is None else unique_id,
            "serial_number": serial if serial_number is None else serial_number,
        },
    )


def async_create_unit_changed(
    hass: HomeAssistant, entry: ConfigEntry, *, key: str, unit: str, sent: str
) -> None:
    """The data set ``key`` comes in a unit that does not convert to its entity's."""
    _create(
        hass,
        entry,
        unit_kind(key),
        translation_key=ISSUE_UNIT_CHANGED,
        severity=ir.IssueSeverity.ERROR,
        placeholders={"code": key, "unit": unit, "sent": sent},
    )


def async_create_fast_values_fallback(
    hass: HomeAssistant, entry: ConfigEntry, *, codes: str, error: str, interval: int
) -> None:
    """Register reads stopped working: the fast values come from the full readout now.

    ``error`` is the library error's kind (never its text: no port, no password).
    """
    _create(
        hass,
        entry,
        ISSUE_FAST_VALUES_FALLBACK,
        translation_key=ISSUE_FAST_VALUES_FALLBACK,
        severity=ir.IssueSeverity.WARNING,
        placeholders={"codes": codes, "error": error, "interval": str(interval)},
    )


def async_delete(hass: HomeAssistant, entry: ConfigEntry, kind: str) -> None:
    """Remove the issue of ``kind`` for this meter, if raised."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(kind, entry))


def async_delete_all(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove every issue of this meter (the entry is being removed)."""
    registry = ir.async_get(hass)
    suffix = f"_{entry.entry_id}"
    for domain, issue in list(registry.issues):
        if domain == DOMAIN and issue.endswith(suffix):
            ir.async_delete_issue(hass, DOMAIN, issue)
