from django.db import migrations, models
from django.db.models import Count, Q


def counts_fill(apps, schema_editor):
    """Count each contact's unfinished edits once; from now on every transition keeps them."""
    Contact = apps.get_model("contacts", "Contact")
    counted = Contact.objects.annotate(
        pending=Count("edits", filter=Q(edits__state="pending")),
        failed=Count("edits", filter=Q(edits__state="failed")),
    ).filter(Q(pending__gt=0) | Q(failed__gt=0))
    for contact in counted.iterator():
        push_state = "failed" if contact.failed else "pending"
        Contact.objects.filter(pk=contact.pk).update(
            pending_edits=contact.pending, failed_edits=contact.failed, push_state=push_state
        )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0005_webhook_deliveries")]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="pending_edits",
            field=models.PositiveIntegerField(
                default=0, editable=False, verbose_name="pending edits"
            ),
        ),
        migrations.AddField(
            model_name="contact",
            name="failed_edits",
            field=models.PositiveIntegerField(
                default=0, editable=False, verbose_name="failed edits"
            ),
        ),
        migrations.RunPython(counts_fill, migrations.RunPython.noop),
    ]
