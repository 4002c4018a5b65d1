"""How close `read_meter` gets to the wire limit, measured against the meter simulator.

For each profile: a full read cycle with `read_meter` on the simulator's pty (real serialx,
real wire timing), compared with the physical minimum for the same bytes and rates
(docs/iec62056-21-protocol.md section 7):

    T_min = request (5 chars @300) + tr + identification @300 + tr (ours) + ACK (6 @300)
          + tr + data message @new rate

Mode D: the telegram's wire time versus the time from its first byte on the wire until
`read_meter` returned (the wait for the next push is the meter's schedule, not ours).

"old plugin" runs the SmartHomeNG DLMS plugin's read sequence (plugin 1.9.5, `dlms/dlms.py`
`query()`; smarthomeNG/plugins) step by step against the same simulator. It is a re-implementation
of that function's behaviour on our port helpers (its code is not copied), with its fixed waits
and checks: the request; the identification read up to LF (an exact echo of the request is
skipped, anything not starting with "/" aborts); mode C: 0.4 s, the ACK with the offered baud
character, 0.4 s, then the switch; mode B: 0.8 s, then the switch; the data read until 2 s of
silence (its default `timeout`); the XOR check only if the reply starts with STX and has ETX
second to last (a mismatch returns nothing; no STX: unchecked). Mode D (`only_listen`): from "/"
to "!". Its result counts as read only if it holds the meter's first data line.

Ratios are wire_min / measured (1.0 = at the wire limit; target >= 0.9).

The second table ("fresh value"): for every mode C profile, the time to one fresh value by a
register read in programming mode (`read_registers`, one R5 of the profile's power register,
or its first energy register) against the full readout (`read_meter`), both on the same
simulator at the profile's real rates, measured from the request's first bit until the call
returned; the value read must equal the readout's. `--registers` prints only this table.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
import statistics
import sys
import time

from custom_components.dlms_meter.iec62056 import (
    MODE_B_RATES,
    MODE_C_RATES,
    Checksum,
    Iec62056Error,
    ReadSettings,
    port as serial_port,
    read_meter,
    read_registers,
)
from meter_sim.profiles import PROFILES, RATES_C, MeterProfile, register_dataset
from meter_sim.simulator import MeterSimulator

CHAR300 = 10 / 300
ACK_LEN = 6
#: SmartHomeNG DLMS plugin 1.9.5: dlms.py query() waits and its default timeout (plugin.yaml).
OLD_WAIT_BEFORE_ACK = 0.4
OLD_WAIT_AFTER_ACK = 0.4
OLD_TIMEOUT = 2.0
OLD_BENCH_LIMIT = 60.0
BENCH_PROFILES = (
    "lgz_zmd120",
    "lgz_e350",
    "iskra_mt174",
    "itron_ace3000",
    "kamstrup_mc66",
    "emh_ehz",
    "ultraheat_uh50",
)


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
    ident = len(profile.identification_message()) * 10 / (profile.answer_rate or 300)
    if profile.mode == "C":
        return request + tr + ident + tr + ACK_LEN * CHAR300 + tr + data
    return request + tr + ident + tr + data  # modes A and B


def settings_for(profile: MeterProfile) -> ReadSettings:
    if profile.mode == "D":
        return ReadSettings(mode="D", baudrate=profile.push_rate, session_gap=0)
    checksum = Checksum.SUM if profile.checksum == "sum" else Checksum.XOR
    return ReadSettings(
        mode=profile.mode,
        checksum=checksum,
        session_gap=0,
        answer_baudrate=profile.answer_rate,
        wakeup=profile.wakeup,
    )


class _OldSerial:
    """pyserial-like reads as the old plugin does them (`read()` with `timeout` per byte)."""

    def __init__(self, reader: asyncio.StreamReader, timeout: float) -> None:
        self.reader = reader
        self.timeout = timeout
        self.buffer = b""

    async def read(self) -> bytes:
        """One byte, or b"" after `timeout` seconds without one."""
        if not self.buffer:
            try:
                self.buffer = await asyncio.wait_for(self.reader.read(4096), self.timeout)
            except TimeoutError:
                return b""
        byte, self.buffer = self.buffer[:1], self.buffer[1:]
        return byte

    async def read_block(self, end: bytes | None = b"\n", start: bytes | None = None) -> bytes:
        """dlms.py read_data_block_from_serial: up to `end` (included) or a timeout."""
        response = b""
        start_found = False
        while True:
            byte = await self.read()
            if not byte:
                break
            if start is not None and byte == start:
                response = b""
                start_found = True
            response += byte
            if end is not None and byte == end:
                if start is not None and not start_found:
                    response = b""
                    continue
                break
        return response


async def old_plugin_query(port: str, profile: MeterProfile) -> str | None:
    """The SmartHomeNG DLMS plugin 1.9.5 query() sequence (see the module docstring)."""
    # mode D: the user sets the plugin's `baudrate` to the push rate (only_listen)
    reader, writer = await serial_port.open_port(
        port, profile.push_rate if profile.mode == "D" else 300
    )
    serial = _OldSerial(reader, OLD_TIMEOUT)
    try:
        if profile.mode == "D":
            response = await serial.read_block(b"!", b"/")
            return response.decode("ascii", "replace") if response else None
        request = b"/?!\r\n"
        writer.write(request)
        response = await serial.read_block()
        if response == request:
            response = await serial.read_block()
        if len(response) < 7 or response[0] != ord("/"):
            return None  # "malformed identification" / "does not start with '/'"
        baud_char = chr(response[4])
        ack = b"\x060" + baud_char.encode("latin-1") + b"0\r\n"
        if baud_char in MODE_B_RATES:
            await asyncio.sleep(OLD_WAIT_BEFORE_ACK + OLD_WAIT_AFTER_ACK)
            await serial_port.set_baudrate(writer, MODE_B_RATES[baud_char])
        elif baud_char in MODE_C_RATES:
            await asyncio.sleep(OLD_WAIT_BEFORE_ACK)
            writer.write(ack)
            await asyncio.sleep(OLD_WAIT_AFTER_ACK)
            if MODE_C_RATES[baud_char] != 300:
                await serial_port.set_baudrate(writer, MODE_C_RATES[baud_char])
        response = await serial.read_block(None)
    finally:
        await serial_port.close_port(writer)
    if response.startswith(ack):
        response = response[len(ack) :]
    if len(response) > 5 and response[0] == 0x02 and response[-2] == 0x03:
        check = 0
        for byte in response[1:-1]:
            check ^= byte
        if check != response[-1]:
            return None  # "checksum/protocol error"
    if len(response) <= 5:
        return None
    try:
        return response[1:-4].decode("ascii")
    except UnicodeDecodeError:
        return None  # the plugin's caller logs the exception and gets no result


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


async def measure_old(profile: MeterProfile) -> Run:
    """One read with the old plugin's sequence: wall time, and whether it got the data."""
    with MeterSimulator(profile) as sim:
        await asyncio.sleep(0.05)
        called = time.monotonic()
        error = ""
        try:
            # the plugin itself has no overall limit: cap the bench's wait
            async with asyncio.timeout(OLD_BENCH_LIMIT):
                result = await old_plugin_query(sim.port, profile)
        except Iec62056Error as err:
            result, error = None, f"{type(err).__name__}: {err}"
        except TimeoutError:
            result, error = None, f"still reading after {OLD_BENCH_LIMIT:g} s (no overall limit)"
        returned = time.monotonic()
        timeline = sim.timeline()
    first_line = profile.block.split(b"\n", 1)[0].strip().decode("latin-1")
    if not error and result is None:
        error = "no result (the plugin logs an error and publishes nothing)"
    elif not error and result is not None and first_line not in result:
        error = "a result without the meter's data (junk)"
    started = timeline.get("data_start" if profile.mode == "D" else "request_start", called)
    return Run(returned - started, returned - called, phases(sim, called, returned), None, error)


async def measure(profile: MeterProfile) -> Run:
    with MeterSimulator(profile) as sim:
        await asyncio.sleep(0.05)
        called = time.monotonic()
        error = ""
        rate: int | None = None
        try:
            readout = await read_meter(sim.port, settings_for(profile))
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
        runs = [await measure(profile) for _ in range(rounds)]
        good = [r for r in runs if not r.error]
        best = statistics.median(r.measured for r in good) if good else float("nan")
        wall = statistics.median(r.wall for r in good) if good else float("nan")
        ratio = minimum / best if good else 0.0
        old_text, old_ratio_text = "n/a", ""
        if profile.answer_rate is None and not profile.wakeup:  # the plugin has neither
            old_runs = [await measure_old(profile) for _ in range(rounds)]
            old_good = [r for r in old_runs if not r.error]
            if old_good:
                old_time = statistics.median(r.measured for r in old_good)
                old_text = f"{old_time:7.3f} s"
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
    print("old plugin = the SmartHomeNG DLMS plugin 1.9.5 read sequence, re-implemented step by")
    print("             step (0.4 s before/after the ACK, end of data = 2 s of silence), same")
    print("             measure; FAILS = it would publish nothing or junk for this meter.")
    for line in low:
        print("BELOW 0.9:", line)
    for line in failures:
        print("FAILED:", line)
    return (
        1 if any(not line.startswith(tuple(f"{n} old" for n in names)) for line in failures) else 0
    )


#: Registers tried for the fresh-value table, in order: power first, then energy.
FRESH_CODES = ("1.7.0", "16.7.0", "15.7.0", "1.8.0", "1.8.1")


def fresh_code(profile: MeterProfile) -> str | None:
    """The register the fresh-value table reads for ``profile`` (None: none of FRESH_CODES)."""
    for code in FRESH_CODES:
        try:
            register_dataset(profile.block, code)
        except KeyError:
            continue
        return code
    return None


async def measure_fresh(profile: MeterProfile, code: str) -> tuple[float, float, float, str]:
    """(full readout, register read, each further register, error) in seconds.

    The first two from the request to the value; the third is what a second register in the
    same session adds (a session reading the register twice, minus one reading it once).
    """
    settings = settings_for(profile)
    with MeterSimulator(profile) as sim:
        await asyncio.sleep(0.05)
        try:
            full = await read_meter(sim.port, settings)
            full_time = time.monotonic() - sim.timeline()["request_start"]
            await asyncio.sleep(0.2)
            fast = await read_registers(sim.port, settings, [code])
            fast_time = time.monotonic() - sim.timeline()["request_start"]
            await asyncio.sleep(0.2)
            await read_registers(sim.port, settings, [code, code])
            more = time.monotonic() - sim.timeline()["request_start"] - fast_time
        except Iec62056Error as err:
            return 0.0, 0.0, 0.0, f"{type(err).__name__}: {err}"
    want = full.find(code)
    if not fast.datasets or not want or fast.datasets[0].values != want[0].values:
        return full_time, fast_time, more, "the register read differs from the readout"
    return full_time, fast_time, more, ""


async def bench_fresh(names: list[str], rounds: int) -> int:
    """Print the fresh-value table; return 1 if a register read failed."""
    header = ("profile", "Bd", "register", "full readout", "register read", "ratio", "+1 reg")
    rows: list[tuple[str, ...]] = []
    failures: list[str] = []
    for name in names:
        profile = PROFILES[name]
        code = fresh_code(profile)
        if profile.mode != "C" or not profile.programming or code is None:
            continue
        runs = [await measure_fresh(profile, code) for _ in range(rounds)]
        good = [run for run in runs if not run[3]]
        failures += [f"{name}: {run[3]}" for run in runs if run[3]]
        if not good:
            rows.append((name, str(data_rate(profile)), code, "FAILED", "FAILED", "-", "-"))
            continue
        full = statistics.median(run[0] for run in good)
        fast = statistics.median(run[1] for run in good)
        more = statistics.median(run[2] for run in good)
        rows.append(
            (
                name,
                str(data_rate(profile)),
                code,
                f"{full:7.3f} s",
                f"{fast:7.3f} s",
                f"{full / fast:5.1f}x",
                f"{more:6.3f} s",
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("Time to a fresh value: one register read (programming mode, R5) vs the full readout")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(
        f"median of {rounds} run(s); request's first bit -> call returned; ratio = full/register;"
    )
    print("+1 reg = what each further register adds to the same session (one R5 and its answer).")
    for line in failures:
        print("FAILED:", line)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    parser.add_argument("profiles", nargs="*", default=list(BENCH_PROFILES))
    parser.add_argument("--rounds", type=int, default=1, help="reads per profile (median)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print phase timings")
    parser.add_argument(
        "--registers", action="store_true", help="only the fresh-value table (register reads)"
    )
    args = parser.parse_args(argv)
    unknown = [p for p in args.profiles if p not in PROFILES]
    if unknown:
        parser.error(f"unknown profiles {unknown}; known: {sorted(PROFILES)}")
    fresh_names = args.profiles if args.profiles != list(BENCH_PROFILES) else list(PROFILES)

    async def run() -> int:
        status = 0
        if not args.registers:
            status = await bench(args.profiles, args.rounds, args.verbose)
            print()
        return max(status, await bench_fresh(fresh_names, args.rounds))

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
