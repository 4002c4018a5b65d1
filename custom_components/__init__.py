"""Custom integrations (this repository holds one: dlms_meter)."""
