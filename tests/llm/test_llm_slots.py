"""One endpoint's in-flight budget shared by the processes of a machine (``bimed_assets.llm.slots``): never more
than the budget at the server, all of it for a process alone, a share for one that comes later, and nothing kept
by a process that was killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from llm_helpers import ask, config_for, run_many

from bimed_assets.llm.slots import MachineSlots, held_by

HERE = Path(__file__).resolve().parent
# A process that takes every slot it can and keeps sending, like a partition with many items left.
HOG = textwrap.dedent("""
    import asyncio, sys
    from bimed_assets.llm.slots import machine_slots

    async def main():
        pool = machine_slots(sys.argv[1], int(sys.argv[2]))

        async def request():
            while True:
                async with pool.slot():
                    await asyncio.sleep(0.05)

        print("sending", flush=True)
        await asyncio.gather(*(request() for _ in range(2 * pool.total)))

    asyncio.run(main())
""")


def _eventually(condition, what: str, deadline: float = 120.0) -> None:
    """Waits for ``condition``; the deadline only turns a hang into a failure (no assertion on speed)."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"never: {what}"
        time.sleep(0.05)


def test_two_processes_together_stay_within_one_budget(start_server, tmp_path):
    server = start_server(latency=0.2)
    slots = str(tmp_path / "endpoint.lock")
    runs = [subprocess.Popen([sys.executable, str(HERE / "slots_run.py"), server.url, slots, "6", f"p{n}", "40"],
                             stdout=subprocess.PIPE, text=True, cwd=HERE) for n in range(2)]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [line.strip() for line in outputs] == ["40 ok", "40 ok"]
    assert server.stats().max_in_flight <= 6  # each alone may send 6: together, still 6


def test_a_process_alone_uses_the_whole_budget(start_server, tmp_path):
    server = start_server(latency=0.2)
    outcomes, _ = run_many(config_for(server, concurrency=8, slots_path=str(tmp_path / "endpoint.lock")),
                           [ask(f"q{i}") for i in range(40)])
    assert all(outcome.ok for outcome in outcomes)
    assert server.stats().max_in_flight == 8  # not 8 / the partitions that might have run


def test_a_later_process_gets_its_share_and_a_killed_one_keeps_nothing(tmp_path):
    path = tmp_path / "endpoint.lock"
    hog = subprocess.Popen([sys.executable, "-c", HOG, str(path), "8"], stdout=subprocess.PIPE, text=True)
    try:
        assert hog.stdout.readline().strip() == "sending"
        _eventually(lambda: len(held_by(path, hog.pid, 8)) == 8, "the first process takes every slot")

        async def take_a_share() -> int:
            pool = MachineSlots(path, 8)
            try:
                mine = await asyncio.gather(*(pool.acquire() for _ in range(4)))  # 8 / 2 processes
                assert len(set(mine)) == 4
                return len(held_by(path, hog.pid, 8))
            finally:
                pool.close()

        assert asyncio.run(take_a_share()) <= 4  # the first gave up what it held beyond its share

        _eventually(lambda: len(held_by(path, hog.pid, 8)) == 8, "the first takes them all back once alone")
        os.kill(hog.pid, signal.SIGKILL)
        hog.wait()

        async def take_all() -> int:
            pool = MachineSlots(path, 8)
            try:
                return len(set(await asyncio.gather(*(pool.acquire() for _ in range(8)))))
            finally:
                pool.close()

        assert asyncio.run(take_all()) == 8  # the kernel let go of the killed process's slots
    finally:
        hog.kill()
        hog.wait()
