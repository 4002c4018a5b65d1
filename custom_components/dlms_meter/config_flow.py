"""Config flow for dlms_meter: pick a port, probe the meter, choose its data sets.

User flow: ``user`` (port + collapsed advanced settings) -> ``probe`` (progress; tries fallbacks,
see probe.py) -> ``select_codes`` (every data set found, energy and power pre-selected) -> entry.
A failed probe returns to ``user`` with a translated error and the input kept.

Reconfigure flow: ``reconfigure`` -> ``probe`` -> ``reconfigure_finish``. Ports are exclusive, so
the probe first unloads the entry; whenever the flow ends without updating the entry (probe failed,
other meter, dialog closed) the entry is set up again.

Options flow: update interval (not shorter than the last read), data sets, advanced settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
import logging
import math
from typing import TYPE_CHECKING, Any, override

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import AbortFlow, section
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    SerialPortSelector,
    TextSelector,
)
from homeassistant.helpers.translation import async_get_translations

from . import catalog
from .const import (
    CONF_ADDRESS,
    CONF_BAUDRATE,
    CONF_CHECKSUM,
    CONF_CODES,
    CONF_IDENTIFICATION,
    CONF_MANUFACTURER,
    CONF_MODE,
    CONF_MODEL,
    CONF_NO_WAITING,
    CONF_PORT,
    CONF_READ_TIME,
    CONF_RESET_BAUDRATE,
    CONF_SERIAL_NUMBER,
    CONF_UPDATE_INTERVAL,
    CONF_WAKEUP,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    ERROR_KINDS,
    MIN_UPDATE_INTERVAL,
)
from .coordinator import CONF_MAX_POWER
from .iec62056 import Checksum, Iec62056Error, Readout, Value
from .probe import (
    BAUDRATE_AUTO,
    BAUDRATES,
    MAX_ATTEMPTS,
    MODE_AUTO,
    MODES,
    ProbeResult,
    options_from_settings,
    probe_meter,
    serial_number,
    settings_from_options,
)

if TYPE_CHECKING:
    import probatio as vol  # What voluptuous is at run time from HA 2026.9 on.

    from .coordinator import DlmsConfigEntry
else:
    import voluptuous as vol

_LOGGER = logging.getLogger(__name__)

ADVANCED = "advanced"
ADVANCED_KEYS = (
    CONF_MODE,
    CONF_BAUDRATE,
    CONF_CHECKSUM,
    CONF_RESET_BAUDRATE,
    CONF_NO_WAITING,
    CONF_ADDRESS,
    CONF_WAKEUP,
)
MAX_UPDATE_INTERVAL = 86400


def default_update_interval(read_time: float) -> int:
    """Twice the read time, at least the old plugin's 60 s: the port is never busy all the time."""
    return max(DEFAULT_UPDATE_INTERVAL, math.ceil(read_time * 2))


def error_key(err: Exception) -> str:
    """The translation key (config.error.*) for an error of a probe."""
    kind = err.kind if isinstance(err, Iec62056Error) else ""
    return kind if kind in ERROR_KINDS else "unknown"


def _advanced_schema() -> vol.Schema:
    """The protocol settings (the old plugin's options); defaults = read like the old plugin."""
    return vol.Schema(
        {
            vol.Required(CONF_MODE, default=MODE_AUTO): SelectSelector(
                SelectSelectorConfig(
                    options=list(MODES),
                    translation_key="mode",
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(CONF_BAUDRATE, default=BAUDRATE_AUTO): SelectSelector(
                SelectSelectorConfig(
                    options=[BAUDRATE_AUTO, *(str(rate) for rate in BAUDRATES)],
                    translation_key="baudrate",
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(CONF_CHECKSUM, default=str(Checksum.XOR)): SelectSelector(
                SelectSelectorConfig(
                    options=[str(check) for check in Checksum],
                    translation_key="checksum",
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(CONF_RESET_BAUDRATE, default=True): BooleanSelector(),
            vol.Required(CONF_NO_WAITING, default=False): BooleanSelector(),
            vol.Optional(CONF_ADDRESS, default=""): TextSelector(),
            vol.Required(CONF_WAKEUP, default=False): BooleanSelector(),
        }
    )


def _port_schema() -> vol.Schema:
    """Port plus the collapsed advanced section (user and reconfigure steps)."""
    return vol.Schema(
        {
            vol.Required(CONF_PORT): SerialPortSelector(),
            vol.Required(ADVANCED): section(_advanced_schema(), {"collapsed": True}),
        }
    )


def _codes_selector(options: list[SelectOptionDict]) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(options=options, multiple=True, mode=SelectSelectorMode.LIST)
    )


def _read_time_text(read_time: float) -> str:
    return f"{read_time:.1f}"


def _entry_advanced(entry: ConfigEntry) -> dict[str, Any]:
    """The advanced settings stored in an entry, in form shape."""
    return {key: entry.options[key] for key in ADVANCED_KEYS if key in entry.options}


def readout_values(readout: Readout) -> dict[str, Value | None]:
    """Data-set key -> first value, in the meter's order (the first of repeated keys wins)."""
    return {key: dataset.value for key, dataset in catalog.datasets_by_key(readout).items() if key}


async def async_entity_names(hass: HomeAssistant) -> dict[str, str]:
    """Translated sensor names (translation key -> text) in the user's language."""
    translations = await async_get_translations(hass, hass.config.language, "entity", [DOMAIN])
    prefix, suffix = f"component.{DOMAIN}.entity.sensor.", ".name"
    return {
        key.removeprefix(prefix).removesuffix(suffix): text
        for key, text in translations.items()
        if key.startswith(prefix) and key.endswith(suffix)
    }


def code_label(key: str, value: Value | None, names: Mapping[str, str]) -> str:
    """``1.8.0 Import energy — 12345.6 kWh``: code, translated name (if known), value as sent."""
    spec = catalog.describe(key, value.unit if value else None)
    parts = [key]
    if spec.translation_key != catalog.GENERIC_KEY and (name := names.get(spec.translation_key)):
        try:
            parts.append(name.format(**spec.placeholders))
        except KeyError, IndexError, ValueError:
            parts.append(name)
    if value is not None and (text := value.value.strip()):
        parts.append(f"— {text} {value.unit}" if value.unit else f"— {text}")
    return " ".join(parts)


def code_options(
    values: Mapping[str, Value | None], extra: Iterable[str], names: Mapping[str, str]
) -> list[SelectOptionDict]:
    """Picker options for the data sets in ``values`` plus ``extra`` keys (not in the readout)."""
    options = [
        SelectOptionDict(value=key, label=code_label(key, v, names)) for key, v in values.items()
    ]
    options.extend(
        SelectOptionDict(value=key, label=code_label(key, None, names))
        for key in dict.fromkeys(extra)
        if key not in values
    )
    return options


class DlmsMeterConfigFlow(ConfigFlow, domain=DOMAIN):
    """Handle a config flow for dlms_meter."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing entered and nothing probed."""
        self._input: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._probe_task: asyncio.Task[ProbeResult] | None = None
        self._result: ProbeResult | None = None
        self._entry_unloaded = False

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> DlmsOptionsFlow:
        """Create the options flow."""
        return DlmsOptionsFlow()

    # --- user flow --------------------------------------------------------------------------------

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the port (and, collapsed, the protocol settings)."""
        if user_input is not None:
            self._async_abort_entries_match({CONF_PORT: user_input[CONF_PORT]})
            self._input = user_input
            if self._settings_valid():
                return await self.async_step_probe()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_port_schema(), self._input),
            errors=self._errors,
        )

    async def async_step_probe(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Read the meter (with fallbacks) while showing progress."""
        if self._probe_task is None:
            self._errors = {}
            self._probe_task = self.hass.async_create_task(
                self._async_probe(), f"{DOMAIN} probe {self._input[CONF_PORT]}"
            )
            # Always show progress first, even if the task is done (only a progress result
            # may lead to "progress done"); the task's end continues the flow.
            return self._async_show_probe_progress()
        if not self._probe_task.done():
            return self._async_show_probe_progress()
        task, self._probe_task = self._probe_task, None
        reconfigure = self.source == SOURCE_RECONFIGURE
        try:
            self._result = task.result()
        except Exception as err:
            if not isinstance(err, Iec62056Error):
                _LOGGER.exception("Unexpected error while probing %s", self._input[CONF_PORT])
            self._errors = {"base": error_key(err)}
            if reconfigure:
                await self._async_restore_entry()
                return self.async_show_progress_done(next_step_id="reconfigure")
            return self.async_show_progress_done(next_step_id="user")
        if reconfigure:
            return self.async_show_progress_done(next_step_id="reconfigure_finish")
        return self.async_show_progress_done(next_step_id="select_codes")

    def _async_show_probe_progress(self) -> ConfigFlowResult:
        assert self._probe_task is not None
        return self.async_show_progress(
            step_id="probe",
            progress_action="probe",
            progress_task=self._probe_task,
            description_placeholders={"port": self._input[CONF_PORT]},
        )

    def _settings_valid(self) -> bool:
        """Check the advanced settings the library would refuse (the device address)."""
        if _valid_settings(self._input[ADVANCED]):
            return True
        self._errors = {"base": "invalid_address"}
        return False

    async def _async_probe(self) -> ProbeResult:
        """The progress task: free the port (reconfigure only), then probe."""
        if self.source == SOURCE_RECONFIGURE:
            await self._async_free_port()
        advanced = self._input[ADVANCED]

        def on_attempt(number: int, _settings: object) -> None:
            self.async_update_progress(min(number / MAX_ATTEMPTS, 1.0))

        return await probe_meter(
            self._input[CONF_PORT],
            settings_from_options(advanced),
            try_other_modes=advanced.get(CONF_MODE, MODE_AUTO) == MODE_AUTO,
            on_attempt=on_attempt,
        )

    async def async_step_select_codes(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what was found; let the user choose the data sets to publish."""
        result = self._result
        assert result is not None
        readout = result.readout
        if user_input is None:
            await self.async_set_unique_id(self._serial(readout))
            self._abort_if_unique_id_configured()
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input[CONF_CODES]:
                return self._async_create_meter_entry(result, list(user_input[CONF_CODES]))
            errors["base"] = "no_codes"
        values = readout_values(readout)
        names = await async_entity_names(self.hass)
        schema = vol.Schema(
            {
                vol.Required(CONF_CODES, default=catalog.preselect(values)): _codes_selector(
                    code_options(values, (), names)
                )
            }
        )
        return self.async_show_form(
            step_id="select_codes",
            data_schema=schema,
            errors=errors,
            description_placeholders=self._found_placeholders(result),
        )

    def _serial(self, readout: Readout) -> str:
        serial = serial_number(readout)
        assert serial is not None  # probe_meter only succeeds with data sets or an identification
        return serial

    def _found_placeholders(self, result: ProbeResult) -> dict[str, str]:
        data = self._identity(result)
        ident = result.readout.identification
        return {
            "manufacturer": data[CONF_MANUFACTURER] or "?",
            "model": data[CONF_MODEL] or "?",
            "serial": data[CONF_SERIAL_NUMBER],
            "identification": ident.raw if ident else "?",
            "mode": result.settings.mode,
            "baudrate": str(result.readout.baudrate or result.settings.baudrate or "?"),
            "read_time": _read_time_text(result.duration),
            "count": str(len(readout_values(result.readout))),
        }

    def _identity(self, result: ProbeResult) -> dict[str, Any]:
        """entry.data: where the meter is and who it is (maker's name from the FLAG id)."""
        ident = result.readout.identification
        flag = ident.manufacturer if ident else ""
        return {
            CONF_PORT: self._input[CONF_PORT],
            CONF_SERIAL_NUMBER: self._serial(result.readout),
            CONF_IDENTIFICATION: ident.raw if ident else "",
            CONF_MANUFACTURER: catalog.manufacturer_name(flag) if flag else "",
            CONF_MODEL: ident.model.strip() if ident else "",
        }

    def _async_create_meter_entry(self, result: ProbeResult, codes: list[str]) -> ConfigFlowResult:
        data = self._identity(result)
        title = " ".join(part for part in (data[CONF_MANUFACTURER], data[CONF_MODEL]) if part)
        options = {
            CONF_UPDATE_INTERVAL: default_update_interval(result.duration),
            CONF_CODES: codes,
            **options_from_settings(result.settings),
            CONF_READ_TIME: round(result.duration, 3),
        }
        return self.async_create_entry(
            title=title or data[CONF_SERIAL_NUMBER], data=data, options=options
        )

    # --- reconfigure flow -------------------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the port or the protocol settings of a configured meter."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            self._input = user_input
            if self._settings_valid():
                return await self.async_step_probe()
        suggested = self._input or {
            CONF_PORT: entry.data[CONF_PORT],
            ADVANCED: _entry_advanced(entry),
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(_port_schema(), suggested),
            errors=self._errors,
            description_placeholders={"title": entry.title},
        )

    async def async_step_reconfigure_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Same meter: store the new port and settings and reload; another meter: abort."""
        entry = self._get_reconfigure_entry()
        result = self._result
        assert result is not None
        await self.async_set_unique_id(self._serial(result.readout), raise_on_progress=False)
        try:
            self._abort_if_unique_id_mismatch()
        except AbortFlow:
            await self._async_restore_entry()
            raise
        interval = int(entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL))
        if interval < result.duration:
            interval = default_update_interval(result.duration)
        options = {
            **entry.options,
            **options_from_settings(result.settings),
            CONF_UPDATE_INTERVAL: interval,
            CONF_READ_TIME: round(result.duration, 3),
        }
        self._entry_unloaded = False  # The reload below sets the entry up again.
        return self.async_update_reload_and_abort(
            entry, data_updates=self._identity(result), options=options
        )

    async def _async_free_port(self) -> None:
        """Unload the entry so its coordinator closes the port the probe needs."""
        entry = self._get_reconfigure_entry()
        if entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_RETRY):
            await self.hass.config_entries.async_unload(entry.entry_id)
            self._entry_unloaded = True

    async def _async_restore_entry(self) -> None:
        """Set the entry up again if this flow unloaded it."""
        if not self._entry_unloaded:
            return
        self._entry_unloaded = False
        await self.hass.config_entries.async_reload(self._get_reconfigure_entry().entry_id)

    async def _async_restore_after(self, task: asyncio.Task[ProbeResult] | None) -> None:
        if task is not None:
            await asyncio.wait([task])  # The cancelled probe closes the port first.
        await self._async_restore_entry()

    @override
    @callback
    def async_remove(self) -> None:
        """The flow ends: if it was closed while the entry was unloaded, set the entry up again."""
        if self._entry_unloaded:
            self.hass.async_create_task(
                self._async_restore_after(self._probe_task), f"{DOMAIN} restore entry"
            )


class DlmsOptionsFlow(OptionsFlowWithReload):
    """Update interval, data sets and protocol settings (saved options reload the entry)."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form with everything; the advanced settings collapsed."""
        entry = self.config_entry
        read_time = _last_read_time(entry)
        errors: dict[str, str] = {}
        if user_input is not None:
            interval = int(user_input[CONF_UPDATE_INTERVAL])
            if interval < read_time:
                errors[CONF_UPDATE_INTERVAL] = "interval_too_short"
            elif not user_input[CONF_CODES]:
                errors[CONF_CODES] = "no_codes"
            elif not _valid_settings(user_input[ADVANCED]):
                errors["base"] = "invalid_address"
            else:
                return self.async_create_entry(
                    data={
                        **entry.options,
                        CONF_UPDATE_INTERVAL: interval,
                        CONF_CODES: list(user_input[CONF_CODES]),
                        CONF_MAX_POWER: float(user_input.get(CONF_MAX_POWER) or 0),
                        **user_input[ADVANCED],
                    }
                )
        values = _coordinator_values(entry)
        names = await async_entity_names(self.hass)
        schema = vol.Schema(
            {
                vol.Required(CONF_UPDATE_INTERVAL): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_UPDATE_INTERVAL,
                        max=MAX_UPDATE_INTERVAL,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Required(CONF_CODES): _codes_selector(
                    code_options(values, entry.options.get(CONF_CODES, []), names)
                ),
                # value guard (energy): kW the totals may grow at; 0 = derived from the meter
                vol.Optional(CONF_MAX_POWER): NumberSelector(
                    NumberSelectorConfig(
                        min=0,
                        max=100000,
                        step=1,
                        unit_of_measurement="kW",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Required(ADVANCED): section(_advanced_schema(), {"collapsed": True}),
            }
        )
        suggested = user_input or {
            CONF_UPDATE_INTERVAL: entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL),
            CONF_CODES: entry.options.get(CONF_CODES, []),
            CONF_MAX_POWER: entry.options.get(CONF_MAX_POWER, 0),
            ADVANCED: _entry_advanced(entry),
        }
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders={"read_time": _read_time_text(read_time)},
        )


def _valid_settings(advanced: Mapping[str, Any]) -> bool:
    """Whether the library accepts the advanced settings (it refuses odd device addresses)."""
    try:
        settings_from_options(advanced)
    except ValueError:
        return False
    return True


def _last_read_time(entry: DlmsConfigEntry) -> float:
    """The last measured read duration: the running coordinator's, else the one from the probe."""
    if entry.state is ConfigEntryState.LOADED and (measured := entry.runtime_data.last_read_time):
        return measured
    return float(entry.options.get(CONF_READ_TIME, 0.0))


def _coordinator_values(entry: DlmsConfigEntry) -> dict[str, Value | None]:
    """The data sets of the running coordinator's last readout (none if not loaded or not read)."""
    if entry.state is ConfigEntryState.LOADED and entry.runtime_data.readout is not None:
        return readout_values(entry.runtime_data.readout)
    return {}
