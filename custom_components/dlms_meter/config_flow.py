"""Config flow for dlms_meter: pick a port, probe the meter, choose its data sets.

User flow: ``user`` (port + collapsed advanced settings; a port another entry uses is refused
before anything is read) -> ``probe`` (progress; tries fallbacks, see probe.py) ->
``select_codes`` (a meter that is already configured is recognised here, before the picker;
otherwise every data set found, grouped, energy and power pre-selected) -> entry. The entry
starts from the probe's readout (``hass.data[DOMAIN][PROBE_READOUTS]``), so it is not read
twice. A failed probe returns to ``user`` with a translated error and the input kept.

Reconfigure flow: ``reconfigure`` -> ``probe`` -> ``reconfigure_finish``. Ports are exclusive, so
the probe first unloads the entry; whenever the flow ends without updating the entry (probe failed,
other meter, dialog closed) the entry is set up again.

Options flow: update interval (not shorter than the last read), data sets, advanced settings.

Entry versions: 1 stored the protocol mode as the standard's letter ("C"); 2 stores the
lowercase selector key ("c", hassfest's rule for option keys). :func:`async_migrate` converts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
import hashlib
import logging
import math
import re
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
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
    CONF_MAX_POWER,
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
    HEAT_METER_UPDATE_INTERVAL,
    MIN_UPDATE_INTERVAL,
    PROBE_READOUTS,
)
from .coordinator import DATA_READER
from .iec62056 import Checksum, DataSet, Iec62056Error, Readout, parse_obis
from .iec62056.redact import mask_port
from .probe import (
    BAUDRATE_AUTO,
    BAUDRATES,
    MAX_ATTEMPTS,
    MODE_AUTO,
    MODES,
    ProbeResult,
    answer_baudrate,
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

# The picker's groups, in the order shown; each is a field of the picker step (data sets that
# no group claims are meter information). PRESELECTED_GROUPS are ticked by default.
GROUP_ENERGY: Final = "energy"
GROUP_POWER: Final = "power"
GROUP_GRID: Final = "grid_quality"
GROUP_HISTORY: Final = "history"
GROUP_INFO: Final = "meter_info"
GROUPS: Final = (GROUP_ENERGY, GROUP_POWER, GROUP_GRID, GROUP_HISTORY, GROUP_INFO)
PRESELECTED_GROUPS: Final = frozenset({GROUP_ENERGY, GROUP_POWER})
_POWER_CLASSES: Final = frozenset(
    {
        SensorDeviceClass.POWER,
        SensorDeviceClass.REACTIVE_POWER,
        SensorDeviceClass.APPARENT_POWER,
    }
)
_GRID_CLASSES: Final = frozenset(
    {
        SensorDeviceClass.VOLTAGE,
        SensorDeviceClass.CURRENT,
        SensorDeviceClass.FREQUENCY,
        SensorDeviceClass.POWER_FACTOR,
    }
)

# "EMH metering ----eHZ-E0018E": runs of filler characters in identification texts.
_FILLER_EDGES: Final = re.compile(r"^[\s._-]+|[\s._-]+$")
_FILLER_RUN: Final = re.compile(r"[._-]*\s[\s._-]*|[._-]{2,}")


def default_update_interval(read_time: float, *, heat_meter: bool = False) -> int:
    """Twice the read time, at least the old plugin's 60 s: the port is never busy all the time.

    A battery heat meter (one that answers at another rate) is read once a day: every read
    costs battery.
    """
    floor = HEAT_METER_UPDATE_INTERVAL if heat_meter else DEFAULT_UPDATE_INTERVAL
    return max(floor, math.ceil(read_time * 2))


def error_key(err: Exception) -> str:
    """The translation key (config.error.*) for an error of a probe."""
    kind = err.kind if isinstance(err, Iec62056Error) else ""
    return kind if kind in ERROR_KINDS else "unknown"


def clean_text(text: str) -> str:
    """An identification text without filler: ``----eHZ-E0018E`` -> ``eHZ-E0018E``.

    Runs of ``-``, ``_``, ``.`` and spaces at the edges go; inside, a run with a space or of
    two or more filler characters becomes one space; a single ``-`` or ``.`` stays.
    """
    return _FILLER_RUN.sub(" ", _FILLER_EDGES.sub("", text))


# --- identity -------------------------------------------------------------------------------
# Replace with iec62056.identity once the probe branch is merged (contract 5): it keeps
# probe.serial_number as the serial-number order and provides the fallback below.


def meter_serial(readout: Readout) -> str | None:
    """The meter's serial number from its id registers; None if it sends none.

    ``probe.serial_number`` falls back to the identification text, which is no serial number
    (every meter of a model sends the same): that fallback is not taken as one here.
    """
    serial = serial_number(readout)
    ident = readout.identification
    if serial is None or (ident is not None and serial == ident.raw.strip()):
        return None
    return serial


def fallback_unique_id(readout: Readout, port: str) -> str:
    """A unique id for a meter without a serial number: its identification plus its port.

    Two meters of one model differ only in where they are connected; the port is hashed
    (after masking any credentials), so no part of it (let alone a secret) shows.
    """
    ident = readout.identification
    text = clean_text(ident.raw) if ident is not None else ""
    digest = hashlib.sha256(mask_port(port).encode()).hexdigest()[:10]
    return f"{text or 'meter'}-{digest}"


def legacy_unique_id(readout: Readout) -> str | None:
    """The unique id entries of version 1 got: C.1.0, else 0.0.0, else the identification."""
    for pattern in ("96.1.0", "0.0.0"):
        for dataset in readout.datasets:
            code = dataset.obis
            value = dataset.values[0].value.strip() if dataset.values else ""
            if code is not None and code.matches(pattern) and value:
                return value
    ident = readout.identification
    return ident.raw.strip() or None if ident is not None else None


# --- form parts -------------------------------------------------------------------------------


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


def _advanced_section() -> section:
    """The collapsed advanced section: optional, without a default of its own.

    Optional, so API clients may post only the port (the steps fill in the defaults); no
    default of its own, so the frontend fills in the defaults of its fields (a ``{}`` default
    hid them: "Not all required fields are filled in").
    """
    return section(_advanced_schema(), {"collapsed": True})


def _port_schema() -> vol.Schema:
    """Port plus the collapsed advanced section (user and reconfigure steps)."""
    return vol.Schema(
        {
            vol.Required(CONF_PORT): SerialPortSelector(),
            vol.Optional(ADVANCED): _advanced_section(),
        }
    )


def with_advanced_defaults(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """The input with the advanced section complete (defaults for what was not posted)."""
    advanced: dict[str, Any] = _advanced_schema()(dict(user_input.get(ADVANCED) or {}))
    return {**user_input, ADVANCED: advanced}


def _interval_selector() -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=MIN_UPDATE_INTERVAL,
            max=MAX_UPDATE_INTERVAL,
            step=1,
            unit_of_measurement="s",
            mode=NumberSelectorMode.BOX,
        )
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


# --- the picker -------------------------------------------------------------------------------


def readout_datasets(readout: Readout) -> dict[str, DataSet]:
    """Data-set key -> data set, in the meter's order (catalog.datasets_by_key decides keys)."""
    return {key: dataset for key, dataset in catalog.datasets_by_key(readout).items() if key}


async def async_entity_names(hass: HomeAssistant) -> dict[str, str]:
    """Translated sensor names (translation key -> text) in the user's language."""
    translations = await async_get_translations(hass, hass.config.language, "entity", [DOMAIN])
    prefix, suffix = f"component.{DOMAIN}.entity.sensor.", ".name"
    return {
        key.removeprefix(prefix).removesuffix(suffix): text
        for key, text in translations.items()
        if key.startswith(prefix) and key.endswith(suffix)
    }


def code_group(key: str, unit: str | None) -> str:
    """The picker group of a data set: energy, power, grid quality, history, meter information.

    Derived from the catalog's description (device and state class); a catalog function that
    names the group replaces this once it exists.
    """
    if catalog.is_history(parse_obis(key)):
        return GROUP_HISTORY
    spec = catalog.describe(key, unit)
    if spec.state_class is SensorStateClass.TOTAL_INCREASING:
        return GROUP_ENERGY
    if spec.device_class in _POWER_CLASSES:
        return GROUP_POWER
    if spec.device_class in _GRID_CLASSES:
        return GROUP_GRID
    if spec.diagnostic or not spec.numeric:
        return GROUP_INFO
    return GROUP_POWER  # other momentary values: temperatures, flow


def code_label(key: str, dataset: DataSet | None, names: Mapping[str, str]) -> str:
    """``1.8.1*02 (1.8.1*2) Energy import tariff 1 — 12345.6 kWh``.

    The address as the meter wrote it (the key for a code no longer sent), the key where it
    differs, the translated name if the catalog knows the code, and the value as sent.
    """
    value = dataset.values[0] if dataset is not None and dataset.values else None
    written = dataset.address.strip() if dataset is not None else key
    parts = [written] if written == key else [written, f"({key})"]
    spec = catalog.describe(key, value.unit if value else None)
    if spec.translation_key != catalog.GENERIC_KEY and (name := names.get(spec.translation_key)):
        try:
            parts.append(name.format(**spec.placeholders))
        except KeyError, IndexError, ValueError:
            parts.append(name)
    if value is not None and (text := value.value.strip()):
        parts.append(f"— {text} {value.unit}" if value.unit else f"— {text}")
    return " ".join(parts)


def picker_options(
    datasets: Mapping[str, DataSet], extra: Iterable[str], names: Mapping[str, str]
) -> dict[str, list[SelectOptionDict]]:
    """Group -> options for the data sets found plus ``extra`` keys (chosen, no longer sent)."""
    grouped: dict[str, list[SelectOptionDict]] = {group: [] for group in GROUPS}
    for key, dataset in datasets.items():
        value = dataset.values[0] if dataset.values else None
        grouped[code_group(key, value.unit if value else None)].append(
            SelectOptionDict(value=key, label=code_label(key, dataset, names))
        )
    for key in dict.fromkeys(extra):
        if key not in datasets:
            grouped[code_group(key, None)].append(
                SelectOptionDict(value=key, label=code_label(key, None, names))
            )
    return {group: options for group, options in grouped.items() if options}


def preselected(datasets: Mapping[str, DataSet]) -> list[str]:
    """Energy and power data sets the catalog chooses by default."""
    chosen = set(catalog.preselect(datasets))
    return [
        key
        for key, dataset in datasets.items()
        if key in chosen
        and code_group(key, dataset.values[0].unit if dataset.values else None)
        in PRESELECTED_GROUPS
    ]


def picker_schema(
    options: Mapping[str, list[SelectOptionDict]], chosen: Iterable[str]
) -> dict[vol.Optional, SelectSelector]:
    """One multi-select field per group, ticked where ``chosen``."""
    wanted = set(chosen)
    return {
        vol.Optional(
            group, default=[o["value"] for o in group_options if o["value"] in wanted]
        ): _codes_selector(group_options)
        for group, group_options in options.items()
    }


def chosen_codes(user_input: Mapping[str, Any]) -> list[str]:
    """The keys ticked in all groups (groups in their order, no duplicates)."""
    return list(dict.fromkeys(key for group in GROUPS for key in user_input.get(group) or ()))


def _port_users(hass: HomeAssistant, port: str, *, exclude: str | None = None) -> str | None:
    """The title of another entry that reads ``port`` (the same path), if any."""
    wanted = port.strip()
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.entry_id != exclude and str(entry.data.get(CONF_PORT, "")).strip() == wanted:
            return entry.title
    return None


def _store_readout(hass: HomeAssistant, unique_id: str, readout: Readout) -> None:
    """Hand the probe's readout to the entry's set-up (contract 8: it pops it)."""
    hass.data.setdefault(DOMAIN, {}).setdefault(PROBE_READOUTS, {})[unique_id] = readout


class DlmsMeterConfigFlow(ConfigFlow, domain=DOMAIN):
    """Handle a config flow for dlms_meter."""

    VERSION = 2
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing entered and nothing probed."""
        self._input: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._placeholders: dict[str, str] = {}
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
            self._input = with_advanced_defaults(user_input)
            if self._input_valid():
                return await self.async_step_probe()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_port_schema(), self._input),
            errors=self._errors,
            description_placeholders=self._placeholders,
        )

    async def async_step_probe(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Read the meter (with fallbacks) while showing progress."""
        if self._probe_task is None:
            self._errors = {}
            self._placeholders = {}
            self._probe_task = self.hass.async_create_task(
                self._async_probe(), f"{DOMAIN} probe {mask_port(self._input[CONF_PORT])}"
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
                _LOGGER.exception(
                    "Unexpected error while probing %s", mask_port(self._input[CONF_PORT])
                )
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
            description_placeholders={"port": mask_port(self._input[CONF_PORT])},
        )

    def _input_valid(self) -> bool:
        """Refuse, before any read, what cannot work: an odd device address, a port in use."""
        self._errors, self._placeholders = {}, {}
        if not _valid_settings(self._input[ADVANCED]):
            self._errors = {"base": "invalid_address"}
            return False
        exclude = self._entry_being_reconfigured()
        if (title := _port_users(self.hass, self._input[CONF_PORT], exclude=exclude)) is not None:
            self._errors = {CONF_PORT: "port_in_use"}
            self._placeholders = {"title": title}
            return False
        return True

    def _entry_being_reconfigured(self) -> str | None:
        if self.source != SOURCE_RECONFIGURE:
            return None
        return self._get_reconfigure_entry().entry_id

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
            read=self.hass.data.get(DATA_READER),
        )

    async def async_step_select_codes(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what was found; let the user choose the data sets to publish."""
        result = self._result
        assert result is not None
        readout = result.readout
        if user_input is None:
            # The serial number is known now, before the picker: a meter configured already
            # (on whatever port) ends the flow here.
            unique_id = self._unique_id(result)
            await self.async_set_unique_id(unique_id)
            if existing := self.hass.config_entries.async_entry_for_domain_unique_id(
                DOMAIN, unique_id
            ):
                return self.async_abort(
                    reason="meter_already_configured",
                    description_placeholders={
                        "title": existing.title,
                        "serial": meter_serial(readout) or "?",
                    },
                )
        heat_meter = answer_baudrate(result.settings) is not None
        errors: dict[str, str] = {}
        interval = default_update_interval(result.duration, heat_meter=heat_meter)
        datasets = readout_datasets(readout)
        chosen = preselected(datasets)
        if user_input is not None:
            chosen = chosen_codes(user_input)
            interval = int(user_input.get(CONF_UPDATE_INTERVAL, interval))
            if not chosen:
                errors["base"] = "no_codes"
            elif interval < result.duration:
                errors[CONF_UPDATE_INTERVAL] = "interval_too_short"
            else:
                return self._async_create_meter_entry(result, chosen, interval)
        names = await async_entity_names(self.hass)
        schema = vol.Schema(
            {
                vol.Required(CONF_UPDATE_INTERVAL, default=interval): _interval_selector(),
                **picker_schema(picker_options(datasets, (), names), chosen),
            }
        )
        return self.async_show_form(
            step_id="select_codes",
            data_schema=schema,
            errors=errors,
            description_placeholders=self._found_placeholders(result),
        )

    def _unique_id(self, result: ProbeResult) -> str:
        """The meter's serial number; without one, its identification plus its port."""
        return meter_serial(result.readout) or fallback_unique_id(
            result.readout, self._input[CONF_PORT]
        )

    def _found_placeholders(self, result: ProbeResult) -> dict[str, str]:
        data = self._identity(result)
        ident = result.readout.identification
        return {
            "manufacturer": data[CONF_MANUFACTURER] or "?",
            "model": data[CONF_MODEL] or "?",
            "serial": data[CONF_SERIAL_NUMBER] or "?",
            "identification": ident.raw if ident else "?",
            "mode": str(result.settings.mode),
            "baudrate": str(result.readout.baudrate or result.settings.baudrate or "?"),
            "read_time": _read_time_text(result.duration),
            "count": str(len(readout_datasets(result.readout))),
        }

    def _identity(self, result: ProbeResult) -> dict[str, Any]:
        """entry.data: where the meter is and who it is (maker's name from the FLAG id)."""
        ident = result.readout.identification
        flag = ident.manufacturer if ident else ""
        return {
            CONF_PORT: self._input[CONF_PORT],
            CONF_SERIAL_NUMBER: meter_serial(result.readout) or "",
            CONF_IDENTIFICATION: ident.raw if ident else "",
            CONF_MANUFACTURER: clean_text(catalog.manufacturer_name(flag)) if flag else "",
            CONF_MODEL: clean_text(ident.model) if ident else "",
        }

    def _title(self, data: Mapping[str, Any]) -> str:
        """Maker and model; with the serial number where another entry has the same title."""
        title = " ".join(part for part in (data[CONF_MANUFACTURER], data[CONF_MODEL]) if part)
        serial = data[CONF_SERIAL_NUMBER]
        if not title:
            return serial or f"IEC 62056-21 meter on {mask_port(data[CONF_PORT])}"
        taken = {entry.title for entry in self.hass.config_entries.async_entries(DOMAIN)}
        if title in taken:
            return f"{title} {serial or self.unique_id}"
        return title

    def _async_create_meter_entry(
        self, result: ProbeResult, codes: list[str], interval: int
    ) -> ConfigFlowResult:
        data = self._identity(result)
        options = {
            CONF_UPDATE_INTERVAL: interval,
            CONF_CODES: codes,
            **options_from_settings(result.settings),
            CONF_READ_TIME: round(result.duration, 3),
        }
        assert self.unique_id is not None
        _store_readout(self.hass, self.unique_id, result.readout)
        return self.async_create_entry(title=self._title(data), data=data, options=options)

    # --- reconfigure flow -------------------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the port or the protocol settings of a configured meter."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            self._input = with_advanced_defaults(user_input)
            if self._input_valid():
                return await self.async_step_probe()
        suggested = self._input or {
            CONF_PORT: entry.data[CONF_PORT],
            ADVANCED: _entry_advanced(entry),
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(_port_schema(), suggested),
            errors=self._errors,
            description_placeholders={"title": entry.title, **self._placeholders},
        )

    async def async_step_reconfigure_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Same meter: store the new port and settings and reload; another meter: abort.

        The same meter is the one with the entry's unique id, by today's rule or by the rule
        the entry was made with (version 1 took the identification text when a meter sends
        no C.1.0/0.0.0); a meter without a serial number by its identification text. The
        entry keeps its unique id and serial number, so its entities keep theirs.
        """
        entry = self._get_reconfigure_entry()
        result = self._result
        assert result is not None
        readout = result.readout
        ident = readout.identification
        same = (
            entry.unique_id is not None
            and entry.unique_id in (self._unique_id(result), legacy_unique_id(readout))
        ) or (
            not entry.data.get(CONF_SERIAL_NUMBER)
            and meter_serial(readout) is None
            and ident is not None
            and ident.raw == entry.data.get(CONF_IDENTIFICATION)
        )
        if not same:
            await self._async_restore_entry()
            raise AbortFlow("unique_id_mismatch")
        interval = int(entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL))
        if interval < result.duration:
            interval = default_update_interval(result.duration)
        options = {
            **entry.options,
            **options_from_settings(result.settings),
            CONF_UPDATE_INTERVAL: interval,
            CONF_READ_TIME: round(result.duration, 3),
        }
        data = self._identity(result)
        data[CONF_SERIAL_NUMBER] = entry.data.get(CONF_SERIAL_NUMBER, "")
        if entry.unique_id is not None:
            _store_readout(self.hass, entry.unique_id, readout)
        self._entry_unloaded = False  # The reload below sets the entry up again.
        return self.async_update_reload_and_abort(entry, data_updates=data, options=options)

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
            user_input = with_advanced_defaults(user_input)
            interval = int(user_input[CONF_UPDATE_INTERVAL])
            codes = chosen_codes(user_input)
            if interval < read_time:
                errors[CONF_UPDATE_INTERVAL] = "interval_too_short"
            elif not codes:
                errors["base"] = "no_codes"
            elif not _valid_settings(user_input[ADVANCED]):
                errors["base"] = "invalid_address"
            else:
                return self.async_create_entry(
                    data={
                        **entry.options,
                        CONF_UPDATE_INTERVAL: interval,
                        CONF_CODES: codes,
                        CONF_MAX_POWER: float(user_input.get(CONF_MAX_POWER) or 0),
                        **user_input[ADVANCED],
                    }
                )
        datasets = _coordinator_datasets(entry)
        names = await async_entity_names(self.hass)
        stored = list(entry.options.get(CONF_CODES, []))
        chosen = chosen_codes(user_input) if user_input is not None else stored
        schema = vol.Schema(
            {
                vol.Required(CONF_UPDATE_INTERVAL): _interval_selector(),
                **picker_schema(picker_options(datasets, stored, names), chosen),
                # value guard: kW the totals may grow at; 0 = derived from the meter
                vol.Optional(CONF_MAX_POWER): NumberSelector(
                    NumberSelectorConfig(
                        min=0,
                        max=100000,
                        step=1,
                        unit_of_measurement="kW",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Optional(ADVANCED): _advanced_section(),
            }
        )
        suggested = user_input or {
            CONF_UPDATE_INTERVAL: entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL),
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


def _coordinator_datasets(entry: DlmsConfigEntry) -> dict[str, DataSet]:
    """The data sets of the running coordinator's last readout (none if not loaded or not read)."""
    if entry.state is ConfigEntryState.LOADED and entry.runtime_data.readout is not None:
        return readout_datasets(entry.runtime_data.readout)
    return {}


async def async_migrate(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Bring an entry to the current version (called by ``async_migrate_entry``).

    1 -> 2: the protocol mode as a lowercase selector key ("C" -> "c"). (Home Assistant itself
    refuses an entry of a newer version than this code knows, after a downgrade.)
    """
    if entry.version == 1:
        options = dict(entry.options)
        if isinstance(mode := options.get(CONF_MODE), str):
            options[CONF_MODE] = mode.lower()
        hass.config_entries.async_update_entry(
            entry,
            options=options,
            version=DlmsMeterConfigFlow.VERSION,
            minor_version=DlmsMeterConfigFlow.MINOR_VERSION,
        )
    return True
