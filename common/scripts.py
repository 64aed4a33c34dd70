"""Lua scripts (``common/lua/*.lua``) and how to call them from a sync or async Redis client.

A module that changes Redis state says *what* to run as a ``Call`` (the script's name, keys,
arguments and how to read the answer); ``SyncScripts`` (workers, command-line tools) and
``AsyncScripts`` (the API) run it. One definition serves both sides.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import redis
import redis.asyncio as aioredis

from common import keys

T = TypeVar("T")

_LUA = Path(__file__).with_name("lua")
# Files starting with "_" are pieces other scripts include, not scripts of their own.
NAMES = tuple(sorted(path.stem for path in _LUA.glob("*.lua") if not path.stem.startswith("_")))
_INCLUDE = re.compile(r"^--! include (\w+)$", re.M)


def _expand(text: str, included: set[str]) -> str:
    """Each ``--! include PIECE`` replaced by ``lua/_PIECE.lua`` (expanded in turn), once: a
    piece included again (through another piece) is already defined above."""

    def piece(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in included:
            return ""
        included.add(name)
        return _expand((_LUA / f"_{name}.lua").read_text(), included)

    return _INCLUDE.sub(piece, text)


def source(name: str) -> str:
    """A script's text: ``--! include PIECE`` lines replaced by ``lua/_PIECE.lua``, and
    ``{{NAME}}`` by the key layout's values (``common.keys.lua_constants``)."""
    text = _expand((_LUA / f"{name}.lua").read_text(), set())
    for constant, value in keys.lua_constants().items():
        text = text.replace("{{" + constant + "}}", value)
    return text


def text(answer: Any) -> str:
    """A script's status answer as text."""
    return answer.decode() if isinstance(answer, bytes) else str(answer)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One script run: its name, keys and arguments, and how to read its answer."""

    script: str
    keys: list[str]
    args: list[Any]
    parse: Callable[[Any], T]


class SyncScripts:
    def __init__(self, client: redis.Redis) -> None:
        self._scripts = {name: client.register_script(source(name)) for name in NAMES}

    def run(self, call: Call[T]) -> T:
        return call.parse(self._scripts[call.script](keys=call.keys, args=call.args))


class AsyncScripts:
    def __init__(self, client: aioredis.Redis) -> None:
        self._scripts = {name: client.register_script(source(name)) for name in NAMES}

    async def run(self, call: Call[T]) -> T:
        return call.parse(await self._scripts[call.script](keys=call.keys, args=call.args))
