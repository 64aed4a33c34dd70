"""Structured outputs on the transformers engine, in process: each row of a batch masked by its
own grammar, on the tiny random model (its text is noise, so the grammar alone shapes it)."""

import re

import pytest
import torch

from common.contracts.llm import GenerateRequest
from workers.domains.llm.constraints import InvalidConstraint, choice_grammar
from workers.domains.llm.generator import GenerationJob, TextGenerator


@pytest.fixture(scope="module")
def generator(tiny_llm_dir) -> TextGenerator:
    return TextGenerator(str(tiny_llm_dir), "tiny", torch.device("cpu"), torch.float32, progress_interval_s=0.01)


def _run(generator, *requests):
    return generator.generate([GenerationJob(GenerateRequest.model_validate(r)) for r in requests])


def test_constrained_and_free_rows_share_a_batch_and_each_keeps_its_own_rule(generator):
    free = {"prompt": "The quick", "max_new_tokens": 20}
    digits = {"prompt": "The quick", "max_new_tokens": 20, "regex": "[0-9]{4}"}
    choice = {"prompt": "The quick", "max_new_tokens": 20, "choice": ["yes", "no", "maybe so"]}
    ran = _run(generator, free, digits, choice)
    assert {r.batch_size for r in ran} == {3}
    assert ran[0].text == _run(generator, free)[0].text  # the free row is untouched by the others' masks
    assert re.fullmatch("[0-9]{4}", ran[1].text) and ran[1].finish_reason == "stop"
    assert ran[2].text in ("yes", "no", "maybe so") and ran[2].finish_reason == "stop"


def test_a_row_cut_by_its_own_max_new_tokens_leaves_the_batch_running(generator):
    # The short row stops mid-match and gets pad tokens from then on, which must never reach its
    # grammar (xgrammar's own processor asserts on them); the long row goes on.
    short = {"prompt": "a", "max_new_tokens": 3, "regex": "[a-z]{10,40}"}
    long = {"prompt": "a", "max_new_tokens": 80, "regex": "[a-z ]{25,60}"}
    cut, whole = _run(generator, short, long)
    assert cut.finish_reason == "length" and cut.usage.completion_tokens == 3
    assert re.fullmatch("[a-z]+", cut.text) and len(cut.text) < 10  # a prefix of a match, reported as cut
    assert re.fullmatch("[a-z ]{25,60}", whole.text) and whole.finish_reason == "stop"
    assert whole.usage.completion_tokens > 3


def test_json_on_the_random_model_parses_when_it_finishes(generator):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    body = {"prompt": "x", "max_new_tokens": 40}
    body["response_format"] = {"type": "json_schema", "json_schema": {"name": "flag", "schema": schema, "strict": True}}
    (result,) = _run(generator, body)
    assert result.text in ('{"ok": true}', '{"ok": false}') and result.finish_reason == "stop"


def test_a_schema_xgrammar_cannot_compile_fails_that_job_alone(generator):
    lookbehind = {"type": "string", "pattern": "(?<=a)b"}
    bad = {
        "prompt": "x",
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": lookbehind}},
    }
    failed, ok = _run(generator, bad, {"prompt": "x", "max_new_tokens": 2, "regex": "[0-9]+"})
    assert isinstance(failed, InvalidConstraint)
    assert (
        str(failed)
        == "the engine cannot compile this json_schema: Regex parsing error at position 3: Lookbehind is not supported yet."
    )
    assert ok.usage.completion_tokens == 2 and ok.text.isdigit()


def test_a_compiled_grammar_is_reused_for_the_same_constraint(generator):
    generator.grammars._cached.cache_clear()
    body = {"prompt": "x", "max_new_tokens": 4, "regex": "[ab]+"}
    _run(generator, body, body)
    _run(generator, body)
    info = generator.grammars._cached.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_choices_become_an_alternation_of_escaped_literals():
    assert choice_grammar(['say "hi"', "a\\b", "two\nlines"]) == r'root ::= "say \"hi\"" | "a\\b" | "two\nlines"'
