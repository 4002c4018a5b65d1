"""The identification message ``/XXXZ[\\W]...Ident CR LF``.

* ``XXX`` is the manufacturer's FLAG id. A *lower-case* third letter means the meter's
  minimum reaction time is 20 ms instead of 200 ms (IEC 62056-21, quoted by vzlogger,
  pwitab, libIEC62056).
* ``Z`` is the baud rate character; its meaning depends on the protocol mode:
  mode A: any character that is not a B/C code (300 Bd fixed); mode B: ``A``..``F`` =
  600..19200 (``G``-``I`` reserved); modes C and E: ``0``..``6`` = 300..19200 (``7``-``9``
  reserved); mode D: always ``3`` (2400). Real meters also send a space or ``-`` here.
* ``\\W`` pairs (any number) follow ``Z``: ``\\2`` = HDLC (mode E) available, other
  characters reserved or manufacturer-specific (``\\@``, ``\\3``, ...). A backslash
  followed by a *letter* is no enhanced id: real meters write the model right after it
  (``Ene5\\T210-D ESMR5.0``, ``ISk5\\MT382-1003``); that backslash is dropped and the
  letter stays part of the model.
* The rest is the model text.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The one table of IEC 62056-21 rates: (baud rate, mode B character, mode C/E character).
#: 300 Bd has no mode B character (mode B starts at 300 and switches to A..F).
RATE_TABLE: tuple[tuple[int, str | None, str], ...] = (
    (300, None, "0"),
    (600, "A", "1"),
    (1200, "B", "2"),
    (2400, "C", "3"),
    (4800, "D", "4"),
    (9600, "E", "5"),
    (19200, "F", "6"),
)
STANDARD_RATES: tuple[int, ...] = tuple(rate for rate, _b, _c in RATE_TABLE)
MODE_B_RATES: dict[str, int] = {b: rate for rate, b, _c in RATE_TABLE if b is not None}
MODE_C_RATES: dict[str, int] = {c: rate for rate, _b, c in RATE_TABLE}
#: Mode D pushes at 2400 Bd (baud character "3"); many meters push at 9600 Bd instead.
PUSH_RATES: tuple[int, ...] = (2400, 9600)
REACTION_TIME = 0.2
FAST_REACTION_TIME = 0.02
_MAX_RAW = 64


def mode_c_char(baudrate: int) -> str:
    """Return the mode C/E baud character for a standard rate (``ValueError`` otherwise)."""
    for char, rate in MODE_C_RATES.items():
        if rate == baudrate:
            return char
    raise ValueError(f"{baudrate} Bd is not an IEC 62056-21 rate")


@dataclass(frozen=True, slots=True)
class Identification:
    """A parsed identification message."""

    raw: str
    manufacturer: str
    baud_char: str
    model: str
    enhanced: tuple[str, ...] = ()

    @property
    def reaction_time(self) -> float:
        """Return the meter's minimum reaction time tr in seconds (20 ms or 200 ms)."""
        return FAST_REACTION_TIME if self.manufacturer[2].islower() else REACTION_TIME

    @property
    def hdlc_capable(self) -> bool:
        """Return True if the meter announces mode E (``\\2``)."""
        return "2" in self.enhanced

    @property
    def offered_mode(self) -> str:
        """Return the mode the baud character implies: "B", "C" or "A"."""
        if self.baud_char in MODE_B_RATES:
            return "B"
        if self.baud_char in MODE_C_RATES:
            return "C"
        return "A"

    def baudrate(self, mode: str) -> int | None:
        """Return the rate offered in ``mode`` ("A".."E"); None if the character is invalid."""
        if mode == "A":
            return 300
        if mode == "B":
            return MODE_B_RATES.get(self.baud_char)
        if mode in ("C", "E"):
            return MODE_C_RATES.get(self.baud_char)
        if mode == "D":
            return 2400 if self.baud_char == "3" else None
        return None


def parse_identification(line: str) -> Identification | None:
    """Parse the text after ``/`` (CR LF removed); None if it is no identification.

    Requires three letters (the FLAG id) and a printable baud character; the text must
    be printable ASCII without ``/`` or ``!`` (an echoed request ``/?!`` is rejected).
    """
    if not 4 <= len(line) <= _MAX_RAW:
        return None
    if any(not " " <= ch <= "~" for ch in line) or "/" in line or "!" in line:
        return None
    manufacturer = line[:3]
    if not (manufacturer.isascii() and manufacturer.isalpha()):
        return None
    baud_char = line[3]
    rest = line[4:]
    enhanced: list[str] = []
    while len(rest) >= 2 and rest[0] == "\\":
        if rest[1].isalpha():
            rest = rest[1:]
            break
        enhanced.append(rest[1])
        rest = rest[2:]
    return Identification(
        raw=line,
        manufacturer=manufacturer,
        baud_char=baud_char,
        model=rest,
        enhanced=tuple(enhanced),
    )


def is_strict_identification(ident: Identification) -> bool:
    """Return True if the baud character is a standard one (used to resync mid-stream)."""
    return (
        ident.baud_char in MODE_B_RATES
        or ident.baud_char in MODE_C_RATES
        or (ident.baud_char in "GHI789")
    )
