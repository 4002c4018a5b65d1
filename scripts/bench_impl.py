"""How close `read_meter` gets to the wire limit, measured against the meter simulator.

For each profile: a full read cycle with `read_meter` on the simulator's pty (real serialx,
real wire timing), compared with the physical minimum for the same bytes and rates
(docs/iec62056-21-protocol.md section 7):

    T_min = request (5 chars @300) + tr + identification @300 + tr (ours) + ACK (6 @300)
          + tr + data message @new rate

Mode D: the telegram's wire time versus the time from its first byte on the wire until
`read_meter` returned (the wait for the next push is the meter's schedule, not ours).

"old" emulates the original SmartHomeNG plugin's fixed waits: 0.5 s before the ACK and
0.25 s after writing it before the switch. The switch part runs for real
(`switch_delay = 0.25 s - ACK wire time`); the driver has no knob for the wait before the
ACK, so its extra (0.5 s - tr) is added to the measured time (computed, marked "+calc").

Ratios are wire_min / measured (1.0 = at the wire limit; target >= 0.9).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
import statistics
import sys
import time

from custom_components.dlms_meter.iec62056 import (
    Checksum,
    Iec62056Error,
    ReadSettings,
    read_meter,
)
from meter_sim.profiles import PROFILES, RATES_C, MeterProfile
from meter_sim.simulator import MeterSimulator

CHAR300 = 10 / 300
ACK_LEN = 6
OLD_PRE_ACK = 0.5
OLD_AFTER_ACK_WRITE = 0.25
BENCH_PROFILES = ("lgz_zmd120", "lgz_e350", "iskra_mt174", "emh_ehz")


@dataclass
class Run:
    """One measured read."""

    measured: float  # request start (mode D: telegram start) -> read_meter returned
    wall: float  # read_meter call -> return (includes opening/closing the port)
    phases: dict[str, float]
    rate: int | None
    error: str = ""


def data_rate(profile: MeterProfile) -> int:
    """The rate the driver negotiates by default (the meter's offer)."""
    if profile.mode == "D":
        return profile.push_rate
    if profile.mode == "C":
        return RATES_C.get(profile.baud_char, 300)
    return profile.offered_rate


def wire_min(profile: MeterProfile) -> float:
    """The physical minimum session time for this profile's bytes (section 7)."""
    rate = data_rate(profile)
    data = len(profile.data_message()) * 10 / rate
    if profile.mode == "D":
        return data
    tr = profile.tr
    request = 5 * CHAR300
    ident = len(profile.identification_message()) * CHAR300
    if profile.mode == "C":
        return request + tr + ident + tr + ACK_LEN * CHAR300 + tr + data
    return request + tr + ident + tr + data  # modes A and B


def settings_for(profile: MeterProfile, *, old: bool) -> ReadSettings:
    if profile.mode == "D":
        return ReadSettings(mode="D", baudrate=profile.push_rate, session_gap=0)
    checksum = Checksum.SUM if profile.checksum == "sum" else Checksum.XOR
    switch_delay = OLD_AFTER_ACK_WRITE - ACK_LEN * CHAR300 if old else 0.0
    return ReadSettings(
        mode=profile.mode,
        checksum=checksum,
        switch_delay=switch_delay,
        session_gap=0,
    )


def phases(sim: MeterSimulator, called: float, returned: float) -> dict[str, float]:
    """Gaps between wire events (see MeterSimulator.timeline)."""
    t = sim.timeline()
    out: dict[str, float] = {}

    def gap(name: str, a: str | float, b: str | float) -> None:
        start = t.get(a) if isinstance(a, str) else a
        end = t.get(b) if isinstance(b, str) else b
        if start is not None and end is not None:
            out[name] = end - start

    gap("open", called, "request_start")
    gap("request", "request_start", "request_end")
    gap("meter_tr", "request_end", "ident_start")
    gap("ident", "ident_start", "ident_end")
    gap("our_tr", "ident_end", "ack_start")
    gap("ack", "ack_start", "ack_end")
    gap("meter_tr2", "ack_end", "data_start")
    gap("data", "data_start", "data_end")
    gap("tail", "data_end", returned)
    gap("close", returned, returned)
    return out


async def measure(profile: MeterProfile, *, old: bool) -> Run:
    with MeterSimulator(profile) as sim:
        await asyncio.sleep(0.05)
        called = time.monotonic()
        error = ""
        rate: int | None = None
        try:
            readout = await read_meter(sim.port, settings_for(profile, old=old))
            rate = readout.baudrate
            if profile.mode != "D" and readout.checksum_ok is not True:
                error = f"returned an unverified readout (checksum_ok={readout.checksum_ok})"
            elif readout.raw.find(profile.block[:20]) < 0:
                error = "returned a readout whose data differs from what the meter sent"
        except Iec62056Error as err:
            error = f"{type(err).__name__}: {err}"
        returned = time.monotonic()
        timeline = sim.timeline()
    started = timeline.get("data_start" if profile.mode == "D" else "request_start", called)
    measured = returned - started
    return Run(measured, returned - called, phases(sim, called, returned), rate, error)


def fmt_phases(run: Run) -> str:
    return " ".join(f"{k}={v * 1000:.0f}" for k, v in run.phases.items() if k != "close")


async def bench(names: list[str], rounds: int, verbose: bool) -> int:
    rows: list[tuple[str, ...]] = []
    low: list[str] = []
    failures: list[str] = []
    for name in names:
        profile = PROFILES[name]
        minimum = wire_min(profile)
        runs = [await measure(profile, old=False) for _ in range(rounds)]
        good = [r for r in runs if not r.error]
        best = statistics.median(r.measured for r in good) if good else float("nan")
        wall = statistics.median(r.wall for r in good) if good else float("nan")
        ratio = minimum / best if good else 0.0
        old_text, old_ratio_text = "n/a (no mode D)", ""
        if profile.mode == "C":
            old_runs = [await measure(profile, old=True) for _ in range(rounds)]
            old_good = [r for r in old_runs if not r.error]
            if old_good:
                extra = max(0.0, OLD_PRE_ACK - profile.tr)
                old_time = statistics.median(r.measured for r in old_good) + extra
                old_text = f"{old_time:7.3f} s +calc"
                old_ratio_text = f"{minimum / old_time:5.2f}"
            else:
                old_text = "FAILS (see below)"
                failures.append(f"{name} old plugin: {old_runs[0].error}")
                old_ratio_text = "-"
            if verbose:
                for run in old_runs:
                    print(f"  {name} old: {fmt_phases(run)} {run.error}", file=sys.stderr)
        if verbose:
            for run in runs:
                print(f"  {name} new: {fmt_phases(run)} {run.error}", file=sys.stderr)
        rate = good[0].rate if good else None
        errors = "; ".join(r.error for r in runs if r.error)
        rows.append(
            (
                name,
                f"{profile.mode} {rate or data_rate(profile)}",
                f"{len(profile.data_message())}",
                f"{minimum:7.3f} s",
                f"{best:7.3f} s" if good else "FAILED",
                f"{wall:7.3f} s" if good else "-",
                f"{ratio:5.2f}",
                old_text,
                old_ratio_text,
            )
        )
        if errors:
            failures.append(f"{name}: {errors}")
        if ratio < 0.9 and good:
            low.append(f"{name}: ratio {ratio:.2f}; phases (ms): {fmt_phases(good[0])}")
    header = (
        "profile",
        "mode/Bd",
        "bytes",
        "wire min",
        "measured",
        "wall",
        "ratio",
        "old plugin",
        "ratio",
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print()
    print("measured = median of", rounds, "read(s): request's first bit -> read_meter returned")
    print("           (mode D: telegram's first bit -> returned); wall = whole read_meter call.")
    print("old plugin = 0.5 s before the ACK (+calc: added, no driver knob) and the switch")
    print("             0.25 s after the ACK write (run for real via switch_delay).")
    for line in low:
        print("BELOW 0.9:", line)
    for line in failures:
        print("FAILED:", line)
    return (
        1 if any(not line.startswith(tuple(f"{n} old" for n in names)) for line in failures) else 0
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    parser.add_argument("profiles", nargs="*", default=list(BENCH_PROFILES))
    parser.add_argument("--rounds", type=int, default=1, help="reads per profile (median)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print phase timings")
    args = parser.parse_args(argv)
    unknown = [p for p in args.profiles if p not in PROFILES]
    if unknown:
        parser.error(f"unknown profiles {unknown}; known: {sorted(PROFILES)}")
    return asyncio.run(bench(args.profiles, args.rounds, args.verbose))


if __name__ == "__main__":
    sys.exit(main())
