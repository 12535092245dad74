"""Coalescing of concurrent cache misses: one load per key at a time.

When a cached entry expires under load, every request in flight misses it at once. Without
coalescing, each of them runs the same query, and the burst queues for the database
connections, which shows as a latency spike once per cache lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Hashable, Iterator


class Flights:
    """The loads running in this event loop, by key.

    A caller that misses its cache first calls ``wait(key)``: when another caller is loading
    the same key, it waits for that load to finish and then reads its cache again. A caller
    that still misses runs its own load inside ``load(key)``.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Event] = {}

    async def wait(self, key: Hashable) -> bool:
        """Wait for the running load of ``key`` to finish; return False at once when none is running."""
        running = self._running.get(key)
        if running is None:
            return False
        await running.wait()
        return True

    @contextlib.contextmanager
    def load(self, key: Hashable) -> Iterator[None]:
        """Mark a load of ``key`` as running until the block ends, whether it succeeds or fails."""
        done = asyncio.Event()
        self._running[key] = done
        try:
            yield
        finally:
            done.set()
            if self._running.get(key) is done:
                del self._running[key]
