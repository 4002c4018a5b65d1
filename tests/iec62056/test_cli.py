"""The command line tool: parse captures, read a simulated meter, run without Home Assistant."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import pytest

from custom_components.dlms_meter.iec62056.cli import main
from meter_sim.simulator import MeterSimulator

from .corpus import RAW

REPO = Path(__file__).resolve().parents[2]
E350 = str(next(RAW.glob("05_*.bin")))
E350_M27 = str(next(RAW.glob("04_*.bin")))
MC66 = str(next(RAW.glob("16_*.bin")))
ACE = str(next(RAW.glob("06_*.bin")))


def test_parse_json(capsys: pytest.CaptureFixture[str]) -> None:
    """JSON: identification, manufacturer, baudrate null, readings in meter order."""
    assert main(["parse", E350, "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert err == ""
    assert data["identification"] == "LGZ4ZMF100AC.M26"
    assert data["manufacturer"] == "LGZ"
    assert data["baudrate"] is None
    assert len(data["readings"]) == 22
    assert data["readings"][1] == {"address": "0.0", "values": [{"value": "120858", "unit": None}]}
    assert data["readings"][3] == {"address": "C.1.1", "values": [{"value": "", "unit": None}]}
    assert data["readings"][4]["values"] == [{"value": "042951.721", "unit": "kWh"}]


def test_parse_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json: a readable table."""
    assert main(["parse", MC66, "--checksum", "sum"]) == 0
    out = capsys.readouterr().out
    assert "Identification: /KAM MC  (manufacturer KAM)" in out
    assert "6.8   00433.65 GJ" in out
    assert "4 data sets" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([ACE], "does not verify"),
        ([E350_M27], "no check byte"),
        ([MC66], "does not verify"),
        (["/nonexistent/capture.bin"], "cannot read"),
    ],
)
def test_parse_failures(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    """A failed check is a failure: exit 1, one line on stderr, nothing on stdout."""
    assert main(["parse", *args, "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert message in err


def test_parse_no_checksum_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    """--no-checksum returns the data of a capture whose check fails."""
    assert main(["parse", ACE, "--no-checksum", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["address"] for r in data["readings"]] == ["F.F", "C.1", "C.5.0", "1.8.0"]
    assert data["readings"][3]["values"] == [{"value": "013925.5", "unit": None}]


def test_parse_nothing_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file without any telegram."""
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x7fhello world\r\n")
    assert main(["parse", str(junk)]) == 1
    assert "no IEC 62056-21 telegram" in capsys.readouterr().err


def test_read_simulated_meter(capsys: pytest.CaptureFixture[str]) -> None:
    """read PORT --json against the simulator: the baudrate is the data rate."""
    with MeterSimulator("lgz_e350") as sim:
        assert main(["read", sim.port, "--json", "--max-baudrate", "2400"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["baudrate"] == 2400
    assert data["identification"] == "LGZ4ZMF100AC.M26"
    assert len(data["readings"]) == 22


def test_read_failure_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing port: exit 1, one line naming the kind."""
    assert main(["read", "/dev/does-not-exist-dlms", "--baudrate", "9600"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip().startswith("error (port_not_found):")
    assert err.count("\n") == 1


def test_bad_baudrate_argument(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse rejects rates outside the standard list."""
    with pytest.raises(SystemExit):
        main(["read", "/dev/null", "--baudrate", "1234"])
    assert "must be auto or one of" in capsys.readouterr().err


def test_invalid_settings_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An address the standard does not allow is reported like any other failure."""
    assert main(["read", "/dev/null", "--address", "a/b"]) == 1
    assert capsys.readouterr().err.startswith("error (invalid): address")


def test_runs_without_home_assistant() -> None:
    """python -m ... works when homeassistant cannot be imported at all."""
    wrapper = (
        "import runpy, sys; sys.modules['homeassistant'] = None; "
        f"sys.argv = ['iec62056', 'parse', {E350!r}, '--json']; "
        "runpy.run_module('custom_components.dlms_meter.iec62056', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["identification"] == "LGZ4ZMF100AC.M26"


def test_auto_baudrate_argument(capsys: pytest.CaptureFixture[str]) -> None:
    """``--baudrate auto`` is the meter's offer (the same as leaving it out)."""
    assert main(["read", "/nonexistent/ttyIR", "--baudrate", "auto"]) == 1
    assert capsys.readouterr().err.startswith("error (port_not_found):")


def test_table_of_a_telegram_without_identification(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture that starts at STX (no identification line) still lists its data sets."""
    block = b"1.8.0(001234.5*kWh)\r\n!\r\n\x03"
    check = 0
    for byte in block:
        check ^= byte
    capture = tmp_path / "capture.bin"
    capture.write_bytes(b"\x02" + block + bytes([check]))
    assert main(["parse", str(capture)]) == 0
    out = capsys.readouterr().out
    assert "Identification" not in out
    assert "1.8.0  001234.5 kWh" in out
    assert "1 data sets" in out
