from collections import Counter
from homeassistant.core import HomeAssistant
from custom_components.dlms_meter.iec62056 import ReadSettings, read_meter
from custom_components.dlms_meter.iec62056.simulator import MeterSimulator

async def test_rel(hass: HomeAssistant, simulator: MeterSimulator) -> None:
    c = Counter()
    for _ in range(10):
        try:
            await read_meter(simulator.port, ReadSettings()); c["ok"] += 1
        except Exception as e:
            c[str(e)[:50]] += 1
    print("RESULT", dict(c))

async def test_rel_plain(simulator: MeterSimulator) -> None:
    c = Counter()
    for _ in range(10):
        try:
            await read_meter(simulator.port, ReadSettings()); c["ok"] += 1
        except Exception as e:
            c[str(e)[:50]] += 1
    print("RESULT plain", dict(c))
