"""The fault campaign's moving parts: the sandbox behind the fault proxy, the app's database
and worker, the agents making edits, the outages, the worker killed mid-call, the heal."""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import benchkit
from faultcount import EDITED_FIELDS, left_after_heal
from faultproxy import FaultProxy, connection_owner_is

APP_SETTINGS = {
    "LIVEDESK_SAVE_BUDGET_SECONDS": "0.5",
    "LIVEDESK_CONNECT_TIMEOUT": "1",
    "LIVEDESK_READ_TIMEOUT": "1",
    "LIVEDESK_RETRIES": "1",
    "LIVEDESK_BACKOFF_FACTOR": "0.2",
    "LIVEDESK_RETRY_AFTER_CAP": "1",
    "LIVEDESK_RETRY_AFTER_MAX": "3",
    "LIVEDESK_PUSH_BACKOFF_SECONDS": "1",
    "LIVEDESK_PUSH_BACKOFF_MAX_SECONDS": "4",
    "LIVEDESK_PUSH_LEASE_SECONDS": "5",
    # The worker's sweep takes up a push whose lease ran out (a killed worker's): soon after.
    "LIVEDESK_PUSH_SWEEP_SECONDS": "2",
    "LIVEDESK_UNKNOWN_OUTCOME_GRACE_SECONDS": "4",
}
KILL_WAIT_SECONDS = 30.0
# After healing, how long the worker works alone before `push_pending` runs: longer than the
# lease (5 s) plus the longest backoff (4 s) plus a sweep's interval (2 s).
WORKER_ALONE_SECONDS = 12.0
# How often an agent told "conflict" opens the form again before giving up (0.1 s apart).
CONFLICT_REOPENS = 50


@dataclass
class Kill:
    """The worker killed mid-call (or not, when it sent no PATCH in time): what it was sending."""

    pid: int
    mid_call: bool
    body: dict | None = None
    at: float = 0.0


@dataclass
class Told:
    """What an agent was told about edit n."""

    outcome: str
    waiting: bool = False
    conflicts_first: int = 0
    error: str = ""


class Campaign:
    def __init__(self, options: argparse.Namespace, *, directory: Path, processes: list):
        self.options = options
        self.directory = directory
        self.processes = processes  # stopped by benchkit.stopped()
        self.proxy: FaultProxy | None = None
        self.killed: Kill | None = None
        self.worker = None
        self.worker_id = ""
        self.workers_started = 0
        self.environment: dict[str, str] = {}
        self.database_label = ""
        self.django_ready = False
        self.stopping = threading.Event()
        self.worker_killed = threading.Event()
        self.agents: list[threading.Thread] = []
        self.made = 0
        self.made_lock = threading.Lock()
        self.told: dict[int, Told] = {}
        self.plan: list[tuple[int, str]] = []
        self.contact_remote_ids: list[int] = []
        self.log_counts: Counter = Counter()
        self.times: dict[str, float] = {}
        self.heal_figures: dict[str, Any] = {}
        self.push_pending_output = ""
        self.started = time.perf_counter()

    # Set up

    def prepare(self, database_url: str) -> None:
        options = self.options
        self.environment = benchkit.app_environment(
            self.directory,
            database_url,
            DJANGO_SETTINGS_MODULE="livedesk_admin.settings",
            **APP_SETTINGS,
        )
        sandbox, sandbox_url = benchkit.sandbox_start(
            self.directory,
            count=options.contacts,
            environment=self.environment,
            flags=("--random-seed", str(options.seed)),
        )
        self.processes.append(sandbox)
        self.proxy = FaultProxy(sandbox_port=urlsplit(sandbox_url).port, seed=options.seed)
        self.environment["LIVEDESK_BASE_URL"] = self.proxy.base_url
        self.manage("migrate", "--no-input", "-v", "0")
        synced = self.manage("sync_contacts", "--no-progress")
        self.manage("push_pending")  # as `make run` does: starts the worker's sweeps
        print(f"   sandbox {sandbox_url}, proxy {self.proxy.base_url}; {synced}", flush=True)
        os.environ.update(self.environment)
        import django

        django.setup()
        self.django_ready = True
        self.logging_capture()
        self.database_label = database_label(database_url)
        from contacts.models import Contact

        self.contact_remote_ids = sorted(Contact.objects.values_list("remote_id", flat=True))
        if len(self.contact_remote_ids) != options.contacts:
            raise SystemExit(
                f"The mirror holds {len(self.contact_remote_ids)} contacts, not {options.contacts}."
            )
        plan_random = random.Random(options.seed)
        self.plan = [
            (plan_random.randrange(options.contacts), plan_random.choice(EDITED_FIELDS))
            for _ in range(options.edits)
        ]

    def manage(self, *arguments: str) -> str:
        """Run a management command (logged in manage.log); the last line of its output."""
        output = benchkit.manage(
            *arguments, environment=self.environment, log=self.directory / "manage.log"
        ).strip()
        self.log_scan(output)
        return output.splitlines()[-1] if output else ""

    def logging_capture(self) -> None:
        """This process's warnings are counted, not printed (the failures would flood)."""
        campaign = self

        class Counting(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                campaign.log_scan(record.getMessage(), level=record.levelname)

        logger = logging.getLogger("contacts")
        logger.handlers = [Counting(level=logging.WARNING)]
        logger.propagate = False

    def log_scan(self, text: str, *, level: str = "") -> None:
        if "delivered twice" in text:
            self.log_counts["'delivered twice after its lease ran out' warnings"] += 1
        if "Traceback" in text or level in ("ERROR", "CRITICAL"):
            self.log_counts["errors logged"] += text.count("Traceback") or 1

    def worker_start(self) -> None:
        """A new worker (worker-<n>.log). Only from the main thread: a child's
        PR_SET_PDEATHSIG follows the thread that started it."""
        self.workers_started += 1
        self.worker_id = f"worker-{self.workers_started}"
        self.worker = benchkit.worker_start(
            self.directory, environment=self.environment, worker_id=self.worker_id
        )
        self.processes.append(self.worker)

    # The edits

    def run(self) -> None:
        options = self.options
        self.worker_start()
        self.proxy.failure_rate = options.failure_rate
        print(
            f"   {options.edits:,} edits on {options.contacts:,} contacts by {options.agents} "
            f"agents, {options.failure_rate:.0%} of LiveDesk calls failing, worker pid "
            f"{self.worker.pid}; {self.database_label}",
            flush=True,
        )
        started = time.perf_counter()
        self.agents = [
            threading.Thread(target=self.agent, args=(index,), name=f"agent-{index}", daemon=True)
            for index in range(options.agents)
        ]
        outages_at = [
            (index + 1) / (options.outages + 1) * options.edits for index in range(options.outages)
        ]
        helpers = [threading.Thread(target=self.outages, args=(outages_at,), daemon=True)]
        if 0 < options.kill_at < 1:
            kill_after = options.kill_at * options.edits
            helpers.append(
                threading.Thread(target=self.worker_kill_mid_call, args=(kill_after,), daemon=True)
            )
        for thread in [*self.agents, *helpers]:
            thread.start()
        last_print = time.monotonic()
        deadline = time.monotonic() + max(600.0, options.edits * 2.0)
        while any(thread.is_alive() for thread in [*self.agents, *helpers]):
            if time.monotonic() > deadline:
                raise SystemExit("The edits took too long: stopping.")
            if self.worker_killed.is_set():
                self.worker_killed.clear()
                self.worker_start()
                print(f"   a new worker starts: pid {self.worker.pid}", flush=True)
            if time.monotonic() - last_print > 10:
                last_print = time.monotonic()
                print(f"   {self.made:,} edits made in {time.perf_counter() - started:.0f}s")
            time.sleep(0.05)
        if self.worker_killed.is_set():
            self.worker_killed.clear()
            self.worker_start()
        self.times["edits"] = time.perf_counter() - started
        print(f"   {self.made:,} edits made in {self.times['edits']:.1f}s", flush=True)

    def next_edit(self) -> int | None:
        with self.made_lock:
            if self.stopping.is_set() or self.made >= self.options.edits:
                return None
            self.made += 1
            return self.made

    def agent(self, index: int) -> None:
        from django.contrib.auth import get_user_model
        from django.db import connection

        try:
            editor, _ = get_user_model().objects.get_or_create(username=f"bench-agent-{index}")
            while (number := self.next_edit()) is not None:
                try:
                    self.told[number] = self.edit(number, editor)
                except Exception as error:  # the agent sees an error page; the campaign goes on
                    self.told[number] = Told(
                        "error", error=f"{type(error).__name__}: {error}"[:300]
                    )
                    with (self.directory / "agents.log").open("a") as log:
                        log.write(f"edit {number}:\n{traceback.format_exc()}\n")
        finally:
            connection.close()

    def edit(self, number: int, editor) -> Told:
        """Edit n as an agent makes it through the edit page; what the agent is told."""
        from contacts.fields import contact_values
        from contacts.models import Contact
        from contacts.selectors import (
            contact_open_edit,
            contact_unfinished_edits,
            edit_prefill_values,
        )
        from contacts.services import EditOutcome, contact_edit_submit

        contact_index, key = self.plan[number - 1]
        remote_id = self.contact_remote_ids[contact_index]
        conflicts = 0
        asked: int | None = None
        for _attempt in range(CONFLICT_REOPENS):
            # As views.contact_edit opens the form: LiveDesk's values (the mirror), or with
            # ?edit=<id> ("Edit and resend") that edit's values, replaced.
            contact = Contact.objects.get(remote_id=remote_id)
            base = contact_values(contact)
            reopened = contact_open_edit(contact=contact, edit_id=asked) if asked else None
            opened = edit_prefill_values(edit=reopened) if reopened else base
            submission = contact_edit_submit(
                contact=contact,
                editor=editor,
                values={**opened, key: f"run-{number}"},
                base_values=base,
                base_version=contact.version,
                opened_values=opened,
                replaces=reopened,
            )
            if submission.outcome != EditOutcome.CONFLICT:
                break
            conflicts += 1
            # The conflict names a value still on its way: the contact page lists that edit
            # with "Edit and resend", which the agent uses.
            newest = contact_unfinished_edits(contact=contact).order_by("-created_at", "-pk")
            asked = newest.values_list("pk", flat=True).first()
            time.sleep(0.1)
        return Told(str(submission.outcome), submission.waiting, conflicts_first=conflicts)

    def outages(self, outages_at: list[float]) -> None:
        for threshold in outages_at:
            while self.made < threshold and not self.all_made():
                time.sleep(0.05)
            if self.all_made():
                return
            self.proxy.outage(self.options.outage_seconds)
            print(f"   outage: LiveDesk refused connections for {self.options.outage_seconds:g}s")

    def all_made(self) -> bool:
        return self.stopping.is_set() or len(self.told) >= self.options.edits

    def worker_kill_mid_call(self, threshold: float) -> None:
        """SIGKILL the worker while LiveDesk has applied its PATCH and the answer is held."""
        while self.made < threshold and not self.stopping.is_set():
            time.sleep(0.05)
        if self.stopping.is_set():
            return
        worker = self.worker
        done = threading.Event()

        def kill_caller(peer_port: int, body: bytes) -> bool:
            if not connection_owner_is(worker.pid, peer_port, self.proxy.port):
                return False
            worker.kill()
            worker.wait(timeout=10)
            at = time.perf_counter() - self.started
            self.killed = Kill(worker.pid, True, json.loads(body) if body else None, at)
            done.set()
            return True

        self.proxy.kill_caller = kill_caller
        if not done.wait(KILL_WAIT_SECONDS):
            self.proxy.kill_caller = None
            if not done.wait(1):
                worker.kill()
                worker.wait(timeout=10)
                self.killed = Kill(worker.pid, mid_call=False)
        print(
            f"   worker {worker.pid} killed with SIGKILL "
            f"({'mid-call' if self.killed.mid_call else 'not mid-call'}) "
            f"after {self.made:,} edits",
            flush=True,
        )
        self.worker_killed.set()

    # Healing and draining

    def heal_and_drain(self) -> None:
        from django.utils import timezone

        from contacts.models import ContactEdit

        started = time.perf_counter()
        self.proxy.heal()
        self.heal_figures = {"healed at": time.time()}
        unfinished = ContactEdit.objects.filter(state__in=ContactEdit.UNFINISHED_STATES)
        for _ in range(100):
            if not unfinished.filter(in_flight_until__gt=timezone.now()).exists():
                break
            time.sleep(0.1)
        due = unfinished.exclude(state=ContactEdit.State.FAILED, next_attempt_at__isnull=True)
        # The worker alone first: what it would not deliver soon without the sweep.
        queued = due.exclude(failure_kind__in=("permanent", "conflict"))
        self.heal_figures["unfinished at heal"] = queued.count()
        alone_until = time.monotonic() + WORKER_ALONE_SECONDS
        while time.monotonic() < alone_until and queued.exists():
            time.sleep(0.2)
        self.heal_figures |= left_after_heal(queued, current_worker=self.worker_id)
        self.push_pending_output = self.manage("push_pending")
        deadline = time.monotonic() + self.options.drain_timeout
        while time.monotonic() < deadline and due.exists():
            time.sleep(0.5)
        self.times["heal and drain"] = time.perf_counter() - started

    def stop(self) -> None:
        """Stop the agents and the proxy (benchkit stops the processes)."""
        self.stopping.set()
        for agent in self.agents:
            agent.join(timeout=15)
        if self.proxy is not None:
            self.proxy.stop()
        if self.django_ready:
            from django.db import connections

            connections.close_all()


def database_label(url: str) -> str:
    """The engine and where its database is, for the report."""
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite ({connection.settings_dict['NAME']})"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    parts = urlsplit(url)
    return f"PostgreSQL {version.split()[0]} ({parts.netloc}{parts.path})"
