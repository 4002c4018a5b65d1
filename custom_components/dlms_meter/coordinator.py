"""Reading the meter: one read cycle per update, never two at once, the port always released.

* Each update runs one read cycle under a lock, through the entry's *reader* (a callable
  ``(port, settings) -> Readout``; the library's :func:`read_meter` unless a test put another one
  in ``hass.data[DATA_READER]``). :func:`read_meter` goes through the library's shared port
  object (:func:`iec62056.shared_port`), so a probe or reconfigure on the same port and this
  coordinator never run sessions at once, and the quiet time between them is kept. The read
  runs as its own task, so an unload, a failed setup or Home Assistant stopping cancels it and
  the port is closed at once.
* Errors become :class:`UpdateFailed` with a translation per error kind; the entities turn
  unavailable (never 0) and :class:`DataUpdateCoordinator` logs once when the meter goes away and
  once when it is back. A readout whose block check failed is never published. Ports are masked
  (:func:`mask_port`) wherever they reach a message, a log line, a task name or an issue.
* A readout from another meter is never published: the entities go unavailable and a repair
  issue offers to adopt the replacement meter. Who the meter is comes from
  :func:`iec62056.identity.is_same_meter`, which also knows the ids earlier versions gave
  (a meter sending only 0.0.1, a DSMR meter known by its gas meter's id, an all-zero serial, the
  identification text), so those entries keep publishing.
* Every number is converted to the unit its entity was created with; a unit that does not convert
  makes that entity unavailable, with a repair issue. Only finite numbers below 1e15 are published;
  text loses control characters and is cut to 255 characters.
* Lifetime totals pass the value guard (:mod:`.guard`); what it accepted survives restarts (a
  :class:`Store` per entry).
* Every session on a port goes through the library's :class:`SharedPort` of that port (one at a
  time, FIFO, quiet time between them), also with injected readers (:func:`port_reader`,
  :func:`register_reader`). The entry's device address is registered with it while the entry is
  loaded, so a request without an address is never sent on a bus of several meters.
* Fast values (:class:`FastValues`): chosen codes are read by register reads in programming mode
  at their own interval and published through the same identity, unit and guard rules; when
  register reads stop working they fall back to the full readout with a repair issue.
* The update interval is never shorter than the last read took plus the standard's quiet time; if
  the configured one is, the longer one is used and a repair issue says so. Another repair issue
  appears after :data:`FAILURES_BEFORE_ISSUE` failed cycles in a row; the first good read clears it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
import math
import re
import time
from typing import Any, Final, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from . import catalog, issues, units
from .catalog import DlmsSensorEntityDescription
from .const import (
    CONF_CODES,
    CONF_FAST_CAPABLE,
    CONF_FAST_CODES,
    CONF_FAST_INTERVAL,
    CONF_FAST_READ_TIME,
    CONF_MANUFACTURER,
    CONF_MAX_POWER,
    CONF_MODEL,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_SERIAL_NUMBER,
    CONF_UPDATE_INTERVAL,
    DEFAULT_FAST_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    FAILURES_BEFORE_ISSUE,
    FAST_FAILURES_BEFORE_FALLBACK,
    ISSUE_FAST_VALUES_FALLBACK,
    ISSUE_INTERVAL_TOO_SHORT,
    ISSUE_METER_NOT_ANSWERING,
    MIN_FAST_INTERVAL,
    MIN_UPDATE_INTERVAL,
    QUIET_TIME,
)
from .guard import (
    DEFAULT_MAX_FLOW_M3_PER_H,
    DEFAULT_MAX_HOURS_PER_H,
    DEFAULT_MAX_POWER_KW,
    POWER_HEADROOM,
    TotalGuard,
    Verdict,
    is_sane,
    step_of,
)
from .iec62056 import (
    ERROR_KINDS,
    ChecksumError,
    Iec62056Error,
    Mode,
    NoProgrammingModeError,
    PasswordRefusedError,
    Readout,
    ReadSettings,
    SharedPort,
    UnknownRegisterError,
    Value,
    parse_obis,
    read_meter,
    read_registers,
    shared_port,
)
from .iec62056.identity import SERIAL_CODES, is_same_meter, serial_number, unique_id_for
from .iec62056.redact import mask_port, mask_text
from .probe import settings_from_options

_LOGGER = logging.getLogger(__package__)

type DlmsConfigEntry = ConfigEntry[DlmsCoordinator]
type Reader = Callable[[str, ReadSettings], Coroutine[Any, Any, Readout]]
type Clock = Callable[[], float]
# (port, settings, codes, password) -> the registers read in one programming-mode session
type RegisterReader = Callable[
    [str, ReadSettings, Sequence[str], str | None], Coroutine[Any, Any, Readout]
]

# Injection points (tests, soak): the reader every new coordinator uses, and the clock of the
# value guard (seconds since the epoch). Without them: read_meter and time.time.
DATA_READER: Final[HassKey[Reader]] = HassKey(f"{DOMAIN}_reader")
DATA_CLOCK: Final[HassKey[Clock]] = HassKey(f"{DOMAIN}_clock")
# the register reader (fast values, the probe's register test); without it: read_registers
DATA_REGISTER_READER: Final[HassKey[RegisterReader]] = HassKey(f"{DOMAIN}_register_reader")
# register-read errors that mean "this meter does not give fast values": fall back at once
FAST_FATAL_KINDS: Final = frozenset({NoProgrammingModeError.kind, PasswordRefusedError.kind})


def request_address(settings: ReadSettings) -> str | None:
    """The device address a session's request carries (None: mode D, no request at all)."""
    return None if settings.mode in (Mode.D, "D") else settings.address


def port_reader(hass: HomeAssistant) -> Reader:
    """The full-readout reader: the library's, or the injected one run by the port's scheduler.

    The library's :func:`read_meter` holds the port's :class:`SharedPort` itself; an injected
    reader (tests, soak) is run inside the same scheduler, so every session on a port, from
    any entry, flow or fast-value timer, runs one at a time with the quiet time between them.
    """
    injected = hass.data.get(DATA_READER)
    if injected is None:
        return read_meter
    if getattr(injected, "schedules_itself", False):
        return injected  # it calls read_meter, which holds the port (not re-entrant)

    async def read(port: str, settings: ReadSettings) -> Readout:
        shared = shared_port(port)
        async with shared.session(settings.session_gap, address=request_address(settings)):
            return await injected(port, settings)

    return read


async def _read_registers(
    port: str, settings: ReadSettings, codes: Sequence[str], password: str | None
) -> Readout:
    return await read_registers(port, settings, codes, password=password)


async def _no_registers(
    port: str, settings: ReadSettings, codes: Sequence[str], password: str | None
) -> Readout:
    raise NoProgrammingModeError("the injected reader reads no registers")


def register_reader(hass: HomeAssistant) -> RegisterReader:
    """The register reader: the library's, or the injected one run by the port's scheduler."""
    injected = hass.data.get(DATA_REGISTER_READER)
    if injected is None and DATA_READER in hass.data:
        # an injected full reader (recorded readouts) without a register reader: no registers
        return _no_registers
    if injected is None:
        return _read_registers

    async def read(
        port: str, settings: ReadSettings, codes: Sequence[str], password: str | None
    ) -> Readout:
        shared = shared_port(port)
        async with shared.session(settings.session_gap, address=settings.address):
            return await injected(port, settings, codes, password)

    return read


SERIAL_KEYS: Final = frozenset(SERIAL_CODES)
GENERIC_ERROR_KEY: Final = "read_failed"
OTHER_METER_KEY: Final = "other_meter"
# the library's error kinds with their own translated message (exceptions.<kind>); the base
# class's kind ("error") and kinds the library may add later get the generic one
TRANSLATED_KINDS: Final = ERROR_KINDS - {Iec62056Error.kind}

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 10  # seconds; also written on unload and when Home Assistant stops
MAX_TEXT: Final = 255  # Home Assistant's limit for a state
_CONTROL: Final = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x1f\x7f-\x9f]")
# (voltage, current) data sets per phase, for the power a meter was seen to carry
_VOLTAGE_C: Final = frozenset({32, 52, 72})  # per phase; the current is C - 1 (31, 51, 71)
_POWER_UNITS: Final = ("W", "var", "VA")


def clean_text(text: str) -> str | None:
    """A text state: no control characters or escape sequences, at most 255 characters."""
    cleaned = _CONTROL.sub("", text).strip()
    return cleaned[:MAX_TEXT] or None


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
    held_back: int = 0
    confirmed_jumps: int = 0
    invalid_numbers: int = 0
    unit_mismatches: int = 0

    def count_failure(self, kind: str) -> None:
        """One failed cycle of ``kind``."""
        self.failures[kind] = self.failures.get(kind, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form; the failures per kind list every kind of the library (0 or more)."""
        kinds = TRANSLATED_KINDS | {OTHER_METER_KEY} | self.failures.keys()
        return {
            "reads": self.reads,
            "successes": self.successes,
            "failures": {kind: self.failures.get(kind, 0) for kind in sorted(kinds)},
            "consecutive_failures": self.consecutive_failures,
            "last_read_duration": (
                None if self.last_duration is None else round(self.last_duration, 3)
            ),
            "negotiated_baudrate": self.baudrate,
            "last_success": None if self.last_success is None else self.last_success.isoformat(),
            "rejected_energy_decreases": self.rejected_decreases,
            "held_back_jumps": self.held_back,
            "confirmed_jumps": self.confirmed_jumps,
            "invalid_numbers": self.invalid_numbers,
            "unit_mismatches": self.unit_mismatches,
        }


@dataclass(frozen=True, slots=True)
class MeterData:
    """One published readout: the values by key and what each entity shows.

    ``values`` holds each value as sent by key (:func:`catalog.readout_values`: ``9.4`` and
    ``9.4#2`` for the two values of one data set, text parts joined); ``states`` the state of each
    entity after units, the guard and the sanity checks; ``unavailable`` the entities whose unit
    no longer converts; ``held`` the totals whose newest reading is held back (readings held).
    """

    readout: Readout
    values: Mapping[str, Value]
    states: Mapping[str, float | str | None] = field(default_factory=dict)
    unavailable: frozenset[str] = frozenset()
    held: Mapping[str, int] = field(default_factory=dict)


class DlmsCoordinator(DataUpdateCoordinator[MeterData]):
    """Reads one meter through its optical head."""

    config_entry: DlmsConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: DlmsConfigEntry,
        *,
        reader: Reader | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Set up from the entry: port in ``data``, interval, codes and protocol in ``options``."""
        self.port: str = entry.data[CONF_PORT]
        self.masked_port = mask_port(self.port)
        self.settings = settings_from_options(entry.options)
        self.configured_interval = max(
            int(entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)),
            MIN_UPDATE_INTERVAL,
        )
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=mask_text(entry.title, self.port),
            update_interval=timedelta(seconds=self.configured_interval),
        )
        self.reader: Reader = reader or port_reader(hass)
        self.register_reader: RegisterReader = register_reader(hass)
        # the port's scheduler; this meter's device address is registered with it while the
        # entry is loaded, so that no request without an address is sent on a bus of meters
        self.shared: SharedPort = shared_port(self.port)
        self._address = self.settings.address
        self.shared.register_address(self._address)
        entry.async_on_unload(self._unregister_address)
        self.password: str | None = str(entry.options.get(CONF_PASSWORD) or "") or None
        capable = entry.options.get(CONF_FAST_CAPABLE) or {}
        self.fast_addresses: dict[str, str] = (
            {str(key): str(address) for key, address in capable.items()}
            if isinstance(capable, dict)
            else {}
        )
        self.fast_codes: list[str] = [
            str(code) for code in entry.options.get(CONF_FAST_CODES) or []
        ]
        self.fast: FastValues | None = None
        if self.fast_codes and str(self.settings.mode) == Mode.C:
            self.fast = FastValues(hass, self, entry)
        self.clock: Clock = clock or hass.data.get(DATA_CLOCK) or time.time
        self.serial_number: str = str(
            entry.data.get(CONF_SERIAL_NUMBER) or entry.unique_id or entry.entry_id
        )
        # the id the entry knows its meter by (this or an earlier version's rule; "" = none)
        self._known_id: str = str(entry.data.get(CONF_SERIAL_NUMBER) or entry.unique_id or "")
        self._known_serial = bool(entry.data.get(CONF_SERIAL_NUMBER))
        self.other_serial: str | None = None
        self.stats = ReadStatistics()
        self.readout: Readout | None = None
        self.specs: dict[str, DlmsSensorEntityDescription] = {}
        self._codes: list[str] = list(entry.options.get(CONF_CODES) or [])
        self.max_power_option = float(entry.options.get(CONF_MAX_POWER) or 0.0)
        self.max_power_seen = 0.0  # kW
        self.guards: dict[str, TotalGuard] = {}
        self._units: dict[str, str] = {}  # the unit each entity was created with (stored)
        self._restored: dict[str, tuple[str | None, TotalGuard]] = {}
        self._unit_issues: set[str] = set()
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}"
        )
        self._lock = asyncio.Lock()
        self._read_task: asyncio.Task[Readout] | None = None
        entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, self._async_on_stop))

    def _unregister_address(self) -> None:
        self.shared.unregister_address(self._address)

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

    async def async_load(self) -> None:
        """Restore what the guard accepted before a restart (same meter only)."""
        stored = await self._store.async_load()
        if not isinstance(stored, dict) or stored.get("serial") != self.serial_number:
            return
        units_ = stored.get("units")
        if isinstance(units_, dict):
            self._units = {str(key): str(unit) for key, unit in units_.items()}
        totals = stored.get("totals")
        if isinstance(totals, dict):
            for key, data in totals.items():
                unit = data.get("unit") if isinstance(data, dict) else None
                self._restored[str(key)] = (unit, TotalGuard.from_dict(data))
        seen = stored.get("max_power_seen")
        if isinstance(seen, int | float) and is_sane(seen) and seen > 0:
            self.max_power_seen = float(seen)

    def _stored(self) -> dict[str, Any]:
        totals: dict[str, Any] = {
            key: {"unit": unit, **guard.as_dict()} for key, (unit, guard) in self._restored.items()
        }
        for key, guard in self.guards.items():
            if guard.accepted is not None:
                totals[key] = {"unit": self.specs[key].unit, **guard.as_dict()}
        return {
            "serial": self.serial_number,
            "units": dict(self._units),
            "totals": totals,
            "max_power_seen": self.max_power_seen,
        }

    async def async_save(self) -> None:
        """Write the accepted totals now (unload, re-adoption)."""
        await self._store.async_save(self._stored())

    async def async_forget(self) -> None:
        """Drop every accepted total (a replacement meter starts afresh)."""
        self.guards.clear()
        self._restored.clear()
        self._units.clear()
        self.max_power_seen = 0.0
        await self._store.async_remove()

    @override
    async def async_shutdown(self) -> None:
        """Stop polling and cancel a read in flight, so the port is closed now."""
        await super().async_shutdown()
        if self.fast is not None:
            await self.fast.async_shutdown()
        await self._async_cancel_read()
        if self.specs:
            await self.async_save()

    async def _async_on_stop(self, _event: Event) -> None:
        await self._async_cancel_read()

    async def _async_cancel_read(self) -> None:
        task = self._read_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])  # read_meter closes the port while it unwinds

    async def async_start_from(self, readout: Readout) -> bool:
        """Publish a readout the config flow just took (no second read); False if refused."""
        started = time.monotonic()
        self.stats.reads += 1
        try:
            data = self._process(readout, time.monotonic() - started)
        except UpdateFailed:
            return False
        self.async_set_updated_data(data)
        return True

    # --- one update -----------------------------------------------------------------------

    @override
    async def _async_update_data(self) -> MeterData:
        async with self._lock:
            started = time.monotonic()
            readout = await self._async_read()
            return self._process(readout, time.monotonic() - started)

    async def _async_read(self) -> Readout:
        self.stats.reads += 1
        self._read_task = asyncio.create_task(
            self.reader(self.port, self.settings), name=f"{DOMAIN} read {self.masked_port}"
        )
        try:
            return await self._read_task
        except Iec62056Error as err:
            # the cause keeps its kind, without the secrets its message may carry
            raise self._failed(err) from self._masked(err)
        finally:
            self._read_task = None

    def _process(self, readout: Readout, duration: float) -> MeterData:
        """Check a complete readout and turn it into what the entities show."""
        if readout.checksum_ok is False:
            err = ChecksumError("the block check of the readout failed")
            raise self._failed(err) from err
        self._check_identity(readout)
        self._succeeded(readout, duration)
        self.readout = readout
        values = catalog.readout_values(readout)
        if not self.specs:
            self._describe(values)
        self._see_power(values)
        now = self.clock()
        states: dict[str, float | str | None] = {}
        unavailable: set[str] = set()
        held: dict[str, int] = {}
        for key, spec in self.specs.items():
            value = values.get(catalog.current_key(key, values))
            self._state(key, spec, value, now, states, unavailable, held)
        self._store.async_delay_save(self._stored, SAVE_DELAY)
        return MeterData(readout, values, states, frozenset(unavailable), held)

    def _state(
        self,
        key: str,
        spec: DlmsSensorEntityDescription,
        value: Value | None,
        now: float,
        states: dict[str, float | str | None],
        unavailable: set[str],
        held: dict[str, int],
    ) -> None:
        """What the entity ``key`` shows for ``value``: units, value guard, sanity checks."""
        if not spec.numeric:
            states[key] = None if value is None else clean_text(value.value)
            return
        number = self._convert(key, spec, value)
        if number is False:
            unavailable.add(key)
            return
        unavailable.discard(key)
        if spec.guard_decrease:
            number = self._guarded(key, spec, number, value, now, held)
        elif number is not None and not is_sane(number):
            self.stats.invalid_numbers += 1
            number = None
        states[key] = number

    # --- fast values (register reads in programming mode) ----------------------------------

    def fast_register_codes(self) -> list[str]:
        """The codes of one register session: the fast values, then the meter's serial number.

        Each code as the meter wrote it in its readout (``C.1.0``, not ``96.1.0``); the
        serial number's register is read too, so that a fast value of another meter is never
        published.
        """
        codes = [self.fast_addresses.get(key, key) for key in self.fast_codes]
        if self._known_serial and self.readout is not None:
            serial = serial_number(self.readout)
            for dataset in self.readout.datasets:
                if catalog.dataset_key(dataset) in SERIAL_KEYS and any(
                    value.value.strip() == serial for value in dataset.values
                ):
                    codes.append(dataset.address)
                    break
        return list(dict.fromkeys(codes))

    async def async_read_fast(self) -> None:
        """One register session; publish the fast values it brought (same rules as a readout).

        Raises Iec62056Error (the read failed), or UpdateFailed (not the entry's meter: the
        entities turn unavailable as after a full readout of another meter).
        """
        codes = self.fast_register_codes()
        async with self._lock:
            readout = await self.register_reader(
                self.port, self.fast_settings(), codes, self.password
            )
        data = self.data
        if self._known_serial and serial_number(readout) is None:
            raise UnknownRegisterError("the meter did not answer its serial number register")
        try:
            self._check_identity(readout)
        except UpdateFailed as err:
            self.async_set_update_error(err)
            raise
        values = catalog.readout_values(readout)
        states = dict(data.states)
        unavailable = set(data.unavailable)
        held = dict(data.held)
        now = self.clock()
        for key in self.fast_codes:
            spec = self.specs.get(key)
            value = values.get(catalog.current_key(key, values))
            if spec is None or value is None:
                continue  # not read: the full readout's value stays
            held.pop(key, None)
            self._state(key, spec, value, now, states, unavailable, held)
        self.data = MeterData(
            data.readout, {**data.values, **values}, states, frozenset(unavailable), held
        )
        self._store.async_delay_save(self._stored, SAVE_DELAY)
        self.async_update_listeners()

    def fast_settings(self) -> ReadSettings:
        """The settings of a register session: the entry's, in mode C."""
        return dataclasses.replace(self.settings, mode=Mode.C)

    def is_known_meter(self, readout: Readout) -> bool:
        """Whether ``readout`` comes from the meter of this entry (see the module docstring).

        An entry without an id, and one without a serial number read from a meter that sends
        none either, cannot tell two meters apart: every readout is its meter's.
        """
        if not self._known_id:
            return True
        if not self._known_serial and serial_number(readout) is None:
            return True
        return is_same_meter(self._known_id, self.port, readout, self.port)

    def _check_identity(self, readout: Readout) -> None:
        """A readout of another meter than the entry's: nothing is published."""
        if self.is_known_meter(readout):
            self.other_serial = None
            issues.async_delete(self.hass, self.config_entry, issues.ISSUE_OTHER_METER)
            return
        new_id = unique_id_for(readout, self.port)
        found = serial_number(readout) or new_id
        self.other_serial = found
        self.stats.count_failure(OTHER_METER_KEY)
        issues.async_create_other_meter(
            self.hass,
            self.config_entry,
            serial=found,
            port=self.masked_port,
            unique_id=new_id,
            serial_number=serial_number(readout) or "",
        )
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key=OTHER_METER_KEY,
            translation_placeholders={"port": self.masked_port, "serial": found},
        )

    def _masked(self, err: Iec62056Error) -> Iec62056Error:
        """``err`` as it may reach a log: the same class and kind, the port masked."""
        text = mask_text(str(err), self.port)
        if text == str(err):
            return err
        try:
            masked = type(err)(text)
        except TypeError:  # an error class with another constructor: a plain copy of the kind
            masked = Iec62056Error(text)
            masked.kind = err.kind  # type: ignore[misc]
        masked.__suppress_context__ = True
        return masked

    def _failed(self, err: Iec62056Error) -> UpdateFailed:
        stats = self.stats
        kind = str(err.kind)
        stats.count_failure(kind)
        stats.consecutive_failures += 1
        message = mask_text(str(err) or kind, self.port)
        if stats.consecutive_failures >= FAILURES_BEFORE_ISSUE:
            issues.async_create_meter_not_answering(
                self.hass,
                self.config_entry,
                port=self.masked_port,
                failures=stats.consecutive_failures,
                error=message,
            )
        return UpdateFailed(
            translation_domain=DOMAIN,
            translation_key=kind if kind in TRANSLATED_KINDS else GENERIC_ERROR_KEY,
            translation_placeholders={"port": self.masked_port, "error": message},
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

    def _describe(self, values: Mapping[str, Value]) -> None:
        """Fix what each chosen code is: the unit stored at creation, else the first readout's."""
        codes = self._codes or catalog.preselect(values)
        for code in dict.fromkeys(codes):
            value = values.get(catalog.current_key(code, values))
            sent = value.unit if value is not None else None
            stored = self._units.get(code)
            unit = stored if stored is not None and self._converts(sent, stored) else sent
            spec = catalog.describe(code, unit, value.value if value is not None else None)
            self.specs[code] = spec
            if spec.numeric and spec.unit is not None:
                self._units[code] = spec.unit

    @staticmethod
    def _converts(sent: str | None, unit: str) -> bool:
        ha_unit = catalog.normalize_unit(sent)
        return ha_unit is None or units.factor(ha_unit, unit) is not None

    # --- values ---------------------------------------------------------------------------

    def _convert(
        self, key: str, spec: DlmsSensorEntityDescription, value: Value | None
    ) -> float | bool | None:
        """The number in the entity's unit; None if absent; False if the unit does not convert."""
        number = catalog.parse_number(value.value) if value is not None else None
        if value is None or number is None:
            return None
        sent = catalog.normalize_unit(value.unit) or spec.unit  # no unit: the entity's
        converted = units.convert(number, sent, spec.unit) if is_sane(number) else number
        if converted is not None:
            self._unit_fixed(key)
            return converted
        self.stats.unit_mismatches += 1
        if key not in self._unit_issues:
            self._unit_issues.add(key)
            _LOGGER.warning(
                "%s: %s is now sent in %s, which does not convert to %s; entity unavailable",
                self.name,
                key,
                sent,
                spec.unit,
            )
            issues.async_create_unit_changed(
                self.hass, self.config_entry, key=key, unit=spec.unit or "-", sent=sent or "-"
            )
        return False

    def _unit_fixed(self, key: str) -> None:
        if key in self._unit_issues:
            self._unit_issues.discard(key)
            issues.async_delete(self.hass, self.config_entry, issues.unit_kind(key))

    def _guard(self, key: str, spec: DlmsSensorEntityDescription) -> TotalGuard:
        guard = self.guards.get(key)
        if guard is None:
            unit, guard = self._restored.pop(key, (spec.unit, TotalGuard()))
            if guard.accepted is not None and unit != spec.unit:
                value = units.convert(guard.accepted.value, unit, spec.unit)
                guard = (
                    TotalGuard()
                    if value is None
                    else TotalGuard.from_dict(
                        {"accepted": {"value": value, "time": guard.accepted.time}}
                    )
                )
            self.guards[key] = guard
        return guard

    def _guarded(
        self,
        key: str,
        spec: DlmsSensorEntityDescription,
        number: float | None,
        value: Value | None,
        now: float,
        held: dict[str, int],
    ) -> float | None:
        """The value a lifetime total shows: the guard's last accepted one."""
        guard = self._guard(key, spec)
        last = guard.accepted
        if number is None or value is None:
            return None if last is None else last.value
        step = step_of(value.value) * (
            units.factor(catalog.normalize_unit(value.unit), spec.unit) or 1.0
        )
        verdict = guard.check(number, now, self.max_per_hour(spec.unit), step)
        stats = self.stats
        if verdict is Verdict.DECREASE:
            stats.rejected_decreases += 1
            assert last is not None
            _LOGGER.warning(
                "%s: %s went down from %s to %s; keeping %s (meter glitch or a bad read)",
                self.name,
                key,
                last.value,
                number,
                last.value,
            )
        elif verdict is Verdict.HELD:
            stats.held_back += 1
            _LOGGER.warning(
                "%s: %s jumped from %s to %s, faster than the meter can count; held back until"
                " the next readings confirm it",
                self.name,
                key,
                None if last is None else last.value,
                number,
            )
        elif verdict is Verdict.INVALID:
            stats.invalid_numbers += 1
        elif verdict is Verdict.CONFIRMED:
            stats.confirmed_jumps += 1
            _LOGGER.info(
                "%s: %s jump to %s confirmed by the following readings", self.name, key, number
            )
        if guard.holding:
            held[key] = len(guard.held)
        return None if guard.accepted is None else guard.accepted.value

    def max_per_hour(self, unit: str | None) -> float:
        """How much a total in ``unit`` may grow per hour (generous; see the guard)."""
        power_kw = self.max_power_option or max(
            DEFAULT_MAX_POWER_KW, POWER_HEADROOM * self.max_power_seen
        )
        for base, per_hour in (
            ("kWh", power_kw),
            ("kvarh", power_kw),
            ("kVAh", power_kw),
            ("m³", DEFAULT_MAX_FLOW_M3_PER_H),
            ("h", DEFAULT_MAX_HOURS_PER_H),
        ):
            if (scale := units.factor(unit, base)) is not None:
                return per_hour / scale
        return math.inf

    def _see_power(self, values: Mapping[str, Value]) -> None:
        """Remember the largest power the meter measured (kW): power registers, V x I per phase."""
        largest = 0.0
        for value in values.values():
            number = catalog.parse_number(value.value)
            unit = catalog.normalize_unit(value.unit)
            if number is None or not is_sane(number) or unit is None:
                continue
            for base in _POWER_UNITS:
                if (scale := units.factor(unit, base)) is not None:
                    largest = max(largest, abs(number) * scale / 1000)
        volts: dict[int, float] = {}
        amps: dict[int, float] = {}
        for key, value in values.items():
            code = parse_obis(key)
            number = catalog.parse_number(value.value)
            if code is None or code.d != 7 or code.is_history or number is None:
                continue
            unit = catalog.normalize_unit(value.unit)
            if code.c in _VOLTAGE_C:
                volts.setdefault(code.c, number * (units.factor(unit, "V") or 1.0))
            elif code.c + 1 in _VOLTAGE_C:
                amps.setdefault(code.c + 1, number * (units.factor(unit, "A") or 1.0))
        phases = sum(abs(volts[c] * amps[c]) for c in volts.keys() & amps.keys()) / 1000
        phases = phases if is_sane(phases) else 0.0
        self.max_power_seen = max(self.max_power_seen, largest, phases)


class FastValues(DataUpdateCoordinator[None]):
    """The timer of the fast values: one register session per interval (issue 13.4).

    The interval is the user's (default 5 s), never shorter than one register session plus
    the quiet time (as measured). When register reads stop working (a meter without
    programming mode or refusing the password at once, any other error
    :data:`FAST_FAILURES_BEFORE_FALLBACK` times in a row) the fast values fall back to the
    full readout (which always reads them too), a repair issue says so, and register reads
    are retried at the full readout's interval; the first one that works clears the issue.
    """

    config_entry: DlmsConfigEntry

    def __init__(self, hass: HomeAssistant, main: DlmsCoordinator, entry: DlmsConfigEntry) -> None:
        """Read ``main``'s fast codes at the entry's fast interval."""
        self.main = main
        options = entry.options
        self.configured_interval = max(
            int(options.get(CONF_FAST_INTERVAL, DEFAULT_FAST_INTERVAL)), MIN_FAST_INTERVAL
        )
        self.session_time = float(options.get(CONF_FAST_READ_TIME) or 0.0)
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"{main.name} fast values",
            update_interval=timedelta(seconds=self.interval_for(self.session_time)),
        )
        self.consecutive_failures = 0
        self.fallen_back = False
        self.reads = 0
        self.failures = 0

    def interval_for(self, session_time: float) -> int:
        """The user's interval, at least one register session plus the quiet time."""
        return max(self.configured_interval, math.ceil(session_time + QUIET_TIME))

    @override
    async def _async_update_data(self) -> None:
        started = time.monotonic()
        self.reads += 1
        try:
            await self.main.async_read_fast()
        except Iec62056Error as err:
            self.failures += 1
            self.consecutive_failures += 1
            kind = str(err.kind)
            if kind in FAST_FATAL_KINDS or (
                self.consecutive_failures >= FAST_FAILURES_BEFORE_FALLBACK
            ):
                self._fall_back(kind)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=kind if kind in TRANSLATED_KINDS else GENERIC_ERROR_KEY,
                translation_placeholders={"port": self.main.masked_port, "error": kind},
            ) from None
        self.consecutive_failures = 0
        self.session_time = time.monotonic() - started
        self.update_interval = timedelta(seconds=self.interval_for(self.session_time))
        if self.fallen_back:
            self.fallen_back = False
            _LOGGER.info("%s: register reads work again", self.main.name)
            issues.async_delete(self.hass, self.config_entry, ISSUE_FAST_VALUES_FALLBACK)

    def _fall_back(self, kind: str) -> None:
        """Fast values from the full readout now; retry register reads at its interval."""
        interval = self.main.update_interval or timedelta(seconds=self.main.configured_interval)
        self.update_interval = interval
        if self.fallen_back:
            return
        self.fallen_back = True
        _LOGGER.warning(
            "%s: register reads failed (%s); the fast values come from the full readout",
            self.main.name,
            kind,
        )
        issues.async_create_fast_values_fallback(
            self.hass,
            self.config_entry,
            codes=", ".join(self.main.fast_codes),
            error=kind,
            interval=int(interval.total_seconds()),
        )

    def as_dict(self) -> dict[str, Any]:
        """What the fast values did so far (diagnostics; no password)."""
        return {
            "codes": list(self.main.fast_codes),
            "interval": None
            if self.update_interval is None
            else int(self.update_interval.total_seconds()),
            "reads": self.reads,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "fallen_back": self.fallen_back,
        }
