"""Access to the real-meter corpus in tests/fixtures/corpus (bytes and rendered .txt)."""

from __future__ import annotations

from pathlib import Path
import re

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "corpus"
RAW = CORPUS / "raw"
_MARKER = re.compile(r"<([A-Z]+(?:=[^>]*)?|0x[0-9A-Fa-f]{2}|(?:TRUNCATED|ELIDED)[^>]*)>")
_NAMED = {
    "STX": b"\x02",
    "ETX": b"\x03",
    "SOH": b"\x01",
    "ACK": b"\x06",
    "NUL": b"\x00",
    "EOT": b"\x04",
    "NAK": b"\x15",
    "CR": b"\r",
}


def txt_files() -> list[Path]:
    """Return every NN_*.txt telegram file."""
    return sorted(CORPUS.glob("[0-9][0-9]_*.txt"))


def bin_files() -> list[Path]:
    """Return every raw/*.bin capture."""
    return sorted(RAW.glob("*.bin"))


def number(path: Path) -> int:
    """Return the NN of a corpus file name."""
    return int(path.name[:2])


def raw_bytes(nn: int) -> bytes:
    """Return the exact bytes of capture NN."""
    (path,) = RAW.glob(f"{nn:02d}_*.bin")
    return path.read_bytes()


def _render_line(line: str) -> bytes:
    out = bytearray()
    pos = 0
    for match in _MARKER.finditer(line):
        out += line[pos : match.start()].encode("latin-1")
        token = match.group(1)
        if token in _NAMED:
            out += _NAMED[token]
        elif token.startswith(("BCC=0x", "0x")):
            out.append(int(token[-2:], 16))
        elif token == "LF":
            out += b"\n"
        pos = match.end()
    out += line[pos:].encode("latin-1")
    return bytes(out)


def render_txt(nn: int) -> bytes:
    """Render NN_*.txt back to bytes: line breaks are CR LF, markers become their bytes."""
    (path,) = CORPUS.glob(f"{nn:02d}_*.txt")
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    trailing = lines[-1] == ""
    if trailing:
        lines.pop()
    out = bytearray()
    for index, line in enumerate(lines):
        rendered = _render_line(line)
        out += rendered
        last = index == len(lines) - 1
        if line.endswith("<LF>") or (last and not trailing):
            continue
        out += b"\r\n"
    return bytes(out)
