import argparse
from datetime import date, datetime, time

from django.core.management.base import BaseCommand
from django.utils import timezone

from contacts import audit_reads

FORMATS = {"jsonl": audit_reads.jsonl_lines, "csv": audit_reads.csv_lines}


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"a date as YYYY-MM-DD, not {text!r}") from error


class Command(BaseCommand):
    help = (
        "Export the audit log's events, with their hashes, as JSON lines or CSV: each event as "
        "the chain hashes it, so that it can be checked outside the app (see README)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            required=True,
            type=_day,
            help="The first day exported, YYYY-MM-DD, in the app's time zone (TIME_ZONE).",
        )
        parser.add_argument(
            "--contact", type=int, help="Only the events of this contact (its LiveDesk id)."
        )
        parser.add_argument("--format", choices=sorted(FORMATS), default="jsonl")
        parser.add_argument("--output", help="Write to this file (standard output by default).")

    def handle(self, *args, since: date, contact, format: str, output, **options):
        start = timezone.make_aware(datetime.combine(since, time.min))
        lines = FORMATS[format](audit_reads.event_chunks(since=start, contact=contact))
        if output is None:
            for text in lines:
                self.stdout.write(text, ending="")
            return
        with open(output, "w", encoding="utf-8", newline="") as file:
            file.writelines(lines)
