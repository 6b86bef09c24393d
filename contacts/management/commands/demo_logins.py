from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

DEMO_PASSWORD = "livedesk-demo"


class Command(BaseCommand):
    help = "Create (or reset) the demo logins: 'agent' in the LiveDesk agents group and 'admin'."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args, password=DEMO_PASSWORD, **options):
        User = get_user_model()
        agent, _ = User.objects.get_or_create(username="agent", defaults={"first_name": "Demo"})
        agent.set_password(password)
        agent.save()
        agent.groups.add(Group.objects.get(name="LiveDesk agents"))
        admin, _ = User.objects.get_or_create(username="admin")
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
        self.stdout.write("Demo logins ready: agent and admin.")
