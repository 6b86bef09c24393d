from django.core.management.base import BaseCommand, CommandError

from contacts.services.audit_verify import audit_chain_verify, chain_report_text


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain from its first event: prints OK with the count and "
        "the head hash, or the first broken event (expected against found) and exits with 1."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-record",
            action="store_false",
            dest="record",
            help="Do not save the result as an audit chain check (shown in the admin).",
        )

    def handle(self, *args, record: bool, **options):
        report = audit_chain_verify(record=record)
        if not report.ok:
            raise CommandError(chain_report_text(report), returncode=1)
        self.stdout.write(chain_report_text(report))
