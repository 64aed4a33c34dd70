"""Faults injected into a real worker process from outside, with no switch in the product.

``fault_env(folder, module, patch)`` writes a ``sitecustomize.py`` into ``folder`` and answers
the environment that makes a child Python process import it at start: a thread there waits
until ``module`` has defined what ``patch`` (Python source run with the module as ``m``)
changes, then applies it. The worker is otherwise the real one.
"""

import os
from pathlib import Path

_TEMPLATE = """
import sys, threading, time

def _inject():
    while True:
        m = sys.modules.get({module!r})
        if m is not None and all(hasattr(m, name) for name in {names!r}):
            break
        time.sleep(0.01)
{patch}

threading.Thread(target=_inject, name="fault-injector", daemon=True).start()
"""


def fault_env(folder: Path, module: str, names: tuple[str, ...], patch: str) -> dict[str, str]:
    """The environment that patches ``module`` in a child process once it defines ``names``."""
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n".join("    " + line for line in patch.strip().splitlines())
    (folder / "sitecustomize.py").write_text(_TEMPLATE.format(module=module, names=names, patch=body))
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)}
