"""The command line tool: parse captures, read a simulated meter, run without Home Assistant."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import subprocess
import sys

import pytest

from custom_components.dlms_meter.iec62056 import (
    ChecksumError,
    DataSet,
    Identification,
    NoAnswerError,
    NoProgrammingModeError,
    PasswordRefusedError,
    PortError,
    ProtocolError,
    Readout,
    ReadSettings,
    UnknownRegisterError,
    Value,
)
from custom_components.dlms_meter.iec62056.cli import main, settings_text
from custom_components.dlms_meter.iec62056.probe import heat_meter_settings
from meter_sim.simulator import PROFILES, MeterSimulator

from .corpus import RAW
from .test_probe import LIBRARY_KNOWS_SML, READOUT, FakeMeter, SmlError, sml_network_head

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


def test_invalid_address_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An address the standard does not allow: exit 2, one clear line naming the address."""
    assert main(["read", "/dev/null", "--address", "a/b"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "error (invalid): invalid device address 'a/b': "
        "up to 32 characters 0-9, A-Z, a-z and space\n"
    )
    assert main(["probe", "/dev/null", "--address", "x" * 33]) == 2
    assert "invalid device address" in capsys.readouterr().err


def _lib_rejects_newline() -> bool:
    try:
        ReadSettings(address="12\n")
    except ValueError:
        return True
    return False


@pytest.mark.skipif(not _lib_rejects_newline(), reason="ReadSettings accepts '12\\n' (lib fixes)")
def test_address_with_newline_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--address $'12\\n'`` never reaches the wire (it would end the request early)."""
    meter = FakeMeter(lambda _s: READOUT)
    assert main(["read", "/dev/ttyIR", "--address", "12\n"], read=meter) == 2
    assert meter.calls == []
    assert "invalid device address '12\\n'" in capsys.readouterr().err


def test_other_invalid_settings_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Settings the library refuses for another reason: its message, exit 2."""
    assert main(["read", "/dev/null", "--max-baudrate", "100"]) == 2
    assert capsys.readouterr().err.startswith("error (invalid): max_baudrate")


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


# --- read and probe share the config flow's probe ----------------------------------------------

C = ReadSettings()
WOKEN = ReadSettings(wakeup=True)
SECRET_URL = "rfc2217://admin:s3cret@10.0.0.5:4001/?key=abcdef"


def test_read_auto_uses_the_fallbacks(capsys: pytest.CaptureFixture[str]) -> None:
    """``read PORT`` (mode auto) finds a sleepy meter like the flow does: the readout only."""
    meter = FakeMeter(lambda s: READOUT if s.wakeup and s.mode == "C" else NoAnswerError("x"))
    assert main(["read", "/dev/ttyIR", "--json"], read=meter, clock=meter.clock) == 0
    out, err = capsys.readouterr()
    assert meter.calls == [C, WOKEN]
    assert err == ""
    assert json.loads(out)["readings"] == [
        {"address": "1.8.0", "values": [{"value": "000123.4", "unit": "kWh"}]}
    ]


def test_read_finds_a_heat_meter(capsys: pytest.CaptureFixture[str]) -> None:
    """Automatic mode finds the Ultraheat sign-on without being told."""
    meter = FakeMeter(lambda s: READOUT if s.answer_baudrate == 2400 else NoAnswerError("x"))
    assert main(["read", "/dev/ttyIR"], read=meter, clock=meter.clock) == 0
    assert meter.calls[-1] == heat_meter_settings(C)
    assert "1 data sets" in capsys.readouterr().out


def test_read_fixed_mode_stays_in_that_mode(capsys: pytest.CaptureFixture[str]) -> None:
    """``--mode C``: wake-up is tried, listening and the heat-meter sign-on are not."""
    meter = FakeMeter(lambda _s: NoAnswerError("no answer from the meter"))
    assert main(["read", "/dev/ttyIR", "--mode", "c"], read=meter, clock=meter.clock) == 1
    assert meter.calls == [C, WOKEN]
    assert capsys.readouterr().err == "error (no_answer): no answer from the meter\n"


def test_read_no_fallback_reads_once(capsys: pytest.CaptureFixture[str]) -> None:
    """``--no-fallback``: exactly the settings given."""
    meter = FakeMeter(lambda _s: ChecksumError("the block check does not verify"))
    args = ["read", "/dev/ttyIR", "--no-fallback", "--wakeup", "--address", "12"]
    assert main(args, read=meter, clock=meter.clock) == 1
    assert meter.calls == [ReadSettings(wakeup=True, address="12")]
    assert "use --no-checksum" in capsys.readouterr().err


def test_read_mode_d_searches_the_push_rates(capsys: pytest.CaptureFixture[str]) -> None:
    """``read --mode D`` without a rate: 9600, 2400, then the other rates when bytes came."""
    meter = FakeMeter(lambda s: READOUT if s.baudrate == 4800 else ProtocolError("junk"))
    assert main(["read", "/dev/ttyIR", "--mode", "D"], read=meter, clock=meter.clock) == 0
    assert [s.baudrate for s in meter.calls] == [9600, 2400, 4800]
    assert {s.mode for s in meter.calls} == {"D"}
    capsys.readouterr()


def test_read_mode_d_finds_a_9600_ehz(capsys: pytest.CaptureFixture[str]) -> None:
    """The real driver: an eHZ pushing at 9600 Bd is found by ``read PORT --mode D``."""
    with MeterSimulator(PROFILES["emh_ehz"]) as sim:
        assert main(["read", sim.port, "--mode", "D", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["identification"] == "EMH5----eHZ-E0018E"
    assert data["readings"]


def test_sml_meter_gets_the_edl21_hint(capsys: pytest.CaptureFixture[str]) -> None:
    """An SML stream: one line that names the EDL21 integration; the probe stops there."""
    meter = FakeMeter(lambda s: SmlError("escape") if s.mode == "D" else ProtocolError("junk"))
    assert main(["probe", "/dev/ttyIR"], read=meter, clock=meter.clock) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "error (sml): this meter speaks SML, not IEC 62056-21: "
        "use Home Assistant's EDL21 integration\n"
    )
    assert len(meter.calls) == 2


def test_probe_prints_settings_attempts_and_time(capsys: pytest.CaptureFixture[str]) -> None:
    """``probe``: the settings that worked, every attempt with its outcome, the read time."""
    meter = FakeMeter(lambda s: READOUT if s.wakeup else NoAnswerError("x"), seconds=4.0)
    assert main(["probe", "/dev/ttyIR"], read=meter, clock=meter.clock) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Port: /dev/ttyIR",
        "Settings that worked: mode C, rate auto, check xor, wake-up",
        "Readout: 1 data sets in 4.0 s",
        "Identification: /LGZ4ZMF100AC.M26",
        "Serial number: (none)",
        "Attempts: 2",
        "  1. mode C, rate auto, check xor: no_answer (4.0 s)",
        "  2. mode C, rate auto, check xor, wake-up: ok (4.0 s)",
    ]


def test_probe_json(capsys: pytest.CaptureFixture[str]) -> None:
    """``probe --json``: settings, attempts, duration, identity and the readout; port masked."""
    meter = FakeMeter(lambda s: READOUT if s.baudrate == 300 else PortError("no rate switch"))
    assert main(["probe", SECRET_URL, "--json"], read=meter, clock=meter.clock) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert "s3cret" not in out
    assert "abcdef" not in out
    assert data["port"] == "rfc2217://***@10.0.0.5:4001/?key=***"
    assert data["settings"] == {
        "mode": "C",
        "baudrate": 300,
        "max_baudrate": None,
        "checksum": "xor",
        "address": "",
        "wakeup": False,
        "no_waiting": False,
        "initial_baudrate": None,
        "answer_baudrate": None,
    }
    assert data["duration"] == 3.0
    assert [a["error"] for a in data["attempts"]] == ["port_error", None]
    assert data["attempts"][0]["settings"]["baudrate"] is None
    assert data["serial_number"] is None
    assert data["unique_id"].startswith("LGZ4ZMF100AC.M26@")
    assert data["readout"]["identification"] == "LGZ4ZMF100AC.M26"


def test_no_secret_in_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """An error message that quotes the port URL is printed masked."""
    meter = FakeMeter(lambda _s: PortError(f"{SECRET_URL}: connection refused"))
    assert main(["read", SECRET_URL, "--no-fallback"], read=meter, clock=meter.clock) == 1
    err = capsys.readouterr().err
    assert "s3cret" not in err
    assert "abcdef" not in err
    assert "rfc2217://***@10.0.0.5:4001/?key=***" in err


def test_settings_text_names_every_setting() -> None:
    """The one-line description of settings covers each field the probe varies."""
    assert settings_text(heat_meter_settings(C)) == (
        "mode A, answer at 2400 Bd, check xor, wake-up"
    )
    assert settings_text(ReadSettings(mode="D", baudrate=9600)) == (
        "mode D (listen) at 9600 Bd, check xor"
    )
    assert settings_text(ReadSettings(mode="D")) == "mode D (listen) at 2400 Bd, check xor"
    fancy = ReadSettings(
        mode="B", max_baudrate=4800, initial_baudrate=9600, address="7", no_waiting=True
    )
    assert settings_text(fancy) == (
        "mode B, rate auto, max 4800 Bd, start at 9600 Bd, check xor, address 7, no waiting"
    )


def test_mode_argument() -> None:
    """Modes are auto or A-D in either case; anything else is a usage error."""
    with pytest.raises(SystemExit):
        main(["read", "/dev/null", "--mode", "E"])


def test_interrupt_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C while reading: exit 130, one line."""

    async def interrupted(_port: str, _settings: ReadSettings) -> object:
        raise KeyboardInterrupt

    assert main(["read", "/dev/ttyIR"], read=interrupted) == 130  # type: ignore[arg-type]
    assert capsys.readouterr().err == "error: interrupted\n"


def test_cli_imports_no_driver_at_module_level() -> None:
    """``parse`` and ``--help`` need no serialx: the CLI and the probe import the driver lazily."""
    package = REPO / "custom_components" / "dlms_meter" / "iec62056"
    for name in ("cli.py", "probe.py", "identity.py"):
        tree = ast.parse((package / name).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("driver", "port", "serialx"), (name, node.module)
            if isinstance(node, ast.Import):
                assert all(alias.name != "serialx" for alias in node.names), name


def _package_needs_serialx() -> bool:
    code = (
        "import sys; sys.modules['serialx'] = None\n"
        "try:\n import custom_components.dlms_meter.iec62056\n"
        "except ImportError:\n sys.exit(1)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, timeout=60, check=False
    )
    return result.returncode != 0


@pytest.mark.skipif(
    _package_needs_serialx(), reason="iec62056/__init__.py imports the driver eagerly (lib)"
)
@pytest.mark.parametrize(
    "args", [["parse", E350, "--json"], ["--help"], ["read", "--help"], ["probe", "--help"]]
)
def test_parse_and_help_run_without_serialx(args: list[str]) -> None:
    """With serialx unimportable, ``parse`` and ``--help`` still work."""
    wrapper = (
        "import runpy, sys; sys.modules['serialx'] = None; "
        f"sys.argv = ['iec62056', *{args!r}]; "
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
    assert "serialx" not in result.stderr


def test_verbose_shows_attempts_while_running(capsys: pytest.CaptureFixture[str]) -> None:
    """``-v``: each attempt and its outcome on stderr; stdout keeps only the readout."""
    meter = FakeMeter(lambda s: READOUT if s.wakeup else NoAnswerError("x"), seconds=2.0)
    assert main(["read", "/dev/ttyIR", "-v", "--json"], read=meter, clock=meter.clock) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["identification"] == "LGZ4ZMF100AC.M26"
    assert err.splitlines() == [
        "attempt 1: mode C, rate auto, check xor ...",
        "  no_answer (2.0 s)",
        "attempt 2: mode C, rate auto, check xor, wake-up ...",
        "  ok (2.5 s)",
    ]


@pytest.mark.skipif(not LIBRARY_KNOWS_SML, reason="the library recognises SML once lib's is merged")
@pytest.mark.usefixtures("socket_enabled")  # a local TCP network head
def test_real_sml_meter_gets_the_edl21_hint(capsys: pytest.CaptureFixture[str]) -> None:
    """``probe socket://...`` on an SML meter: the EDL21 hint, exit 1, nothing on stdout."""
    with sml_network_head() as url:
        assert main(["probe", url]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "error (sml): this meter speaks SML, not IEC 62056-21: "
        "use Home Assistant's EDL21 integration\n"
    )


# ------------------------------------------------------------------ read --register


def test_read_registers_from_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    """Exactly the registers asked, in that order, in the readout's JSON shape."""
    with MeterSimulator("lgz_e350") as sim:
        code = main(["read", sim.port, "--register", "C.1.0", "--register", "1.8.1", "--json"])
        stats = sim.stats()
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["identification"] == "LGZ4ZMF100AC.M26"
    assert data["baudrate"] == 4800
    assert data["readings"] == [
        {"address": "C.1.0", "values": [{"value": "13647123", "unit": None}]},
        {"address": "1.8.1", "values": [{"value": "042951.721", "unit": "kWh"}]},
    ]
    assert stats.register_reads == 2
    assert stats.sessions == 0  # no full readout


class FakeRegisters:
    """A register reader that records its call and answers or raises."""

    def __init__(self, outcome: Readout | Exception) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, ReadSettings, list[str], dict[str, object]]] = []

    async def __call__(
        self, port: str, settings: ReadSettings, codes: list[str], **options: object
    ) -> Readout:
        self.calls.append((port, settings, codes, options))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


REGISTERS = Readout(
    identification=Identification(
        raw="ITR5EM214", manufacturer="ITR", baud_char="5", model="EM214", enhanced=()
    ),
    datasets=(DataSet("1.7.0", (Value("00.49", "kW"),)),),
    baudrate=9600,
    mode="C",
)


def test_read_registers_options_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeRegisters(REGISTERS)
    argv = ["read", "/dev/ttyIR", "--register", "1.7.0", "--password", "s3cret", "--r1"]
    assert main([*argv, "--address", "42"], register_reader=fake) == 0
    out, err = capsys.readouterr()
    assert "1.7.0  00.49 kW" in out
    assert "s3cret" not in out + err
    port, settings, codes, options = fake.calls[0]
    assert (port, codes, settings.address, str(settings.mode)) == (
        "/dev/ttyIR",
        ["1.7.0"],
        "42",
        "C",
    )
    assert options == {"password": "s3cret", "command": "R1", "strict": True}


@pytest.mark.parametrize(
    ("error", "status", "text"),
    [
        (NoProgrammingModeError("no P0 operand"), 3, "error (no_programming_mode): no P0"),
        (PasswordRefusedError("the meter refused the password"), 4, "error (password_refused)"),
        (UnknownRegisterError("the meter does not know 9.9.9", ("9.9.9",)), 5, "9.9.9"),
        (NoAnswerError("no answer"), 1, "error (no_answer)"),
        (PasswordRefusedError("leaked topsecret"), 4, "leaked ***"),
    ],
)
def test_read_registers_errors_and_exit_status(
    capsys: pytest.CaptureFixture[str], error: Exception, status: int, text: str
) -> None:
    fake = FakeRegisters(error)
    argv = ["read", "/dev/ttyIR", "--register", "9.9.9", "--password", "topsecret", "--json"]
    assert main(argv, register_reader=fake) == status
    out, err = capsys.readouterr()
    assert out == ""
    assert text in err
    assert "topsecret" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--register", "1.8.0", "--mode", "A"],
        ["--register", "1.8.0()"],
        ["--register", "1.8.0", "--password", "pw(x)"],
    ],
)
def test_read_registers_invalid_input(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Invalid mode, code or password: exit 2 before any port is opened; no password shown."""
    assert main(["read", "/dev/does-not-exist", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error (invalid): ")
    assert "pw(x)" not in err
