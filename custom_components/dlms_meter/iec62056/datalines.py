"""Data lines: ``address(value*unit)(value*unit)...`` up to the ``!`` end line.

Handles every form seen in real readouts:

* several values per data set: ``1.6.0(02.468*kW)(1703100930)``;
* empty or all-space values ``()``, ``(        )``; leading/trailing spaces are stripped;
* ``*`` with an empty unit ``(013925.5*)`` -> unit None; no unit -> None;
* ``&`` ``,`` ``#`` ``:`` ``-`` and spaces inside values (kept verbatim; a multi-part
  value with several units such as ``088*C&082*C`` stays one value without unit);
* ``!`` right after the last data set on the same line (``0.2.2(:::::G11)!``);
* several data sets on one physical line (``6.8(...)6.26(...)9.21(...)``);
* continuation lines that start with ``(`` (DSMR 2.2 gas value): the values are added
  to the previous data set;
* non-OBIS names such as ``ET0PE(...)`` or ``HELLO(2,CE301,...)``;
* LF-only, CR-only and CR LF line ends; stray control characters around addresses.

An unclosed ``(`` at the end of a line drops that value (the line was cut); address
text that is not followed by ``(`` is ignored. Nothing after the ``!`` end marker
(outside parentheses) is read.
"""

from __future__ import annotations

from dataclasses import dataclass
import re

from .models import DataSet, Value

_LINE_SPLIT = re.compile(r"\r\n|\n|\r")
_CLEAN_LINE = re.compile(r"^(?:[\x21-\x27\x2a-\x7e]*(?:\([\x20-\x27\x2a-\x7e]*\))+)*!?[ \t]*$")


@dataclass(frozen=True, slots=True)
class DataBlock:
    """The data sets of a block and whether its ``!`` end marker was seen."""

    datasets: tuple[DataSet, ...]
    ended: bool


def _clean_address(text: str) -> str:
    return "".join(ch for ch in text if " " < ch < "\x7f")


def parse_value(inner: str) -> Value:
    """Parse the text between ``(`` and ``)``.

    The value is split at the first ``*``; if what follows holds another ``*`` or a
    ``&`` (multi-part values with units such as ``088*C&082*C``), nothing is split off.
    """
    value, star, unit = inner.partition("*")
    unit = unit.strip()
    if "*" in unit or "&" in unit:
        return Value(value=inner.strip(" "), unit=None)
    return Value(value=value.strip(" "), unit=unit if star and unit else None)


def parse_data_block(text: str) -> DataBlock:
    """Parse the data lines of a block (the text between STX and ETX, or of a mode D telegram)."""
    datasets: list[DataSet] = []
    for line in _LINE_SPLIT.split(text):
        if _parse_line(line, datasets):
            return DataBlock(tuple(datasets), ended=True)
    return DataBlock(tuple(datasets), ended=False)


def is_clean_data(text: str) -> bool:
    """Return True if every line up to ``!`` is made of well-formed data sets only.

    Used for unframed telegrams, which carry no block check: junk (e.g. data received at
    the wrong rate) must not be mistaken for data.
    """
    for line in _LINE_SPLIT.split(text):
        if not _CLEAN_LINE.match(line):
            return False
        if line.rstrip(" \t").endswith("!"):
            return True
    return True


def parse_data_lines(text: str) -> tuple[DataSet, ...]:
    """Return the data sets of ``text`` (see :func:`parse_data_block`)."""
    return parse_data_block(text).datasets


def _parse_line(line: str, datasets: list[DataSet]) -> bool:
    """Parse one physical line into ``datasets``; return True at the ``!`` end marker."""
    pos = 0
    continuation = line.lstrip(" ").startswith("(")
    address_start = 0
    values: list[Value] = []
    address: str | None = None
    while pos < len(line):
        ch = line[pos]
        if ch == "!":
            _flush(datasets, address, values, continuation)
            return True
        if ch != "(":
            if values:
                _flush(datasets, address, values, continuation)
                continuation = False
                values = []
                address_start = pos
            pos += 1
            continue
        close = line.find(")", pos + 1)
        if close < 0:
            break
        if not values:
            address = _clean_address(line[address_start:pos])
        values.append(parse_value(line[pos + 1 : close]))
        pos = close + 1
    _flush(datasets, address, values, continuation)
    return False


def _flush(
    datasets: list[DataSet], address: str | None, values: list[Value], continuation: bool
) -> None:
    if not values or address is None:
        return
    if continuation and not address and datasets:
        previous = datasets[-1]
        datasets[-1] = DataSet(previous.address, previous.values + tuple(values))
        return
    datasets.append(DataSet(address, tuple(values)))
