from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from contacts.models import CustomAttributeDefinition
from contacts.sandbox.seed import PLANS, PREFERRED_LANGUAGES, VIP_LEVELS
from contacts.services.definitions import definition_save

Type = CustomAttributeDefinition.AttributeType

# The custom attributes the sandbox's seed gives its contacts, typed so that the demo's forms and
# filters show a list, a currency, a date and a checkbox.
DEMO_DEFINITIONS = (
    {"key": "plan", "label": "Plan", "attribute_type": Type.LIST, "list_options": PLANS},
    {
        "key": "vip_level",
        "label": "VIP level",
        "attribute_type": Type.LIST,
        "list_options": VIP_LEVELS,
    },
    {
        "key": "preferred_language",
        "label": "Preferred language",
        "attribute_type": Type.LIST,
        "list_options": PREFERRED_LANGUAGES,
    },
    {"key": "lifetime_value", "label": "Lifetime value", "attribute_type": Type.CURRENCY},
    {"key": "signed_up", "label": "Signed up", "attribute_type": Type.DATE},
    {"key": "newsletter", "label": "Newsletter", "attribute_type": Type.CHECKBOX},
)


class Command(BaseCommand):
    help = (
        "Create the custom attribute definitions of the sandbox's demo contacts (plan, VIP level, "
        "preferred language, lifetime value, signed up, newsletter). A definition that exists "
        "already is left as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--by", default="admin", help="The username the audit log records (default: admin)."
        )

    def handle(self, *args, by="admin", **options):
        try:
            user = get_user_model().objects.get_by_natural_key(by)
        except get_user_model().DoesNotExist:
            raise CommandError(
                _("No user named %(username)s: run demo_logins first, or give --by.")
                % {"username": by}
            ) from None
        existing = set(
            CustomAttributeDefinition.objects.filter(
                key__in=[values["key"] for values in DEMO_DEFINITIONS]
            ).values_list("key", flat=True)
        )
        created = []
        for position, values in enumerate(DEMO_DEFINITIONS, start=1):
            if values["key"] in existing:
                continue
            definition = CustomAttributeDefinition(
                **{**values, "list_options": list(values.get("list_options", ()))},
                position=position,
            )
            definition_save(definition=definition, by=user)
            created.append(values["key"])
        self.stdout.write(
            _("Demo definitions: %(created)d created, %(kept)d kept as they were.")
            % {"created": len(created), "kept": len(existing)}
        )
