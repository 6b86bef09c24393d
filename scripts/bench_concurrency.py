"""Agents editing the same few contacts at once, over HTTP: lost values, silent overwrites, 5xx.

    .venv/bin/python scripts/bench_concurrency.py                      # SQLite
    .venv/bin/python scripts/bench_concurrency.py --database-url postgres://postgres@127.0.0.1/test

One run, on one engine (`make bench-concurrency` runs SQLite, then PostgreSQL when reachable):
the sandbox seeded with `--contacts` contacts in its own process; a fresh database (a SQLite
file, or a PostgreSQL database created beside the one named and dropped after); the mirror
synced; `--agents` agent logins; the app under gunicorn (2 processes x 8 threads) and the
django-tasks worker. Then every agent, in a thread of its own with its own session, opens a
random contact's edit page, changes one random field to a value no one else uses, saves, and
reads what the page tells it. When all `--saves` are done, the worker is given time to deliver
what was queued, and the figures are checked against LiveDesk's final state and the history:

- told saved or queued, a value is **lost** unless a succeeded edit delivered it (its own, or
  the newer edit it was carried into);
- a value told saved but not delivered, or told "conflict: nothing was sent" but delivered, is
  a **lie**;
- along each field's delivered values, in the order LiveDesk took them, a value is a **silent
  overwrite** when its agent's form showed something else than the value it replaced: that
  agent overwrote a saved value it never saw;
- a field whose final value in LiveDesk is not the last delivered one is a **final mismatch**.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchkit  # noqa: E402

PASSWORD = "bench-agent-password"
# Form field name -> the value key in an edit's changes.
EDITED_FIELDS = {
    "name": "name",
    "city": "additional_attributes.city",
    "company_name": "additional_attributes.company_name",
    "description": "additional_attributes.description",
    "social_github": "social_profiles.github",
    "social_twitter": "social_profiles.twitter",
}
# What the contact page says after a save, by outcome (English pages).
TOLD = (
    ("saved", "Saved: LiveDesk accepted"),
    ("queued", "Your edit is saved and queued"),
    ("queued", "Your edit is saved but did not reach LiveDesk yet"),
    ("conflict", "after you opened this form, so nothing was sent"),
    ("rejected", "LiveDesk rejected the changes"),
    ("failed", "LiveDesk did not accept the edit"),
)


@dataclass
class Save:
    agent: str
    remote_id: int
    key: str
    value: str
    seen: str
    told: str
    status: int
    seconds: float


class FormFields(HTMLParser):
    """The fields a browser would post for the page's edit form (the one with base_values)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        name = attributes.get("name")
        if tag == "form":
            self.forms.append({})
        elif not self.forms or name is None or "disabled" in attributes:
            return
        elif tag == "input":
            kind = attributes.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            if kind not in ("submit", "button"):
                self.forms[-1][name] = attributes.get("value", "on" if kind == "checkbox" else "")
        elif tag == "textarea":
            self._textarea = name
            self.forms[-1][name] = ""
        elif tag == "select":
            self._select = name
        elif (
            tag == "option"
            and self._select
            and ("selected" in attributes or self._select not in self.forms[-1])
        ):
            self.forms[-1][self._select] = attributes.get("value", "")

    def handle_data(self, data):
        if self._textarea:
            self.forms[-1][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            if self._textarea:
                text = self.forms[-1][self._textarea]
                self.forms[-1][self._textarea] = text.removeprefix("\n")
            self._textarea = None
        elif tag == "select":
            self._select = None

    @classmethod
    def edit_form(cls, html: str) -> dict[str, str]:
        parser = cls()
        parser.feed(html)
        for form in parser.forms:
            if "base_values" in form:
                return form
        raise SystemExit(f"No edit form on the page: {html[:400]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=5)
    parser.add_argument("--saves", type=int, default=500)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the directory and its logs")
    parser.add_argument(
        "--failure-rate",
        type=float,
        default=0.0,
        help="share of LiveDesk calls that fail meanwhile (with --failure-status)",
    )
    parser.add_argument("--failure-status", type=int, default=429)
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    engine = "PostgreSQL" if options.database_url else "SQLite"
    print(
        f"== {options.agents} agents, {options.contacts} contacts, {options.saves} saves, "
        f"{engine}, in {directory}",
        flush=True,
    )
    try:
        with benchkit.throwaway_database(directory, options.database_url) as database_url:
            return campaign(options, directory=directory, database_url=database_url)
    finally:
        if not options.keep:
            shutil.rmtree(directory, ignore_errors=True)


def campaign(options, *, directory: Path, database_url: str) -> int:
    environment = benchkit.app_environment(
        directory,
        database_url,
        # Retries of queued edits come within seconds, so the queue drains during the run.
        LIVEDESK_PUSH_BACKOFF_SECONDS="1",
        LIVEDESK_PUSH_BACKOFF_MAX_SECONDS="4",
        LIVEDESK_PUSH_MAX_ATTEMPTS="20",
    )
    faults = ()
    if options.failure_rate:
        faults = (
            "--failure-rate",
            str(options.failure_rate),
            "--failure-status",
            str(options.failure_status),
            "--retry-after",
            "2",
        )
    with benchkit.stopped([]) as processes:
        sandbox, sandbox_url = benchkit.sandbox_start(
            directory, count=options.contacts, environment=environment, flags=faults
        )
        processes.append(sandbox)
        environment["LIVEDESK_BASE_URL"] = sandbox_url
        os.environ.update(environment)
        benchkit.manage("migrate", "--no-input", environment=environment)
        benchkit.manage("collectstatic", "--no-input", environment=environment)
        benchkit.manage("sync_contacts", "--no-progress", environment=environment)
        # As `make run` does: starts the worker's periodic sweep of the outbox.
        benchkit.manage("push_pending", environment=environment)
        import django

        sys.path.insert(0, str(benchkit.PROJECT_ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livedesk_admin.settings")
        django.setup()
        agents = agents_make(options.agents)
        server, app_url = benchkit.app_server_start(directory, environment=environment)
        processes.append(server)
        processes.append(benchkit.worker_start(directory, environment=environment))
        remote_ids = contact_ids()
        started = time.perf_counter()
        saves = saves_run(options, app_url=app_url, agents=agents, remote_ids=remote_ids)
        elapsed = time.perf_counter() - started
        if options.failure_rate:
            requests.delete(f"{sandbox_url}/_sandbox/faults", timeout=10)
        drained = queue_drain(seconds=180)
        report(saves, elapsed=elapsed, drained=drained, sandbox_url=sandbox_url)
    return 0


def agents_make(count: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="LiveDesk agents")
    names = [f"agent{n:02}" for n in range(count)]
    for name in names:
        user = get_user_model().objects.create_user(username=name, password=PASSWORD)
        user.groups.add(group)
    return names


def contact_ids() -> list[int]:
    from contacts.models import Contact

    return list(Contact.objects.order_by("remote_id").values_list("remote_id", flat=True))


def saves_run(options, *, app_url: str, agents: list[str], remote_ids: list[int]) -> list[Save]:
    saves: list[Save] = []
    lock = threading.Lock()
    per_agent = [
        options.saves // len(agents) + (n < options.saves % len(agents)) for n in range(len(agents))
    ]
    start = threading.Barrier(len(agents))

    failures: list[str] = []

    def agent_work(index: int, agent: str) -> None:
        try:
            agent_saves(index, agent)
        except BaseException as error:
            import traceback

            failures.append(f"{agent}: {error!r} {traceback.format_exc()}")
            start.abort()

    def agent_saves(index: int, agent: str) -> None:
        chooser = random.Random(options.seed * 1000 + index)
        session = login(app_url, agent)
        start.wait()
        for n in range(per_agent[index]):
            remote_id = chooser.choice(remote_ids)
            field = chooser.choice(list(EDITED_FIELDS))
            save = save_one(
                session,
                app_url,
                agent=agent,
                remote_id=remote_id,
                field=field,
                value=f"{agent}-{n}",
            )
            with lock:
                saves.append(save)

    threads = [
        threading.Thread(target=agent_work, args=(index, agent))
        for index, agent in enumerate(agents)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit("An agent stopped: " + "; ".join(failures[:3]))
    return saves


def login(app_url: str, agent: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{app_url}/accounts/login/", timeout=30)
    token = _csrf(page.text)
    answer = session.post(
        f"{app_url}/accounts/login/",
        data={"username": agent, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{app_url}/accounts/login/"},
        timeout=30,
    )
    if "/accounts/login/" in answer.url:
        raise SystemExit(f"{agent} could not log in (status {answer.status_code}).")
    return session


def _csrf(html: str) -> str:
    parser = FormFields()
    parser.feed(html)
    for form in parser.forms:
        if "csrfmiddlewaretoken" in form:
            return form["csrfmiddlewaretoken"]
    raise SystemExit(f"No form with a CSRF token on the login page: {html[:400]!r}")


def save_one(session, app_url: str, *, agent: str, remote_id: int, field: str, value: str) -> Save:
    url = f"{app_url}/contacts/{remote_id}/edit/"
    started = time.perf_counter()
    page = session.get(url, timeout=60)
    if page.status_code >= 500:
        return Save(
            agent,
            remote_id,
            EDITED_FIELDS[field],
            value,
            "",
            "5xx",
            page.status_code,
            time.perf_counter() - started,
        )
    data = FormFields.edit_form(page.text)
    seen = data.get(field, "")
    data[field] = value
    answer = session.post(url, data=data, headers={"Referer": url}, timeout=60)
    told = (
        "5xx"
        if answer.status_code >= 500
        else next((outcome for outcome, words in TOLD if words in answer.text), "other")
    )
    return Save(
        agent,
        remote_id,
        EDITED_FIELDS[field],
        value,
        seen,
        told,
        answer.status_code,
        time.perf_counter() - started,
    )


def queue_drain(*, seconds: float) -> float:
    """Wait for the worker to deliver every queued edit; how long that took."""
    from contacts.models import ContactEdit

    started = time.perf_counter()
    queued = ContactEdit.objects.filter(
        state=ContactEdit.State.PENDING
    ) | ContactEdit.objects.filter(
        state=ContactEdit.State.FAILED,
        failure_kind=ContactEdit.FailureKind.TRANSIENT,
        next_attempt_at__isnull=False,
    )
    while queued.exists() and time.perf_counter() - started < seconds:
        time.sleep(0.5)
    return time.perf_counter() - started


def report(saves: list[Save], *, elapsed: float, drained: float, sandbox_url: str) -> None:
    from contacts.models import ContactEdit

    delivered = delivered_values()
    told = Counter(save.told for save in saves)
    lost = [s for s in saves if s.told in ("saved", "queued") and s.value not in delivered]
    lies = [
        s
        for s in saves
        if (s.told == "saved" and s.value not in delivered)
        or (s.told == "conflict" and s.value in delivered)
    ]
    overwrites, mismatches = overwrites_and_mismatches(saves, sandbox_url=sandbox_url)
    unfinished = ContactEdit.objects.filter(state__in=ContactEdit.UNFINISHED_STATES).count()
    print()
    print(
        f"saves                      {len(saves):>6}   in {elapsed:.1f} s "
        f"({len(saves) / elapsed:.1f} saves/s; median {median_seconds(saves) * 1000:.0f} ms)"
    )
    for outcome in ("saved", "queued", "conflict", "rejected", "failed", "other", "5xx"):
        print(f"  told {outcome:<21} {told.get(outcome, 0):>6}")
    print(f"queue drained in           {drained:>6.1f} s; unfinished edits left: {unfinished}")
    print(f"lost values                {len(lost):>6}")
    print(f"agents told an untruth     {len(lies):>6}")
    print(f"silent overwrites          {len(overwrites):>6}")
    print(f"final state mismatches     {len(mismatches):>6}")
    for label, rows in (
        ("lost", lost),
        ("untruth", lies),
        ("overwrite", overwrites),
        ("mismatch", mismatches),
    ):
        for row in rows[:5]:
            print(f"  e.g. {label}: {row}")


def delivered_values() -> dict[str, list]:
    """Each value a succeeded edit delivered -> those edits' (finished_at, id)."""
    from contacts.models import ContactEdit

    delivered: dict[str, list] = defaultdict(list)
    for edit in ContactEdit.objects.filter(state=ContactEdit.State.SUCCEEDED):
        for change in edit.changes:
            if isinstance(change.get("after"), str):
                delivered[change["after"]].append((edit.finished_at, edit.pk))
    return delivered


def overwrites_and_mismatches(saves: list[Save], *, sandbox_url: str):
    """Walk each field's delivered values in the order LiveDesk took them."""
    from contacts.models import Contact, ContactEdit

    seen_by_value = {save.value: save.seen for save in saves}
    initial = {}
    sequences: dict[tuple[int, str], list[str]] = defaultdict(list)
    edits = ContactEdit.objects.filter(state=ContactEdit.State.SUCCEEDED).select_related("contact")
    for edit in edits.order_by("finished_at", "id"):
        for change in edit.changes:
            slot = (edit.contact.remote_id, change["field"])
            initial.setdefault(slot, change.get("before") or "")
            if change.get("after") in seen_by_value:
                sequences[slot].append(change["after"])
    overwrites = []
    for slot, values in sequences.items():
        previous = initial[slot]
        for value in values:
            if seen_by_value[value] != previous and value != previous:
                overwrites.append(
                    (
                        slot,
                        f"{previous!r} overwritten by {value!r}, "
                        f"whose agent saw {seen_by_value[value]!r}",
                    )
                )
            previous = value
    mismatches = []
    session = requests.Session()
    session.auth = (benchkit.API_KEY, benchkit.API_SECRET)
    for remote_id in Contact.objects.values_list("remote_id", flat=True):
        payload = session.get(
            f"{sandbox_url}/api/v2/accounts/contacts/{remote_id}", timeout=30
        ).json()["payload"]
        for (slot_id, key), values in sequences.items():
            if slot_id == remote_id and live_value(payload, key) != values[-1]:
                mismatches.append((slot_id, key, live_value(payload, key), values[-1]))
    return overwrites, mismatches


def live_value(payload: dict, key: str):
    if key.startswith("additional_attributes."):
        return (payload.get("additional_attributes") or {}).get(key.split(".", 1)[1])
    if key.startswith("social_profiles."):
        profiles = (payload.get("additional_attributes") or {}).get("social_profiles") or {}
        return profiles.get(key.split(".", 1)[1])
    return payload.get(key)


def median_seconds(saves: list[Save]) -> float:
    ordered = sorted(save.seconds for save in saves)
    return ordered[len(ordered) // 2] if ordered else 0.0


if __name__ == "__main__":
    sys.exit(main())
