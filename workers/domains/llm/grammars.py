"""Structured outputs on the transformers engine: xgrammar grammars, masking each row's logits.

A batch (``generator.py``) may hold constrained and free jobs, and rows that stop at different
steps. xgrammar's own ``contrib.hf.LogitsProcessor`` keeps feeding a row's matcher after the row
has stopped (the pad tokens transformers appends then are refused: it asserts), and it needs a
grammar for every row. ``GrammarRows`` is the same masking with the rows' own lives: a row
without a constraint is left alone, and a row is fed only the tokens it chose while it ran. So
constrained jobs share batches with free ones, and no row pays for another's grammar.
"""

import functools
from collections.abc import Callable
from typing import Any

import torch
import xgrammar as xgr
from transformers import LogitsProcessor

from workers.domains.llm.constraints import Constraint

# Compiled grammars kept, most recently used first: a schema repeated by many jobs (the common
# case) compiles once; a compiled grammar holds a token-mask cache of up to a few MB.
CACHE_SIZE = 128


class Grammars:
    """Compiles constraints for one tokenizer; the last ``CACHE_SIZE`` stay compiled."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_ids: set[int]) -> None:
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=sorted(stop_ids))
        self.vocab_size = vocab_size
        # Its own cache is off: ours is bounded by count and keyed by the constraint.
        self.compiler = xgr.GrammarCompiler(info, cache_enabled=False)
        self._cached = functools.lru_cache(maxsize=CACHE_SIZE)(self._compile)

    def compiled(self, constraint: Constraint) -> xgr.CompiledGrammar:
        """The constraint's grammar; ``InvalidConstraint`` when xgrammar refuses it."""
        try:
            return self._cached(constraint)
        except (RuntimeError, ValueError) as exc:  # xgrammar's parse and conversion errors
            raise constraint.refused(str(exc)) from None

    def _compile(self, constraint: Constraint) -> xgr.CompiledGrammar:
        # No free whitespace in JSON: a small model otherwise indents until max_new_tokens cuts it.
        if constraint.kind == "json_schema":
            return self.compiler.compile_json_schema(constraint.spec, any_whitespace=False)
        if constraint.kind == "json_object":  # an object, as OpenAI's json_object promises (vLLM does the same)
            return self.compiler.compile_json_schema('{"type": "object"}', any_whitespace=False)
        if constraint.kind == "regex":
            return self.compiler.compile_regex(constraint.spec)
        return self.compiler.compile_grammar(constraint.spec)  # choice: an EBNF alternation


class GrammarRows(LogitsProcessor):
    """Masks each constrained row's logits to the tokens its grammar allows next.

    ``stopped(i)`` says whether row ``i`` has stopped (its stopping criteria); a stopped row gets
    pad tokens from then on, which are not its own and are never fed to its matcher.
    """

    def __init__(self, grammars: list[xgr.CompiledGrammar | None], vocab_size: int, stopped: Callable[[int], bool]):
        self.matchers = [xgr.GrammarMatcher(g) if g is not None else None for g in grammars]
        self.bitmask = xgr.allocate_token_bitmask(len(grammars), vocab_size)
        self.stopped = stopped
        self.masked: list[int] = []  # rows masked at the last step: the token each took is theirs

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for i in self.masked:
            matcher = self.matchers[i]
            assert matcher is not None
            if not matcher.accept_token(int(input_ids[i, -1])):
                raise RuntimeError(f"row {i} took a token its grammar refused")
        self.masked = [
            i
            for i, matcher in enumerate(self.matchers)
            if matcher is not None and not matcher.is_terminated() and not self.stopped(i)
        ]
        if not self.masked:
            return scores
        for i in self.masked:
            matcher = self.matchers[i]
            assert matcher is not None
            matcher.fill_next_token_bitmask(self.bitmask, i)
        xgr.apply_token_bitmask_inplace(scores, self.bitmask.to(scores.device), indices=self.masked)
        return scores
