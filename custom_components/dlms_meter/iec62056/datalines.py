"""Data lines: ``address(value*unit)(value*unit)...`` up to the ``!`` end line.

Handles every form seen in real readouts:

* several values per data set: ``1.6.0(02.468*kW)(1703100930)``;
* several values inside one pair of parentheses, separated by ``&`` (Landis+Gyr
  Ultraheat / Siemens heat meters): ``9.4(098.5*C&096.1*C)`` is one data set with the
  values ``098.5 C`` and ``096.1 C``, each part with its own unit; ``9.2(&&)`` holds three
  empty values. A ``&`` in the *address* (``0.1.0&12``) is part of the address, kept as
  written (it is not the same data set as ``0.1.0*12``);
* empty or all-space values ``()``, ``(        )``; leading/trailing spaces are stripped;
* ``*`` with an empty unit ``(013925.5*)`` -> unit None; no unit -> None;
* a unit glued to the number without ``*`` (Iskra MT382 read optically:
  ``1-0:1.8.0(010192.57kWh)``, Iskra MT171: ``(0000000 kWh)``) is split off, but only
  when all of this holds: the address is an OBIS code of a physical quantity (group C
  1..95, so never identification, status, time or firmware registers such as ``0.2.0``
  or ``96.50.0``), the text is a plain decimal number followed by at most one space and
  a unit from :data:`GLUED_UNITS`, or a one-letter unit from :data:`GLUED_SHORT_UNITS`
  after a number with a decimal point (``230.1V``). Dates (``21-01-01 00:00``), DSMR
  timestamps (``230521133516S``), firmware strings (``V01.69#EEA3546C``) and hex words
  (``1F``, ``07D0``) are never split;
* ``,`` ``#`` ``:`` ``-`` and spaces inside values (kept verbatim);
* ``!`` right after the last data set on the same line (``0.2.2(:::::G11)!``);
* several data sets on one physical line (``6.8(...)6.26(...)9.21(...)``);
* continuation lines that start with ``(`` (DSMR 2.2 gas value): the values are added
  to the previous data set;
* non-OBIS names such as ``ET0PE(...)`` or ``HELLO(2,CE301,...)``;
* LF-only, CR-only and CR LF line ends; stray control characters around addresses.

Malformed lines never yield a value. Each physical line is judged as a whole:

* *broken*: a ``)`` outside parentheses, a ``(`` inside a value, a ``(`` never closed
  (the line was cut), or a control byte inside a value. Nothing of that line is read,
  not even the data sets before the fault;
* *noise*: text without any parenthesis (a lone ``\\``, a letter);
* *tail noise*: text without parentheses after the last ``)`` of a line that is
  otherwise read (``1.8.0(013925.5*)Y<STX><STX>!``); the tail is dropped;
* *untidy*: a line that is read, but whose addresses held characters a well-formed line
  never has (control bytes, spaces); they are removed from the address.

:class:`DataBlock` counts these; :mod:`.decode` decides from the counts whether the
block can be trusted (see its module docstring). Nothing after the ``!`` end marker
(outside parentheses) is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re

from .models import DataSet, Value
from .obis import parse_obis

_LINE_SPLIT = re.compile(r"\r\n|\n|\r")
_STRICT_ADDRESS = re.compile(r"^[\x21-\x27\x2a-\x7e]*$")
_GLUED = re.compile(r"^([+-]?\d+(?:\.\d+)?) ?([^\d\s.,+-][^\s]*)$")
_PHYSICAL_C = range(1, 96)

#: Units of several characters split off a number they are glued to (matched
#: case-insensitively, kept as sent).
GLUED_UNITS: frozenset[str] = frozenset(
    unit.casefold()
    for unit in (
        *("Wh", "kWh", "MWh", "GWh", "varh", "kvarh", "Mvarh", "VAh", "kVAh", "MVAh"),
        *("kW", "MW", "var", "kvar", "Mvar", "VA", "kVA", "MVA"),
        *("kJ", "MJ", "GJ"),
        *("kV", "mV", "mA", "kA", "Hz", "Ohm"),
        *("m3", "m3/h", "m3ph", "l/h", "lph"),
        *("degC", "deg", "bar"),
        *("min", "sec", "secs"),
    )
)
#: Units of one character: matched exactly, and only after a number with a decimal point,
#: because DSMR timestamps end in a season letter (``230521133516S``, ``...W``).
GLUED_SHORT_UNITS: frozenset[str] = frozenset(("W", "V", "A", "C", "K", "J", "h", "s", "l", "%"))


@dataclass(frozen=True, slots=True)
class DataBlock:
    """The data sets of a block, whether its ``!`` end marker was seen, and what was dropped.

    ``skipped_lines``: lines (or line tails) dropped as noise or malformed.
    ``broken_lines``: of these, lines with parentheses that were malformed.
    ``untidy_lines``: lines read whose addresses had to be cleaned.
    ``data_lines``: lines that yielded data sets.
    """

    datasets: tuple[DataSet, ...]
    ended: bool
    skipped_lines: int = 0
    broken_lines: int = 0
    untidy_lines: int = 0
    data_lines: int = 0

    @property
    def trusted_without_check(self) -> bool:
        """Return True if the block may be used although no check byte verified it.

        The rule for unchecked data (no STX/ETX, or checking off): no broken or untidy
        line at all, and lines dropped as noise (text without any parenthesis, or after
        the last value of a line) only when the good data lines outnumber them. Anything
        else looks like data received at the wrong rate or a damaged transfer.
        """
        if self.broken_lines or self.untidy_lines:
            return False
        return self.skipped_lines < self.data_lines or not self.skipped_lines


@dataclass(slots=True)
class _Line:
    """One physical line, scanned."""

    groups: list[tuple[str, list[str]]] = field(default_factory=list)
    continuation: bool = False
    ended: bool = False
    broken: bool = False
    untidy: bool = False
    noise: bool = False


def _clean_address(text: str) -> str:
    return "".join(ch for ch in text if " " < ch < "\x7f")


def parse_value(inner: str) -> Value:
    """Parse one value (the text between ``(`` and ``)``, or one ``&`` part of it).

    The value is split at the first ``*``; if what follows holds another ``*`` or a
    ``&``, nothing is split off (use :func:`parse_values` for ``&`` lists).
    """
    value, star, unit = inner.partition("*")
    unit = unit.strip()
    if "*" in unit or "&" in unit:
        return Value(value=inner.strip(" "), unit=None)
    return Value(value=value.strip(" "), unit=unit if star and unit else None)


def split_glued_unit(value: Value) -> Value:
    """Split a unit glued to a number (``010192.57kWh``) off the value; else return it as is."""
    if value.unit is not None:
        return value
    match = _GLUED.match(value.value)
    if match is None:
        return value
    number, unit = match.groups()
    if len(unit) == 1:
        if unit not in GLUED_SHORT_UNITS or "." not in number:
            return value
    elif unit.casefold() not in GLUED_UNITS:
        return value
    return Value(value=number, unit=unit)


def _glued_units_allowed(address: str) -> bool:
    code = parse_obis(address)
    return code is not None and code.c in _PHYSICAL_C


def parse_values(inner: str, address: str = "") -> tuple[Value, ...]:
    """Parse the text between ``(`` and ``)``: ``&``-separated parts become separate values.

    With the data set's ``address`` given, a unit glued to a number is split off (see
    the module docstring for when).
    """
    values = tuple(parse_value(part) for part in inner.split("&"))
    if _glued_units_allowed(address):
        values = tuple(split_glued_unit(value) for value in values)
    return values


def _end_after(text: str) -> bool:
    """Return True if ``text`` (the rest of a broken line) holds ``!`` outside parentheses."""
    inside = False
    for ch in text:
        if ch == "(":
            inside = True
        elif ch == ")":
            inside = False
        elif ch == "!" and not inside:
            return True
    return False


def _scan(line: str) -> _Line:
    """Split one physical line into address/value groups and judge it."""
    result = _Line(continuation=line.lstrip(" \t").startswith("("))
    pos = 0
    segment_start = 0
    while pos < len(line):
        ch = line[pos]
        if ch == "!":
            result.ended = True
            break
        if ch == ")":
            result.broken = True
            result.ended = _end_after(line[pos + 1 :])
            return result
        if ch != "(":
            pos += 1
            continue
        close = line.find(")", pos + 1)
        inner = line[pos + 1 : close]
        if close < 0 or "(" in inner or any(not " " <= c <= "~" for c in inner):
            result.broken = True
            result.ended = close >= 0 and _end_after(line[close + 1 :])
            return result
        segment = line[segment_start:pos]
        stripped = segment.strip(" \t")
        if not _STRICT_ADDRESS.match(stripped) or (result.groups and segment != stripped):
            result.untidy = True
        if result.groups and not _clean_address(segment):
            result.groups[-1][1].append(inner)
        else:
            result.groups.append((_clean_address(segment), [inner]))
        pos = close + 1
        segment_start = pos
    tail = line[segment_start:pos]
    if tail.strip(" \t"):
        result.noise = True
    return result


def parse_data_block(text: str) -> DataBlock:
    """Parse the data lines of a block (the text between STX and ETX, or of a mode D telegram).

    Broken and noise lines yield nothing and are counted (see :class:`DataBlock`).
    """
    datasets: list[DataSet] = []
    skipped = broken = untidy = data_lines = 0
    ended = False
    for line in _LINE_SPLIT.split(text):
        scanned = _scan(line)
        if scanned.broken:
            skipped += 1
            broken += 1
        else:
            if scanned.noise:
                skipped += 1
            if scanned.groups:
                data_lines += 1
                untidy += scanned.untidy
                _add_groups(datasets, scanned)
        if scanned.ended:
            ended = True
            break
    return DataBlock(
        tuple(datasets),
        ended=ended,
        skipped_lines=skipped,
        broken_lines=broken,
        untidy_lines=untidy,
        data_lines=data_lines,
    )


def parse_data_lines(text: str) -> tuple[DataSet, ...]:
    """Return the data sets of ``text`` (see :func:`parse_data_block`)."""
    return parse_data_block(text).datasets


def _add_groups(datasets: list[DataSet], scanned: _Line) -> None:
    for index, (address, inners) in enumerate(scanned.groups):
        if index == 0 and scanned.continuation and not address and datasets:
            previous = datasets[-1]
            values = tuple(v for inner in inners for v in parse_values(inner, previous.address))
            datasets[-1] = DataSet(previous.address, previous.values + values)
            continue
        values = tuple(v for inner in inners for v in parse_values(inner, address))
        datasets.append(DataSet(address, values))
