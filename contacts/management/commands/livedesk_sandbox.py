"""Run the LiveDesk contacts API sandbox: python manage.py livedesk_sandbox --seed 500."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contacts.sandbox.server import Faults, SandboxServer
from contacts.sandbox.store import SandboxStore


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
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--failure-rate", type=float, default=0.0)
        parser.add_argument("--failure-status", type=int, default=503)
        parser.add_argument("--hang-seconds", type=float, default=30.0)
        parser.add_argument("--quirks", action="store_true", help="Answer with type quirks.")
        parser.add_argument("--verbose", action="store_true", help="Log every request line.")

    def handle(self, *args, **options):
        try:
            faults = Faults.from_dict(
                {
                    "latency_ms": options["latency_ms"],
                    "failure_rate": options["failure_rate"],
                    "failure_status": options["failure_status"],
                    "hang_seconds": options["hang_seconds"],
                    "quirks": options["quirks"],
                }
            )
        except ValueError as problem:
            raise CommandError(str(problem)) from problem

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
            )
        except OSError as problem:
            store.close()
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {problem}"
            ) from problem

        self.stdout.write(
            f"LiveDesk sandbox on {server.base_url} with {store.count()} contacts "
            f"(store {path}; Ctrl-C to stop)"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            store.close()
