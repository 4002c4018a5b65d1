"""Config flow for dlms_meter: pick a port, probe the meter, choose its data sets.

User flow: ``user`` (port + collapsed advanced settings; on a port another entry uses, the meter
is added by device address in the ``address`` step, a bus of meters; refused before anything is
read if an entry on that port has no address) -> ``probe`` (progress; tries fallbacks, see
probe.py) ->
``select_codes`` (the probe's one short register session marks the codes that can be read fast;
a meter that is already configured is recognised here, before the picker;
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
import dataclasses
import logging
import math
import re
import time
from typing import TYPE_CHECKING, Any, Final, override

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
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.translation import async_get_translations

from . import catalog
from .const import (
    CONF_ADDRESS,
    CONF_BAUDRATE,
    CONF_CHECKSUM,
    CONF_CODES,
    CONF_FAST_CAPABLE,
    CONF_FAST_CODES,
    CONF_FAST_INTERVAL,
    CONF_FAST_READ_TIME,
    CONF_IDENTIFICATION,
    CONF_MANUFACTURER,
    CONF_MAX_POWER,
    CONF_MODE,
    CONF_MODEL,
    CONF_NO_WAITING,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_READ_TIME,
    CONF_RESET_BAUDRATE,
    CONF_SERIAL_NUMBER,
    CONF_UPDATE_INTERVAL,
    CONF_WAKEUP,
    DEFAULT_FAST_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    ERROR_KINDS,
    FAST_PROBE_CODES,
    HEAT_METER_UPDATE_INTERVAL,
    MIN_FAST_INTERVAL,
    MIN_UPDATE_INTERVAL,
    PROBE_READOUTS,
    QUIET_TIME,
)
from .coordinator import port_reader, register_reader
from .iec62056 import Checksum, Iec62056Error, Mode, Readout
from .iec62056.identity import is_same_meter, serial_number, unique_id_for
from .iec62056.port import normalize_address
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
#: The probe's one short register session may take this long at most (then: no fast values).
FAST_PROBE_TIMEOUT: Final = 15.0
#: Marks the data sets that can be read fast (register reads) in the picker's labels.
FAST_MARK: Final = "⚡"

# The picker: one field per catalog group (catalog.GROUPS order); the field keys are the
# translation keys of config.step.select_codes.data and options.step.init.data.
GROUP_FIELDS: Final[Mapping[catalog.Group, str]] = {
    catalog.Group.ENERGY: "energy",
    catalog.Group.POWER: "power",
    catalog.Group.GRID_QUALITY: "grid_quality",
    catalog.Group.HISTORY: "history",
    catalog.Group.METER_INFORMATION: "meter_info",
    catalog.Group.OTHER: "other",
}
PICKER_FIELDS: Final = tuple(GROUP_FIELDS[group] for group in catalog.GROUPS)
#: The groups whose pre-selected data sets are ticked by default: energy and power.
PRESELECTED_GROUPS: Final = frozenset({catalog.Group.ENERGY, catalog.Group.POWER})

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
            # programming-mode password for register reads; never shown again (empty: keep)
            vol.Optional(CONF_PASSWORD, default=""): TextSelector(
                TextSelectorConfig(type=TextSelectorType.PASSWORD)
            ),
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
    """The advanced settings stored in an entry, in form shape (never the password)."""
    return {key: entry.options[key] for key in ADVANCED_KEYS if key in entry.options}


def min_fast_interval(session_time: float) -> int:
    """The shortest fast interval: one register session plus the quiet time (whole seconds)."""
    return max(1, math.ceil(session_time + QUIET_TIME))


def fast_candidates(readout: Readout) -> list[catalog.DataSetEntry]:
    """What the probe tries to read by register: pre-selected power, then energy (a few)."""
    chosen = set(catalog.preselect(catalog.readout_values(readout)))
    found = [
        entry
        for entry in catalog.entries(readout)
        if entry.index == 1 and entry.key in chosen and entry.group in PRESELECTED_GROUPS
    ]
    found.sort(key=lambda entry: entry.group is not catalog.Group.POWER)
    return found[:FAST_PROBE_CODES]


def _fast_interval_selector() -> NumberSelector:
    """Seconds; the lower limit (the measured session) is checked with a translated error."""
    return NumberSelector(
        NumberSelectorConfig(
            min=MIN_FAST_INTERVAL,
            max=MAX_UPDATE_INTERVAL,
            step=1,
            unit_of_measurement="s",
            mode=NumberSelectorMode.BOX,
        )
    )


def fast_schema(
    capable: Mapping[str, str], labels: Mapping[str, str], chosen: Iterable[str]
) -> dict[vol.Optional, Any]:
    """The fast-value fields: which of the fast-capable codes, and how often (if any can)."""
    if not capable:
        return {}
    options = [SelectOptionDict(value=key, label=labels.get(key, key)) for key in capable]
    wanted = [key for key in chosen if key in capable]
    return {
        vol.Optional(CONF_FAST_CODES, default=wanted): _codes_selector(options),
        vol.Optional(CONF_FAST_INTERVAL): _fast_interval_selector(),
    }


def mark_fast(
    options: dict[str, list[SelectOptionDict]], capable: Mapping[str, str]
) -> dict[str, list[SelectOptionDict]]:
    """The picker's options with the fast-capable data sets marked."""
    return {
        field: [
            SelectOptionDict(value=o["value"], label=f"{o['label']} {FAST_MARK}")
            if o["value"] in capable
            else o
            for o in field_options
        ]
        for field, field_options in options.items()
    }


def _labels(options: Mapping[str, list[SelectOptionDict]]) -> dict[str, str]:
    return {o["value"]: o["label"] for field_options in options.values() for o in field_options}


async def async_probe_registers(
    hass: HomeAssistant, port: str, settings: Any, readout: Readout, password: str | None
) -> tuple[dict[str, str], float]:
    """One short register session: which codes the meter reads without (or with the) password.

    Returns ``{key: code as written}`` of the codes it answered and how long the session took;
    a meter that is not read in mode C, has no programming mode, wants a password or fails in
    any other way gives ``({}, 0.0)``: never an error, never more than one session.
    """
    if str(settings.mode) != Mode.C:
        return {}, 0.0
    candidates = fast_candidates(readout)
    if not candidates:
        return {}, 0.0
    reader = register_reader(hass)
    started = time.monotonic()
    try:
        async with asyncio.timeout(FAST_PROBE_TIMEOUT):
            answer = await reader(
                port,
                dataclasses.replace(settings, mode=Mode.C),
                [entry.address for entry in candidates],
                password,
            )
    except Exception as err:  # a failure here never fails the probe
        kind = err.kind if isinstance(err, Iec62056Error) else type(err).__name__
        _LOGGER.debug("%s: no register reads (%s)", mask_port(port), kind)
        return {}, 0.0
    duration = time.monotonic() - started
    answered = {dataset.address for dataset in answer.datasets if dataset.values}
    return {e.key: e.address for e in candidates if e.address in answered}, duration


# --- the picker -------------------------------------------------------------------------------


async def async_entity_names(hass: HomeAssistant) -> dict[str, str]:
    """Translated sensor names (translation key -> text) in the user's language."""
    translations = await async_get_translations(hass, hass.config.language, "entity", [DOMAIN])
    prefix, suffix = f"component.{DOMAIN}.entity.sensor.", ".name"
    return {
        key.removeprefix(prefix).removesuffix(suffix): text
        for key, text in translations.items()
        if key.startswith(prefix) and key.endswith(suffix)
    }


def _name_text(key: str, unit: str | None, names: Mapping[str, str]) -> str | None:
    """The translated name of the register ``key`` belongs to (history named like its register)."""
    translation_key, placeholders = catalog.name_of(key, unit)
    if translation_key == catalog.GENERIC_KEY or not (name := names.get(translation_key)):
        return None  # The code itself is shown already.
    try:
        return name.format(**placeholders)
    except KeyError, IndexError, ValueError:
        return name


def option_label(entry: catalog.DataSetEntry, names: Mapping[str, str]) -> str:
    """``1.8.1*02 (1.8.1*2) Energy import tariff 1 — 12345.6 kWh``.

    The code as the meter wrote it (with the normalised code where it differs), the translated
    name where the catalog knows the code, and the value as sent.
    """
    value = entry.value
    unit = value.unit if value is not None else None
    parts = [entry.code_text]
    if name := _name_text(entry.key, unit, names):
        parts.append(name)
    if value is not None and (text := value.value.strip()):
        parts.append(f"— {text} {unit}" if unit else f"— {text}")
    return " ".join(parts)


def _stored_label(key: str, names: Mapping[str, str]) -> str:
    """A chosen code the meter no longer sends: its key and name."""
    name = _name_text(key, None, names)
    return f"{key} {name}" if name else key


def picker_options(
    readout: Readout | None, stored: Iterable[str], names: Mapping[str, str]
) -> dict[str, list[SelectOptionDict]]:
    """Field -> options: every choice of the readout (catalog.entries, grouped) and the
    ``stored`` keys (chosen earlier). A stored key that the readout now holds under another key
    (catalog.current_key: ``1.6.0*1`` is ``1.6.0&1`` now) keeps its stored key as the value, so
    its entity keeps its unique id; a stored key the meter no longer sends is still offered.
    """
    choices = catalog.entries(readout) if readout is not None else []
    known = [choice.key for choice in choices]
    alias: dict[str, str] = {}
    missing: list[str] = []
    for key in dict.fromkeys(stored):
        current = catalog.current_key(key, known)
        if current in known:
            alias.setdefault(current, key)
        else:
            missing.append(key)
    options: dict[str, list[SelectOptionDict]] = {}
    for group, group_choices in catalog.grouped(choices).items():
        options[GROUP_FIELDS[group]] = [
            SelectOptionDict(value=alias.get(c.key, c.key), label=option_label(c, names))
            for c in group_choices
        ]
    for key in missing:
        field = GROUP_FIELDS[catalog.group(key)]
        options.setdefault(field, []).append(
            SelectOptionDict(value=key, label=_stored_label(key, names))
        )
    return {field: options[field] for field in PICKER_FIELDS if field in options}


def preselected(readout: Readout) -> list[str]:
    """What the catalog chooses by default, of the energy and power groups (issue 14)."""
    chosen = set(catalog.preselect(catalog.readout_values(readout)))
    return [
        choice.key
        for choice in catalog.entries(readout)
        if choice.key in chosen and choice.group in PRESELECTED_GROUPS
    ]


def picker_schema(
    options: Mapping[str, list[SelectOptionDict]], chosen: Iterable[str]
) -> dict[vol.Optional, SelectSelector]:
    """One multi-select field per group, ticked where ``chosen``."""
    wanted = set(chosen)
    return {
        vol.Optional(
            field, default=[o["value"] for o in field_options if o["value"] in wanted]
        ): _codes_selector(field_options)
        for field, field_options in options.items()
    }


def chosen_codes(user_input: Mapping[str, Any]) -> list[str]:
    """The keys ticked in all groups (groups in their order, no duplicates)."""
    return list(
        dict.fromkeys(key for field in PICKER_FIELDS for key in user_input.get(field) or ())
    )


def _port_users(hass: HomeAssistant, port: str, *, exclude: str | None = None) -> str | None:
    """The title of another entry that reads ``port`` (the same path), if any."""
    wanted = port.strip()
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.entry_id != exclude and str(entry.data.get(CONF_PORT, "")).strip() == wanted:
            return entry.title
    return None


def _port_entries(hass: HomeAssistant, port: str) -> list[ConfigEntry]:
    """Every entry that reads ``port`` (the same path)."""
    wanted = port.strip()
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if str(entry.data.get(CONF_PORT, "")).strip() == wanted
    ]


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
        self._fast_capable: dict[str, str] = {}
        self._fast_time = 0.0

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
            try:
                if self._input_valid():
                    return await self.async_step_probe()
            except _AskAddress:
                return await self.async_step_address()
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
            if exclude is None:  # adding a meter: a bus of meters, by device address
                if (untitled := self._entry_without_address()) is not None:
                    self._errors = {CONF_PORT: "port_in_use_no_address"}
                    self._placeholders = {"title": untitled}
                    return False
                raise _AskAddress
            self._errors = {CONF_PORT: "port_in_use"}
            self._placeholders = {"title": title}
            return False
        return True

    def _entry_without_address(self) -> str | None:
        """The title of an entry on the port that has no device address (a bus needs them)."""
        for entry in _port_entries(self.hass, self._input[CONF_PORT]):
            if not str(entry.options.get(CONF_ADDRESS, "")).strip():
                return entry.title
        return None

    async def async_step_address(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The port reads other meters: this one is added by its device address (a bus)."""
        entries = _port_entries(self.hass, self._input[CONF_PORT])
        errors: dict[str, str] = {}
        if user_input is not None:
            address = str(user_input.get(CONF_ADDRESS, "")).strip()
            taken = {
                normalize_address(str(entry.options.get(CONF_ADDRESS, "")).strip())
                for entry in entries
            }
            advanced = {**self._input[ADVANCED], CONF_ADDRESS: address}
            if not address or not _valid_settings(advanced):
                errors[CONF_ADDRESS] = "invalid_address"
            elif normalize_address(address) in taken:
                errors[CONF_ADDRESS] = "address_in_use"
            else:
                self._input = {**self._input, ADVANCED: advanced}
                return await self.async_step_probe()
        suggested = str(self._input[ADVANCED].get(CONF_ADDRESS, ""))
        return self.async_show_form(
            step_id="address",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Required(CONF_ADDRESS): TextSelector()}),
                {CONF_ADDRESS: suggested} if user_input is None else user_input,
            ),
            errors=errors,
            description_placeholders={
                "port": mask_port(self._input[CONF_PORT]),
                "titles": ", ".join(entry.title for entry in entries),
            },
        )

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

        result = await probe_meter(
            self._input[CONF_PORT],
            settings_from_options(advanced),
            try_other_modes=advanced.get(CONF_MODE, MODE_AUTO) == MODE_AUTO,
            on_attempt=on_attempt,
            read=port_reader(self.hass),
        )
        # fast values: one short register session for a few of the codes found (13.3)
        self._fast_capable, self._fast_time = await async_probe_registers(
            self.hass,
            self._input[CONF_PORT],
            result.settings,
            result.readout,
            str(advanced.get(CONF_PASSWORD) or "") or None,
        )
        return result

    async def async_step_select_codes(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what was found; let the user choose the data sets to publish."""
        result = self._result
        assert result is not None
        readout = result.readout
        if user_input is None:
            await self.async_set_unique_id(self._unique_id(result))
        if user_input is None and (existing := self._configured_entry(result)) is not None:
            # The serial number is known now, before the picker: a meter configured already
            # (on whatever port, under today's unique id or an earlier version's) ends here.
            return self.async_abort(
                reason="meter_already_configured",
                description_placeholders={
                    "title": existing.title,
                    "serial": serial_number(readout) or "?",
                },
            )
        heat_meter = answer_baudrate(result.settings) is not None
        errors: dict[str, str] = {}
        interval = default_update_interval(result.duration, heat_meter=heat_meter)
        chosen = preselected(readout)
        fast: list[str] = []
        minimum = min_fast_interval(self._fast_time)
        fast_interval = max(DEFAULT_FAST_INTERVAL, minimum)
        if user_input is not None:
            fast = [
                key for key in user_input.get(CONF_FAST_CODES) or () if key in self._fast_capable
            ]
            chosen = list(dict.fromkeys([*chosen_codes(user_input), *fast]))
            interval = int(user_input.get(CONF_UPDATE_INTERVAL, interval))
            fast_interval = int(user_input.get(CONF_FAST_INTERVAL, fast_interval))
            if not chosen:
                errors["base"] = "no_codes"
            elif interval < result.duration:
                errors[CONF_UPDATE_INTERVAL] = "interval_too_short"
            elif fast and fast_interval < minimum:
                errors[CONF_FAST_INTERVAL] = "fast_interval_too_short"
            else:
                return self._async_create_meter_entry(
                    result, chosen, interval, fast=fast, fast_interval=fast_interval
                )
        names = await async_entity_names(self.hass)
        options = mark_fast(picker_options(readout, (), names), self._fast_capable)
        schema = self.add_suggested_values_to_schema(
            vol.Schema(
                {
                    vol.Required(CONF_UPDATE_INTERVAL, default=interval): _interval_selector(),
                    **picker_schema(options, chosen),
                    **fast_schema(self._fast_capable, _labels(options), fast),
                }
            ),
            {CONF_FAST_INTERVAL: fast_interval},
        )
        return self.async_show_form(
            step_id="select_codes",
            data_schema=schema,
            errors=errors,
            description_placeholders=self._found_placeholders(result),
        )

    def _unique_id(self, result: ProbeResult) -> str:
        """The meter's serial number; without one, its identification plus a key of its port."""
        return unique_id_for(result.readout, self._input[CONF_PORT])

    def _configured_entry(self, result: ProbeResult) -> ConfigEntry | None:
        """The entry of this meter if it is configured already.

        Today's unique id, else an earlier version's (identity.is_same_meter: an id that was the
        identification text counts on the entry's own port only).
        """
        port = self._input[CONF_PORT]
        for entry in self.hass.config_entries.async_entries(DOMAIN):
            known = entry.unique_id
            if known is not None and is_same_meter(
                known, str(entry.data.get(CONF_PORT, "")), result.readout, port
            ):
                return entry
        return None

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
            "count": str(len(result.readout.datasets)),
            "fast": str(len(self._fast_capable)),
            "fast_mark": FAST_MARK,
        }

    def _identity(self, result: ProbeResult) -> dict[str, Any]:
        """entry.data: where the meter is and who it is (maker's name from the FLAG id)."""
        ident = result.readout.identification
        flag = ident.manufacturer if ident else ""
        return {
            CONF_PORT: self._input[CONF_PORT],
            CONF_SERIAL_NUMBER: serial_number(result.readout) or "",
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
        self,
        result: ProbeResult,
        codes: list[str],
        interval: int,
        *,
        fast: list[str],
        fast_interval: int,
    ) -> ConfigFlowResult:
        data = self._identity(result)
        options = {
            CONF_UPDATE_INTERVAL: interval,
            CONF_CODES: codes,
            **options_from_settings(result.settings),
            CONF_READ_TIME: round(result.duration, 3),
            CONF_PASSWORD: str(self._input[ADVANCED].get(CONF_PASSWORD) or ""),
            CONF_FAST_CAPABLE: dict(self._fast_capable),
            CONF_FAST_READ_TIME: round(self._fast_time, 3),
            CONF_FAST_CODES: fast,
            CONF_FAST_INTERVAL: fast_interval,
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
        # Today's rule or the rule the entry was made with (identity.is_same_meter, the head may
        # have moved to another port); a meter without a serial number also by the
        # identification the entry stored.
        same = (
            entry.unique_id is not None
            and is_same_meter(
                entry.unique_id,
                str(entry.data.get(CONF_PORT, "")),
                readout,
                self._input[CONF_PORT],
                allow_port_change=True,
            )
        ) or (
            not entry.data.get(CONF_SERIAL_NUMBER)
            and serial_number(readout) is None
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
            CONF_FAST_CAPABLE: dict(self._fast_capable),
            CONF_FAST_READ_TIME: round(self._fast_time, 3),
            CONF_FAST_CODES: [
                key for key in entry.options.get(CONF_FAST_CODES) or () if key in self._fast_capable
            ],
        }
        if password := str(self._input[ADVANCED].get(CONF_PASSWORD) or ""):
            options[CONF_PASSWORD] = password
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
        capable = _fast_capable(entry)
        minimum = min_fast_interval(float(entry.options.get(CONF_FAST_READ_TIME) or 0.0))
        errors: dict[str, str] = {}
        if user_input is not None:
            user_input = with_advanced_defaults(user_input)
            interval = int(user_input[CONF_UPDATE_INTERVAL])
            fast = [key for key in user_input.get(CONF_FAST_CODES) or () if key in capable]
            fast_interval = int(user_input.get(CONF_FAST_INTERVAL, DEFAULT_FAST_INTERVAL))
            codes = list(dict.fromkeys([*chosen_codes(user_input), *fast]))
            advanced = dict(user_input[ADVANCED])
            if not advanced.get(CONF_PASSWORD):  # empty: keep the stored password
                advanced[CONF_PASSWORD] = str(entry.options.get(CONF_PASSWORD) or "")
            if interval < read_time:
                errors[CONF_UPDATE_INTERVAL] = "interval_too_short"
            elif not codes:
                errors["base"] = "no_codes"
            elif not _valid_settings(advanced):
                errors["base"] = "invalid_address"
            elif fast and fast_interval < minimum:
                errors[CONF_FAST_INTERVAL] = "fast_interval_too_short"
            else:
                return self.async_create_entry(
                    data={
                        **entry.options,
                        CONF_UPDATE_INTERVAL: interval,
                        CONF_CODES: codes,
                        CONF_MAX_POWER: float(user_input.get(CONF_MAX_POWER) or 0),
                        CONF_FAST_CODES: fast,
                        CONF_FAST_INTERVAL: fast_interval,
                        **advanced,
                    }
                )
        names = await async_entity_names(self.hass)
        stored = list(entry.options.get(CONF_CODES, []))
        chosen = chosen_codes(user_input) if user_input is not None else stored
        options = mark_fast(picker_options(_coordinator_readout(entry), stored, names), capable)
        fast_chosen = (
            list(user_input.get(CONF_FAST_CODES) or ())
            if user_input is not None
            else list(entry.options.get(CONF_FAST_CODES) or ())
        )
        schema = vol.Schema(
            {
                vol.Required(CONF_UPDATE_INTERVAL): _interval_selector(),
                **picker_schema(options, chosen),
                **fast_schema(capable, _labels(options), fast_chosen),
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
            CONF_FAST_INTERVAL: entry.options.get(
                CONF_FAST_INTERVAL, max(DEFAULT_FAST_INTERVAL, minimum)
            ),
            ADVANCED: _entry_advanced(entry),
        }
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders={
                "read_time": _read_time_text(read_time),
                "fast": str(len(capable)),
                "fast_mark": FAST_MARK,
            },
        )


def _fast_capable(entry: ConfigEntry) -> dict[str, str]:
    """The codes the probe read by register (key -> code as written)."""
    capable = entry.options.get(CONF_FAST_CAPABLE) or {}
    if not isinstance(capable, dict):
        return {}
    return {str(key): str(code) for key, code in capable.items()}


class _AskAddress(Exception):
    """The port reads other meters, each with an address: ask this meter's address."""


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


def _coordinator_readout(entry: DlmsConfigEntry) -> Readout | None:
    """The running coordinator's last readout (None if not loaded or not read yet)."""
    if entry.state is ConfigEntryState.LOADED:
        return entry.runtime_data.readout
    return None


async def async_migrate(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Bring an entry to the current version (called by ``async_migrate_entry``).

    1 -> 2: the protocol mode as a lowercase selector key ("C" -> "c"). An entry of a newer
    version than this code knows (after a downgrade) is refused and left as it is (Home Assistant
    2026.10 refuses it before asking; 2026.5 asks).
    """
    if entry.version > DlmsMeterConfigFlow.VERSION:
        return False
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
