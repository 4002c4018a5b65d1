"""Meter profiles for the simulator: identification, data lines and behaviour of real meters.

A profile is built from a real capture of the project's corpus: the profiles read
`tests/fixtures/corpus/raw/*.bin` directly (one copy of every capture; nothing of this development
package ships with the integration).

The data lines are kept byte for byte as the meter sent them (padding, LF LF line ends, "!" on
the same line as the last value). Only the framing is the simulator's own: it always sends
`STX block ETX check` in modes A, B and C (a few captures lost STX/ETX on the way) and computes the
check itself, so a readout from the simulator always verifies unless a fault is injected.

Never imports homeassistant.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass
from pathlib import Path
import re
from typing import Literal, Self

type Mode = Literal["A", "B", "C", "D"]
type CheckKind = Literal["xor", "sum", "none"]

STX = 0x02
ETX = 0x03
SIM_DATA = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus" / "raw"

#: Baud character -> rate, mode C (and E).
RATES_C: dict[str, int] = {
    "0": 300,
    "1": 600,
    "2": 1200,
    "3": 2400,
    "4": 4800,
    "5": 9600,
    "6": 19200,
}
#: Baud character -> rate, mode B.
RATES_B: dict[str, int] = {"A": 600, "B": 1200, "C": 2400, "D": 4800, "E": 9600, "F": 19200}

_IDENT_RE = re.compile(rb"/([^?!/\r\n][^\r\n]*)\r?\n")
_ECHO_ACK_RE = re.compile(rb"\A\x06[0-9][0-9A-Z][0-9]\r\n")
_MARKER_RE = re.compile(r"<(STX|ETX|SOH|ACK|NUL|EOT|NAK|CR|BCC=0x[0-9A-Fa-f]{2}|0x[0-9A-Fa-f]{2})>")
_MARKERS = {"STX": b"\x02", "ETX": b"\x03", "SOH": b"\x01", "ACK": b"\x06", "NUL": b"\x00"}
_MARKERS |= {"EOT": b"\x04", "NAK": b"\x15", "CR": b"\r"}
# First data set of a line: address ( value [*unit] )
_DATASET_RE = re.compile(
    rb"^(?P<addr>[^()\r\n!/]+)\((?P<value>[^()*\r\n]*)(?P<unit>\*[^()\r\n]*)?\)", re.MULTILINE
)
_PREFIX_RE = re.compile(r"^[0-9A-Za-z]+-[0-9A-Za-z]+:")
_NUMBER_RE = re.compile(r"^(?P<pad> *)(?P<sign>[+-]?)(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]*))?$")


def block_check(payload: bytes, kind: CheckKind) -> bytes:
    """Return the check byte over `payload` (the bytes after STX up to and including ETX)."""
    if kind == "none":
        return b""
    if kind == "sum":
        return bytes([sum(payload) & 0x7F])
    value = 0
    for byte in payload:
        value ^= byte
    return bytes([value & 0x7F])


def decode_capture_text(text: str) -> bytes:
    """Turn a corpus `.txt` rendering (markers, one physical line per line) back into bytes."""
    text = text.removesuffix("\n")
    out = bytearray()
    lines = text.split("\n")
    for index, physical in enumerate(lines):
        last = index == len(lines) - 1
        lf_only = physical.endswith("<LF>")
        line = physical.removesuffix("<LF>")
        pos = 0
        for match in _MARKER_RE.finditer(line):
            out += line[pos : match.start()].encode("latin-1")
            name = match.group(1)
            if name.startswith(("BCC=", "0x")):
                out.append(int(name[-2:], 16))
            else:
                out += _MARKERS[name]
            pos = match.end()
        out += line[pos:].encode("latin-1")
        if lf_only:
            out += b"\n"
        elif not last:
            out += b"\r\n"
    return bytes(out)


def split_capture(raw: bytes) -> tuple[str | None, bytes]:
    """Split captured bytes into (identification, data block).

    The identification is the text between "/" and CR LF (None if the capture has none). The
    block is the data lines up to and including the "!" line (its line end included), without
    STX, ETX, check byte, echoes, noise or trailing junk. A block without "!" gets "!\\r\\n".
    """
    identification: str | None = None
    rest = raw
    match = _IDENT_RE.search(raw)
    if match is not None and (raw.find(b"\x02") < 0 or match.start() < raw.find(b"\x02")):
        identification = match.group(1).decode("latin-1")
        rest = raw[match.end() :]
    rest = _ECHO_ACK_RE.sub(b"", rest, count=1)
    stx = rest.find(b"\x02")
    if stx >= 0:
        body = rest[stx + 1 :]
        etx = body.rfind(b"\x03")
        if etx >= 0:
            body = body[:etx]
    else:
        body = rest
        if body.startswith(b"\r\n"):
            body = body[2:]
        elif body.startswith(b"\n"):
            body = body[1:]
    end = _end_marker(body)
    if end < 0:
        if body and not body.endswith(b"\n"):
            body += b"\r\n"
        return identification, body + b"!\r\n"
    tail = body[end + 1 :]
    if tail.startswith(b"\r\n"):
        return identification, body[: end + 3]
    if tail.startswith(b"\n"):
        return identification, body[: end + 2]
    return identification, body[: end + 1] + b"\r\n"


def _end_marker(body: bytes) -> int:
    """Index of the "!" that ends the block ("!" is not allowed inside data lines)."""
    return body.find(b"!")


def normalize_address(address: str) -> str:
    """Reduce an address for matching: drop an "A-B:" prefix and a "*255" suffix."""
    address = _PREFIX_RE.sub("", address.strip())
    return address.removesuffix("*255")


def _register_spans(block: bytes, address: str) -> list[tuple[int, int]]:
    """Byte spans of the first value of every line whose address matches `address`."""
    exact: list[tuple[int, int]] = []
    loose: list[tuple[int, int]] = []
    wanted = normalize_address(address)
    for match in _DATASET_RE.finditer(block):
        found = match.group("addr").decode("latin-1").strip()
        span = match.span("value")
        if found == address.strip():
            exact.append(span)
        elif normalize_address(found) == wanted:
            loose.append(span)
    return exact or loose


def register_value(block: bytes, address: str) -> str:
    """Return the (first) value of register `address` in a data block."""
    spans = _register_spans(block, address)
    if not spans:
        raise KeyError(address)
    start, end = spans[0]
    return block[start:end].decode("latin-1")


_GROUPS_RE = re.compile(rb"(?:\([^()\r\n]*\))+")


def register_dataset(block: bytes, address: str) -> bytes:
    """Return register `address` as the readout sends it: its address and every group after it.

    ``1.7.0(00.49*kW)``; ``1-0:1.7.0*255(...)`` when asked for ``1.7.0``. KeyError if absent.
    """
    wanted = normalize_address(address)
    loose: bytes | None = None
    for match in _DATASET_RE.finditer(block):
        found = match.group("addr").decode("latin-1").strip()
        groups = _GROUPS_RE.match(block, match.end("addr"))
        assert groups is not None  # the data set regex matched one group there
        text = found.encode("latin-1") + groups.group(0)
        if found == address.strip():
            return text
        if loose is None and normalize_address(found) == wanted:
            loose = text
    if loose is None:
        raise KeyError(address)
    return loose


def replace_register(block: bytes, address: str, value: str) -> bytes:
    """Return `block` with the value of register `address` replaced (every matching line)."""
    spans = _register_spans(block, address)
    if not spans:
        raise KeyError(address)
    data = value.encode("latin-1")
    if any(byte in b"()*!/\r\n" for byte in data):
        raise ValueError(f"illegal character in value {value!r}")
    out = bytearray(block)
    for start, end in reversed(spans):
        out[start:end] = data
    return bytes(out)


def format_like(template: str, number: float) -> str:
    """Format `number` with the width, zero padding and decimals of `template` ("001846.0")."""
    match = _NUMBER_RE.match(template)
    if match is None:
        return f"{number:.3f}"
    decimals = len(match.group("frac") or "")
    digits = len(match.group("int"))
    text = f"{abs(number):.{decimals}f}" if decimals else f"{round(abs(number))}"
    whole, _, frac = text.partition(".")
    whole = whole.rjust(digits, "0")
    sign = "-" if number < 0 else match.group("sign").replace("-", "+" if number >= 0 else "")
    body = f"{whole}.{frac}" if decimals else whole
    if match.group("frac") == "":
        body += "."
    return (match.group("pad") + sign + body).rjust(len(template))


def parse_number(value: str) -> float:
    """Parse a register value such as " 001846.0" (raises ValueError if it is not numeric)."""
    match = _NUMBER_RE.match(value)
    if match is None:
        raise ValueError(f"not a number: {value!r}")
    return float(value.strip())


@dataclass(frozen=True, kw_only=True)
class MeterProfile:
    """What a meter says and how it behaves on the wire."""

    name: str
    #: Text between "/" and CR LF, e.g. "LGZ4ZMF100AC.M26" (baud character at index 3).
    identification: str
    #: Data lines + "!" + line end, exactly as sent (no STX/ETX/check).
    block: bytes
    mode: Mode = "C"
    checksum: CheckKind = "xor"
    #: Mode C: without an ACK within tt the meter stays silent (else it sends the data at 300).
    requires_ack: bool = False
    #: None = from the identification (20 ms if its third letter is lower case, else 200 ms).
    reaction_time: float | None = None
    #: The rate the meter answers a request at (identification and data) when it differs from
    #: the request's 300 Bd (Landis+Gyr Ultraheat); None = the standard (answer at 300 Bd).
    answer_rate: int | None = None
    #: Mode D: push rate and period (start to start).
    push_rate: int = 2400
    push_interval: float = 1.0
    #: Defaults for the simulator options (each can be overridden per simulator).
    echo: bool = False
    noise: bytes = b""
    address: str = ""
    wakeup: bool = False
    #: Mode C: the meter opens programming mode for ``ACK 0 Z 1`` (P0, R1/R5 reads, B0).
    programming: bool = True
    #: Programming mode: the password P1 must carry before reads are answered (None: none).
    password: str | None = None
    source: str = ""

    @property
    def baud_char(self) -> str:
        """The baud rate character (5th character of the identification line)."""
        return self.identification[3:4]

    @property
    def offered_rate(self) -> int:
        """The rate the meter offers (mode C/B) or pushes at (mode D); 300 if none."""
        if self.mode == "D":
            return self.push_rate
        if self.mode == "B":
            return RATES_B.get(self.baud_char, 300)
        if self.mode == "C":
            return RATES_C.get(self.baud_char, 300)
        return 300

    @property
    def tr(self) -> float:
        """The meter's reaction time in seconds."""
        if self.reaction_time is not None:
            return self.reaction_time
        third = self.identification[2:3]
        return 0.02 if third.islower() else 0.2

    def data_message(self, block: bytes | None = None) -> bytes:
        """The data message as sent: `STX block ETX check` (mode D: ident, blank line, block)."""
        body = self.block if block is None else block
        if self.mode == "D":
            return b"/" + self.identification.encode("latin-1") + b"\r\n\r\n" + body
        payload = body + bytes([ETX])
        return bytes([STX]) + payload + block_check(payload, self.checksum)

    def identification_message(self) -> bytes:
        """`/` + identification + CR LF."""
        return b"/" + self.identification.encode("latin-1") + b"\r\n"

    def value(self, address: str) -> str:
        """The value of register `address` in this profile's data block."""
        return register_value(self.block, address)

    def replace(self, **changes: object) -> Self:
        """A copy with some fields changed (dataclasses.replace)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_bytes(
        cls,
        raw: bytes,
        *,
        name: str,
        identification: str | None = None,
        fixes: Mapping[bytes, bytes] | None = None,
        **options: object,
    ) -> Self:
        """Build a profile from captured bytes (see `split_capture`).

        `identification` overrides (or supplies) the identification; `fixes` replaces byte
        sequences in the block (e.g. line noise that is not the meter's data).
        """
        found, block = split_capture(raw)
        ident = identification if identification is not None else found
        if not ident:
            raise ValueError(f"{name}: the capture has no identification line")
        for old, new in (fixes or {}).items():
            block = block.replace(old, new)
        return cls(name=name, identification=ident, block=block, **options)  # type: ignore[arg-type]

    @classmethod
    def from_capture(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        identification: str | None = None,
        fixes: Mapping[bytes, bytes] | None = None,
        **options: object,
    ) -> Self:
        """Build a profile from a corpus capture: `raw/NN_*.bin` (exact bytes) or `NN_*.txt`."""
        path = Path(path)
        raw = path.read_bytes()
        if path.suffix == ".txt":
            raw = decode_capture_text(raw.decode("utf-8"))
        return cls.from_bytes(
            raw,
            name=name or path.stem,
            identification=identification,
            fixes=fixes,
            source=path.name,
            **options,
        )


def _load_text(file: str, name: str, **options: object) -> MeterProfile:
    """A profile from a corpus `.txt` rendering (captures whose source gives no exact bytes)."""
    return MeterProfile.from_capture(SIM_DATA.parent / file, name=name).replace(**options)


def _load(
    file: str,
    name: str,
    *,
    identification: str | None = None,
    fixes: Mapping[bytes, bytes] | None = None,
    **options: object,
) -> MeterProfile:
    profile = MeterProfile.from_capture(
        SIM_DATA / file, name=name, identification=identification, fixes=fixes
    )
    return profile.replace(**options) if options else profile


def builtin_profiles() -> dict[str, MeterProfile]:
    """The built-in profiles (read from the corpus captures)."""
    profiles = [
        # L+G E350, 4800 Bd, needs the ACK (no fallback to 300 Bd).
        _load("05_LandisGyr_E350_ZMF100AC_M26.bin", "lgz_e350", requires_ack=True),
        # Same meter family, firmware M27: LF LF line ends in the data block.
        _load("04_LandisGyr_E350_ZMF100AC_M27.bin", "lgz_e350_m27", requires_ack=True),
        # Iskra MT174: 9600 Bd, lower-case "k" = 20 ms reaction time, ~9.5 kB readout.
        _load("08_Iskra_MT174_fw103.bin", "iskra_mt174"),
        # Iskra ME162: 9600 Bd; the capture has no identification line (from the same log).
        _load("10_Iskra_ME162.bin", "iskra_me162", identification="ISK5ME162-0033"),
        # Itron EM214, 9600 Bd.
        _load("07_Itron_EM214.bin", "itron_em214"),
        # L+G ZMD120 made 300-Bd-only: it announces baud character "0" and never switches.
        _load("01_LandisGyr_ZMD120AP.bin", "lgz_zmd120", identification="LGZ02ZMD120APt.G03"),
        # Itron ACE3000: 300 Bd only, optical head with echo, 0x7F line noise before the answer.
        # The capture's junk before "!" ("Y" STX STX SOH NUL) is line noise, not data.
        _load(
            "06_Itron_ACE3000_Type260.bin",
            "itron_ace3000",
            fixes={b")Y\x02\x02\x01\x00!": b")\r\n!"},
            echo=True,
            noise=b"\x7f" * 5,
        ),
        # Kamstrup Multical 66 heat meter: "/KAM MC" (space as baud char = mode A, 300 Bd),
        # 7-bit SUM instead of XOR, "!" on the line of the last value.
        _load("16_Kamstrup_Multical66.bin", "kamstrup_mc66", mode="A", checksum="sum"),
        # Landis+Gyr Ultraheat UH50 heat meter (/LUGCUH50): battery meter woken by NULs directly
        # followed by the request at 300 Bd; identification and data come at 2400 Bd (mode B
        # letter "C"); "&" joins several values in one pair of parentheses. No ACK needed.
        _load_text(
            "39_LandisGyr_UH50_heat.txt", "ultraheat_uh50", mode="B", answer_rate=2400, wakeup=True
        ),
        # EMH eHZ: mode D push at 9600 Bd, no STX/ETX/check.
        _load(
            "18_EMH_eHZ.bin",
            "emh_ehz",
            mode="D",
            checksum="none",
            push_rate=9600,
            push_interval=1.0,
        ),
        # EasyMeter Q3D: mode D push at 9600 Bd every ~2 s.
        _load(
            "20_EasyMeter_Q3DA1024.bin",
            "easymeter_q3d",
            mode="D",
            checksum="none",
            push_rate=9600,
            push_interval=2.0,
        ),
    ]
    return {profile.name: profile for profile in profiles}


#: Built-in profiles by name (loaded once at import: no file I/O later, e.g. in an event loop).
PROFILES: dict[str, MeterProfile] = builtin_profiles()
