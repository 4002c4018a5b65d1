"""Repair issues the coordinator raises; the user can act on both (head, interval)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN, ISSUE_INTERVAL_TOO_SHORT, ISSUE_METER_NOT_ANSWERING

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

ISSUE_KINDS = (ISSUE_INTERVAL_TOO_SHORT, ISSUE_METER_NOT_ANSWERING)


def issue_id(kind: str, entry: ConfigEntry) -> str:
    """The id of an issue of ``kind`` for one meter."""
    return f"{kind}_{entry.entry_id}"


def async_create_interval_too_short(
    hass: HomeAssistant, entry: ConfigEntry, *, configured: int, needed: int
) -> None:
    """The configured update interval is shorter than one read (+ quiet time) takes."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(ISSUE_INTERVAL_TOO_SHORT, entry),
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_INTERVAL_TOO_SHORT,
        translation_placeholders={
            "title": entry.title,
            "configured": str(configured),
            "needed": str(needed),
        },
    )


def async_create_meter_not_answering(
    hass: HomeAssistant, entry: ConfigEntry, *, port: str, failures: int, error: str
) -> None:
    """The meter failed several read cycles in a row."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(ISSUE_METER_NOT_ANSWERING, entry),
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_METER_NOT_ANSWERING,
        translation_placeholders={
            "title": entry.title,
            "port": port,
            "failures": str(failures),
            "error": error,
        },
    )


def async_delete(hass: HomeAssistant, entry: ConfigEntry, kind: str) -> None:
    """Remove the issue of ``kind`` for this meter, if raised."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(kind, entry))


def async_delete_all(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove every issue of this meter (the entry is being removed)."""
    for kind in ISSUE_KINDS:
        async_delete(hass, entry, kind)
