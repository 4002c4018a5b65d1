"""What every dlms_meter entity shares: the coordinator, the device, the unique id."""

from __future__ import annotations

from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import DlmsCoordinator


class DlmsEntity(CoordinatorEntity[DlmsCoordinator]):
    """An entity showing one data set of the meter (``key``: normalised OBIS code)."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: DlmsCoordinator, key: str) -> None:
        """Belong to the meter's device; unique per meter serial number and code."""
        super().__init__(coordinator)
        self.key = key
        self._attr_unique_id = f"{coordinator.serial_number}_{key}"
        self._attr_device_info = coordinator.device_info
