"""Masking secrets in port names and in text that contains them."""

from __future__ import annotations

import pytest

from custom_components.dlms_meter.iec62056.redact import mask_port, mask_secrets, mask_text


@pytest.mark.parametrize(
    ("port", "masked"),
    [
        ("/dev/ttyUSB0", "/dev/ttyUSB0"),
        (
            "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0",
            "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0",
        ),
        ("socket://192.0.2.5:3000", "socket://192.0.2.5:3000"),
        ("rfc2217://user:pass@host:2217", "rfc2217://***@host:2217"),
        ("socket://meteruser:hunter4@192.0.2.5:3000", "socket://***@192.0.2.5:3000"),
        ("socket://token@host:1", "socket://***@host:1"),
        (
            "esphome://host:6053/?port_name=uart&key=abc%3D%3D&password=pw",
            "esphome://host:6053/?port_name=uart&key=***&password=***",
        ),
        ("esphome://host/?noise_psk=zz&mode=raw", "esphome://host/?noise_psk=***&mode=raw"),
        ("esphome://host/?API_Password=x", "esphome://host/?API_Password=***"),
        ("esphome://host/?port_name=keyboard", "esphome://host/?port_name=keyboard"),
    ],
)
def test_mask_port(port: str, masked: str) -> None:
    """Credentials and secret parameters become ***; everything else stays recognisable."""
    assert mask_port(port) == masked
    assert mask_port(masked) == masked  # idempotent


def test_mask_text_and_free_text() -> None:
    """A port inside a message is masked, and so is any other URL secret in it."""
    port = "socket://u:hunter4@h:1"
    text = f"The port {port} cannot be used (auth failed for esphome://x/?key=s3cret)"
    masked = mask_text(text, port)
    assert "hunter4" not in masked
    assert "s3cret" not in masked
    assert "socket://***@h:1" in masked
    assert mask_secrets("no url here") == "no url here"
