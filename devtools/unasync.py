"""Write the blocking client (``_sync.py``) from the asyncio one (``_async.py``), so the two cannot drift.

    .venv/bin/python -m devtools.unasync          # rewrite client/src/domainq_client/_sync.py
    .venv/bin/python -m devtools.unasync --check  # exit 1 where it is out of date

tests/client/test_unasync.py runs the check. The rewrite is textual (as httpcore's unasync): the
async source keeps to what the rules below turn into plain code, and ruff formats the result.
"""

import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "client" / "src" / "domainq_client"
SOURCE = PACKAGE / "_async.py"
TARGET = PACKAGE / "_sync.py"

DOCSTRING = '''"""``Client``: the blocking client, its resources (``ocr``, ``llm``, ``jobs``, ``keys``, ``uploads``) and ``Job``.

Written from ``_async.py`` by ``python -m devtools.unasync``: change that file, not this one.
"""
'''

# In order, over the whole text.
RULES = [
    (re.compile(r'\A""".*?"""\n', re.DOTALL), DOCSTRING),
    (re.compile(r"^import asyncio\n", re.MULTILINE), ""),
    # No ``yield from`` in an async generator: a loop whose body is one yield is one in plain code.
    (re.compile(r"async for (\w+) in (.+):\n(\s+)yield \1\n(?!\3)"), r"yield from \2\n"),
    # Work handed to a thread off the event loop is a plain call, its comment about the loop gone.
    (re.compile(r"await asyncio\.to_thread\(([\w.]+), (.*)\)(  #.*)?$", re.MULTILINE), r"\1(\2)"),
    (re.compile(r"\basyncio\.sleep\b"), "time.sleep"),
    (re.compile(r"\basynccontextmanager\b"), "contextmanager"),
    (re.compile(r"\basync (def|for|with)\b"), r"\1"),
    (re.compile(r"\bawait "), ""),
    (re.compile(r"\bAsync([A-Z]\w*)"), r"\1"),
    (re.compile(r"\b__a(enter|exit)__\b"), r"__\1__"),
    (re.compile(r"\ba(close|read|iter_lines|iter_bytes)\b"), r"\1"),
]


def unasync(source: str) -> str:
    """The plain-code twin of an async module, before formatting."""
    for pattern, replacement in RULES:
        source = pattern.sub(replacement, source)
    return source


def generate() -> str:
    """What ``_sync.py`` should hold: ``_async.py`` rewritten, then formatted as the tree is."""
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=unasync(SOURCE.read_text()),
        capture_output=True,
        text=True,
        check=True,
    )
    return formatted.stdout


def main(argv: list[str]) -> int:
    text = generate()
    if "--check" in argv:
        if TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python -m devtools.unasync", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
