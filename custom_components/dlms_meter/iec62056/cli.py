"""Command line tool: read a meter, or parse captured bytes.

    python -m custom_components.dlms_meter.iec62056 read PORT_OR_URL [--baudrate auto|300|...|19200]
        [--max-baudrate N] [--no-checksum | --checksum xor|sum|none] [--address A] [--wakeup]
        [--mode A|B|C|D] [--json]
    python -m custom_components.dlms_meter.iec62056 parse FILE [--no-checksum | --checksum ...]
        [--json]

``--json`` prints one object: ``identification`` (text between "/" and CR LF),
``manufacturer``, ``baudrate`` (rate the data came at, null if unknown) and ``readings``
(meter order, duplicates kept) of ``{"address", "values": [{"value", "unit"}]}``.
On failure the exit status is 1 and one line on stderr says why; nothing goes to stdout.
``parse`` shows the first telegram in the file.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import json
import sys
from typing import Any

from .checksum import Checksum
from .decode import parse_capture
from .driver import read_meter
from .errors import Iec62056Error
from .identification import STANDARD_RATES
from .models import Readout
from .settings import ReadSettings


def _baudrate(text: str) -> int | None:
    if text == "auto":
        return None
    rate = int(text)
    if rate not in STANDARD_RATES:
        raise argparse.ArgumentTypeError(f"must be auto or one of {STANDARD_RATES}")
    return rate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.dlms_meter.iec62056",
        description="Read IEC 62056-21 (D0) meters through an optical head.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    read = commands.add_parser("read", help="read a meter on a serial port or URL")
    read.add_argument("port", help="serial port or serialx URL (socket://, rfc2217://, ...)")
    read.add_argument("--baudrate", type=_baudrate, default=None, help="auto or a fixed rate")
    read.add_argument("--max-baudrate", type=int, default=None, help="cap for the rate")
    read.add_argument("--address", default="", help="device address for /?address!")
    read.add_argument("--wakeup", action="store_true", help="send NUL wake-up first")
    read.add_argument("--mode", choices=("A", "B", "C", "D"), default="C")
    parse = commands.add_parser("parse", help="parse a file of captured bytes")
    parse.add_argument("file", help="file holding the bytes the meter sent")
    for sub in (read, parse):
        sub.add_argument("--no-checksum", action="store_true", help="do not check the BCC")
        sub.add_argument(
            "--checksum", choices=[c.value for c in Checksum], default=Checksum.XOR.value
        )
        sub.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _checksum(args: argparse.Namespace) -> Checksum:
    return Checksum.NONE if args.no_checksum else Checksum(args.checksum)


def readout_json(readout: Readout) -> dict[str, Any]:
    """Return the JSON object the CLI prints for ``readout``."""
    ident = readout.identification
    return {
        "identification": None if ident is None else ident.raw,
        "manufacturer": None if ident is None else ident.manufacturer,
        "baudrate": readout.baudrate,
        "readings": [
            {
                "address": dataset.address,
                "values": [{"value": v.value, "unit": v.unit} for v in dataset.values],
            }
            for dataset in readout.datasets
        ],
    }


def readout_table(readout: Readout) -> str:
    """Return a readable table of ``readout``."""
    ident = readout.identification
    lines = []
    if ident is not None:
        rate = f", {readout.baudrate} Bd" if readout.baudrate else ""
        lines.append(f"Identification: /{ident.raw}  (manufacturer {ident.manufacturer}{rate})")
    width = max((len(ds.address) for ds in readout.datasets), default=7)
    for dataset in readout.datasets:
        values = "  ".join(
            f"{v.value} {v.unit}" if v.unit else (v.value or "''") for v in dataset.values
        )
        lines.append(f"{dataset.address:<{width}}  {values}")
    lines.append(f"{len(readout.datasets)} data sets")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> Readout:
    checksum = _checksum(args)
    if args.command == "parse":
        try:
            with open(args.file, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise Iec62056Error(f"cannot read {args.file}: {exc.strerror or exc}") from exc
        readouts = parse_capture(data, checksum)
        if not readouts:
            raise Iec62056Error(f"no IEC 62056-21 telegram found in {args.file}")
        return readouts[0]
    settings = ReadSettings(
        mode=args.mode,
        baudrate=args.baudrate,
        max_baudrate=args.max_baudrate,
        checksum=checksum,
        address=args.address,
        wakeup=args.wakeup,
    )
    return asyncio.run(read_meter(args.port, settings))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        readout = _run(args)
    except (Iec62056Error, ValueError) as exc:
        kind = getattr(exc, "kind", "invalid")
        hint = " (use --no-checksum to accept it anyway)" if kind == "checksum" else ""
        print(f"error ({kind}): {exc}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(readout_json(readout), ensure_ascii=False))
    else:
        print(readout_table(readout))
    return 0
