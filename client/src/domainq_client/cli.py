"""The ``domainq`` command: ``domainq --help`` lists every command, ``domainq CMD --help`` its options.

Exit codes: 0 ok; 1 a job failed, was canceled or timed out, or an extraction's JSON was cut
short (or the API refused the request); 2 usage; 3 the API is unreachable or the key is refused;
130 interrupted (Ctrl-C).
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from domainq_client import _batches
from domainq_client import _commands as cmd
from domainq_client._batch import OcrBatch, already_done, expand
from domainq_client._commands import stderr
from domainq_client._errors import APIError, AuthenticationError, DomainqError, JobError, UnreachableError, WaitTimeout
from domainq_client._sync import Client

OK, JOB_FAILED, USAGE, UNREACHABLE, INTERRUPTED = 0, 1, 2, 3, 130
Handler = Callable[[Client, argparse.Namespace], int]


def ocr(client: Client, args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else None
    files = expand(args.paths)
    done = already_done(out)
    todo = [f for f in files if str(f) not in done]
    if done:
        stderr.print(f"skipping {len(files) - len(todo)} file(s) already done in {out}")
    sink = open(out, "a", encoding="utf-8") if out else None  # noqa: SIM115 (closed below)
    pdf_dir = Path(args.pdf) if args.pdf else None
    if pdf_dir is not None:
        pdf_dir.mkdir(parents=True, exist_ok=True)
    batch = OcrBatch(client, sys.stdout, args.text, sink, pdf_dir)
    try:
        batch.run(todo, args.concurrency, stderr)
    except KeyboardInterrupt:
        canceled = batch.state.canceled
        stderr.print(f"interrupted: canceled {len(canceled)} unfinished job(s) this run submitted")
        for job_id in canceled:
            stderr.print(f"  canceled {job_id}")
        return INTERRUPTED
    finally:
        if sink is not None:
            sink.close()
    state = batch.state
    stderr.print(f"{state.ok} succeeded, {state.failed} failed" + (f"; results in {out}" if out else ""))
    return JOB_FAILED if state.failed else OK


def _submit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cancel-after", help="a deadline (30s, 5m, seconds): past it the job ends expired")
    p.add_argument("--idempotency-key", help="retry-safe: the same key and request answer the same job")
    p.add_argument("--webhook", help="an http(s) URL the server POSTs the job's changes to")
    p.add_argument("--priority", choices=["interactive", "batch"], help="batch: runs when no interactive job waits")


def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="domainq", description="Submit and follow domainq jobs.", epilog=__doc__.split("\n\n", 1)[1]
    )
    top.add_argument("--url", help="API address (default: $DOMAINQ_URL, else http://127.0.0.1:8000)")
    top.add_argument("--api-key", help="API key (default: $DOMAINQ_API_KEY)")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ocr", help="OCR files and folders of images, with a progress bar; resumable with --out")
    p.add_argument("paths", nargs="+", metavar="FILE|DIR")
    p.add_argument("--out", help="JSONL file of results, one line per file; a re-run skips files done there")
    p.add_argument("--concurrency", type=int, default=8, help="jobs in flight at once (default 8)")
    p.add_argument("--text", action="store_true", help="print each file's plain text instead of JSON lines")
    p.add_argument("--pdf", metavar="DIR", help="also save each file's searchable PDF in DIR, as <file name>.pdf")
    p.set_defaults(run=ocr)

    llm = sub.add_parser("llm", help="text generation and embeddings").add_subparsers(dest="llm", required=True)
    p = llm.add_parser("generate", help="generate text from a prompt (chat template applied unless --raw)")
    p.add_argument("prompt")
    p.add_argument("--stream", action="store_true", help="print tokens as they are generated")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--temperature", type=float, help="0 (default): greedy")
    p.add_argument("--seed", type=int)
    p.add_argument("--system", help="a system message before the prompt")
    p.add_argument("--raw", action="store_true", help="send the prompt as raw text, no chat template")
    p.add_argument("--timeout", type=float, help="seconds to wait for the job")
    _submit_options(p)
    p.set_defaults(run=cmd.llm_generate)
    p = llm.add_parser("embed", help="embed texts: one JSON line per text")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--timeout", type=float)
    _submit_options(p)
    p.set_defaults(run=cmd.llm_embed)

    p = sub.add_parser("extract", help="JSON valid against a schema from a document or an image (OCR, then the llm)")
    p.add_argument("file", metavar="FILE|URL", help="an image or a document (PDF, TIFF), or its http(s) URL")
    p.add_argument("--schema", required=True, metavar="FILE", help="the JSON Schema the answer follows (a .json file)")
    p.add_argument("--instructions", help="what to take from the document, in words")
    p.add_argument("--pages", help="a document's pages, e.g. 1-2,5 (default: all)")
    p.add_argument("--dpi", type=int, help="a PDF's pages are rendered at this resolution (server default 200)")
    p.add_argument("--mode", choices=["ocr", "auto"], help="auto: a PDF page's own text layer is taken")
    p.add_argument("--max-new-tokens", type=int, help="the most tokens the JSON may take")
    p.add_argument("--full", action="store_true", help="print the whole result (text, pages, models...), not only data")
    p.add_argument("--timeout", type=float, help="give up waiting after this many seconds (exit 1; the job goes on)")
    _submit_options(p)
    p.set_defaults(run=cmd.extract)

    jobs = sub.add_parser("jobs", help="read, wait for, cancel and list jobs").add_subparsers(
        dest="jobs", required=True
    )
    for name, run, text in [
        ("get", cmd.jobs_get, "a job's status and result (JSON)"),
        ("wait", cmd.jobs_wait, "wait for a job to finish; exit 1 if it failed"),
        ("cancel", cmd.jobs_cancel, "cancel a queued or running job"),
    ]:
        p = jobs.add_parser(name, help=text)
        p.add_argument("id")
        if name == "wait":
            p.add_argument("--timeout", type=float, help="give up after this many seconds (exit 1)")
        p.set_defaults(run=run)
    p = jobs.add_parser("list", help="your jobs, newest first (servers with job listing)")
    p.add_argument("--limit", type=int)
    p.add_argument("--status")
    p.add_argument("--domain")
    p.add_argument("--cursor")
    p.set_defaults(run=cmd.jobs_list)

    _batches.add_parser(sub)

    p = sub.add_parser("domains", help="the domains: queue depth, running, workers, estimated wait")
    p.set_defaults(run=cmd.domains)

    keys = sub.add_parser("keys", help="API keys (admin key needed), and your webhook secret").add_subparsers(
        dest="keys", required=True
    )
    p = keys.add_parser("create", help="create a key; its secret is printed once")
    p.add_argument("name")
    p.add_argument("--role", choices=["user", "admin"], default="user")
    p.add_argument("--rate-limit-per-minute", type=int)
    p.add_argument("--max-jobs-in-flight", type=int)
    p.add_argument("--weight", type=float, help="its fair share beside other keys (default 1)")
    p.set_defaults(run=cmd.keys_create)
    p = keys.add_parser("update", help="change a key's limits or weight")
    p.add_argument("id")
    p.add_argument("--rate-limit-per-minute", type=int)
    p.add_argument("--max-jobs-in-flight", type=int)
    p.add_argument("--weight", type=float)
    p.set_defaults(run=cmd.keys_update)
    keys.add_parser("list", help="every key, without secrets (JSON lines)").set_defaults(run=cmd.keys_list)
    p = keys.add_parser("revoke", help="revoke a key by id")
    p.add_argument("id")
    p.set_defaults(run=cmd.keys_revoke)
    p = keys.add_parser("webhook-secret", help="the secret that signs your key's webhook deliveries (JSON)")
    p.add_argument("--rotate", action="store_true", help="replace it (the old one keeps signing for a while)")
    p.add_argument("--keep-previous-s", type=int, help="with --rotate: how long the old one keeps signing (0: not)")
    p.set_defaults(run=cmd.keys_webhook_secret)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # exits 2 on a usage error
    try:
        with Client(args.url, args.api_key) as client:
            code: int = args.run(client, args)
            return code
    except (UnreachableError, AuthenticationError) as exc:
        stderr.print(f"[red]error:[/] {exc}")
        return UNREACHABLE
    except (JobError, WaitTimeout) as exc:
        stderr.print(f"[red]error:[/] {exc}")
        return JOB_FAILED
    except APIError as exc:
        stderr.print(f"[red]error:[/] {exc}")
        return USAGE if exc.status in (400, 413, 415, 422) else JOB_FAILED
    except (FileNotFoundError, DomainqError) as exc:
        stderr.print(f"[red]error:[/] {exc}")
        return USAGE
    except KeyboardInterrupt:
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
