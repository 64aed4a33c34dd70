"""A generate job's structured-output constraint, as the engines take it, and its failure.

The contract (``common.contracts.structured``) checks what it can at submit; what only the
engine's grammar compiler can judge fails the job alone with ``InvalidConstraint``.
"""

import json
import re
from dataclasses import dataclass
from typing import Literal

from common.contracts.llm import GenerateRequest
from common.contracts.structured import JsonSchemaFormat
from workers.core.jobs import JobInputError

Kind = Literal["json_schema", "json_object", "choice", "regex"]


class InvalidConstraint(JobInputError):
    """The engine cannot compile the job's schema, regex or choices into a grammar."""


@dataclass(frozen=True)
class Constraint:
    kind: Kind
    spec: str  # the schema as JSON text, the regex, or the choices as an EBNF grammar

    def refused(self, reason: str) -> InvalidConstraint:
        return InvalidConstraint(f"the engine cannot compile this {self.kind}: {_plain(reason)}")


def constraint_of(request: GenerateRequest) -> Constraint | None:
    """The request's constraint (the contract allows at most one), or None."""
    rf = request.response_format
    if isinstance(rf, JsonSchemaFormat):
        # Not key-sorted: the order of "properties" is the order the model writes them in.
        return Constraint("json_schema", json.dumps(rf.json_schema.schema_))
    if rf is not None:
        return Constraint("json_object", "")
    if request.choice is not None:
        return Constraint("choice", choice_grammar(request.choice))
    if request.regex is not None:
        return Constraint("regex", request.regex)
    return None


_EBNF_ESCAPES = {"\\": r"\\", '"': r"\"", "\n": r"\n", "\r": r"\r", "\t": r"\t"}


def _ebnf_literal(text: str) -> str:
    def one(ch: str) -> str:
        if ch in _EBNF_ESCAPES:
            return _EBNF_ESCAPES[ch]
        return f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch

    return '"' + "".join(one(ch) for ch in text) + '"'


def choice_grammar(choices: list[str]) -> str:
    """An EBNF alternation of the literal strings (vLLM builds the same for its ``choice``)."""
    return "root ::= " + " | ".join(_ebnf_literal(c) for c in choices)


def _plain(reason: str) -> str:
    """A compiler message without its source-location prefix (``[12:00:00] /project/x.cc:83: ``)."""
    first = reason.strip().splitlines()[0] if reason.strip() else reason
    return re.sub(r"^\[[^\]]*\]\s*\S+:\d+:\s*", "", first)
