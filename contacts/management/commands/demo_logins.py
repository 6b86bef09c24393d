from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

DEMO_PASSWORD = "livedesk-demo"


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo logins: 'agent' in the LiveDesk agents group, 'lead' in the "
        "LiveDesk leads group (bulk edit, import, undo) and 'admin'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args, password=DEMO_PASSWORD, **options):
        if password == DEMO_PASSWORD and not settings.DEBUG:
            # The demo password is published in the README: never on a live superuser.
            raise CommandError(
                _("DEBUG is off: give the logins a password of your own (--password).")
            )
        User = get_user_model()
        agent, _created = User.objects.get_or_create(
            username="agent", defaults={"first_name": "Demo"}
        )
        agent.set_password(password)
        agent.save()
        agent.groups.add(Group.objects.get(name="LiveDesk agents"))
        lead, _created = User.objects.get_or_create(
            username="lead", defaults={"first_name": "Demo lead"}
        )
        lead.set_password(password)
        lead.save()
        lead.groups.add(Group.objects.get(name="LiveDesk leads"))
        admin, _created = User.objects.get_or_create(username="admin")
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
        self.stdout.write(_("Demo logins ready: agent, lead and admin."))
