"""What the benchmark campaigns share: the sandbox, the app's server and worker as processes,
and a throwaway database (a SQLite file, or a PostgreSQL database created and dropped).

Every process listens on 127.0.0.1 only and is stopped by `stopped()` even on an error; each
runs in a session of its own and gets SIGTERM when the thread that started it dies, even by
SIGKILL (Linux), so none outlives the campaign.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MANAGE = str(PROJECT_ROOT / "manage.py")
API_KEY = "bench-key"
API_SECRET = "bench-secret"
SANDBOX_READY = re.compile(r"LiveDesk sandbox on (http://\S+) with (\d+) contacts")
SANDBOX_START_SECONDS = 60.0


def app_environment(directory: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment the app's processes run with: production-like (DEBUG off), quiet."""
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench-not-secret-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on loopback: no TLS redirect, HSTS or HTTPS-only cookies.
        "SECURE_COOKIES": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "LIVEDESK_API_KEY": API_KEY,
        "LIVEDESK_API_SECRET": API_SECRET,
        "LIVEDESK_BASE_URL": "http://127.0.0.1:9",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextlib.contextmanager
def throwaway_database(
    directory: Path, postgres_url: str | None, *, keep: bool = False
) -> Iterator[str]:
    """A fresh database's URL: a SQLite file in `directory`, or a new PostgreSQL database on
    the server of `postgres_url`, dropped afterwards unless `keep`."""
    if not postgres_url:
        yield f"sqlite:///{directory / 'app.sqlite3'}"
        return
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        if keep:
            print(f"Kept the database {name}; drop it when done.", file=sys.stderr)
        else:
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(*arguments: str, environment: dict[str, str], log: Path | None = None) -> str:
    """Run one management command to its end; its output (stdout, then stderr), also appended
    to `log` if given; SystemExit with it on failure."""
    done = subprocess.run(
        [sys.executable, MANAGE, *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    output = done.stdout + done.stderr
    if log is not None:
        with log.open("a") as file:
            file.write(f"$ manage.py {' '.join(arguments)}\n{output}\n")
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(arguments)} failed:\n{output}")
    return output


def _prctl():
    with contextlib.suppress(Exception):
        return ctypes.CDLL(None, use_errno=True).prctl
    return None


# Looked up here, not in the child: a forked child of a threaded process must not dlopen.
PRCTL = _prctl()
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if PRCTL is not None:
        PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(command: list[str], *, environment: dict, log: Path, **options) -> subprocess.Popen:
    """Start a child in its own session, dying with the thread that starts it; its output
    (only stderr when `stdout` is given) is appended to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=options.pop("stdout", output),
            stderr=output,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            **options,
        )


def sandbox_start(
    directory: Path, *, count: int, environment: dict, flags: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str]:
    """The sandbox in its own process, seeded with `count` contacts; and its base URL."""
    log = directory / "sandbox.log"
    sandbox = spawn(
        [
            *(sys.executable, MANAGE, "livedesk_sandbox", "--port", "0"),
            *("--store", str(directory / "sandbox.sqlite3"), "--seed", str(count)),
            *("--api-key", API_KEY, "--api-secret", API_SECRET, *flags),
        ],
        environment=environment,
        log=log,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(sandbox.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=SANDBOX_START_SECONDS)
    line = lines[0] if lines else ""
    ready = SANDBOX_READY.search(line)
    if ready is None or int(ready.group(2)) != count:
        process_stop(sandbox)
        raise SystemExit(f"The sandbox did not start as expected: {line!r}\n{log.read_text()}")
    return sandbox, ready.group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_server_start(
    directory: Path, *, environment: dict, workers: int = 2, threads: int = 8
) -> tuple[subprocess.Popen, str]:
    """The app under gunicorn (the production server), on a free port; and its URL."""
    port = free_port()
    server = spawn(
        [
            *(sys.executable, "-m", "gunicorn", "livedesk_admin.wsgi"),
            *("--bind", f"127.0.0.1:{port}", "--workers", str(workers)),
            *("--threads", str(threads), "--timeout", "120"),
        ],
        environment=environment,
        log=directory / "gunicorn.log",
    )
    url = f"http://127.0.0.1:{port}"
    port_wait(port, process=server)
    return server, url


def worker_start(
    directory: Path, *, environment: dict, worker_id: str | None = None
) -> subprocess.Popen:
    """django-tasks' database worker as `make run` starts it, polling every 0.2 s; its log is
    `<worker_id>.log` (`worker.log` without one)."""
    named = ("--worker-id", worker_id) if worker_id else ()
    return spawn(
        [sys.executable, MANAGE, "db_worker", "--no-reload", "--interval", "0.2", *named],
        environment=environment,
        log=directory / f"{worker_id or 'worker'}.log",
    )


def port_wait(port: int, *, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The process on port {port} exited with {process.returncode}.")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"Nothing listens on port {port} after {seconds:g} s.")


def process_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@contextlib.contextmanager
def stopped(processes: list[subprocess.Popen]) -> Iterator[list[subprocess.Popen]]:
    """Stop every process put in the list, whatever happens."""
    try:
        yield processes
    finally:
        for process in reversed(processes):
            process_stop(process)


def machine() -> str:
    """The machine a benchmark ran on, for its first line: host, kernel, CPUs, Python."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.node()}, {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} CPUs {model}, Python {platform.python_version()}"
    )
