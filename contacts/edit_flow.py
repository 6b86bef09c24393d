"""One edit flow for the agent's edit page and the admin's change page.

A POST is validated by the shared form, then either reloaded onto the contact's current values
(the "reload" button), given one more custom attribute row ("Add an attribute" without
JavaScript) or submitted through the edit service; the outcome is said in the same words on
both pages. On a conflict the agent's other changes are delivered, and the form opens again on
the current values with the conflicting ones waiting, marked, for one more Save.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy

from contacts.fields import Section, Values, field_label, values_diff
from contacts.forms import ContactEditForm
from contacts.forms.section_edit import SectionEditForm
from contacts.models import Contact, ContactEdit
from contacts.selectors import edit_prefill_values
from contacts.services import EditOutcome, EditSubmission, FieldConflict, contact_edit_submit

# The button that reloads the form onto the current values, keeping the agent's changes.
RELOAD_BUTTON = "reload"
# The button that adds a blank custom attribute row without JavaScript (edit.js adds it in place).
ADD_ROW_BUTTON = "add_attribute"
MESSAGE_LEVELS = {
    EditOutcome.SAVED: messages.SUCCESS,
    EditOutcome.NO_CHANGE: messages.INFO,
    EditOutcome.QUEUED: messages.WARNING,
    EditOutcome.REJECTED: messages.ERROR,
    EditOutcome.FAILED: messages.ERROR,
}
# The revert of an edit whose values never reached LiveDesk (services.EditNotRevertable).
NOT_REVERTABLE = gettext_lazy(
    "Only an edit that reached LiveDesk can be reverted: nothing was sent."
)
# After these the page is done with the form: it redirects and says what happened.
FINISHED = frozenset({EditOutcome.SAVED, EditOutcome.NO_CHANGE, EditOutcome.QUEUED})


@dataclass
class EditPage:
    """What an edit page shows after a request: the form, and what became of a submission."""

    form: ContactEditForm
    submission: EditSubmission | None = None
    reloaded: bool = False
    message: str = ""
    level: int = messages.INFO

    @property
    def outcome(self) -> EditOutcome | None:
        return self.submission.outcome if self.submission else None

    @property
    def conflicts(self) -> list[FieldConflict]:
        return self.submission.conflicts if self.submission else []

    @property
    def finished(self) -> bool:
        """Saved, queued or not needed, or failed and kept on the contact: show the contact."""
        return self.outcome in FINISHED or self.outcome == EditOutcome.FAILED


def contact_edit_page(
    request: HttpRequest,
    *,
    contact: Contact,
    editor: AbstractBaseUser,
    source: str,
    reopened: ContactEdit | None = None,
    section: Section | None = None,
) -> EditPage:
    """Handle one request to a contact's edit page: open, reload or submit the form.

    `reopened` is an unfinished edit whose values the form opens with ("Edit and resend"):
    saving replaces it. `section` limits the form to one section (a quick edit from the
    contact's page): the others are sent as the form was opened.
    """
    prefill = edit_prefill_values(edit=reopened) if reopened is not None else None
    if request.method != "POST":
        return EditPage(_form(None, contact=contact, prefill=prefill, section=section))
    form = _form(request.POST, contact=contact, prefill=prefill, section=section)
    if ADD_ROW_BUTTON in request.POST:
        return EditPage(form.with_row_added())
    if not form.is_valid():
        return EditPage(form)
    if RELOAD_BUTTON in request.POST:
        return EditPage(
            _form(None, contact=contact, prefill=form.values_rebased(), section=section),
            reloaded=True,
            message=gettext(
                "The form now shows the contact's current values with your changes on top. "
                "Check them, then save."
            ),
        )
    submission = contact_edit_submit(
        contact=contact,
        editor=editor,
        values=form.edit_values(),
        base_values=form.base_values,
        base_version=form.base_version,
        opened_values=form.opened_values,
        replaces=reopened,
        source=source,
        deliver_the_rest=True,
    )
    if submission.outcome == EditOutcome.CONFLICT:
        return _conflict_page(form, submission, contact=contact, section=section)
    page = EditPage(form, submission, level=MESSAGE_LEVELS.get(submission.outcome, messages.INFO))
    if submission.outcome == EditOutcome.REJECTED:
        form.add_livedesk_errors(submission.field_errors)
        if not submission.field_errors:
            form.add_error(
                None, gettext("LiveDesk: %(message)s") % {"message": submission.edit.error_message}
            )
        page.message = gettext(
            "LiveDesk rejected the changes, so nothing was saved there. Correct the fields "
            "marked below and save again."
        )
    else:
        page.message = outcome_message(submission)
    return page


def _form(
    data, *, contact: Contact, prefill: Values | None, section: Section | None
) -> ContactEditForm:
    if section is None:
        return ContactEditForm(data, contact=contact, prefill=prefill)
    return SectionEditForm(data, contact=contact, prefill=prefill, section=section)


def _conflict_page(
    posted: ContactEditForm,
    submission: EditSubmission,
    *,
    contact: Contact,
    section: Section | None,
) -> EditPage:
    """The form opened again on the contact's current values (the delivered changes among
    them) with the agent's waiting values on top, each conflicting field marked with both
    values: one Save sends the agent's, now seen beside theirs."""
    held = set(submission.held)
    others = [
        key for key in values_diff(posted.base_values, posted.edit_values()) if key not in held
    ]
    contact.refresh_from_db()
    form = _form(None, contact=contact, prefill=posted.values_rebased(), section=section)
    form.error_show(None, _conflict_message(submission, others=others))
    form.conflicts_mark(submission.conflicts)
    rest = submission.rest
    if rest is not None and rest.outcome == EditOutcome.REJECTED:
        form.add_livedesk_errors(rest.field_errors)
    return EditPage(form, submission, level=messages.WARNING)


def _conflict_message(submission: EditSubmission, *, others: list[str]) -> str:
    """Which of the agent's changes were delivered, and which wait for them."""
    waiting = gettext(
        "Waiting for you: %(fields)s, changed by someone else after you opened this form. "
        "Compare the values marked below, then save."
    ) % {"fields": ", ".join(conflict.label for conflict in submission.conflicts)}
    rest = submission.rest
    fields = ", ".join(field_label(key) for key in others)
    if rest is None or rest.outcome == EditOutcome.NO_CHANGE:
        sent = gettext("Nothing was sent to LiveDesk.")
    elif rest.outcome == EditOutcome.SAVED:
        sent = gettext("Delivered to LiveDesk: %(fields)s.") % {"fields": fields}
    elif rest.outcome == EditOutcome.QUEUED:
        sent = gettext("Saved and on their way to LiveDesk, sent automatically: %(fields)s.") % {
            "fields": fields
        }
    elif rest.outcome == EditOutcome.REJECTED:
        sent = gettext(
            "LiveDesk rejected your other changes (%(fields)s), so they were not saved there: "
            "correct the fields marked below."
        ) % {"fields": fields}
    else:
        sent = gettext(
            "Your other changes (%(fields)s) did not reach LiveDesk: %(error)s They are kept on "
            "the contact's page."
        ) % {"fields": fields, "error": rest.edit.error_message}
    return f"{sent} {waiting}"


def outcome_message(submission: EditSubmission) -> str:
    """The words for an edit that was saved, queued, not needed or failed."""
    edit = submission.edit
    if submission.outcome == EditOutcome.NO_CHANGE:
        return gettext("No changes to save: nothing was sent to LiveDesk.")
    if submission.outcome == EditOutcome.SAVED and submission.overridden:
        return gettext(
            "Saved, but %(agent)s changed %(fields)s again before your edit reached LiveDesk: "
            "LiveDesk has their value. Their edit showed them yours."
        ) % {
            "agent": submission.carried_into.editor_username,
            "fields": ", ".join(submission.overridden),
        }
    if submission.outcome == EditOutcome.SAVED and submission.carried_into is not None:
        return gettext(
            "Saved: LiveDesk accepted the changes to %(contact)s, sent together with "
            "%(agent)s's edit made meanwhile."
        ) % {"contact": edit.contact, "agent": submission.carried_into.editor_username}
    if submission.outcome == EditOutcome.SAVED:
        return gettext("Saved: LiveDesk accepted the changes to %(contact)s.") % {
            "contact": edit.contact
        }
    if submission.outcome == EditOutcome.QUEUED and submission.waiting:
        return gettext(
            "Your edit is saved and queued: another edit of %(contact)s is being sent to "
            "LiveDesk first, and yours follows automatically."
        ) % {"contact": edit.contact}
    if submission.outcome == EditOutcome.QUEUED:
        return gettext(
            "Your edit is saved but did not reach LiveDesk yet (%(error)s). It will be sent "
            "again automatically."
        ) % {"error": edit.error_message}
    return gettext(
        "LiveDesk did not accept the edit: %(error)s The edit is kept on the contact's page: "
        "retry it, edit and resend it, or discard it."
    ) % {"error": edit.error_message}


def revert_message(submission: EditSubmission) -> tuple[int, str]:
    """The level and words for the revert of one edit (see services.edit_revert): what was put
    back, and which fields were left alone because someone changed them since."""
    kept = ", ".join(conflict.label for conflict in submission.conflicts)
    if submission.outcome in (EditOutcome.NO_CHANGE, EditOutcome.CONFLICT) and kept:
        return messages.WARNING, gettext(
            "Nothing was reverted: the fields this edit changed were changed again since, so "
            "they were left as they are (%(fields)s)."
        ) % {"fields": kept}
    if submission.outcome == EditOutcome.NO_CHANGE:
        return messages.INFO, gettext(
            "Nothing to revert: the contact already has the values this edit replaced."
        )
    if submission.outcome == EditOutcome.REJECTED:
        return messages.ERROR, gettext(
            "LiveDesk rejected the revert, so nothing was changed there: %(error)s"
        ) % {"error": submission.edit.error_message}
    if submission.outcome == EditOutcome.SAVED:
        sentence = gettext("Reverted: LiveDesk has the values this edit replaced again.")
    else:
        sentence = outcome_message(submission)
    if kept:
        sentence += " " + gettext(
            "Left as they are, changed again since this edit: %(fields)s."
        ) % {"fields": kept}
    level = MESSAGE_LEVELS.get(submission.outcome, messages.INFO)
    return (messages.WARNING if kept and level == messages.SUCCESS else level), sentence
