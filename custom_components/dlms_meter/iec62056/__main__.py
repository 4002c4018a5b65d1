"""Entry point: ``python -m custom_components.dlms_meter.iec62056`` (see :mod:`.cli`)."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
