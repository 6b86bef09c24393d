from django.core.management.base import BaseCommand
from django.utils import timezone

from contacts.services.sync import contacts_sync_schedule


class Command(BaseCommand):
    help = (
        "Make sure the worker has one sync of the whole mirror waiting (it then syncs every "
        "LIVEDESK_SYNC_INTERVAL_SECONDS by itself). Safe to run again."
    )

    def handle(self, *args, **options):
        scheduled = contacts_sync_schedule()
        if scheduled is None:
            self.stdout.write("Scheduled syncs are off (LIVEDESK_SYNC_INTERVAL_SECONDS=0).")
            return
        when = timezone.localtime(scheduled.run_after).strftime("%Y-%m-%d %H:%M:%S %Z")
        already = "" if scheduled.enqueued else ", already scheduled"
        self.stdout.write(f"Next sync of the mirror: {when}{already}.")
