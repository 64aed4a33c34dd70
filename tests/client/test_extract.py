"""``client.extract`` and ``domainq extract`` against an in-memory server (tests/client/extract_fake.py):
what they send (a form with the file, or JSON naming it), the typed result, the stages shown while
waiting, what is printed and the exit codes."""

import asyncio
import io
import json
import time

import pytest
from rich.console import Console

from domainq_client import (
    AsyncClient,
    Client,
    DocumentOptions,
    ExtractModels,
    ExtractResult,
    JobFailedError,
    SubmitOptions,
    cli,
)
from domainq_client import _commands as commands
from tests.client.extract_fake import DATA, KEY, TEXT, URL, FakeExtract, json_body, result

SCHEMA = {
    "type": "object",
    "properties": {"number": {"type": "integer"}, "vendor": {"type": "string"}},
    "required": ["number", "vendor"],
}


@pytest.fixture
def fake() -> FakeExtract:
    return FakeExtract()


@pytest.fixture
def client(fake):
    with Client(URL, KEY, transport=fake.transport) as client:
        yield client


@pytest.fixture
def invoice(tmp_path):
    path = tmp_path / "invoice.pdf"
    path.write_bytes(b"%PDF-1.7 an invoice")
    return path


@pytest.fixture
def schema_file(tmp_path):
    path = tmp_path / "invoice.schema.json"
    path.write_text(json.dumps(SCHEMA))
    return str(path)


def test_a_file_goes_as_a_form_with_the_schema_as_json_text(client, fake, invoice):
    job = client.extract(
        invoice,
        schema=SCHEMA,
        instructions="The invoice's number and vendor.",
        max_new_tokens=40,
        document=DocumentOptions(pages="1-2", dpi=150, mode="auto"),
    )
    assert (job.domain, job.task, job.status) == ("llm", "extract", "queued")
    submit = fake.submitted
    assert submit.url.path == "/v1/extract" and submit.headers["Idempotency-Key"].startswith("domainq-client-")
    form = fake.form()
    assert form["file"] == ("invoice.pdf", invoice.read_bytes())
    assert json.loads(form["schema"][1]) == SCHEMA
    fields = {name: value.decode() for name, (_, value) in form.items() if name not in ("file", "schema")}
    assert fields == {
        "instructions": "The invoice's number and vendor.",
        "max_new_tokens": "40",
        "pages": "1-2",
        "dpi": "150",
        "mode": "auto",
    }


def test_bytes_go_under_the_name_given_and_the_wait_answers_a_typed_result(client, fake):
    job = client.extract(b"\x89PNG image", "scan.png", schema=SCHEMA)
    assert fake.form()["file"] == ("scan.png", b"\x89PNG image")
    answer = job.wait(timeout=10)
    assert isinstance(answer, ExtractResult)
    assert answer.data == DATA and answer.text == TEXT and answer.finish_reason == "stop"
    assert answer.models == ExtractModels(ocr="PP-OCRv4_mobile", llm="SmolLM2-135M-Instruct")
    assert (answer.pages, answer.pages_failed, answer.usage.completion_tokens) == (2, 0, 14)


@pytest.mark.parametrize(
    "named",
    [{"file_id": "up_1"}, {"document_url": "https://example.com/invoice.pdf"}, {"image_url": "https://e.com/a.png"}],
)
def test_an_upload_or_a_url_is_named_in_json_with_the_submit_options(client, fake, named):
    options = SubmitOptions(idempotency_key="order-7", priority="batch", cancel_after="5m", time_limit_s=30)
    client.extract(**named, schema=SCHEMA, instructions="Totals.", document=DocumentOptions(pages="2"), options=options)
    submit = fake.submitted
    assert json_body(submit) == {**named, "schema": SCHEMA, "instructions": "Totals.", "pages": "2", "time_limit_s": 30}
    assert (submit.headers["Idempotency-Key"], submit.headers["Priority"], submit.headers["Cancel-After"]) == (
        "order-7",
        "batch",
        "5m",
    )


def test_what_cannot_be_sent_is_refused_before_anything_is(client, fake, invoice):
    with pytest.raises(ValueError, match="give the document once"):
        client.extract(invoice, file_id="up_1", schema=SCHEMA)
    with pytest.raises(ValueError, match="give the document once"):
        client.extract(schema=SCHEMA)
    with pytest.raises(ValueError, match="name the input once"):
        client.extract(file_id="up_1", document_url="https://example.com/a.pdf", schema=SCHEMA)
    with pytest.raises(TypeError, match="JSON Schema object"):
        client.extract(invoice, schema=json.dumps(SCHEMA))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="result is JSON"):
        client.extract(invoice, schema=SCHEMA, document=DocumentOptions(output="pdf"))
    assert fake.requests == []


def test_a_json_cut_short_has_no_data_and_a_failed_job_raises(fake, client, invoice):
    fake.outcome = "cut"
    answer = client.extract(invoice, schema=SCHEMA).wait(timeout=10)
    assert (answer.data, answer.finish_reason) == (None, "length")
    failed = FakeExtract(outcome="failed")
    with Client(URL, KEY, transport=failed.transport) as other, pytest.raises(JobFailedError, match="every page"):
        other.extract(invoice, schema=SCHEMA).wait(timeout=10)


def test_the_async_client_sends_the_same_and_waits_the_same(fake, invoice):
    async def scenario() -> ExtractResult:
        async with AsyncClient(URL, KEY, transport=fake.transport) as client:
            job = await client.extract(invoice, schema=SCHEMA, max_new_tokens=40)
            return await job.wait(timeout=10)

    assert asyncio.run(scenario()).data == DATA
    form = fake.form()
    assert json.loads(form["schema"][1]) == SCHEMA and form["max_new_tokens"] == (None, b"40")


@pytest.fixture
def command(fake, monkeypatch):
    """``domainq ARGS...`` in process against the fake: its exit code."""
    monkeypatch.setattr(cli, "Client", lambda url, key: Client(url, key, transport=fake.transport))
    return lambda *args: cli.main(["--url", URL, "--api-key", KEY, *args])


def said(capsys) -> tuple[str, str]:
    """Standard output, and standard error as one line (rich wraps long messages at its width)."""
    out = capsys.readouterr()
    return out.out, " ".join(out.err.split())


def test_the_command_prints_the_data_and_shows_each_stage_while_it_waits(command, fake, invoice, schema_file, capsys):
    code = command("extract", str(invoice), "--schema", schema_file, "--instructions", "Totals.", "--pages", "1-2")
    out, err = said(capsys)
    assert code == 0, err
    assert out == json.dumps(DATA, indent=2) + "\n"
    assert json.loads(fake.form()["schema"][1]) == SCHEMA
    assert (fake.form()["instructions"][1], fake.form()["pages"][1]) == (b"Totals.", b"1-2")
    stages = ["job j1", "queued (0 ahead)", "ocr 1/2 pages", "ocr 2/2 pages", "llm 6 tokens"]
    positions = [err.find(stage) for stage in stages]
    assert -1 not in positions and positions == sorted(positions), err


def test_full_prints_the_whole_result(command, invoice, schema_file, capsys):
    assert command("extract", str(invoice), "--schema", schema_file, "--full") == 0
    assert json.loads(said(capsys)[0]) == result()


def test_a_url_is_sent_for_the_api_to_fetch(command, fake, schema_file, capsys):
    assert command("extract", "https://example.com/invoice.pdf", "--schema", schema_file) == 0
    assert json_body(fake.submitted) == {"document_url": "https://example.com/invoice.pdf", "schema": SCHEMA}


def test_a_json_cut_short_or_a_failed_job_exits_1_saying_why(command, fake, invoice, schema_file, capsys):
    fake.outcome = "cut"
    assert command("extract", str(invoice), "--schema", schema_file, "--max-new-tokens", "8") == 1
    out, err = said(capsys)
    assert out == "" and "cut short (finish_reason length)" in err and "--max-new-tokens" in err
    fake.outcome, fake.reads, fake.requests = "failed", 0, []
    assert command("extract", str(invoice), "--schema", schema_file) == 1
    out, err = said(capsys)
    assert out == "" and "JobInputError: every page of the document failed" in err


def test_a_wait_past_its_timeout_exits_1_and_the_job_goes_on(command, fake, invoice, schema_file, capsys):
    fake.outcome = "stuck"
    started = time.monotonic()
    assert command("extract", str(invoice), "--schema", schema_file, "--timeout", "1.2") == 1
    waited = time.monotonic() - started
    out, err = said(capsys)
    assert out == "" and "job j1 still llm 6 tokens after 1.2 s" in err
    # Read every STAGE_POLL_S, the last long-poll cut to what was left of the timeout.
    assert [float(r.url.params["wait"]) for r in fake.requests if r.method == "GET"][:2] == [commands.STAGE_POLL_S] * 2
    assert 1.2 <= waited < 1.2 + commands.STAGE_POLL_S
    assert all(r.method != "DELETE" for r in fake.requests)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file or directory"),
        ("{not json", "not JSON"),
        ('["an", "array"]', "a JSON Schema is an object, not list"),
    ],
)
def test_a_schema_file_missing_or_not_a_json_object_exits_2(command, fake, invoice, tmp_path, capsys, content, reason):
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content)
    assert command("extract", str(invoice), "--schema", str(path)) == 2
    out, err = said(capsys)
    assert out == "" and f"--schema {path}" in err and reason in err
    assert fake.requests == []


def test_a_missing_file_or_a_schema_the_api_refuses_exits_2(command, fake, tmp_path, schema_file, capsys):
    assert command("extract", str(tmp_path / "nowhere.pdf"), "--schema", schema_file) == 2
    assert "nowhere.pdf" in said(capsys)[1] and fake.requests == []
    fake.refuse = (422, "invalid_request")
    assert command("extract", "https://example.com/a.pdf", "--schema", schema_file) == 2
    assert "schema: invalid_request" in said(capsys)[1]


def test_help_documents_the_command(capsys):
    with pytest.raises(SystemExit) as shown:
        cli.main(["extract", "--help"])
    assert shown.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    for option in ("FILE|URL", "--schema", "--instructions", "--pages", "--full", "--timeout", "--max-new-tokens"):
        assert option in help_text
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "extract" in capsys.readouterr().out


def test_on_a_terminal_the_stage_is_a_spinner_that_leaves_no_lines(command, invoice, schema_file, capsys, monkeypatch):
    terminal = io.StringIO()
    monkeypatch.setattr(commands, "stderr", Console(file=terminal, force_terminal=True, width=80))
    assert command("extract", str(invoice), "--schema", schema_file) == 0
    assert json.loads(said(capsys)[0]) == DATA
    assert "job j1" in terminal.getvalue() and "ocr 1/2 pages\n" not in terminal.getvalue()
