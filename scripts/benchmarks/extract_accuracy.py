"""How often ``POST /v1/extract`` reads an invoice's total right with the default models
(PP-OCRv4, SmolLM2-135M-Instruct on transformers in float32, greedy): ``renders`` invoices with different
numbers, each rendered as an image, through a real stack (API, one ocr and one llm worker).

    .venv/bin/python -m scripts.benchmarks.extract_accuracy [renders]
"""

import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

from devtools.images import text_image
from scripts.benchmarks.common import private_stack
from scripts.benchmarks.report import machine

SCHEMA = {
    "type": "object",
    "properties": {"vendor": {"type": "string", "maxLength": 40}, "total": {"type": "number"}},
    "required": ["vendor", "total"],
}
INSTRUCTIONS = "Give the invoice's vendor and its total amount."
VENDORS = ["Acme Tools Ltd", "Northwind Traders", "Blue River Supplies", "Contoso Parts", "Globex Office"]


def invoice(rng: random.Random) -> tuple[list[str], float, str]:
    """An invoice's lines (its layout fixed, its numbers drawn), its total and vendor."""
    vendor = rng.choice(VENDORS)
    quantity, price = rng.randint(1, 9), rng.randint(100, 9999) / 100
    total = round(quantity * price, 2)
    lines = [
        "INVOICE",
        vendor,
        f"Date 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        f"Widgets {quantity} x {price:.2f}",
        f"Total {total:.2f}",
    ]
    return lines, total, vendor


def extract(client: httpx.Client, image: bytes) -> dict:
    answer = client.post(
        "/v1/extract",
        files={"file": ("invoice.png", image)},
        data={"schema": __import__("json").dumps(SCHEMA), "instructions": INSTRUCTIONS, "max_new_tokens": "60"},
    )
    answer.raise_for_status()
    job_id = answer.json()["id"]
    while True:
        job = client.get(f"/v1/jobs/{job_id}", params={"wait": 30}).json()
        if job["status"] in ("succeeded", "failed", "canceled", "expired"):
            return dict(job)


def run(workdir: Path, renders: int = 20, seed: int = 7) -> tuple[int, int, list[str]]:
    rng = random.Random(seed)
    right, vendors, misses = 0, 0, []
    with private_stack(workdir) as stack:
        api = stack.start_api(domain="all", env={"DEFAULT_RATE_LIMIT_PER_MINUTE": "0"})
        stack.start_worker("ocr", wait=180)
        stack.start_worker("llm", env={"LLM_ENGINE": "transformers", "LLM_DTYPE": "float32"}, wait=300)
        with httpx.Client(base_url=api, headers=stack.auth_headers, timeout=120) as client:
            for _ in range(renders):
                lines, total, vendor = invoice(rng)
                job = extract(client, text_image(lines))
                data = (job.get("result") or {}).get("data") or {}
                got = data.get("total")
                if isinstance(got, int | float) and abs(got - total) < 0.005:
                    right += 1
                else:
                    misses.append(
                        f"total {total:.2f}: got {got!r} (OCR: {(job.get('result') or {}).get('text', '')!r})"
                    )
                vendors += data.get("vendor") == vendor
    return right, vendors, misses


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="domainq-bench-") as tmp:
        right, vendors, misses = run(Path(tmp), count)
    print(f"extract: invoice total read right in {right} of {count} renders; vendor right in {vendors} of {count}")
    for miss in misses:
        print(f"  miss: {miss}")
    print(f"{(time.perf_counter() - started) / 60:.1f} minutes. Machine: {machine()}")
