"""Workers online per domain and their slots, from the registry workers keep in Redis
(``common.presence``): one script, cached for a second so busy routes and scrapes share it."""

import time

from common import presence
from common.presence import Capacity
from common.scripts import AsyncScripts

_CACHE_S = 1.0


class WorkerPresence:
    def __init__(self, scripts: AsyncScripts, offline_after_s: float) -> None:
        self._scripts, self.offline_after_s = scripts, offline_after_s
        self._read: tuple[float, dict[str, Capacity]] | None = None

    async def online(self) -> dict[str, Capacity]:
        """Each domain's workers online and their slots (a domain with none is absent)."""
        if self._read is None or time.monotonic() - self._read[0] >= _CACHE_S:
            self._read = (time.monotonic(), await self._scripts.run(presence.online(self.offline_after_s)))
        return self._read[1]

    async def of(self, domain: str) -> Capacity:
        return (await self.online()).get(domain, Capacity())
