"""read_registers over real ptys against the simulator's programming mode, and a bus of meters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
import contextlib
import itertools
from typing import Any

import pytest

from custom_components.dlms_meter.iec62056 import (
    AddressRequiredError,
    Iec62056Error,
    NoProgrammingModeError,
    PasswordRefusedError,
    ReadSettings,
    SharedPort,
    UnknownRegisterError,
    read_meter,
    read_registers,
)
from custom_components.dlms_meter.iec62056.datalines import parse_data_block
from meter_sim.profiles import PROFILES, register_dataset
from meter_sim.simulator import Fault, MeterSimulator


def fast(**options: Any) -> ReadSettings:
    """Generous answer time (busy machine), no quiet time unless a test asks for it."""
    return ReadSettings(**{"answer_timeout": 4.0, "session_gap": 0.0, **options})


@contextlib.contextmanager
def simulator(name: str, **options: Any) -> Iterator[MeterSimulator]:
    with MeterSimulator(name, **options) as sim:
        yield sim


def expected(profile: str, code: str) -> tuple[str, str | None]:
    """The value and unit the profile's readout has for ``code``."""
    dataset = parse_data_block(register_dataset(PROFILES[profile].block, code).decode()).datasets[0]
    value = dataset.values[0]
    return value.value, value.unit


def values(readout: Any) -> dict[str, tuple[str, str | None]]:
    return {ds.address: (ds.values[0].value, ds.values[0].unit) for ds in readout.datasets}


async def test_register_read_answers_what_the_readout_says() -> None:
    codes = ["1.8.1", "C.1.0", "9.9.9", "1.8.0"]
    with simulator("lgz_e350") as sim:
        readout = await read_registers(sim.port, fast(), codes)
        full = await read_meter(sim.port, fast())
        stats = sim.stats()
        rate_after = sim.client_rate()
    assert [ds.address for ds in readout.datasets] == ["1.8.1", "C.1.0", "1.8.0"]
    assert values(readout)["1.8.1"] == expected("lgz_e350", "1.8.1") == ("042951.721", "kWh")
    for dataset in readout.datasets:
        assert full.find(dataset.address)[0].values == dataset.values
    assert readout.baudrate == 4800
    assert readout.checksum_ok is True
    assert stats.programming_sessions == 1
    assert stats.register_reads == 4
    assert stats.forbidden_commands == 0
    assert rate_after == 300  # the port was set back to the initial rate


async def test_full_obis_meter_r1_and_strict_unknown() -> None:
    with simulator("iskra_mt174") as sim:
        readout = await read_registers(sim.port, fast(), ["1.7.0"], command="R1")
        assert values(readout) == {"1.7.0": ("0.908", "kW")}
        with pytest.raises(UnknownRegisterError) as info:
            await read_registers(sim.port, fast(), ["9.9.9", "1.8.0"], strict=True)
    assert info.value.codes == ("9.9.9",)
    assert info.value.readout is not None
    assert [ds.address for ds in info.value.readout.datasets] == ["1.8.0"]


async def test_password_accepted_and_refused() -> None:
    with simulator("itron_em214", password="4711") as sim:
        readout = await read_registers(sim.port, fast(), ["1.7.0"], password="4711")
        assert values(readout) == {"1.7.0": ("00.49", "kW")}
        with pytest.raises(PasswordRefusedError) as info:
            await read_registers(sim.port, fast(), ["1.7.0"], password="1234")
        assert "1234" not in str(info.value)
        # without a password the protected meter knows no register
        readout = await read_registers(sim.port, fast(), ["1.7.0"])
        assert readout.datasets == ()
        assert sim.stats().programming_sessions == 3


async def test_meter_without_programming_mode() -> None:
    with simulator("lgz_e350", programming=False) as sim:
        with pytest.raises(NoProgrammingModeError):
            await read_registers(sim.port, fast(char_timeout=1.0), ["1.8.0"])
        assert sim.stats().programming_sessions == 0


async def test_corrupt_answer_is_nak_ed_and_repeated() -> None:
    with simulator("itron_em214") as sim:
        sim.inject(Fault.CORRUPT)
        readout = await read_registers(sim.port, fast(), ["1.7.0", "1.8.1"])
        assert sim.stats().faults_injected == 1
    assert values(readout) == {"1.7.0": ("00.49", "kW"), "1.8.1": ("022108.7", "kWh")}


async def test_echoing_head_and_set_values() -> None:
    with simulator("itron_em214", echo=True) as sim:
        sim.set_value("1.7.0", "01.23")
        readout = await read_registers(sim.port, fast(), ["1.7.0"])
    assert values(readout) == {"1.7.0": ("01.23", "kW")}


async def test_invalid_codes_never_touch_the_port() -> None:
    with pytest.raises(ValueError, match="register code"):
        await read_registers("/dev/does-not-exist", fast(), ["1.8.0\x03W1"])


class LoggingPort(SharedPort):
    """A shared port that records when each session held it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.held: list[tuple[float, float]] = []

    @contextlib.asynccontextmanager
    async def session(self, gap: float, *, address: str | None = None) -> AsyncIterator[SharedPort]:
        async with super().session(gap, address=address) as port:
            start = self.clock()
            try:
                yield port
            finally:
                self.held.append((start, self.clock()))


async def test_bus_of_two_meters() -> None:
    """Each meter answers its own address only; sessions on the bus never overlap."""
    with simulator("lgz_e350", address="1001", bus=[("itron_em214", "2002")]) as sim:
        port = LoggingPort(sim.port)
        port.register_address("1001")
        port.register_address("2002")
        gap = 0.3
        results = await asyncio.gather(
            read_registers(port, fast(address="1001", session_gap=gap), ["1.8.1"]),
            read_registers(port, fast(address="2002", session_gap=gap), ["1.7.0", "1.8.1"]),
            read_meter(port, fast(address="0002002", session_gap=gap)),
            read_registers(port, fast(address="1001", session_gap=gap), ["C.1.0"]),
        )
        with pytest.raises(AddressRequiredError):
            await read_meter(port, fast())
        stats = sim.stats()
    assert values(results[0]) == {"1.8.1": expected("lgz_e350", "1.8.1")}
    assert values(results[1]) == {
        "1.7.0": expected("itron_em214", "1.7.0"),
        "1.8.1": expected("itron_em214", "1.8.1"),
    }
    assert results[2].identification is not None
    assert results[2].identification.raw.startswith("ITR5EM214")
    assert values(results[3]) == {"C.1.0": ("13647123", None)}
    assert stats.collisions == 0
    assert stats.requests == 4
    held = sorted(port.held)
    for (_, end), (start, _) in itertools.pairwise(held):
        assert start >= end + gap - 0.01


async def test_request_without_address_on_a_bus_garbles_the_line() -> None:
    """Not through a shared port that knows the bus: every meter answers, nothing is read."""
    with simulator("lgz_e350", address="1001", bus=[("itron_em214", "2002")]) as sim:
        with pytest.raises(Iec62056Error):
            await read_meter(sim.port, fast(answer_timeout=2.0))
        assert sim.stats().collisions == 1
        assert len(sim.meters) == 2


def test_bus_needs_distinct_addresses() -> None:
    with pytest.raises(ValueError, match="address"):
        MeterSimulator("lgz_e350", bus=[("itron_em214", "2002")])
    with pytest.raises(ValueError, match="address"):
        MeterSimulator("lgz_e350", address="02002", bus=[("itron_em214", "2002")])
