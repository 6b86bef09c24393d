from django.core.management.base import BaseCommand

from contacts import services


class Command(BaseCommand):
    help = "Push once every edit due for delivery (transient failures whose wait is over)."

    def handle(self, *args, **options):
        summary = services.edits_push_due()
        self.stdout.write(
            f"Pushed {summary.attempted} edits: {summary.succeeded} delivered, {summary.failed} failed."
        )
