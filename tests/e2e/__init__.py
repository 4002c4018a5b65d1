"""End-to-end tests: a real Home Assistant 2026.11.0 driven in a real browser."""
