"""What a running process group holds, read from /proc: its processes, memory, native libraries.

Tests use it to prove a worker never loaded another domain's libraries; benchmarks use it to
report memory per role. Linux only.
"""

import re
import threading
from pathlib import Path
from types import TracebackType

# The native core each heavy library maps when imported.
LIBRARY_MARKERS = {
    "torch": re.compile(r"/torch/lib/libtorch"),
    "paddle": re.compile(r"/paddle/(base|fluid)/libpaddle"),
}


def group_pids(pgid: int) -> list[int]:
    """Processes whose process group is ``pgid`` (a worker and its pool children)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return sorted(pids)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class PeakRss:
    """``with PeakRss(pid) as rss``: samples the process's resident memory every 5 ms while the
    block runs; ``rss.idle`` is its RSS at entry and ``rss.peak`` the highest seen."""

    def __init__(self, pid: int, every_s: float = 0.005) -> None:
        self.pid, self.every_s = pid, every_s
        self.idle = self.peak = 0
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(self.every_s):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> "PeakRss":
        self.idle = self.peak = rss_bytes(self.pid)
        self._sampler.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._done.set()
        self._sampler.join()
        self.peak = max(self.peak, rss_bytes(self.pid))


def loaded_libraries(pid: int) -> set[str]:
    """Which of ``LIBRARY_MARKERS`` the process has mapped."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {name for name, marker in LIBRARY_MARKERS.items() if marker.search(maps)}
