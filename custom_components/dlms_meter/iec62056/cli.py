"""Command line tool: read a meter, find the settings that read it, or parse captured bytes.

    python -m custom_components.dlms_meter.iec62056 read PORT_OR_URL [SETTINGS] [--no-fallback]
        [--json]
    python -m custom_components.dlms_meter.iec62056 read PORT_OR_URL --register CODE
        [--register CODE ...] [--password P] [--r1] [SETTINGS] [--json]
    python -m custom_components.dlms_meter.iec62056 probe PORT_OR_URL [SETTINGS] [--json]
    python -m custom_components.dlms_meter.iec62056 parse FILE [--no-checksum | --checksum ...]
        [--json]

    SETTINGS: [--mode auto|A|B|C|D] [--baudrate auto|300|...|19200] [--max-baudrate N]
        [--no-checksum | --checksum xor|sum|none] [--address A] [--wakeup] [-v | --verbose]

``read`` and ``probe`` find settings the way the config flow does (:mod:`.probe`): with
``--mode auto`` (the default) the settings as given, then wake-up, SUM, 300 Bd, the heat-meter
sign-on and listening for a push meter at 9600, 2400 and the other rates; with a fixed mode only
the fixes that keep the mode (``--mode D`` without a rate listens at every push rate).
``--no-fallback`` reads with the settings as given only. ``probe`` prints the settings that
worked, every attempt and how long the readout took. ``--verbose`` shows each attempt on stderr
while it runs (a probe can take a minute).

``read --register CODE`` reads exactly those registers in programming mode (mode C,
``ACK 0 Z 1``, then one ``R5`` read per code, or ``R1`` with ``--r1``; ``--password`` is sent
in ``P1`` first) in one session, without fallbacks, and prints them like a readout, in the
order asked. Exit status 3: the meter has no programming mode (it did not answer with its
``P0`` operand); 4: it refused the password; 5: it does not know a register (``(ERROR)``; the
line on stderr names the codes). The password never appears in any output.

``--json`` (``read``, ``parse``) prints one object: ``identification`` (text between "/" and
CR LF), ``manufacturer``, ``baudrate`` (rate the data came at, null if unknown) and ``readings``
(meter order, duplicates kept) of ``{"address", "values": [{"value", "unit"}]}``. ``probe --json``
prints ``{"port", "settings", "duration", "attempts", "serial_number", "unique_id", "readout"}``.
On failure the exit status is 1 (2 for invalid settings such as a device address the standard
does not allow) and one line on stderr says why; nothing goes to stdout. No secret of a port URL
(password, key, ...) is ever printed. ``parse`` shows the first telegram in the file.

The serial driver (serialx) is imported only by ``read`` and ``probe``: ``parse`` and ``--help``
work without it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Sequence
import json
import sys
import time
from typing import Any, Final

from .checksum import Checksum
from .decode import parse_capture
from .errors import (
    Iec62056Error,
    NoProgrammingModeError,
    PasswordRefusedError,
    UnknownRegisterError,
)
from .identification import STANDARD_RATES
from .identity import serial_number, unique_id_for
from .models import Readout
from .probe import Attempt, Clock, ProbeResult, Reader, probe_meter
from .redact import mask_port, mask_text
from .settings import ReadSettings

MODE_AUTO: Final = "auto"
SML_MESSAGE: Final = (
    "this meter speaks SML, not IEC 62056-21: use Home Assistant's EDL21 integration"
)
EXIT_FAILED: Final = 1
EXIT_INVALID: Final = 2
EXIT_NO_PROGRAMMING_MODE: Final = 3
EXIT_PASSWORD_REFUSED: Final = 4
EXIT_UNKNOWN_REGISTER: Final = 5
_EXIT_BY_KIND: Final = {
    NoProgrammingModeError.kind: EXIT_NO_PROGRAMMING_MODE,
    PasswordRefusedError.kind: EXIT_PASSWORD_REFUSED,
    UnknownRegisterError.kind: EXIT_UNKNOWN_REGISTER,
}
#: ``register_reader(port, settings, codes, password=..., command=..., strict=...)``
type RegisterReader = Callable[..., Awaitable[Readout]]


class InvalidSettingsError(Exception):
    """Settings the library refuses (ValueError of :class:`ReadSettings`), with a clear message."""


def _baudrate(text: str) -> int | None:
    if text == "auto":
        return None
    rate = int(text)
    if rate not in STANDARD_RATES:
        raise argparse.ArgumentTypeError(f"must be auto or one of {STANDARD_RATES}")
    return rate


def _mode(text: str) -> str:
    mode = text.strip()
    if mode.lower() == MODE_AUTO:
        return MODE_AUTO
    if mode.upper() in ("A", "B", "C", "D"):
        return mode.upper()
    raise argparse.ArgumentTypeError("must be auto, A, B, C or D")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.dlms_meter.iec62056",
        description="Read IEC 62056-21 (D0) meters through an optical head.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    read = commands.add_parser(
        "read", help="read a meter on a serial port or URL (fallbacks as in the config flow)"
    )
    probe = commands.add_parser(
        "probe", help="find the settings that read a meter; show the attempts and the read time"
    )
    for sub in (read, probe):
        sub.add_argument("port", help="serial port or serialx URL (socket://, rfc2217://, ...)")
        sub.add_argument("--mode", type=_mode, default=MODE_AUTO, help="auto, A, B, C or D")
        sub.add_argument("--baudrate", type=_baudrate, default=None, help="auto or a fixed rate")
        sub.add_argument("--max-baudrate", type=int, default=None, help="cap for the rate")
        sub.add_argument("--address", default="", help="device address for /?address!")
        sub.add_argument("--wakeup", action="store_true", help="send NUL wake-up first")
        sub.add_argument(
            "-v", "--verbose", action="store_true", help="show each attempt on stderr as it runs"
        )
    read.add_argument(
        "--no-fallback", action="store_true", help="read with the settings as given only"
    )
    read.add_argument(
        "--register",
        action="append",
        default=[],
        metavar="CODE",
        help="read only this register in programming mode (repeat for more; order kept)",
    )
    read.add_argument(
        "--password", default=None, help="password for programming mode (P1); never printed"
    )
    read.add_argument("--r1", action="store_true", help="read with R1 instead of R5")
    parse = commands.add_parser("parse", help="parse a file of captured bytes")
    parse.add_argument("file", help="file holding the bytes the meter sent")
    for sub in (read, probe, parse):
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


def settings_json(settings: ReadSettings) -> dict[str, Any]:
    """The protocol settings a probe found, as JSON (what to give ``read`` or the config flow)."""
    return {
        "mode": str(settings.mode),
        "baudrate": settings.baudrate,
        "max_baudrate": settings.max_baudrate,
        "checksum": str(settings.checksum),
        "address": settings.address,
        "wakeup": settings.wakeup,
        "no_waiting": settings.no_waiting,
        "initial_baudrate": settings.initial_baudrate,
        "answer_baudrate": settings.answer_baudrate,
    }


def settings_text(settings: ReadSettings) -> str:
    """The protocol settings in one line: ``mode C, rate auto, check xor, wake-up``."""
    mode = str(settings.mode)
    if mode == "D":
        parts = [f"mode D (listen) at {settings.baudrate or 2400} Bd"]
    else:
        parts = [f"mode {mode}"]
        if mode != "A":
            parts.append(f"rate {settings.baudrate or 'auto'}")
        if settings.max_baudrate is not None:
            parts.append(f"max {settings.max_baudrate} Bd")
        if settings.initial_baudrate is not None:
            parts.append(f"start at {settings.initial_baudrate} Bd")
        if settings.answer_baudrate is not None:
            parts.append(f"answer at {settings.answer_baudrate} Bd")
    parts.append(f"check {settings.checksum}")
    if settings.address:
        parts.append(f"address {settings.address}")
    if settings.wakeup:
        parts.append("wake-up")
    if settings.no_waiting:
        parts.append("no waiting")
    return ", ".join(parts)


def _attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "settings": settings_json(attempt.settings),
        "error": attempt.error,
        "duration": round(attempt.duration, 3),
    }


def probe_json(result: ProbeResult, port: str) -> dict[str, Any]:
    """Return the JSON object ``probe --json`` prints (the port masked)."""
    return {
        "port": mask_port(port),
        "settings": settings_json(result.settings),
        "duration": round(result.duration, 3),
        "attempts": [_attempt_json(attempt) for attempt in result.history],
        "serial_number": serial_number(result.readout),
        "unique_id": unique_id_for(result.readout, port),
        "readout": readout_json(result.readout),
    }


def probe_text(result: ProbeResult, port: str) -> str:
    """Return what ``probe`` prints: the settings that worked, the attempts, the read time."""
    readout = result.readout
    ident = readout.identification
    lines = [
        f"Port: {mask_port(port)}",
        f"Settings that worked: {settings_text(result.settings)}",
        f"Readout: {len(readout.datasets)} data sets"
        + (f" at {readout.baudrate} Bd" if readout.baudrate else "")
        + f" in {result.duration:.1f} s",
    ]
    if ident is not None:
        lines.append(f"Identification: /{ident.raw}")
    lines.append(f"Serial number: {serial_number(readout) or '(none)'}")
    lines.append(f"Attempts: {result.attempts}")
    for number, attempt in enumerate(result.history, 1):
        outcome = "ok" if attempt.error is None else attempt.error
        lines.append(
            f"  {number}. {settings_text(attempt.settings)}: {outcome} ({attempt.duration:.1f} s)"
        )
    return "\n".join(lines)


def _settings(args: argparse.Namespace) -> ReadSettings:
    try:
        return ReadSettings(
            mode="C" if args.mode == MODE_AUTO else args.mode,
            baudrate=args.baudrate,
            max_baudrate=args.max_baudrate,
            checksum=_checksum(args),
            address=args.address,
            wakeup=args.wakeup,
        )
    except ValueError as exc:
        if "address" in str(exc):
            raise InvalidSettingsError(
                f"invalid device address {args.address!r}: "
                "up to 32 characters 0-9, A-Z, a-z and space"
            ) from exc
        raise InvalidSettingsError(str(exc)) from exc


def _parse(args: argparse.Namespace) -> Readout:
    try:
        with open(args.file, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise Iec62056Error(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    readouts = parse_capture(data, _checksum(args))
    if not readouts:
        raise Iec62056Error(f"no IEC 62056-21 telegram found in {args.file}")
    return readouts[0]


def _show_attempt(number: int, settings: ReadSettings) -> None:
    print(f"attempt {number}: {settings_text(settings)} ...", file=sys.stderr, flush=True)


def _show_outcome(attempt: Attempt) -> None:
    outcome = "ok" if attempt.error is None else attempt.error
    print(f"  {outcome} ({attempt.duration:.1f} s)", file=sys.stderr, flush=True)


def _probe(args: argparse.Namespace, read: Reader | None, clock: Clock) -> ProbeResult:
    settings = _settings(args)
    fixed = args.command == "read" and args.no_fallback
    return asyncio.run(
        probe_meter(
            args.port,
            settings,
            try_other_modes=args.mode == MODE_AUTO,
            use_fallbacks=not fixed,
            on_attempt=_show_attempt if args.verbose else None,
            on_outcome=_show_outcome if args.verbose else None,
            read=read,
            clock=clock,
        )
    )


def _read_registers(args: argparse.Namespace, register_reader: RegisterReader | None) -> Readout:
    settings = _settings(args)
    if args.mode not in (MODE_AUTO, "C"):
        raise InvalidSettingsError("--register needs mode C (programming mode)")
    if register_reader is None:
        from .driver import read_registers  # serialx only when a port is really read

        register_reader = read_registers
    try:
        return asyncio.run(
            register_reader(
                args.port,
                settings,
                list(args.register),
                password=args.password,
                command="R1" if args.r1 else "R5",
                strict=True,
            )
        )
    except ValueError as exc:
        raise InvalidSettingsError(str(exc)) from exc


def _hide(text: str, password: str | None) -> str:
    """Replace the password wherever it might appear (it never should)."""
    if password:
        text = text.replace(password, "***")
    return text


def _error_line(exc: Exception, port: str) -> str:
    kind = getattr(exc, "kind", "invalid")
    if kind == "sml":
        return f"error (sml): {SML_MESSAGE}"
    hint = " (use --no-checksum to accept it anyway)" if kind == "checksum" else ""
    if kind == NoProgrammingModeError.kind:
        hint = " (read without --register to get the full readout)"
    return mask_text(f"error ({kind}): {exc}{hint}", port)


def main(
    argv: Sequence[str] | None = None,
    *,
    read: Reader | None = None,
    clock: Clock = time.monotonic,
    register_reader: RegisterReader | None = None,
) -> int:
    """Run the CLI; return the exit status.

    ``read``, ``register_reader`` and ``clock`` replace the driver (tests).
    """
    args = _parser().parse_args(argv)
    port = "" if args.command == "parse" else args.port
    password = getattr(args, "password", None)
    result: ProbeResult | None = None
    try:
        if args.command == "parse":
            readout = _parse(args)
        elif args.command == "read" and args.register:
            readout = _read_registers(args, register_reader)
        else:
            result = _probe(args, read, clock)
            readout = result.readout
    except InvalidSettingsError as exc:
        line = mask_text(f"error (invalid): {exc}", port)
        print(_hide(line, password), file=sys.stderr)
        return EXIT_INVALID
    except (Iec62056Error, ValueError) as exc:
        print(_hide(_error_line(exc, port), password), file=sys.stderr)
        return _EXIT_BY_KIND.get(getattr(exc, "kind", ""), EXIT_FAILED)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    if result is not None and args.command == "probe":
        if args.json:
            print(json.dumps(probe_json(result, port), ensure_ascii=False))
        else:
            print(probe_text(result, port))
    elif args.json:
        print(json.dumps(readout_json(readout), ensure_ascii=False))
    else:
        print(readout_table(readout))
    return 0
