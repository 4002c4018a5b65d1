"""Tests for dlms_meter."""
