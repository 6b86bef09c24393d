"""The LiveDesk payload is stored once, as the mirror's columns: `remote_payload` goes, and a
digest of the columns takes its place in telling sync that a contact is unchanged.

The digests of existing rows are computed here, from their columns, as sync computes them from
an unchanged payload: the first sync after the upgrade re-versions nothing. The function is a
frozen copy of `contacts.services.mirror.mirror_digest` as of this migration.
"""

import hashlib
import json
from datetime import datetime

from django.db import migrations, models

BATCH_ROWS = 2_000
DIGESTED_FIELDS = (
    "name",
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "identifier",
    "thumbnail",
    "availability_status",
    "blocked",
    "company_name",
    "city",
    "country",
    "country_code",
    "additional_attributes",
    "custom_attributes",
    "contact_inboxes",
    "created_at",
    "last_activity_at",
)


def _datetime_text(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a mirror column's value")


def digest(values):
    canonical = json.dumps(
        [values[name] for name in DIGESTED_FIELDS],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_datetime_text,
    )
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def digests_compute(apps, schema_editor):
    Contact = apps.get_model("contacts", "Contact")
    last_pk = 0
    while True:
        rows = list(
            Contact.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .only("pk", *DIGESTED_FIELDS)[:BATCH_ROWS]
        )
        if not rows:
            return
        for row in rows:
            row.mirror_digest = digest({name: getattr(row, name) for name in DIGESTED_FIELDS})
        Contact.objects.bulk_update(rows, ["mirror_digest"])
        last_pk = rows[-1].pk


class Migration(migrations.Migration):
    dependencies = [("contacts", "0006_push_counts")]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="mirror_digest",
            field=models.CharField(
                blank=True, editable=False, max_length=32, verbose_name="mirror digest"
            ),
        ),
        migrations.RunPython(digests_compute, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="contact", name="remote_payload"),
    ]
