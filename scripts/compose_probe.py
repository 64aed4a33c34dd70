"""HTTP side of scripts/compose_check.sh: submit jobs to the running stack and read them back.

Standard library only, so the host's python3 runs it with no virtual environment. Every call
sends ``Authorization: Bearer $ADMIN_API_KEY`` when that variable is set. Results go to stdout
(one job id, or one JSON object, a line); failures exit non-zero with the reason on stderr.

    python3 scripts/compose_probe.py ready
    python3 scripts/compose_probe.py submit-ocr IMAGE_B64_FILE [COUNT]   -> job ids
    python3 scripts/compose_probe.py submit-llm                        -> a job id
    python3 scripts/compose_probe.py wait TIMEOUT_S ID...              -> one JSON per job; all must succeed
    python3 scripts/compose_probe.py status ID...                      -> one JSON per job, now
    python3 scripts/compose_probe.py running TIMEOUT_S ID              -> the worker, once the job runs
    python3 scripts/compose_probe.py workers DOMAIN COUNT TIMEOUT_S    -> waits for COUNT in /v1/domains and Flower
    python3 scripts/compose_probe.py queued DOMAIN                     -> queue depth now
    python3 scripts/compose_probe.py online DOMAIN                     -> workers online now (/v1/domains)
    python3 scripts/compose_probe.py flower-needs-login                -> fails unless Flower answers 401

Settings: API_URL (http://127.0.0.1:8000), FLOWER_URL (http://127.0.0.1:5555),
FLOWER_BASIC_AUTH (user:password), ADMIN_API_KEY.
"""

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request

API = os.environ.get("API_URL", "http://127.0.0.1:8000").rstrip("/")
FLOWER = os.environ.get("FLOWER_URL", "http://127.0.0.1:5555").rstrip("/")
FINISHED = ("succeeded", "failed", "canceled")


def _request(url: str, body: dict | None = None, auth: str | None = None, timeout: float = 70) -> dict:
    headers = {"Accept": "application/json"}
    if auth:
        headers["Authorization"] = auth
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def api(path: str, body: dict | None = None, timeout: float = 70) -> dict:
    key = os.environ.get("ADMIN_API_KEY")
    return _request(API + path, body, f"Bearer {key}" if key else None, timeout)


def flower(path: str) -> dict:
    user_password = os.environ.get("FLOWER_BASIC_AUTH", "").split(",")[0]
    auth = "Basic " + base64.b64encode(user_password.encode()).decode() if user_password else None
    return _request(FLOWER + path, auth=auth, timeout=15)


def fail(message: str) -> None:
    print(f"compose_probe: {message}", file=sys.stderr)
    sys.exit(1)


def summary(job: dict) -> str:
    result = job.get("result") or {}
    return json.dumps(
        {
            "id": job["id"],
            "status": job["status"],
            "worker": job.get("worker"),
            "attempts": job.get("attempts"),
            "started_at": job.get("started_at"),
            "finished_at": job.get("finished_at"),
            "text": (result.get("text") or "")[:80],
            "error": job.get("error"),
        }
    )


def ready(timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if api("/readyz", timeout=5).get("status") == "ready":
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        if time.monotonic() > deadline:
            fail(f"{API}/readyz not ready after {timeout_s:.0f}s")
        time.sleep(1)


def submit_ocr(image_file: str, count: int = 1) -> None:
    with open(image_file) as f:
        image = f.read().strip()
    for _ in range(count):
        print(api("/v1/ocr/recognize", {"image_base64": image})["id"], flush=True)


def submit_llm() -> None:
    body = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_new_tokens": 16}
    print(api("/v1/llm/generate", body)["id"])


def wait(timeout_s: float, ids: list[str]) -> None:
    deadline, jobs = time.monotonic() + timeout_s, {}
    for job_id in ids:
        while True:
            left = deadline - time.monotonic()
            job = api(f"/v1/jobs/{job_id}?wait={max(0, min(30, int(left)))}")
            if job["status"] in FINISHED or left <= 0:
                break
        jobs[job_id] = job
        print(summary(job), flush=True)
    bad = [f"{j['id']}: {j['status']} {j.get('error') or ''}" for j in jobs.values() if j["status"] != "succeeded"]
    if bad:
        fail(f"{len(bad)} of {len(ids)} jobs did not succeed: {bad[:5]}")


def status(ids: list[str]) -> None:
    for job_id in ids:
        print(summary(api(f"/v1/jobs/{job_id}")))


def running(timeout_s: float, job_id: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = api(f"/v1/jobs/{job_id}")
        if job["status"] == "running":
            print(job["worker"])
            return
        if job["status"] in FINISHED:
            fail(f"job {job_id} was already {job['status']} before it was seen running")
        time.sleep(0.05)
    fail(f"job {job_id} did not start within {timeout_s:.0f}s")


def _online(domain: str) -> tuple[int, list[str]]:
    listed = {d["name"]: d for d in api("/v1/domains")["domains"]}
    nodes = flower("/api/workers?status=true")
    return listed[domain]["workers_online"], sorted(n for n, up in nodes.items() if up and n.startswith(f"{domain}@"))


def workers(domain: str, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            online, nodes = _online(domain)
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            online, nodes = -1, [f"unreadable: {exc}"]
        if online == count and len(nodes) == count:
            print(json.dumps({"domain": domain, "workers_online": online, "flower_nodes": nodes}))
            return
        if time.monotonic() > deadline:
            fail(f"{domain}: wanted {count} workers; /v1/domains says {online}, Flower lists {nodes}")
        time.sleep(2)


def queued(domain: str) -> None:
    listed = {d["name"]: d for d in api("/v1/domains")["domains"]}
    print(listed[domain]["queue_depth"])


def online(domain: str) -> None:
    listed = {d["name"]: d for d in api("/v1/domains")["domains"]}
    print(listed[domain]["workers_online"])


def flower_needs_login() -> None:
    try:
        _request(FLOWER + "/api/workers", timeout=15)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return
        raise
    fail(f"{FLOWER} answered without a login")


def main(argv: list[str]) -> None:
    if not argv:
        fail(__doc__)
    command, args = argv[0], argv[1:]
    if command == "ready":
        ready(*(float(a) for a in args))
    elif command == "submit-ocr":
        submit_ocr(args[0], *(int(a) for a in args[1:]))
    elif command == "submit-llm":
        submit_llm()
    elif command == "wait":
        wait(float(args[0]), args[1:])
    elif command == "status":
        status(args)
    elif command == "running":
        running(float(args[0]), args[1])
    elif command == "workers":
        workers(args[0], int(args[1]), float(args[2]))
    elif command == "queued":
        queued(args[0])
    elif command == "online":
        online(args[0])
    elif command == "flower-needs-login":
        flower_needs_login()
    else:
        fail(f"unknown command {command!r}\n{__doc__}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except urllib.error.HTTPError as exc:
        fail(f"{exc.url}: HTTP {exc.code}: {exc.read()[:300]!r}")
    except (OSError, urllib.error.URLError) as exc:
        fail(str(exc))
