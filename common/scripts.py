"""Lua scripts (``common/lua/*.lua``) and how to call them from a sync or async Redis client.

A module that changes Redis state says *what* to run as a ``Call`` (the script's name, keys,
arguments and how to read the answer); ``SyncScripts`` (workers, command-line tools) and
``AsyncScripts`` (the API) run it. One definition serves both sides.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import redis
import redis.asyncio as aioredis

T = TypeVar("T")

_LUA = Path(__file__).with_name("lua")
NAMES = tuple(sorted(path.stem for path in _LUA.glob("*.lua")))


def source(name: str) -> str:
    return (_LUA / f"{name}.lua").read_text()


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
