"""OBIS (EDIS) addresses: parsing, canonical form and matching.

Parsing
-------
``parse_obis`` accepts the forms meters send::

    [A-B:]C.D[.E][*F | &F]      e.g. 1.8.0  1-0:1.8.0*255  1-1:1.8.0  32.7  1.8.0*01  0.1.2&01
    C[*F]                       e.g. F(0) on heat meters ("F" alone)
    A.B.C.D.E[.F]               the all-dots full form, e.g. 1.0.1.8.0.255

Value groups are 0..255. In groups C, D and E the letters ``C`` ``F`` ``L`` ``P``
(either case) stand for 96, 97, 98, 99 (VDEW/EDIS): ``C.1.0`` is 96.1.0, ``F.F`` is
97.97. The F group may follow ``*`` or ``&`` (EMH and Landis+Gyr send both: in VDEW
numbering ``*`` marks the periodic billing-period reset, ``&`` a reset of another kind).
The two are different data sets, so the mark is kept (:attr:`ObisCode.f_ampersand`):
``parse_obis("0.1.0&12") != parse_obis("0.1.0*12")`` and neither matches the other.
Anything else (``ET0PE``, ``HELLO``, an empty address, a group above 255) is not OBIS:
``parse_obis`` returns None, it never raises.

Canonical form
--------------
``str(code)`` prints the groups the meter sent, letters as numbers:
``0-0:C.1.0*255`` -> ``0-0:96.1.0*255``, ``F.F`` -> ``97.97``, ``1.8.0*01`` -> ``1.8.0*1``.
The text shows the groups only: ``1.8.0&01`` also prints ``1.8.0*1`` (as :func:`normalize_obis`
does). Whoever keys data sets by this text must keep ``&`` apart itself (the address as
written, or :attr:`ObisCode.f_ampersand`), as the catalog does.

Matching (``code.matches(pattern)``; ``pattern`` is what a user writes)
-----------------------------------------------------------------------
A user code ``x.y``, ``x.y.z`` or ``x.y.z*q`` (or any full form) matches a meter code
when every group agrees under these rules:

* **C, D** must be equal (after letter normalisation).
* **A, B** (medium, channel): absent on either side matches anything; otherwise equal.
  So ``1.8.0`` matches ``1-0:1.8.0*255`` and ``1-1:1.8.0``; ``1-0:1.8.0`` matches ``1.8.0``.
* **E**: an E that is absent or 255 is "unspecified". An unspecified pattern E matches a
  meter E that is unspecified or 0 (``32.7`` matches ``32.7``, ``32.7.0``, ``1-0:32.7.0*255``;
  ``21.7`` matches ``1-0:21.7.255*255``) but not a tariff/phase E such as ``1.8.1``.
  A specified pattern E matches the same meter E, and pattern E=0 also matches an
  unspecified meter E (``21.7.0`` matches ``21.7.255`` and ``32.7``).
* **F** (billing period / history): an F that is absent or 255 means "current value".
  A pattern without F (or with ``*255``) matches only current values; it never matches a
  history entry (``1.8.0`` does not match ``1.8.0*01``, ``1.8.0*00``, ``1.8.0&01`` or
  ``1.8.0*100``). A pattern with a history F (0..254, e.g. ``*01`` or ``*100``) matches
  only that F with the same mark (``*1`` = ``*01``; ``&01`` matches only ``&01``/``&1``).

Non-OBIS addresses (``ET0PE``) are matched by exact text with :func:`address_matches`.
"""

from __future__ import annotations

from dataclasses import dataclass
import re

_LETTERS = {"C": 96, "F": 97, "L": 98, "P": 99}
_GROUP = r"([0-9]{1,3}|[CFLPcflp])"
_SHORT = re.compile(
    rf"^(?:([0-9]{{1,3}})-([0-9]{{1,3}}):)?{_GROUP}(?:\.{_GROUP})?(?:\.{_GROUP})?"
    rf"(?:([*&])([0-9]{{1,3}}))?$"
)
_N = r"([0-9]{1,3})"
_DOTTED = re.compile(rf"^{_N}\.{_N}\.{_N}\.{_N}\.{_N}(?:\.{_N})?$")
_UNSPECIFIED = 255


def _group(text: str | None) -> int | None:
    if text is None:
        return None
    value = _LETTERS.get(text.upper())
    if value is None:
        value = int(text)
    if value > _UNSPECIFIED:
        raise ValueError(text)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ObisCode:
    """An OBIS code ``A-B:C.D.E*F``; groups the meter did not send are None."""

    a: int | None = None
    b: int | None = None
    c: int
    d: int | None = None
    e: int | None = None
    f: int | None = None
    f_ampersand: bool = False
    """True when F was written after ``&`` instead of ``*`` (a different data set)."""

    def __str__(self) -> str:
        """Return the canonical text form (letters as numbers)."""
        text = str(self.c)
        if self.d is not None:
            text += f".{self.d}"
        if self.e is not None:
            text += f".{self.e}"
        if self.a is not None and self.b is not None:
            text = f"{self.a}-{self.b}:{text}"
        if self.f is not None:
            text += f"*{self.f}"
        return text

    @property
    def is_history(self) -> bool:
        """Return True for a billing-period (history) value: F present and not 255."""
        return self.f is not None and self.f != _UNSPECIFIED

    def matches(self, pattern: ObisCode | str) -> bool:
        """Return True if this (meter) code matches the user's ``pattern`` (see module doc)."""
        if isinstance(pattern, str):
            parsed = parse_obis(pattern)
            if parsed is None:
                return False
            pattern = parsed
        return (
            self.c == pattern.c
            and self.d == pattern.d
            and _ab_match(self.a, pattern.a)
            and _ab_match(self.b, pattern.b)
            and _e_match(self.e, pattern.e)
            and _f_match(self.f, pattern.f)
            and (not pattern.is_history or self.f_ampersand == pattern.f_ampersand)
        )


def _ab_match(meter: int | None, pattern: int | None) -> bool:
    return meter is None or pattern is None or meter == pattern


def _e_match(meter: int | None, pattern: int | None) -> bool:
    meter_unspecified = meter is None or meter == _UNSPECIFIED
    if pattern is None or pattern == _UNSPECIFIED:
        return meter_unspecified or meter == 0
    if meter_unspecified:
        return pattern == 0
    return meter == pattern


def _f_match(meter: int | None, pattern: int | None) -> bool:
    meter_current = meter is None or meter == _UNSPECIFIED
    if pattern is None or pattern == _UNSPECIFIED:
        return meter_current
    return meter == pattern


def parse_obis(address: str) -> ObisCode | None:
    """Parse an address as sent by a meter or written by a user; None if not OBIS."""
    text = address.strip()
    try:
        match = _SHORT.match(text)
        if match is not None:
            *short, mark, f_text = match.groups()
            a, b, c, d, e = (
                _group(g) if i in (2, 3, 4) else (None if g is None else int(g))
                for i, g in enumerate(short)
            )
            f = None if f_text is None else int(f_text)
            if (a is not None and a > _UNSPECIFIED) or (b is not None and b > _UNSPECIFIED):
                return None
            if f is not None and f > _UNSPECIFIED:
                return None
            assert c is not None
            return ObisCode(a=a, b=b, c=c, d=d, e=e, f=f, f_ampersand=mark == "&")
        match = _DOTTED.match(text)
        if match is not None:
            groups = [None if g is None else _group(g) for g in match.groups()]
            a, b, c, d, e, f = groups
            assert c is not None
            return ObisCode(a=a, b=b, c=c, d=d, e=e, f=f)
    except ValueError:
        return None
    return None


def normalize_obis(address: str) -> str:
    """Return the canonical form of ``address``, or the stripped text if it is not OBIS."""
    code = parse_obis(address)
    return address.strip() if code is None else str(code)


def address_matches(address: str, pattern: str) -> bool:
    """Match a meter address against a user pattern: OBIS rules, else exact text."""
    code = parse_obis(address)
    wanted = parse_obis(pattern)
    if code is not None and wanted is not None:
        return code.matches(wanted)
    return address.strip() == pattern.strip()
