from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from contacts import services


class Command(BaseCommand):
    help = "Push once every edit due for delivery: transient failures whose wait is over, orphans."

    def handle(self, *args, **options):
        summary = services.edits_push_due()
        self.stdout.write(
            ngettext(
                "Pushed %(attempted)d edit: %(succeeded)d delivered, %(failed)d failed.",
                "Pushed %(attempted)d edits: %(succeeded)d delivered, %(failed)d failed.",
                summary.attempted,
            )
            % {
                "attempted": summary.attempted,
                "succeeded": summary.succeeded,
                "failed": summary.failed,
            }
        )
