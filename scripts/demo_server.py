"""A real Home Assistant 2026.11.0 with this integration and simulated meters, ready to log in.

Used by ``scripts/demo`` (a newcomer's first command) and by ``tests/e2e/test_browser.py``.

- Simulated meters: the project's simulator run by ``scripts/demo_meter.py PROFILE --link PATH``,
  one process per meter, each behind a stable link in the config directory
  (``<config>/ttyE350``, ``<config>/ttyMT174``, ``<config>/ttyZMD120``); each keeps its counters
  in ``<link>.stats.json`` (:meth:`DemoServer.meter_stats`: how often a meter was read).
- Home Assistant: ``.venv-demo`` (``scripts/setup demo``) runs ``python -m homeassistant
  --skip-pip`` on a throw-away config directory whose ``custom_components/dlms_meter`` is a
  symlink to this checkout, listening on 127.0.0.1 only, in its own process group.
- Onboarding is finished through Home Assistant's onboarding HTTP API right after start (owner
  user, analytics and integration steps); only the core-config step is marked done in
  ``.storage/onboarding`` beforehand, because its API call sets up met, radio_browser,
  google_translate and shopping_list, which would reach out to the internet.

Run ``python scripts/demo_server.py --help`` for the command line.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import Any, Self
import urllib.error
import urllib.parse
import urllib.request

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_integrations import CONFIGURED_DOMAINS  # noqa: E402

DEMO_PYTHON = ROOT / ".venv-demo" / "bin" / "python"
HOST = "127.0.0.1"
DEFAULT_PORT = 8123
OWNER_NAME = "Demo Owner"
USERNAME = "demo"
PASSWORD = "demo-meter"  # a throw-away local demo account, printed for the user
START_TIMEOUT = 300.0  # first start on a busy 2-core machine (frontend, recorder, migrations)
STOP_TIMEOUT = 60.0


@dataclass(frozen=True)
class MeterSpec:
    """A simulated meter of the demo: simulator profile, link name, what it is.

    ``grow`` lets energy registers count up (register address -> units per hour), so the
    values in Home Assistant move as a real meter's would. ``history`` adds two made-up
    billing-period values (scripts/demo_meter.py) for the picker's history group.
    """

    profile: str
    link_name: str
    description: str
    grow: tuple[tuple[str, float], ...] = ()
    history: bool = False


METERS: tuple[MeterSpec, ...] = (
    MeterSpec(
        "lgz_e350",
        "ttyE350",
        "Landis+Gyr E350 (mode C, 4800 Bd)",
        (("1.8.0", 0.6), ("1.8.1", 0.6), ("2.8.0", 0.2), ("2.8.1", 0.2)),
    ),
    MeterSpec(
        "iskra_mt174",
        "ttyMT174",
        "Iskra MT174 (mode C, 9600 Bd)",
        (("1-0:1.8.0*255", 0.4), ("1-0:1.8.1*255", 0.4)),
    ),
    MeterSpec(
        "lgz_zmd120",
        "ttyZMD120",
        "Landis+Gyr ZMD120 (300 Bd only, with two made-up billing-period values)",
        history=True,
    ),
)


@dataclass(frozen=True)
class RunningMeter:
    """A simulated meter that is running: its spec and the port path to type in the flow."""

    spec: MeterSpec
    port: Path


def free_port(preferred: int | None = None) -> int:
    """``preferred`` if nothing listens there on 127.0.0.1, else a free port the kernel picks."""
    candidates = [preferred, 0] if preferred else [0]
    for candidate in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As Home Assistant's server does: connections of a previous run in TIME_WAIT
            # do not make the port busy.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, candidate or 0))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free TCP port on 127.0.0.1")


def _configuration_yaml() -> str:
    sections = {
        "homeassistant": (
            "  name: DLMS Meter demo\n  unit_system: metric\n  currency: EUR\n"
            "  country: DE\n  time_zone: Europe/Berlin\n  latitude: 52.52\n"
            "  longitude: 13.40\n  elevation: 34\n"
        ),
        "recorder": "  commit_interval: 1\n",
        # ffmpeg and libturbojpeg are not installed (no camera here): silence their start-up
        # errors so the log shows what matters for the demo.
        "logger": (
            "  default: warning\n  logs:\n    custom_components.dlms_meter: debug\n"
            "    haffmpeg: critical\n    homeassistant.components.camera.img_util: critical\n"
        ),
    }
    lines = [f"{key}:\n{body}" for key, body in sections.items()]
    lines += [f"{domain}:\n" for domain in CONFIGURED_DOMAINS if domain not in sections]
    return "".join(lines)


class DemoError(RuntimeError):
    """The demo could not be started."""


class HTTPStatusError(DemoError):
    """Home Assistant answered a request with an error status."""

    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path}: HTTP {status} {body!r}")
        self.status = status


class DemoServer:
    """Simulated meters plus a Home Assistant with the integration, onboarded.

    Use as a context manager (or call :meth:`start` and :meth:`stop`). ``stop`` always frees
    the port and ends every process it started (their process groups).
    """

    def __init__(
        self,
        config_dir: Path,
        *,
        port: int | None = None,
        python: Path = DEMO_PYTHON,
        fresh: bool = True,
        log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr, flush=True),
    ) -> None:
        self.config_dir = config_dir.resolve()
        self.port = port if port is not None else free_port(DEFAULT_PORT)
        self.python = python
        self.fresh = fresh
        self.log = log
        self.url = f"http://{HOST}:{self.port}"
        self.username = USERNAME
        self.password = PASSWORD
        self.meters: list[RunningMeter] = []
        self.access_token: str | None = None
        self.timings: dict[str, float] = {}
        self._simulators: list[subprocess.Popen[bytes]] = []
        self._hass: subprocess.Popen[bytes] | None = None

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Prepare the config, start the meters and Home Assistant, finish onboarding."""
        if not self.python.exists():
            raise DemoError(f"{self.python} is missing: run scripts/setup demo first")
        began = time.monotonic()
        try:
            self._prepare_config()
            self._start_meters()
            self._start_hass()
            self._wait_until_up()
            self.timings["hass_up"] = time.monotonic() - began
            self._onboard()
            self._wait_until_running()
            self.timings["ready"] = time.monotonic() - began
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """End Home Assistant (SIGTERM, then SIGKILL) and the simulators; idempotent."""
        if self._hass is not None:
            _end_process_group(self._hass, STOP_TIMEOUT)
            self._hass = None
        for proc in self._simulators:
            _end_process_group(proc, 10.0)
        self._simulators.clear()

    def wait(self) -> int:
        """Block until Home Assistant exits by itself; its exit code."""
        assert self._hass is not None
        return self._hass.wait()

    def meter_stats(self, meter: RunningMeter) -> dict[str, int]:
        """The simulator's counters of ``meter`` (``sessions``: complete readouts sent)."""
        path = meter.port.with_name(meter.port.name + ".stats.json")
        return dict(json.loads(path.read_text(encoding="utf-8")))

    @property
    def log_file(self) -> Path:
        """Home Assistant's log file."""
        return self.config_dir / "home-assistant.log"

    # -- steps ------------------------------------------------------------------------------

    def _prepare_config(self) -> None:
        cfg = self.config_dir
        if self.fresh and cfg.exists():
            shutil.rmtree(cfg)
        (cfg / "custom_components").mkdir(parents=True, exist_ok=True)
        (cfg / ".storage").mkdir(exist_ok=True)
        link = cfg / "custom_components" / "dlms_meter"
        if not link.exists():
            link.symlink_to(ROOT / "custom_components" / "dlms_meter", target_is_directory=True)
        (cfg / "configuration.yaml").write_text(_configuration_yaml(), encoding="utf-8")
        # Since 2026.11 the HTTP settings live in .storage/http (YAML is migrated once, as an
        # unconfirmed trial that reverts after a while): write them there, as "stable".
        _write_storage(
            cfg,
            "http",
            3,
            {
                "stable": {
                    "server_host": [HOST],
                    "server_port": self.port,
                    "cors_allowed_origins": [],
                    "login_attempts_threshold": -1,
                    "ip_ban_enabled": False,
                    "ssl_profile": "intermediate_v6",
                    "use_x_frame_options": True,
                    "created_at": "2026-11-01T00:00:00+00:00",
                    "error": None,
                    "error_message": None,
                },
                "pending": None,
                "yaml_migration_done": True,
            },
        )
        if not (cfg / ".storage" / "onboarding").exists():
            _write_storage(cfg, "onboarding", 4, {"done": ["core_config"]})

    def _start_meters(self) -> None:
        for spec in METERS:
            link = self.config_dir / spec.link_name
            link.unlink(missing_ok=True)
            log = (self.config_dir / f"simulator-{spec.profile}.log").open("wb")
            proc = subprocess.Popen(
                [
                    str(self.python),
                    str(ROOT / "scripts" / "demo_meter.py"),
                    spec.profile,
                    "--link",
                    str(link),
                    *(f"--grow={address}={per_hour}" for address, per_hour in spec.grow),
                    *(["--history"] if spec.history else []),
                ],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            self._simulators.append(proc)
            self.meters.append(RunningMeter(spec, link))
        deadline = time.monotonic() + 60.0
        for meter, proc in zip(self.meters, self._simulators, strict=True):
            while not meter.port.exists():
                if proc.poll() is not None:
                    raise DemoError(
                        f"simulator {meter.spec.profile} exited ({proc.returncode}): "
                        + _tail(self.config_dir / f"simulator-{meter.spec.profile}.log")
                    )
                if time.monotonic() > deadline:
                    raise DemoError(f"simulator {meter.spec.profile} made no {meter.port}")
                time.sleep(0.1)

    def _start_hass(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        out = (self.config_dir / "home-assistant.stdout").open("wb")
        self._hass = subprocess.Popen(
            [
                str(self.python),
                "-m",
                "homeassistant",
                "--config",
                str(self.config_dir),
                "--skip-pip",
                "--log-file",
                str(self.log_file),
            ],
            cwd=self.config_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert self._hass is not None
        while True:
            if self._hass.poll() is not None:
                raise DemoError(
                    f"Home Assistant exited ({self._hass.returncode}): "
                    + _tail(self.config_dir / "home-assistant.stdout")
                )
            try:
                self._onboarding_steps()
            except OSError, DemoError:
                pass
            else:
                return
            if time.monotonic() > deadline:
                raise DemoError(f"Home Assistant did not answer on {self.url} in time")
            time.sleep(0.5)

    def _wait_until_running(self) -> None:
        """Wait until Home Assistant has finished starting (all integrations set up)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            _, config = self._request("GET", "/api/config")
            if config.get("state") == "RUNNING":
                return
            if time.monotonic() > deadline:
                raise DemoError(f"Home Assistant still {config.get('state')} after start")
            time.sleep(0.5)

    def _onboarding_steps(self) -> list[dict[str, Any]] | None:
        """The onboarding steps, or None when onboarding is complete (the view is gone)."""
        try:
            _, steps = self._request("GET", "/api/onboarding")
        except HTTPStatusError as err:
            if err.status == 404:
                return None
            raise
        return list(steps)

    def _onboard(self) -> None:
        steps = self._onboarding_steps()
        done = {step["step"] for step in steps or () if step["done"]}
        client_id = f"{self.url}/"
        if steps is None or "user" in done:
            self.log("already onboarded: logging in with the demo account")
            self._login(client_id)
            return
        _, body = self._request(
            "POST",
            "/api/onboarding/users",
            json_body={
                "client_id": client_id,
                "name": OWNER_NAME,
                "username": self.username,
                "password": self.password,
                "language": "en",
            },
        )
        self._fetch_token(client_id, body["auth_code"])
        for step in ("core_config", "analytics"):
            if step not in done:
                self._request("POST", f"/api/onboarding/{step}", json_body={})
        self._request(
            "POST",
            "/api/onboarding/integration",
            json_body={"client_id": client_id, "redirect_uri": f"{self.url}/?auth_callback=1"},
        )
        steps = self._onboarding_steps()
        missing = [step["step"] for step in steps or () if not step["done"]]
        if missing:
            raise DemoError(f"onboarding steps not done: {missing}")

    def _login(self, client_id: str) -> None:
        """Log in through the login flow API (what the login page does)."""
        _, flow = self._request(
            "POST",
            "/auth/login_flow",
            json_body={
                "client_id": client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.url}/?auth_callback=1",
            },
        )
        _, result = self._request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            json_body={
                "client_id": client_id,
                "username": self.username,
                "password": self.password,
            },
        )
        if result.get("type") != "create_entry":
            raise DemoError(f"cannot log in as {self.username!r}: {result.get('errors')}")
        self._fetch_token(client_id, result["result"])

    def _fetch_token(self, client_id: str, code: str) -> None:
        _, token = self._request(
            "POST",
            "/auth/token",
            form={"grant_type": "authorization_code", "code": code, "client_id": client_id},
        )
        self.access_token = token["access_token"]

    # -- HTTP -------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        headers: dict[str, str] = {}
        data: bytes | None = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raise HTTPStatusError(method, path, err.code, err.read()[:300]) from err


def _write_storage(config_dir: Path, key: str, version: int, data: dict[str, Any]) -> None:
    """Write a Home Assistant ``.storage`` file (read at start)."""
    doc = {"version": version, "minor_version": 1, "key": key, "data": data}
    (config_dir / ".storage" / key).write_text(json.dumps(doc, indent=2), encoding="utf-8")


def _end_process_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    # Whatever the leader left behind in its group goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


def main(argv: list[str] | None = None) -> int:
    """The demo's command line: start everything, print how to log in, run until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        type=Path,
        default=ROOT / "demo-config",
        help="Home Assistant config directory (default: demo-config/, git-ignored)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep an existing config directory (meters added before stay) instead of a fresh one",
    )
    parser.add_argument(
        "--port", type=int, default=None, help=f"HTTP port (default {DEFAULT_PORT} if free)"
    )
    args = parser.parse_args(argv)

    def on_signal(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Explicitly: a shell starting us in the background hands SIGINT down as ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    server = DemoServer(args.config, port=args.port, fresh=not args.keep)
    try:
        print(f"Starting Home Assistant 2026.11.0 in {server.config_dir} ...", flush=True)
        server.start()
        print(
            f"\nHome Assistant is ready ({server.timings['ready']:.0f} s):\n"
            f"  URL:       {server.url}\n"
            f"  user name: {server.username}\n"
            f"  password:  {server.password}\n"
            "\nSimulated meters (Settings > Devices & services > Add integration > "
            "DLMS Meter,\nthen type one of these paths as the serial port):",
            flush=True,
        )
        for meter in server.meters:
            print(f"  {meter.port}   {meter.spec.description}", flush=True)
        print(f"\nHome Assistant's log: {server.log_file}\nPress Ctrl-C to stop.", flush=True)
        code = server.wait()
        print(f"Home Assistant exited with code {code}", flush=True)
        return code
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    except DemoError as err:
        print(f"demo failed: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
