"""Keep secrets out of everything a port name can reach: logs, exceptions, titles, diagnostics.

A port is a device path (``/dev/ttyUSB0``) or a serialx URL (``socket://``, ``rfc2217://``,
``esphome://``). URLs may carry credentials (``rfc2217://user:pass@host:port``) and secret query
parameters (``esphome://host/?port_name=x&key=...&password=...``). :func:`mask_port` replaces
each secret with ``***`` and keeps what a user needs to recognise the port (scheme, host, port,
path, the other parameters). It never raises, whatever the text.
"""

from __future__ import annotations

import re
from typing import Final

MASK: Final = "***"

# Query or fragment parameters whose values are secrets (compared case-insensitively, also as a
# suffix such as ``api_password`` or ``noise_psk``).
SECRET_PARAMETERS: Final = frozenset(
    {"password", "passwd", "pass", "pwd", "key", "psk", "token", "secret", "auth", "apikey"}
)

# scheme://userinfo@ : everything between "//" and the last "@" before the host part.
_USERINFO: Final = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")
_PARAMETER: Final = re.compile(r"(?P<sep>[?&;#])(?P<name>[^=&;#?]+)=(?P<value>[^&;#\s]*)")


def _is_secret(name: str) -> bool:
    lowered = name.strip().lower()
    return any(lowered == s or lowered.endswith(("_" + s, "-" + s)) for s in SECRET_PARAMETERS)


def mask_port(port: str) -> str:
    """Return ``port`` with credentials and secret parameters replaced by ``***``."""
    masked = _USERINFO.sub(lambda m: f"{m['head']}{MASK}@", port)

    def parameter(match: re.Match[str]) -> str:
        if _is_secret(match["name"]):
            return f"{match['sep']}{match['name']}={MASK}"
        return match[0]

    return _PARAMETER.sub(parameter, masked)


def mask_text(text: str, port: str) -> str:
    """Return ``text`` with every occurrence of ``port`` (and its secrets) masked."""
    masked_port = mask_port(port)
    if port and port != masked_port:
        text = text.replace(port, masked_port)
    return mask_secrets(text)


def mask_secrets(text: str) -> str:
    """Mask credentials and secret parameters of any URL found in free ``text``."""
    return mask_port(text)
