"""Constants for the dlms_meter integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "dlms_meter"
