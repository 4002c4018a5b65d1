"""IEC 62056-21 (IEC 1107, "D0") protocol library. Never imports homeassistant."""

from __future__ import annotations
