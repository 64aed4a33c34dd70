"""The API's memory while 16 clients upload 100 MB each at once through ``PUT /v1/uploads/{id}``
on the file backend: every body streams to the blob store in parts, never held whole.

    .venv/bin/python scripts/benchmark.py --only uploads
"""

from pathlib import Path

from devtools.upload_load import MB, upload_many
from scripts.benchmarks.common import private_stack
from scripts.benchmarks.report import Figure, machine

SECTION = "Uploads"
COUNT, SIZE = 16, 100 * MB
TARGET_MB = 300
NOTE = (
    "The API process's resident memory, sampled every 5 ms while the uploads run; the client "
    "generates each body as it sends it. Held whole, the bodies alone would take 1.6 GB."
)


def run(workdir: Path) -> list[Figure]:
    with private_stack(workdir) as stack:
        api = stack.start_api(domain="ocr")  # the file backend: the stack's blobs directory
        pid = next(p for p in stack.procs if p.name.startswith("api-")).popen.pid
        load = upload_many(api, stack.auth_headers, pid, COUNT, SIZE)
    if load.statuses != [200] * COUNT:
        raise RuntimeError(f"uploads answered {load.statuses}")
    peak_mb, idle_mb = load.peak_rss / MB, load.idle_rss / MB
    rate = COUNT * SIZE / MB / load.seconds
    return [
        Figure(
            SECTION,
            f"API RSS, {COUNT} concurrent {SIZE // MB} MB uploads (peak)",
            f"{peak_mb:.0f} MB (idle {idle_mb:.0f} MB)",
            f"< {TARGET_MB} MB",
            peak_mb < TARGET_MB,
        ),
        Figure(SECTION, "Upload throughput, all clients together", f"{rate:.0f} MB/s"),
    ]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="domainq-bench-") as tmp:
        for figure in run(Path(tmp)):
            print(f"{figure.name}: {figure.value} (target {figure.target}) {figure.verdict}".rstrip())
    print(f"Machine: {machine()}")
