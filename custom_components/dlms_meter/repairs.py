"""Repair flows that fix what the issues report.

* ``interval_too_short``: set the update interval to what one read needs (options update, reload).
* ``other_meter``: another meter answers on the port. Re-adopt it, only when the user confirms it
  replaces the old one (the entry's serial number, unique id, device and entity ids move to the
  new meter, and the value guard starts afresh for its totals), or keep waiting for the old one.
  The new unique id is the one the config flow would give the new meter,
  :func:`iec62056.identity.unique_id_for` (its serial number, else identification + port key).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.storage import Store

from .const import CONF_SERIAL_NUMBER, CONF_UPDATE_INTERVAL, DOMAIN, ISSUE_INTERVAL_TOO_SHORT
from .coordinator import STORAGE_VERSION
from .issues import ISSUE_OTHER_METER

if TYPE_CHECKING:
    from homeassistant.components.repairs import RepairsFlowResult
    from homeassistant.core import HomeAssistant
    import probatio as vol  # What voluptuous is at run time from HA 2026.9 on.

    from .coordinator import DlmsConfigEntry
else:
    import voluptuous as vol

CONF_REPLACEMENT: Final = "replacement"


class _EntryRepairFlow(RepairsFlow):
    """A fix flow for one entry (``data``: the issue's data with ``entry_id``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        """Remember which entry and what the issue found."""
        self.issue_data = data

    def _entry(self) -> DlmsConfigEntry | None:
        entry: DlmsConfigEntry | None = self.hass.config_entries.async_get_entry(
            str(self.issue_data.get("entry_id"))
        )
        return entry


class IntervalRepairFlow(_EntryRepairFlow):
    """Set the update interval to the one a read needs."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """The flow manager passes the issue id as input here: go to the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Confirm the new interval, then store it in the options (the entry reloads)."""
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_removed")
        needed = int(self.issue_data["needed"])
        if user_input is not None:
            self.hass.config_entries.async_update_entry(
                entry, options={**entry.options, CONF_UPDATE_INTERVAL: needed}
            )
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            description_placeholders={"title": entry.title, "needed": str(needed)},
        )


class OtherMeterRepairFlow(_EntryRepairFlow):
    """Re-adopt a replacement meter or keep waiting for the old one."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Offer both choices."""
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_removed")
        return self.async_show_menu(
            step_id="init",
            menu_options=["adopt", "wait"],
            description_placeholders=self._placeholders(entry),
        )

    def _placeholders(self, entry: DlmsConfigEntry) -> dict[str, str]:
        return {
            "title": entry.title,
            "serial": str(self.issue_data["serial"]),
            "old_serial": str(entry.data.get(CONF_SERIAL_NUMBER) or entry.unique_id or ""),
        }

    async def async_step_wait(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Nothing changes: the issue stays while the other meter answers."""
        return self.async_abort(reason="keep_waiting")

    async def async_step_adopt(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Adopt only when the user confirms the meter was replaced."""
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input.get(CONF_REPLACEMENT):
                return await self._async_adopt(entry)
            errors[CONF_REPLACEMENT] = "not_confirmed"
        return self.async_show_form(
            step_id="adopt",
            data_schema=vol.Schema({vol.Required(CONF_REPLACEMENT, default=False): bool}),
            description_placeholders=self._placeholders(entry),
            errors=errors,
        )

    async def _async_adopt(self, entry: DlmsConfigEntry) -> RepairsFlowResult:
        # the new meter's id as the config flow would give it (identity.unique_id_for): its
        # serial number, else its identification plus a key of the port
        new = str(self.issue_data.get("unique_id") or self.issue_data["serial"])
        serial = str(self.issue_data.get("serial_number", new))
        old = str(entry.data.get(CONF_SERIAL_NUMBER) or entry.unique_id)
        hass = self.hass
        for other in hass.config_entries.async_entries(DOMAIN):
            if other.entry_id != entry.entry_id and other.unique_id == new:
                return self.async_abort(reason="already_configured")
        if entry.state is ConfigEntryState.LOADED:
            await entry.runtime_data.async_forget()
        else:
            await Store[dict[str, Any]](
                hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}"
            ).async_remove()
        entities = er.async_get(hass)
        for reg in er.async_entries_for_config_entry(entities, entry.entry_id):
            if reg.unique_id.startswith(f"{old}_"):
                entities.async_update_entity(
                    reg.entity_id, new_unique_id=f"{new}_{reg.unique_id.removeprefix(f'{old}_')}"
                )
        devices = dr.async_get(hass)
        for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
            if (DOMAIN, old) in device.identifiers:
                devices.async_update_device(
                    device.id, new_identifiers={(DOMAIN, new)}, serial_number=serial or new
                )
        hass.config_entries.async_update_entry(
            entry, unique_id=new, data={**entry.data, CONF_SERIAL_NUMBER: serial}
        )
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_create_entry(data={})


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The fix flow of a fixable issue of this integration."""
    flow_data: dict[str, Any] = dict(data or {})
    if issue_id.startswith(f"{ISSUE_OTHER_METER}_"):
        return OtherMeterRepairFlow(flow_data)
    if issue_id.startswith(f"{ISSUE_INTERVAL_TOO_SHORT}_"):
        return IntervalRepairFlow(flow_data)
    raise ValueError(f"no fix flow for issue {issue_id}")
