import json
from typing import Any

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Contact(models.Model):
    """The local mirror of one LiveDesk contact: written only by sync and by confirmed pushes."""

    class AvailabilityStatus(models.TextChoices):
        ONLINE = "online", _("Online")
        OFFLINE = "offline", _("Offline")
        BUSY = "busy", _("Busy")

    class PushState(models.TextChoices):
        IN_SYNC = "in_sync", _("In sync")
        PENDING = "pending", _("Pending")
        FAILED = "failed", _("Failed")

    remote_id = models.BigIntegerField(_("LiveDesk id"), unique=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    first_name = models.CharField(_("first name"), max_length=255, blank=True)
    last_name = models.CharField(_("last name"), max_length=255, blank=True)
    email = models.CharField(_("email"), max_length=255, blank=True)
    phone_number = models.CharField(_("phone number"), max_length=32, blank=True)
    identifier = models.CharField(_("identifier"), max_length=255, blank=True)
    thumbnail = models.CharField(_("thumbnail URL"), max_length=2048, blank=True)
    availability_status = models.CharField(
        _("availability"),
        max_length=16,
        choices=AvailabilityStatus.choices,
        default=AvailabilityStatus.OFFLINE,
    )
    blocked = models.BooleanField(_("blocked"), default=False)
    # Copied out of additional_attributes so agents can search, filter and sort on them.
    company_name = models.CharField(_("company name"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=255, blank=True)
    country = models.CharField(_("country"), max_length=255, blank=True)
    country_code = models.CharField(_("country code"), max_length=8, blank=True)
    additional_attributes = models.JSONField(_("additional attributes"), default=dict, blank=True)
    custom_attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    contact_inboxes = models.JSONField(_("inboxes"), default=list, blank=True)
    created_at = models.DateTimeField(_("created in LiveDesk"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    # A digest of the columns above as LiveDesk last sent them: sync finds a contact unchanged
    # without reading them back (see services.mirror.mirror_digest).
    mirror_digest = models.CharField(_("mirror digest"), max_length=32, blank=True, editable=False)
    synced_at = models.DateTimeField(_("last synced"), default=timezone.now)
    version = models.PositiveIntegerField(_("mirror version"), default=1)
    push_state = models.CharField(
        _("push state"), max_length=16, choices=PushState.choices, default=PushState.IN_SYNC
    )
    gone_at = models.DateTimeField(_("gone from LiveDesk"), null=True, blank=True)
    # The contact's unfinished edits by state, kept by every transition of one of them (under
    # the contact's row lock): the push state follows from them without counting rows.
    pending_edits = models.PositiveIntegerField(_("pending edits"), default=0, editable=False)
    failed_edits = models.PositiveIntegerField(_("failed edits"), default=0, editable=False)

    class Meta:
        ordering = ["name", "remote_id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["name", "remote_id"], name="contact_name_idx"),
            models.Index(fields=["email"], name="contact_email_idx"),
            models.Index(fields=["phone_number"], name="contact_phone_idx"),
            models.Index(fields=["identifier"], name="contact_identifier_idx"),
            models.Index(fields=["company_name"], name="contact_company_idx"),
            models.Index(fields=["country", "name", "remote_id"], name="contact_country_name_idx"),
            models.Index(Upper("name"), name="contact_name_upper_idx"),
            models.Index(Upper("email"), name="contact_email_upper_idx"),
            models.Index(Upper("company_name"), name="contact_company_upper_idx"),
            models.Index(
                fields=["push_state", "name", "remote_id"], name="contact_push_state_name_idx"
            ),
            models.Index(fields=["last_activity_at"], name="contact_last_activity_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone_number or f"#{self.remote_id}"

    def get_absolute_url(self) -> str:
        return reverse("contacts:detail", args=[self.remote_id])

    @property
    def social_profiles(self) -> dict:
        profiles = self.additional_attributes.get("social_profiles")
        return profiles if isinstance(profiles, dict) else {}

    @property
    def visible_custom_attributes(self) -> dict:
        """Custom attributes as agents see them: a null value means the key was removed."""
        return {k: v for k, v in self.custom_attributes.items() if v is not None}

    @property
    def is_gone(self) -> bool:
        return self.gone_at is not None

    def edit_moved(self, *, leaving: str | None = None, entering: str | None = None) -> None:
        """Count one of its edits leaving a state and entering another (None: being created),
        and set the push state from the counts: failed, pending or in sync. Not saved."""
        counters = {
            ContactEdit.State.PENDING: "pending_edits",
            ContactEdit.State.FAILED: "failed_edits",
        }
        if leaving in counters:
            setattr(self, counters[leaving], getattr(self, counters[leaving]) - 1)
        if entering in counters:
            setattr(self, counters[entering], getattr(self, counters[entering]) + 1)
        if self.failed_edits:
            self.push_state = self.PushState.FAILED
        elif self.pending_edits:
            self.push_state = self.PushState.PENDING
        else:
            self.push_state = self.PushState.IN_SYNC

    @property
    def has_unfinished_edits(self) -> bool:
        return bool(self.pending_edits or self.failed_edits)


class ContactEditQuerySet(models.QuerySet):
    def delete(self):
        raise PermissionError("The edit history is append-only: rows are never deleted.")

    def update(self, **kwargs):
        raise PermissionError(
            "The edit history is append-only: use the push service's transitions."
        )


class ContactEdit(models.Model):
    """One agent's change to one contact, kept for audit. Append-only: see `save`."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        DISCARDED = "discarded", _("Discarded")
        # Its values were carried into a newer edit of the contact (`carried_into`), sent there.
        SUPERSEDED = "superseded", _("Carried into a newer edit")

    class FailureKind(models.TextChoices):
        TRANSIENT = "transient", _("Transient (retried automatically)")
        PERMANENT = "permanent", _("Permanent (needs the agent)")
        CONFLICT = "conflict", _("Conflict (changed meanwhile: needs the agent)")

    class Source(models.TextChoices):
        AGENT = "agent", _("Agent page")
        ADMIN = "admin", _("Admin")
        ADMIN_ACTION = "admin_action", _("Admin action")
        # A change made outside this app (LiveDesk's dashboard, a bot...), seen here: never sent.
        LIVEDESK = "livedesk", _("LiveDesk")
        # One contact's part of a batch (see EditBatch), and the revert of one edit.
        BULK = "bulk", _("Bulk edit")
        IMPORT = "import", _("Import")
        UNDO = "undo", _("Undo of a batch")
        REVERT = "revert", _("Revert")

    class SeenVia(models.TextChoices):
        WEBHOOK = "webhook", _("LiveDesk's webhook")
        REFRESH = "refresh", _("a refresh")
        SYNC = "sync", _("a sync")
        PUSH = "push", _("the read before a push")

    # The only fields a push, a discard or a newer edit may change after the row is written.
    TRANSITION_FIELDS = frozenset(
        {
            "state",
            "failure_kind",
            "http_status",
            "request_body",
            "response_body",
            "error_message",
            "attempts",
            "last_attempt_at",
            "next_attempt_at",
            "in_flight_until",
            "livedesk_before",
            "finished_at",
            "finished_by",
            "carried_into",
        }
    )
    UNFINISHED_STATES = (State.PENDING, State.FAILED)
    # Which state each state may become; a finished edit never changes again.
    TRANSITIONS = {
        State.PENDING: frozenset(State),
        State.FAILED: frozenset(State) - {State.PENDING},
        State.SUCCEEDED: frozenset(),
        State.DISCARDED: frozenset(),
        State.SUPERSEDED: frozenset(),
    }

    created_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="edits", verbose_name=_("contact")
    )
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="contact_edits",
        verbose_name=_("editor"),
    )
    editor_username = models.CharField(_("editor's username"), max_length=150)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    base_version = models.PositiveIntegerField(_("based on mirror version"))
    changes = models.JSONField(_("changes"), default=list)
    request_body = models.JSONField(_("request body"))
    state = models.CharField(
        _("outcome"), max_length=16, choices=State.choices, default=State.PENDING
    )
    failure_kind = models.CharField(
        _("failure kind"), max_length=16, choices=FailureKind.choices, blank=True
    )
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    response_body = models.JSONField(_("response body"), null=True, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    finished_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("discarded or superseded by"),
    )
    # What LiveDesk held, read just before the last PATCH was sent (read before write).
    livedesk_before = models.JSONField(_("LiveDesk before the push"), null=True, blank=True)
    # For a change made outside this app: how it was seen.
    seen_via = models.CharField(_("seen via"), max_length=16, choices=SeenVia.choices, blank=True)
    # While a push is in flight: until when; a push abandoned by a killed process is due after.
    in_flight_until = models.DateTimeField(_("in flight until"), null=True, blank=True)
    carried_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="carried_edits",
        verbose_name=_("carried into"),
    )
    # The batch this edit is one contact's part of (bulk edit, import, undo), delivered by the
    # worker at the batch rate; and the edit whose values this one restores.
    batch = models.ForeignKey(
        "EditBatch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="edits",
        verbose_name=_("batch"),
    )
    reverts = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reverted_by",
        verbose_name=_("reverts"),
    )

    objects = ContactEditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("contact edit")
        verbose_name_plural = _("edit history")
        indexes = [
            models.Index(fields=["contact", "-created_at"], name="edit_contact_created_idx"),
            models.Index(fields=["-created_at", "-id"], name="edit_created_idx"),
            models.Index(fields=["state", "next_attempt_at"], name="edit_state_next_idx"),
            models.Index(fields=["state", "-created_at", "-id"], name="edit_state_created_idx"),
            models.Index(fields=["editor", "-created_at"], name="edit_editor_created_idx"),
            models.Index(fields=["batch", "state"], name="edit_batch_state_idx"),
        ]

    def __str__(self) -> str:
        fields = ", ".join(change.get("label") or change["field"] for change in self.changes)
        return f"{self.editor_username} changed {fields or '-'} of {self.contact} ({self.state})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if not update_fields or not set(update_fields) <= self.TRANSITION_FIELDS:
                raise PermissionError(
                    "The edit history is append-only: only push state transitions may be saved."
                )
            stored = type(self).objects.filter(pk=self.pk).values_list("state", flat=True).first()
            if stored is not None and self.state not in self.TRANSITIONS[stored]:
                raise PermissionError(
                    f"The edit history is append-only: a {stored} edit cannot become {self.state}."
                )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The edit history is append-only: rows are never deleted.")

    def transition(self, **values) -> str | None:
        """Write a push state transition in one UPDATE, guarded in SQL: it only matches while
        the row holds the state this object was read with (if another process changed it, the
        stored state is read and the transition checked again from there). Answers the state
        the edit left; None when it is finished, nothing written."""
        if not values or not set(values) <= self.TRANSITION_FIELDS:
            raise PermissionError(
                "The edit history is append-only: only push state transitions may be saved."
            )
        rows = type(self)._base_manager
        while self.is_unfinished:
            left = self.state
            entering = values.get("state", left)
            if entering not in self.TRANSITIONS[left]:
                raise PermissionError(
                    f"The edit history is append-only: a {left} edit cannot become {entering}."
                )
            if rows.filter(pk=self.pk, state=left).update(**values):
                for name, value in values.items():
                    setattr(self, name, value)
                return left
            self.state = rows.filter(pk=self.pk).values_list("state", flat=True).get()
        return None

    @property
    def is_unfinished(self) -> bool:
        return self.state in self.UNFINISHED_STATES

    @property
    def changed_fields(self) -> list[str]:
        return [change["field"] for change in self.changes]


class EditBatch(models.Model):
    """Many contacts changed at once: a bulk edit, an import, or the undo of another batch.

    A batch is first a draft (its preview: nothing recorded or sent), then, confirmed, one
    ordinary outbox edit per contact it changes (`ContactEdit.batch`), delivered by the worker
    at `LIVEDESK_BULK_RATE` through the same push as any edit. Its progress is counted from
    those edits' states.
    """

    class Kind(models.TextChoices):
        BULK_EDIT = "bulk_edit", _("Bulk edit")
        IMPORT = "import", _("Import")
        UNDO = "undo", _("Undo")

    class State(models.TextChoices):
        DRAFT = "draft", _("Preview: not confirmed")
        CONFIRMED = "confirmed", _("Confirmed")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="edit_batches",
        verbose_name=_("created by"),
    )
    created_by_username = models.CharField(_("created by (username)"), max_length=150)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    # What it does, in the agent's words ("Company = Acme; clear City"), and as data: the
    # operations of a bulk edit, the file of an import.
    description = models.CharField(_("description"), max_length=500, blank=True)
    operations = models.JSONField(_("operations"), default=list, blank=True)
    # Which contacts: the list's search and filters ("all matching"), or the ids ticked.
    selection = models.JSONField(_("selection"), default=dict, blank=True)
    # An import's validated rows (contact id and values to set), kept from preview to confirm.
    rows = models.JSONField(_("rows"), default=list, blank=True)
    undoes = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="undone_by",
        verbose_name=_("undoes"),
    )
    selected_count = models.PositiveIntegerField(_("contacts selected"), default=0)
    changed_count = models.PositiveIntegerField(_("contacts changed"), default=0)
    unchanged_count = models.PositiveIntegerField(_("already so"), default=0)
    # Keys left alone because someone changed them since (an undo), the first ones listed.
    conflict_count = models.PositiveIntegerField(_("conflicts"), default=0)
    conflicts = models.JSONField(_("conflicts listed"), default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        permissions = [
            ("change_in_bulk", _("Can change contacts in bulk, undo batches and import")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}: {self.description}"

    def get_absolute_url(self) -> str:
        return reverse("contacts:batch", args=[self.pk])


class CustomAttributeDefinition(models.Model):
    """How agents enter one custom attribute: its label, type, options and rule."""

    class AttributeType(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        CURRENCY = "currency", _("Currency")
        PERCENT = "percent", _("Percent")
        LINK = "link", _("Link")
        DATE = "date", _("Date")
        LIST = "list", _("List")
        CHECKBOX = "checkbox", _("Checkbox")

    key = models.SlugField(
        _("key"),
        max_length=64,
        unique=True,
        help_text=_("The custom attribute's key in LiveDesk: lower-case letters, digits and _."),
    )
    label = models.CharField(_("label"), max_length=100)
    attribute_type = models.CharField(
        _("type"), max_length=16, choices=AttributeType.choices, default=AttributeType.TEXT
    )
    list_options = models.JSONField(
        _("list options"),
        default=list,
        blank=True,
        help_text=_("For a list: the values an agent can choose from."),
    )
    regex_pattern = models.CharField(
        _("regular expression"),
        max_length=255,
        blank=True,
        help_text=_("Optional: a value must match this pattern (text and link types)."),
    )
    regex_hint = models.CharField(_("hint when the pattern fails"), max_length=255, blank=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["position", "key"]
        verbose_name = _("custom attribute definition")
        verbose_name_plural = _("custom attribute definitions")

    def __str__(self) -> str:
        return f"{self.label} ({self.key})"


class WebhookDelivery(models.Model):
    """One contact event LiveDesk's webhook delivered and this app processed: each delivery is
    applied once, so a replay changes nothing and is not recorded again."""

    class Outcome(models.TextChoices):
        CREATED = "created", _("Contact created in the mirror")
        APPLIED = "applied", _("Mirror updated")
        UNCHANGED = "unchanged", _("Mirror already up to date")
        STALE = "stale", _("Older than the mirror's state: ignored")

    # X-Chatwoot-Delivery, or "sha256:" and the SHA-256 of the body when none was sent.
    delivery_id = models.CharField(_("delivery id"), max_length=255, unique=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    # When the event happened, as far as this app can tell (see contacts.services.webhooks).
    event_at = models.DateTimeField(_("event time"))
    event = models.CharField(_("event"), max_length=64)
    remote_id = models.BigIntegerField(_("LiveDesk id"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["-received_at"], name="webhook_received_idx")]

    def __str__(self) -> str:
        return f"{self.event} #{self.remote_id}: {self.outcome} ({self.delivery_id})"


class ListFacet(models.Model):
    """The choices of a list filter (the contacts' countries), kept by sync and webhooks.

    Reading them from every contact is a DISTINCT over the whole table on every list page; the
    worker syncs and the web process shows, so the copy lives in the database, not in one
    process's memory.
    """

    name = models.CharField(_("name"), max_length=64, primary_key=True)
    choices = models.JSONField(_("choices"), default=list)
    refreshed_at = models.DateTimeField(_("refreshed"), default=timezone.now)

    class Meta:
        verbose_name = _("list filter choices")
        verbose_name_plural = _("list filter choices")

    def __str__(self) -> str:
        return self.name


class AuditEventQuerySet(models.QuerySet):
    def delete(self):
        raise PermissionError("The audit log is append-only: events are never deleted.")

    def update(self, **kwargs):
        raise PermissionError("The audit log is append-only: events are never changed.")


class AuditEvent(models.Model):
    """One fact of the audit log, hash-chained to the one before (see contacts.audit_chain).

    Written only by `contacts.services.audit`, in the transaction of the fact it records. The
    database refuses UPDATE and DELETE on the table (triggers created by the migrations).
    """

    seq = models.BigIntegerField(_("number"), primary_key=True)
    at = models.DateTimeField(_("time"))
    kind = models.CharField(_("event"), max_length=40)
    contact_remote_id = models.BigIntegerField(_("LiveDesk id"), null=True, blank=True)
    edit_id = models.BigIntegerField(_("edit"), null=True, blank=True)
    actor = models.CharField(_("by"), max_length=150, blank=True)
    # Canonical JSON text (contacts.audit_chain.data_text): hashed as stored.
    data = models.TextField(_("data"))
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit log")
        indexes = [
            models.Index(fields=["contact_remote_id", "-seq"], name="audit_contact_idx"),
            models.Index(fields=["edit_id", "seq"], name="audit_edit_idx"),
            models.Index(fields=["at"], name="audit_at_idx"),
            models.Index(fields=["kind", "-seq"], name="audit_kind_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="audit_no_update", operation=pgtrigger.Update),
            pgtrigger.Protect(name="audit_no_delete", operation=pgtrigger.Delete),
            # Row triggers do not see TRUNCATE: a statement-level one refuses it.
            pgtrigger.Trigger(
                name="audit_no_truncate",
                level=pgtrigger.Statement,
                when=pgtrigger.Before,
                operation=pgtrigger.Truncate,
                func=(
                    "RAISE EXCEPTION 'pgtrigger: Cannot truncate rows from % table', TG_TABLE_NAME;"
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("The audit log is append-only: events are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only: events are never deleted.")

    @property
    def values(self) -> dict[str, Any]:
        """The event's data, parsed."""
        return json.loads(self.data)


class AuditCheck(models.Model):
    """One verification of the audit log's chain, by the worker's schedule or a command."""

    checked_at = models.DateTimeField(_("checked"), default=timezone.now)
    ok = models.BooleanField(_("chain intact"))
    count = models.BigIntegerField(_("events checked"))
    head = models.CharField(_("head hash"), max_length=64, blank=True)
    broken_seq = models.BigIntegerField(_("first broken event"), null=True, blank=True)
    problem = models.CharField(_("problem"), max_length=255, blank=True)
    expected = models.CharField(_("expected"), max_length=255, blank=True)
    found = models.CharField(_("found"), max_length=255, blank=True)
    seconds = models.FloatField(_("seconds"), default=0)

    class Meta:
        ordering = ["-checked_at", "-id"]
        verbose_name = _("audit chain check")
        verbose_name_plural = _("audit chain checks")

    def __str__(self) -> str:
        return f"{self.checked_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'BROKEN'}"


class SegmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> "SegmentQuerySet":
        """The segments `user` may open: their own, and those shared with the team."""
        return self.filter(models.Q(owner=user) | models.Q(shared=True))


class Segment(models.Model):
    """A saved search of the contact list: its search and filters under a name, kept for its
    owner alone or shared with the team. Opening it reapplies the query."""

    name = models.CharField(_("name"), max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="contact_segments",
        verbose_name=_("owner"),
    )
    shared = models.BooleanField(
        _("shared with the team"),
        default=False,
        help_text=_("Shared segments are listed for every agent; private ones for their owner."),
    )
    # The contact list's query string, filters only (no page or cursor), as the list reads it.
    query = models.CharField(_("search and filters"), max_length=4000, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = SegmentQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="segment_owner_name_unique"),
        ]
        indexes = [models.Index(fields=["shared", "name"], name="segment_shared_name_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("contacts:segment_open", args=[self.pk])
