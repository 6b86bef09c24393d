from django.core.management.base import BaseCommand
from django.utils import timezone

from contacts.services.audit_verify import audit_verify_schedule
from contacts.services.sync import contacts_sync_schedule


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


class Command(BaseCommand):
    help = (
        "Make sure the worker has one sync of the whole mirror waiting (it then syncs every "
        "LIVEDESK_SYNC_INTERVAL_SECONDS by itself) and one verification of the audit log "
        "(every LIVEDESK_AUDIT_VERIFY_SECONDS). Safe to run again."
    )

    def handle(self, *args, **options):
        scheduled = contacts_sync_schedule()
        if scheduled is None:
            self.stdout.write("Scheduled syncs are off (LIVEDESK_SYNC_INTERVAL_SECONDS=0).")
        else:
            already = "" if scheduled.enqueued else ", already scheduled"
            self.stdout.write(f"Next sync of the mirror: {_when(scheduled.run_after)}{already}.")
        verification = audit_verify_schedule()
        if verification is None:
            self.stdout.write(
                "Scheduled verifications of the audit log are off "
                "(LIVEDESK_AUDIT_VERIFY_SECONDS=0)."
            )
        else:
            self.stdout.write(f"Next verification of the audit log: {_when(verification)}.")
