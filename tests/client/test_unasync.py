"""The blocking client is written from the asyncio one (devtools/unasync.py): one source for both."""

import re

from devtools import unasync


def test_the_sync_client_is_the_async_one_rewritten():
    assert unasync.TARGET.read_text() == unasync.generate(), "_sync.py is stale: run python -m devtools.unasync"


def test_the_rewrite_leaves_nothing_of_asyncio():
    assert unasync.SOURCE.read_text().count("await ") > 10  # the rules had something to do
    plain = unasync.generate()
    assert re.findall(r"\b(?:async|await|asyncio|Async\w*|aclose|aread|aiter_\w*)\b", plain) == []
