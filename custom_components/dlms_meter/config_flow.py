"""Config flow for dlms_meter."""

from __future__ import annotations

from homeassistant.config_entries import ConfigFlow

from .const import DOMAIN


class DlmsMeterConfigFlow(ConfigFlow, domain=DOMAIN):
    """Handle a config flow for dlms_meter."""

    VERSION = 1
