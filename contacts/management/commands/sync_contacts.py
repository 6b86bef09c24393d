import sys
import time

from django.core.management.base import BaseCommand, CommandError

from contacts import services

SKIPPED_SHOWN = 20


class Command(BaseCommand):
    help = "Pull every LiveDesk contact into the local mirror; flag the ones gone from LiveDesk."

    def add_arguments(self, parser):
        parser.add_argument("--page-size", type=int, default=None, help="Contacts asked per page.")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="Pages asked for at once (default LIVEDESK_SYNC_CONCURRENCY; 1: one at a time).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Print no progress bar.")

    def handle(self, *args, page_size=None, concurrency=None, no_progress=False, **options):
        started = time.monotonic()
        show_progress = not no_progress and sys.stderr.isatty()

        def on_page(summary: services.SyncSummary) -> None:
            if show_progress:
                sys.stderr.write("\r" + _progress_bar(summary.seen, summary.total))
                sys.stderr.flush()

        try:
            summary = services.contacts_sync(
                page_size=page_size, concurrency=concurrency, on_page=on_page
            )
        except services.SyncInterrupted as error:
            raise CommandError(f"Sync stopped: {error.message}") from error
        finally:
            if show_progress:
                sys.stderr.write("\n")
        for line in summary.errors[:SKIPPED_SHOWN]:
            self.stderr.write(f"skipped: {line}")
        if len(summary.errors) > SKIPPED_SHOWN:
            self.stderr.write(f"skipped: ... and {len(summary.errors) - SKIPPED_SHOWN} more")
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Synced {summary.seen} of {summary.total} contacts in {elapsed:.2f}s: "
            f"{summary.created} created, {summary.updated} updated, {summary.unchanged} unchanged, "
            f"{summary.failed} failed, {summary.gone} flagged gone from LiveDesk."
        )


def _progress_bar(done: int, total: int, width: int = 30) -> str:
    fraction = done / total if total else 1.0
    filled = int(width * min(fraction, 1.0))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} ({fraction:.0%})"
