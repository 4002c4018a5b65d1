"""Reading the meter: one read cycle per update, never two at once, the port always released.

* Each update runs one :func:`read_meter` cycle under a lock. The read runs as its own task, so an
  unload, a failed setup or Home Assistant stopping cancels it and the port is closed at once.
* Errors become :class:`UpdateFailed` with a translation per error kind; the entities turn
  unavailable (never 0) and :class:`DataUpdateCoordinator` logs once when the meter goes away and
  once when it is back. A readout whose block check failed is never published.
* A lifetime energy total lower than the last accepted one is not published (the last value stays).
* The update interval is never shorter than the last read took plus the standard's quiet time; if
  the configured one is, the longer one is used and a repair issue says so. Another repair issue
  appears after :data:`FAILURES_BEFORE_ISSUE` failed cycles in a row; the first good read clears it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
import math
import time
from typing import Any, Final, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from . import catalog, issues
from .catalog import SensorSpec
from .const import (
    CONF_CODES,
    CONF_MANUFACTURER,
    CONF_MODEL,
    CONF_PORT,
    CONF_SERIAL_NUMBER,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    ERROR_KINDS,
    FAILURES_BEFORE_ISSUE,
    ISSUE_INTERVAL_TOO_SHORT,
    ISSUE_METER_NOT_ANSWERING,
    MIN_UPDATE_INTERVAL,
    QUIET_TIME,
)
from .iec62056 import ChecksumError, Iec62056Error, Readout, Value, read_meter
from .probe import settings_from_options

_LOGGER = logging.getLogger(__package__)

type DlmsConfigEntry = ConfigEntry[DlmsCoordinator]

GENERIC_ERROR_KEY: Final = "read_failed"


@dataclass(slots=True)
class ReadStatistics:
    """What the read cycles did so far (shown in the diagnostics)."""

    reads: int = 0
    successes: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    consecutive_failures: int = 0
    last_duration: float | None = None
    baudrate: int | None = None
    last_success: datetime | None = None
    rejected_decreases: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "reads": self.reads,
            "successes": self.successes,
            "failures": dict(sorted(self.failures.items())),
            "consecutive_failures": self.consecutive_failures,
            "last_read_duration": (
                None if self.last_duration is None else round(self.last_duration, 3)
            ),
            "negotiated_baudrate": self.baudrate,
            "last_success": None if self.last_success is None else self.last_success.isoformat(),
            "rejected_energy_decreases": self.rejected_decreases,
        }


@dataclass(frozen=True, slots=True)
class MeterData:
    """One published readout: the first value of each data set by key, after the energy guard."""

    readout: Readout
    values: Mapping[str, Value]


class DlmsCoordinator(DataUpdateCoordinator[MeterData]):
    """Reads one meter through its optical head."""

    config_entry: DlmsConfigEntry

    def __init__(self, hass: HomeAssistant, entry: DlmsConfigEntry) -> None:
        """Set up from the entry: port in ``data``, interval, codes and protocol in ``options``."""
        self.port: str = entry.data[CONF_PORT]
        self.settings = settings_from_options(entry.options)
        self.configured_interval = max(
            int(entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)),
            MIN_UPDATE_INTERVAL,
        )
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=timedelta(seconds=self.configured_interval),
        )
        self.serial_number: str = str(
            entry.data.get(CONF_SERIAL_NUMBER) or entry.unique_id or entry.entry_id
        )
        self.stats = ReadStatistics()
        self.readout: Readout | None = None
        self.specs: dict[str, SensorSpec] = {}
        self._codes: list[str] = list(entry.options.get(CONF_CODES) or [])
        self._accepted: dict[str, tuple[float, Value]] = {}
        self._lock = asyncio.Lock()
        self._read_task: asyncio.Task[Readout] | None = None
        entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, self._async_on_stop))

    @property
    def last_read_time(self) -> float | None:
        """Seconds the last good read took (None before the first one)."""
        return self.stats.last_duration

    @property
    def device_info(self) -> DeviceInfo:
        """The one meter every entity of this entry belongs to."""
        data = self.config_entry.data
        ident = self.readout.identification if self.readout is not None else None
        manufacturer = data.get(CONF_MANUFACTURER) or (
            catalog.manufacturer_name(ident.manufacturer) if ident is not None else None
        )
        model = data.get(CONF_MODEL) or (ident.model if ident is not None else None)
        return DeviceInfo(
            identifiers={(DOMAIN, self.serial_number)},
            name=self.config_entry.title,
            manufacturer=manufacturer or None,
            model=model or None,
            serial_number=self.serial_number,
            sw_version=catalog.firmware(self.readout) if self.readout is not None else None,
        )

    # --- lifecycle ------------------------------------------------------------------------

    @override
    async def async_shutdown(self) -> None:
        """Stop polling and cancel a read in flight, so the port is closed now."""
        await super().async_shutdown()
        await self._async_cancel_read()

    async def _async_on_stop(self, _event: Event) -> None:
        await self._async_cancel_read()

    async def _async_cancel_read(self) -> None:
        task = self._read_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])  # read_meter closes the port while it unwinds

    # --- one update -----------------------------------------------------------------------

    @override
    async def _async_update_data(self) -> MeterData:
        async with self._lock:
            readout = await self._async_read()
        self.readout = readout
        datasets = catalog.datasets_by_key(readout)
        if not self.specs:
            self._describe(datasets)
        values = {key: ds.value for key, ds in datasets.items() if ds.value is not None}
        self._guard_totals(values)
        return MeterData(readout, values)

    async def _async_read(self) -> Readout:
        self.stats.reads += 1
        started = time.monotonic()
        self._read_task = asyncio.create_task(
            read_meter(self.port, self.settings), name=f"{DOMAIN} read {self.port}"
        )
        try:
            readout = await self._read_task
            if readout.checksum_ok is False:
                raise ChecksumError("the block check of the readout failed")
        except Iec62056Error as err:
            self._failed(err)
            key = err.kind if err.kind in ERROR_KINDS else GENERIC_ERROR_KEY
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=key,
                translation_placeholders={"port": self.port, "error": str(err) or err.kind},
            ) from err
        finally:
            self._read_task = None
        self._succeeded(readout, time.monotonic() - started)
        return readout

    def _failed(self, err: Iec62056Error) -> None:
        stats = self.stats
        stats.failures[err.kind] = stats.failures.get(err.kind, 0) + 1
        stats.consecutive_failures += 1
        if stats.consecutive_failures >= FAILURES_BEFORE_ISSUE:
            issues.async_create_meter_not_answering(
                self.hass,
                self.config_entry,
                port=self.port,
                failures=stats.consecutive_failures,
                error=str(err) or err.kind,
            )

    def _succeeded(self, readout: Readout, duration: float) -> None:
        stats = self.stats
        stats.successes += 1
        stats.consecutive_failures = 0
        stats.last_duration = max(duration, readout.duration)
        stats.baudrate = readout.baudrate
        stats.last_success = dt_util.utcnow()
        issues.async_delete(self.hass, self.config_entry, ISSUE_METER_NOT_ANSWERING)
        self._fit_interval(stats.last_duration)

    def _fit_interval(self, read_time: float) -> None:
        """Never poll faster than a read takes plus the quiet time the standard asks for."""
        needed = math.ceil(read_time + QUIET_TIME)
        if self.configured_interval >= needed:
            self.update_interval = timedelta(seconds=self.configured_interval)
            issues.async_delete(self.hass, self.config_entry, ISSUE_INTERVAL_TOO_SHORT)
            return
        if self.update_interval != timedelta(seconds=needed):
            _LOGGER.warning(
                "%s: a read takes %.1f s, longer than the update interval of %d s; polling every"
                " %d s instead",
                self.name,
                read_time,
                self.configured_interval,
                needed,
            )
        self.update_interval = timedelta(seconds=needed)
        issues.async_create_interval_too_short(
            self.hass, self.config_entry, configured=self.configured_interval, needed=needed
        )

    def _describe(self, datasets: Mapping[str, Any]) -> None:
        """Fix what each chosen code is from the first good readout (its unit)."""
        codes = self._codes or catalog.preselect(datasets)
        for code in dict.fromkeys(codes):
            dataset = datasets.get(code)
            value = dataset.value if dataset is not None else None
            self.specs[code] = catalog.describe(code, value.unit if value is not None else None)

    def _guard_totals(self, values: dict[str, Value]) -> None:
        """Keep the last accepted value of a lifetime total that went down."""
        for code, spec in self.specs.items():
            if not spec.guard_decrease or (value := values.get(code)) is None:
                continue
            number = catalog.parse_number(value.value)
            if number is None:
                continue
            last = self._accepted.get(code)
            if last is not None and number < last[0]:
                self.stats.rejected_decreases += 1
                _LOGGER.warning(
                    "%s: %s went down from %s to %s; keeping %s (meter glitch or a bad read)",
                    self.name,
                    code,
                    last[0],
                    number,
                    last[0],
                )
                values[code] = last[1]
                continue
            self._accepted[code] = (number, value)
