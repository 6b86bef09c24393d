"""A TCP proxy on 127.0.0.1 in front of the LiveDesk sandbox that fails calls to order.

It forwards whole HTTP/1.1 messages and decides for each LiveDesk API call whether it fails,
and how, from shuffled blocks of FAULT_BLOCK calls of which exactly `failure_rate` fail, in the
mix of FAULT_WEIGHTS. The sandbox serves 503, 502 and 504 with nginx's HTML page, 429 with
Retry-After and hangs longer than the client's read timeout: the proxy arms those one-shot faults
(`PUT /_sandbox/faults`) just before it forwards the call, under a lock so that no other call
takes them. It makes itself a reset before the call reaches LiveDesk, a reset after LiveDesk
answered (a PATCH applied, its answer never heard) and a refusal (an RST on the next accept).
`outage()` closes the listening socket a while: the kernel refuses every connection meanwhile.
It logs every PATCH forwarded (`patches`) and what it served (`served`), and can have the caller
of a PATCH LiveDesk applied killed before the answer reaches it (`kill_caller`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import select
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

API_PREFIX = "/api/"
HANG_SECONDS = 2.5
RETRY_AFTER_SECONDS = 2
# The share of the failing calls each fault takes.
FAULT_WEIGHTS = {
    "503": 0.20,
    "502 (HTML page)": 0.15,
    "504 (HTML page)": 0.05,
    "429 (Retry-After)": 0.15,
    "hang": 0.10,
    "reset before LiveDesk": 0.10,
    "reset after LiveDesk answered": 0.10,
    "refused (RST on accept)": 0.15,
}
SANDBOX_FAULTS = {
    "503": {"fail_next": 1, "failure_status": 503},
    "502 (HTML page)": {"fail_next": 1, "failure_status": 502},
    "504 (HTML page)": {"fail_next": 1, "failure_status": 504},
    "429 (Retry-After)": {"rate_limit_next": 1, "retry_after": RETRY_AFTER_SECONDS},
    "hang": {"hang_next": 1, "hang_seconds": HANG_SECONDS},
}
# Faults are drawn in shuffled blocks of this many calls, so the rate holds over each block.
FAULT_BLOCK = 200
MAX_CONNECTIONS = 64
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass
class Call:
    """One PATCH the proxy forwarded: when, what, LiveDesk's status, and whether its caller
    heard the answer ("" when it did)."""

    sent: float
    answered: float
    body: bytes
    status: int | None
    late: bool = False
    unheard: str = ""

    @property
    def applied(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class FaultProxy:
    def __init__(self, *, sandbox_port: int, seed: int):
        self.sandbox_port = sandbox_port
        self.failure_rate = 0.0
        self._random = random.Random(seed)
        self._schedule: list[str | None] = []
        self._lock = threading.Lock()
        self._forward_lock = threading.Lock()
        self._stop = threading.Event()
        self._down = threading.Event()
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._refuse_next = 0
        self.served: Counter[str] = Counter()
        self.calls = 0
        self.outages: list[float] = []
        self.patches: list[Call] = []
        # While armed: called with the caller's port and the body of a PATCH LiveDesk applied;
        # True when it killed the caller, who then never hears the answer (disarmed).
        self.kill_caller: Callable[[int, bytes], bool] | None = None
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, name="proxy", daemon=True)
        self._acceptor.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.settimeout(0.1)
        return listener

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            _quiet_close(self._listener)
            for connection in list(self._connections):
                _quiet_close(connection)
        self._acceptor.join(timeout=5)
        for thread in list(self._threads):
            thread.join(timeout=5)

    def outage(self, seconds: float) -> None:
        """Stop listening for `seconds` and drop idle connections: every connect is refused."""
        with self._lock:
            self._down.set()
            _quiet_close(self._listener)
        self.outages.append(seconds)
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self._stop.is_set():
            time.sleep(0.05)
        for _ in range(100):
            try:
                listener = self._listen(self.port)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"The proxy could not listen on port {self.port} again.")
        with self._lock:
            self._listener = listener
            self._down.clear()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            if self._down.is_set():
                time.sleep(0.02)
                continue
            try:
                client, _address = self._listener.accept()
            except OSError:
                continue
            with self._lock:
                refuse = self._refuse_next > 0 or len(self._connections) >= MAX_CONNECTIONS
                if self._refuse_next > 0:
                    self._refuse_next -= 1
                    self.served["refused (RST on accept)"] += 1
                    self.calls += 1
                if not refuse:
                    self._connections.add(client)
                    self._threads = [thread for thread in self._threads if thread.is_alive()]
            if refuse:
                _rst_close(client)
                continue
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _choose(self) -> str | None:
        with self._lock:
            self.calls += 1
            if self.failure_rate <= 0:
                return None
            if not self._schedule:
                self._schedule = fault_block(self.failure_rate, self._random)
            kind = self._schedule.pop()
            if kind == "refused (RST on accept)":
                # It takes the next new connection; this call goes through.
                self.calls -= 1
                self._refuse_next += 1
                return None
            return kind

    def _count(self, kind: str) -> None:
        with self._lock:
            self.served[kind] += 1

    def _serve(self, client: socket.socket) -> None:
        peer_port = client.getpeername()[1]
        stream = _Stream(client)
        upstream: socket.socket | None = None
        upstream_stream: _Stream | None = None
        try:
            while not self._stop.is_set():
                request = stream.read(
                    timeout=60, abort=lambda: self._down.is_set() or self._stop.is_set()
                )
                if request is None:
                    return
                head, body = request
                method, _, rest = head.partition(b" ")
                api = rest.partition(b" ")[0].decode("latin-1").startswith(API_PREFIX)
                fault = self._choose() if api else None
                if fault == "reset before LiveDesk":
                    self._count(fault)
                    _rst_close(client)
                    return
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.sandbox_port), 5)
                    upstream_stream = _Stream(upstream)
                with self._forward_lock:
                    if fault in SANDBOX_FAULTS:
                        self.sandbox_control("PUT", "/_sandbox/faults", SANDBOX_FAULTS[fault])
                    sent = time.time()
                    upstream.sendall(head + b"\r\n\r\n" + body)
                    # Hold the lock until the sandbox has taken this call's faults.
                    select.select([upstream], [], [], 0.05)
                answer = upstream_stream.read(timeout=HANG_SECONDS + 10)
                answered = time.time()
                late = answered - sent >= HANG_SECONDS - 0.3
                status = int(answer[0].split(b" ", 2)[1]) if answer is not None else None
                call = Call(sent, answered, body, status, late=late)
                if method == b"PATCH" and api:
                    with self._lock:
                        self.patches.append(call)
                if answer is None:
                    if api:
                        self._count("hang, then closed" if late else "closed without answer")
                    return
                answer_head, answer_body = answer
                if method == b"PATCH" and api and call.applied and self._kill(peer_port, body):
                    call.unheard = "killed"
                    _rst_close(client)
                    return
                if fault == "reset after LiveDesk answered":
                    self._count(fault)
                    call.unheard = "reset"
                    _rst_close(client)
                    return
                if api:
                    kind = _status_kind(status, answer_head)
                    self._count(f"hang, then {kind}" if late else kind)
                if late:
                    # The caller's read timeout (at most 1 s) ran out long ago.
                    call.unheard = "hang"
                client.sendall(answer_head + b"\r\n\r\n" + answer_body)
                if _header(answer_head, b"connection") == b"close":
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.discard(client)
            _quiet_close(client)
            _quiet_close(upstream)

    def _kill(self, peer_port: int, body: bytes) -> bool:
        """Whether the armed `kill_caller` killed this caller; if not, it stays armed."""
        with self._lock:
            kill_caller, self.kill_caller = self.kill_caller, None
        killed = kill_caller is not None and kill_caller(peer_port, body)
        if kill_caller is not None and not killed:
            with self._lock:
                self.kill_caller = kill_caller
        return killed

    def sandbox_control(self, method: str, path: str, body: dict | None = None) -> Any:
        """A call to the sandbox's control endpoints (/_sandbox/...), past the proxy."""
        connection = http.client.HTTPConnection("127.0.0.1", self.sandbox_port, timeout=10)
        try:
            connection.request(method, path, None if body is None else json.dumps(body))
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}")
        return json.loads(answer)

    def heal(self) -> None:
        """No more faults: none drawn, none left armed in the sandbox."""
        self.failure_rate = 0.0
        self.sandbox_control("DELETE", "/_sandbox/faults")


def fault_block(rate: float, rng: random.Random) -> list[str | None]:
    """The next FAULT_BLOCK calls' faults, shuffled: exactly `rate` of them fail, in the mix of
    FAULT_WEIGHTS (rounded)."""
    block: list[str | None] = []
    for kind, weight in FAULT_WEIGHTS.items():
        block += [kind] * round(FAULT_BLOCK * rate * weight)
    block += [None] * max(FAULT_BLOCK - len(block), 0)
    rng.shuffle(block)
    return block


def connection_owner_is(pid: int, local_port: int, remote_port: int) -> bool:
    """Whether process `pid` holds this host's TCP socket 127.0.0.1:local_port ->
    127.0.0.1:remote_port (from /proc, Linux)."""
    wanted = (f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}")
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    rows = (line.split() for line in lines)
    inode = next((row[9] for row in rows if (row[1], row[2]) == wanted), None)
    for descriptor in descriptors if inode is not None else ():
        with contextlib.suppress(OSError):
            if os.readlink(descriptor) == f"socket:[{inode}]":
                return True
    return False


class _Stream:
    """Whole HTTP/1.1 messages (Content-Length bodies only) read from one socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    def read(self, *, timeout: float, abort=lambda: False) -> tuple[bytes, bytes] | None:
        """(head, body) of the next message, or None on EOF, reset, timeout or abort."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD_BYTES or not self._fill(deadline, abort):
                return None
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest
        try:
            length = max(int(_header(head, b"content-length") or 0), 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            return None
        while len(self.buffer) < length:
            if not self._fill(deadline, abort):
                return None
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return head, body

    def _fill(self, deadline: float, abort) -> bool:
        """Add what arrives next to the buffer; False on EOF, reset, timeout or abort."""
        while not abort() and time.monotonic() <= deadline:
            self.sock.settimeout(max(0.01, min(0.2, deadline - time.monotonic())))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return False
            self.buffer += chunk
            return bool(chunk)
        return False


def _header(head: bytes, wanted: bytes) -> bytes:
    """A header's value, stripped and lower-cased; b"" when absent."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == wanted:
            return value.strip().lower()
    return b""


def _status_kind(status: int, head: bytes) -> str:
    if 200 <= status < 300:
        return "passed (2xx)"
    if status in (502, 504):
        html = _header(head, b"content-type").startswith(b"text/html")
        return f"{status} (HTML page)" if html else str(status)
    if status == 429:
        return "429 (Retry-After)" if _header(head, b"retry-after") else "429"
    return str(status)


def _rst_close(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets an RST, not a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _quiet_close(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()
