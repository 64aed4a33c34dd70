"""``python -m devtools.gpu_probe``: ``python -m workers`` with probes the GPU check reads.

It runs the worker unchanged and writes what only its own process can see to the JSON file
``GPU_CHECK_PROBE`` names: whether torch had initialised CUDA when the worker started
(``worker_init``, before its pool) and when its pool had started (``worker_ready``, before the
model warm-up); then, once the model is loaded, its device and dtype, torch's GPU memory, and
the model copies the process holds. A fresh reading (with a count of model objects, which walks
the heap) is taken when the check writes ``<file>.request``; the answer carries its text.
"""

import gc
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from celery import signals


def cuda_state() -> dict[str, bool]:
    """Whether torch is imported in this process and has initialised CUDA."""
    torch = sys.modules.get("torch")
    return {"torch_imported": torch is not None, "cuda_initialized": bool(torch and torch.cuda.is_initialized())}


def module_info(model: Any) -> dict[str, Any]:
    params = list(model.parameters())
    devices = sorted({str(p.device) for p in params})
    dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in params})
    return {
        "class": type(model).__name__,
        "devices": devices,
        "dtypes": dtypes,
        "params": sum(p.numel() for p in params),
        "bytes": sum(p.numel() * p.element_size() for p in params),
    }


def model_copies() -> dict[str, int]:
    """Live model objects in this process, by class (walks the heap: only on request)."""
    from transformers import PreTrainedModel

    counts: dict[str, int] = {}
    for obj in gc.get_objects():
        if isinstance(obj, PreTrainedModel):
            counts[type(obj).__name__] = counts.get(type(obj).__name__, 0) + 1
    return counts


class Probe:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"pid": os.getpid(), "at_start": cuda_state()}
        self._lock = threading.Lock()

    def record(self, key: str, value: Any) -> None:
        with self._lock:
            self.data[key] = value
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self.data))
            os.replace(tmp, self.path)

    def loaded(self) -> tuple[Any, Any]:
        tasks = sys.modules.get("workers.domains.llm.tasks")
        if tasks is None:
            return None, None
        # Lazy's built value, read without building it: the probe must not load a model itself.
        generator, embedder = getattr(tasks.generator, "_value", None), getattr(tasks.embedder, "_value", None)
        return generator, embedder

    def reading(self, count_copies: bool) -> dict[str, Any]:
        generator, embedder = self.loaded()
        out: dict[str, Any] = {"at": time.time(), **cuda_state()}
        if generator is not None:
            out["generator"] = module_info(generator.model)
        if embedder is not None:
            out["embedder"] = module_info(embedder.model)
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_initialized():
            out["cuda_memory"] = {
                "device": torch.cuda.get_device_name(),
                "allocated": torch.cuda.memory_allocated(),
                "reserved": torch.cuda.memory_reserved(),
                "max_allocated": torch.cuda.max_memory_allocated(),
            }
        if count_copies and generator is not None:
            out["copies"] = model_copies()
        return out

    def watch(self) -> None:
        """Record the first reading once both models are loaded, then answer requests."""
        request = self.path.with_name(self.path.name + ".request")
        announced = False
        while True:
            generator, embedder = self.loaded()
            if not announced and generator is not None and embedder is not None:
                self.record("loaded", self.reading(count_copies=False))
                announced = True
            if request.exists():
                nonce = request.read_text()
                request.unlink()
                self.record("reading", {"nonce": nonce, **self.reading(count_copies=True)})
            time.sleep(0.2)


def main() -> None:
    probe = Probe(Path(os.environ["GPU_CHECK_PROBE"]))
    probe.record("at_start", cuda_state())
    # Connected before the worker's own receivers: they run first, before the model warm-up.
    signals.worker_init.connect(lambda **kw: probe.record("at_worker_init", cuda_state()), weak=False)
    signals.worker_ready.connect(lambda **kw: probe.record("at_worker_ready", cuda_state()), weak=False)
    from workers.__main__ import main as worker_main

    signals.worker_ready.connect(
        lambda **kw: threading.Thread(target=probe.watch, name="gpu-probe", daemon=True).start(), weak=False
    )
    worker_main()


if __name__ == "__main__":
    main()
