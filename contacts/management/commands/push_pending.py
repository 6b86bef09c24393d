from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from contacts import services


class Command(BaseCommand):
    help = (
        "Push once every edit due for delivery: transient failures whose wait is over, orphans, "
        "leases run out; and start the worker's periodic sweep of them unless it runs."
    )

    def handle(self, *args, **options):
        services.edits_sweep_chain_start()
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
