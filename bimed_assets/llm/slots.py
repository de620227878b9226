"""One endpoint's in-flight budget shared by every process on this machine, taken and given back as work needs it.

A backfill runs a process per partition. Splitting the budget evenly between them (``concurrency / pool_steps``
each) leaves a partition's slots idle while its process starts (8 runs on 2 cores start over ~10 s), and again
once it has finished its items while the others still have work. Here each slot is a byte of one lock file,
held with ``fcntl`` byte-range locks:

- a process takes a free byte when a request needs a slot, and when the request ends hands it straight to its
  own next request, or lets it go when it has none waiting or holds more than its share: the budget split
  evenly between the processes using it now (counted through a second range of bytes, one per process);
- a process with requests waiting and fewer slots than its share looks for freed bytes every few milliseconds
  (one holding its share or more, rarely): a late partition gets its share as the others give it up, and a
  finished one's slots go to whoever still has work;
- the kernel drops a process's locks when it exits, however it ends: a killed run never keeps slots.

The locks belong to the process, not to a file descriptor's user: every client in a process must share one pool
per file (``machine_slots``), and the file must be on a local disk (byte-range locks on network file systems are
not reliable; steps on several machines split the budget instead, see ``LLMResource.slots``). Every process
sharing a file must be given the same total (the ``llm`` resource's ``concurrency``, set once for all runs).

Measured by bench/partitioned_budget.py (8 partitions, 64 slots, 20,000 items, 2 cores): see
bench/results/partitioned_budget.md against its version of commit afbfb7f, which split the slots evenly.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import time
from collections import deque
from pathlib import Path

# Where the bytes of the processes sharing a file start (after any budget's slot bytes), and how many processes
# one machine may have on one endpoint at once.
_MEMBERS_AT = 1 << 20
_MAX_MEMBERS = 256
_RECOUNT_SECONDS = 0.5  # how often a process counts the others sharing the budget
_POLL_SECONDS = 0.005  # how often a process below its assured slots looks for a freed one
_POLL_AT_SHARE_SECONDS = 0.05  # ... and one at or above them (a slot nobody else wanted)


def _try_lock(fd: int, offset: int) -> bool:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
    except OSError:
        return False
    return True


def _unlock(fd: int, offset: int) -> None:
    fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)


class MachineSlots:
    """``async with slots.slot():`` around each request; at most ``total`` requests in flight on this machine."""

    def __init__(self, path: str | Path, total: int) -> None:
        self.path = Path(path)
        self.total = total
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._held: set[int] = set()  # slot bytes this process holds
        self._waiting: deque[asyncio.Future[int]] = deque()
        self._poller: asyncio.Task[None] | None = None
        self._member = self._join()
        self._members, self._counted_at = 1, 0.0
        self.users = 0  # clients of this process using the pool (``machine_slots``)

    def _join(self) -> int:
        for offset in range(_MEMBERS_AT, _MEMBERS_AT + _MAX_MEMBERS):
            if _try_lock(self._fd, offset):
                return offset
        raise RuntimeError(f"more than {_MAX_MEMBERS} processes share the LLM slots of {self.path}")

    def _processes(self) -> int:
        """How many processes use the budget now (counted again every ``_RECOUNT_SECONDS``)."""
        now = time.monotonic()
        if now - self._counted_at >= _RECOUNT_SECONDS:
            others = 0
            for offset in range(_MEMBERS_AT, _MEMBERS_AT + _MAX_MEMBERS):
                if offset == self._member:
                    continue
                if _try_lock(self._fd, offset):
                    _unlock(self._fd, offset)
                else:
                    others += 1
            self._members, self._counted_at = others + 1, now
        return self._members

    def share(self) -> int:
        """The most slots this process keeps while others use the budget too: an even part, rounded up (so that
        together they can hold all of it)."""
        return -(-self.total // self._processes())

    def _assured(self) -> int:
        """The slots this process is sure to get: an even part, rounded down. Below it, a freed slot is surely for
        this process, so it looks often; at or above, the budget may be spread already, and looking often for a slot
        nobody frees would only cost CPU (a scan of the bytes that finds none: ~1 µs a byte)."""
        return self.total // self._processes()

    def _take_free(self) -> int | None:
        """A slot byte no process holds, now locked by this one; None when all are taken."""
        start = random.randrange(self.total)  # processes scanning at once mostly try different bytes
        for step in range(self.total):
            offset = (start + step) % self.total
            if offset not in self._held and _try_lock(self._fd, offset):
                self._held.add(offset)
                return offset
        return None

    async def acquire(self) -> int:
        if not self._waiting and (offset := self._take_free()) is not None:
            return offset
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())
            raise

    def release(self, offset: int) -> None:
        if len(self._held) <= self.share():
            while self._waiting:
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_result(offset)  # straight to this process's next request
                    return
        self._held.discard(offset)
        _unlock(self._fd, offset)

    async def _poll(self) -> None:
        while self._waiting:
            while self._waiting and (offset := self._take_free()) is not None:
                waiter = self._waiting.popleft()
                if waiter.done():
                    self._held.discard(offset)
                    _unlock(self._fd, offset)
                else:
                    waiter.set_result(offset)
            if self._waiting:
                below = len(self._held) < self._assured()
                await asyncio.sleep(_POLL_SECONDS if below else _POLL_AT_SHARE_SECONDS)

    @contextlib.asynccontextmanager
    async def slot(self):
        offset = await self.acquire()
        try:
            yield
        finally:
            self.release(offset)

    def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        os.close(self._fd)  # drops every lock this process holds on the file


_POOLS: dict[Path, MachineSlots] = {}


def machine_slots(path: str | Path, total: int) -> MachineSlots:
    """This process's pool for ``path``; give it back with ``release_pool``."""
    key = Path(path).resolve()
    pool = _POOLS.get(key)
    if pool is None:
        pool = _POOLS[key] = MachineSlots(key, total)
    pool.users += 1
    return pool


def release_pool(pool: MachineSlots) -> None:
    pool.users -= 1
    if pool.users == 0:
        _POOLS.pop(pool.path, None)
        pool.close()


def held_by(path: str | Path, pid: int, total: int) -> set[int]:
    """The slots of ``path`` that process ``pid`` holds, as Linux's /proc/locks lists them: who holds what."""
    stat = os.stat(path)
    file_id = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    held: set[int] = set()
    for line in Path("/proc/locks").read_text().splitlines():
        # "3: POSIX  ADVISORY  WRITE 1234 00:2e:5678 0 2": a process's adjacent bytes show as one range; a request
        # still waiting for a lock reads "3: -> POSIX ...".
        fields = line.split()
        if fields[1] != "POSIX" or int(fields[4]) != pid or fields[5] != file_id:
            continue
        end = total - 1 if fields[7] == "EOF" else min(int(fields[7]), total - 1)
        held.update(range(int(fields[6]), end + 1))
    return held
