"""Run the LiveDesk contacts API sandbox: python manage.py livedesk_sandbox --seed 500."""

import dataclasses
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contacts.sandbox.server import Faults, SandboxServer
from contacts.sandbox.store import SandboxStore
from contacts.sandbox.webhooks import url_for_logs

# One flag per fault; the same names are the keys of the /_sandbox/faults control endpoint.
FAULT_HELP = {
    "latency_ms": "Milliseconds added to every API call.",
    "failure_rate": "Share of API calls, 0 to 1, that fail with --failure-status.",
    "failure_status": "HTTP status of a failure (default 503; 429 carries Retry-After).",
    "fail_next": "The next N API calls fail with --failure-status.",
    "rate_limit_next": "The next N API calls answer 429 with Retry-After.",
    "retry_after": "Seconds given in a 429's Retry-After header (default 1).",
    "hang_next": "The next N API calls hang for --hang-seconds before answering.",
    "hang_seconds": "How long a hung call hangs (default 30).",
    "quirks": "Answer with the type quirks of LiveDesk's docs (ids as strings...).",
    "methods": "Only calls with these HTTP methods (e.g. PATCH, or GET,PATCH) meet the faults.",
}


class Command(BaseCommand):
    help = "Serve a fake LiveDesk contacts API on loopback, backed by its own SQLite file."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--store",
            default="var/livedesk-sandbox.sqlite3",
            help="SQLite file for the sandbox's contacts (not the app's database).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=0,
            metavar="N",
            help="Seed N demo contacts when the store is empty.",
        )
        parser.add_argument("--random-seed", type=int, default=7)
        parser.add_argument("--reset", action="store_true", help="Wipe the store first.")
        parser.add_argument("--api-key", help="Defaults to settings.LIVEDESK_API_KEY.")
        parser.add_argument("--api-secret", help="Defaults to settings.LIVEDESK_API_SECRET.")
        for fault in dataclasses.fields(Faults):
            flag = "--" + fault.name.replace("_", "-")
            if fault.type is bool:
                parser.add_argument(flag, action="store_true", help=FAULT_HELP[fault.name])
            else:
                parser.add_argument(
                    flag, type=fault.type, default=fault.default, help=FAULT_HELP[fault.name]
                )
        parser.add_argument(
            "--webhook-url",
            default="",
            metavar="URL",
            help="POST a Chatwoot-style contact_created/contact_updated event here after each "
            "change made through the API (e.g. http://127.0.0.1:8000/webhooks/livedesk/).",
        )
        parser.add_argument(
            "--webhook-secret",
            default=None,
            metavar="SECRET",
            help="Sign the events (X-Chatwoot-Signature). Defaults to "
            "settings.LIVEDESK_WEBHOOK_SECRET; empty: unsigned.",
        )
        parser.add_argument(
            "--webhook-timeout",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help="How long one delivery may take before it is dropped (default 5).",
        )
        parser.add_argument("--verbose", action="store_true", help="Log every request line.")

    def handle(self, *args, **options):
        try:
            faults = Faults.from_dict(
                {fault.name: options[fault.name] for fault in dataclasses.fields(Faults)}
            )
        except ValueError as problem:
            raise CommandError(str(problem)) from problem

        webhook_secret = options["webhook_secret"]
        if webhook_secret is None:
            webhook_secret = getattr(settings, "LIVEDESK_WEBHOOK_SECRET", "")
        if options["webhook_timeout"] <= 0:
            raise CommandError("--webhook-timeout must be a positive number of seconds")

        path = Path(options["store"])
        store = SandboxStore(path)
        if options["reset"]:
            store.reset()
        if options["seed"] > 0 and store.count() == 0:
            store.seed(options["seed"], random_seed=options["random_seed"])

        try:
            server = SandboxServer(
                store=store,
                host=options["host"],
                port=options["port"],
                api_key=options["api_key"]
                or getattr(settings, "LIVEDESK_API_KEY", "")
                or "sandbox-demo-key",
                api_secret=options["api_secret"]
                or getattr(settings, "LIVEDESK_API_SECRET", "")
                or "sandbox-demo-secret",
                faults=faults,
                verbose=options["verbose"],
                webhook_url=options["webhook_url"],
                webhook_secret=webhook_secret,
                webhook_timeout=options["webhook_timeout"],
            )
        except ValueError as problem:
            store.close()
            raise CommandError(f"--webhook-url: {problem}") from problem
        except OSError as problem:
            store.close()
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {problem}"
            ) from problem

        self.stdout.write(
            f"LiveDesk sandbox on {server.base_url} with {store.count()} contacts "
            f"(store {path}; Ctrl-C to stop)"
        )
        if server.webhooks is not None:
            signed = "signed" if webhook_secret else "unsigned"
            self.stdout.write(
                f"Contact events go to {url_for_logs(options['webhook_url'])} ({signed})"
            )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            store.close()
