"""One simulated meter of the demo, with its counters readable from outside.

``python scripts/demo_meter.py PROFILE --link PATH [--grow ADDR=PER_HOUR] [--history]`` runs the
project's simulator (meter_sim) like ``python -m meter_sim.simulator`` does, and keeps
``PATH.stats.json`` up to date with the simulator's counters (sessions = complete readouts
sent, requests, ...), so the demo server and the browser test can see how often Home Assistant
read the meter (one read when a meter is added, not two).

``--history`` appends two billing-period values (``1.8.0*01``, ``2.8.0*01``) to the profile's
data block, made up for the demo, so that the picker has history values to offer.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
import json
import os
from pathlib import Path
import signal
import sys
import threading

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meter_sim.profiles import PROFILES, MeterProfile  # noqa: E402
from meter_sim.simulator import MeterSimulator  # noqa: E402

HISTORY_LINES = b"1.8.0*01(001790.2*kWh)\r\n2.8.0*01(004211.9*kWh)\r\n"


def with_history(profile: MeterProfile) -> MeterProfile:
    """``profile`` with two billing-period values before its end marker ``!``."""
    end = profile.block.rindex(b"!")
    return profile.replace(block=profile.block[:end] + HISTORY_LINES + profile.block[end:])


def stats_path(link: Path) -> Path:
    """Where the counters of the meter behind ``link`` are written."""
    return link.with_name(link.name + ".stats.json")


def _write_stats(path: Path, stats: dict[str, int]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(stats), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Run the meter until SIGTERM/SIGINT, writing its counters whenever they change."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=sorted(PROFILES))
    parser.add_argument("--link", type=Path, required=True)
    parser.add_argument("--grow", action="append", default=[], metavar="ADDR=PER_HOUR")
    parser.add_argument("--history", action="store_true")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    if args.history:
        profile = with_history(profile)
    grow = {a: float(r) for a, _, r in (item.partition("=") for item in args.grow)}
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    path = stats_path(args.link)
    last: dict[str, int] | None = None
    with MeterSimulator(profile, link=args.link, grow=grow) as sim:
        print(sim.port, flush=True)
        while True:
            stats = {k: v for k, v in asdict(sim.stats()).items() if isinstance(v, int)}
            if stats != last:
                _write_stats(path, stats)
                last = stats
            if stop.wait(0.2):
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
