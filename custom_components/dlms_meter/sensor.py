"""One sensor per chosen data set (OBIS code) of the meter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.components.sensor import SensorEntity

from .catalog import DlmsSensorEntityDescription
from .entity import DlmsEntity

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import DlmsConfigEntry, DlmsCoordinator

PARALLEL_UPDATES = 0  # the coordinator does all reading
ATTR_HELD_BACK: Final = "held_back_readings"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DlmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One sensor per data set the coordinator describes (the chosen codes)."""
    coordinator = entry.runtime_data
    async_add_entities(DlmsSensor(coordinator, spec) for spec in coordinator.specs.values())


class DlmsSensor(DlmsEntity, SensorEntity):
    """The first value of one data set: a number, or text for identification and status."""

    entity_description: DlmsSensorEntityDescription

    def __init__(self, coordinator: DlmsCoordinator, spec: DlmsSensorEntityDescription) -> None:
        """Describe the sensor from the catalog (the catalog's description is Home Assistant's)."""
        super().__init__(coordinator, spec.key)
        self.entity_description = spec

    @property
    @override
    def available(self) -> bool:
        """Unavailable also while the meter sends this value in a unit that does not convert."""
        return super().available and self.key not in self.coordinator.data.unavailable

    @property
    @override
    def native_value(self) -> float | str | None:
        """What the coordinator made of the last good readout (units, guard, sanity checked)."""
        return self.coordinator.data.states.get(self.key)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """While a jump of a lifetime total is held back: how many readings are held."""
        held = self.coordinator.data.held.get(self.key)
        return None if not held else {ATTR_HELD_BACK: held}
