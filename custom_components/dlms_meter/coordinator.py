"""Data update coordinator for dlms_meter."""

from __future__ import annotations
