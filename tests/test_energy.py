"""The Energy dashboard accepts a meter's import and export totals without a warning.

The meter is a recorded E350 readout through the coordinator's injected reader.
"""

from __future__ import annotations

from datetime import timedelta

from homeassistant.components.energy import data as energy_data
from homeassistant.components.energy.validate import async_validate
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from .meter import ScriptedMeter, corpus_entry, corpus_readout

PREFIX = "sensor.landis_gyr_zmf100ac_m26"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: object, enable_custom_integrations: None
) -> None:
    """The recorder must start before Home Assistant (and the custom integrations)."""


async def test_energy_dashboard_accepts_import_and_export(
    hass: HomeAssistant, scripted: ScriptedMeter
) -> None:
    """1.8.0 and 2.8.0 as grid import/export: the Energy dashboard reports no issue."""
    scripted.then(corpus_readout(5))
    entry = corpus_entry(5, codes=["1.8.0", "2.8.0"], title="Landis+Gyr ZMF100AC.M26")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert await async_setup_component(hass, "energy", {})
    manager = await energy_data.async_get_manager(hass)
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "grid",
                    "stat_energy_from": f"{PREFIX}_energy_import",
                    "stat_energy_to": f"{PREFIX}_energy_export",
                    "stat_cost": None,
                    "entity_energy_price": None,
                    "number_energy_price": None,
                    "stat_compensation": None,
                    "entity_energy_price_export": None,
                    "number_energy_price_export": None,
                    "cost_adjustment_day": 0.0,
                }
            ]
        }
    )
    await async_wait_recording_done(hass)
    now = dt_util.utcnow()
    start = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    do_adhoc_statistics(hass, start=start)
    do_adhoc_statistics(hass, start=start - timedelta(minutes=5))
    await async_wait_recording_done(hass)

    result = (await async_validate(hass)).as_dict()

    assert result["energy_sources"] == [[]], result
    assert not any(result.get("device_consumption", []))
