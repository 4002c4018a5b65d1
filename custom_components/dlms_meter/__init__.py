"""The dlms_meter integration: IEC 62056-21 (D0) meters through an optical head.

Home Assistant is imported only inside the functions (and for type checking), so the protocol
library's command line, ``python -m custom_components.dlms_meter.iec62056``, runs without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .coordinator import DlmsConfigEntry

PLATFORMS: Final = ("sensor",)


async def async_setup_entry(hass: HomeAssistant, entry: DlmsConfigEntry) -> bool:
    """Read the meter once (not ready if it does not answer), then add its sensors.

    The accepted totals of the value guard are restored first; a readout the config flow just
    took (``hass.data[DOMAIN]["probe_readouts"][unique_id]``) replaces the first read.
    """
    from .const import DOMAIN
    from .coordinator import DlmsCoordinator

    coordinator = DlmsCoordinator(hass, entry)
    await coordinator.async_load()
    # the config flow's probe readout (contract 8): processed like a fresh read, no second read
    probed = hass.data.get(DOMAIN, {}).get("probe_readouts", {}).pop(entry.unique_id, None)
    if probed is None or not await coordinator.async_start_from(probed):
        await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if coordinator.fast is not None:
        # the fast values' timer runs while the entry is loaded (first session after one interval)
        entry.async_on_unload(coordinator.fast.async_add_listener(_no_listener))
    return True


def _no_listener() -> None:
    """The fast values update the sensors through the main coordinator."""


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Bring an entry of an older version up to date (config_flow.async_migrate)."""
    from .config_flow import async_migrate

    return await async_migrate(hass, entry)


async def async_unload_entry(hass: HomeAssistant, entry: DlmsConfigEntry) -> bool:
    """Remove the sensors; the coordinator's shutdown (on unload) releases the port."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: DlmsConfigEntry) -> None:
    """Drop the meter's repair issues with it."""
    from .issues import async_delete_all

    async_delete_all(hass, entry)
