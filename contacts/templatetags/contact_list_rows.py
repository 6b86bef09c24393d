"""The agent contact list's rows, rendered in Python: one tag for the page's 50 rows.

Through the template language each row cost a `{% url %}` (a reverse), six filters, three
`date` formats (each looking its format up again), two choice displays and a dozen variable
lookups: most of the page's time (round 2 of #13, by CPU profile). Here the URL is reversed
once with a mark for the id, the labels and formats are looked up once a page, in the active
language, and each row is one format_html; the HTML is the template's, escaped alike.
"""

from __future__ import annotations

from html import escape as html_escape

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext

from contacts.display import phone_display
from contacts.models import Contact
from contacts.templatetags.contact_tags import availability_badge, push_state_badge
from contacts.templatetags.when import when

register = template.Library()

# A LiveDesk id no contact has, put in the detail URL once and replaced by each row's.
_ID_MARK = "9081726354453627189"
EMPTY = "—"
# The list's columns: the "No contacts match." row spans them all (and the ticks' column).
COLUMNS = 7
# A row's tick for a bulk edit, in the page's selection form (its inputs are outside it).
_TICK = (
    '<td class="tick-cell"><input class="form-check-input" type="checkbox" name="contact" '
    'value="{}" form="bulk-selection" aria-label="{}"></td>\n'
)

# Each cell's class names its column: on a phone the rows become cards (site.css), the name's
# link covers the card, and the company, country and last activity are left to the contact page.
_ROW = (
    '<tr>\n<td class="text-truncate-cell cell-name"><a class="fw-medium contact-link" href="{}">'
    "{}</a></td>\n"
    '<td class="text-truncate-cell cell-email">{}</td>\n'
    '<td class="cell-phone"><span class="font-monospace small">{}</span></td>\n'
    '<td class="text-truncate-cell cell-company">{}</td>\n'
    '<td class="cell-country">{}{}</td>\n'
    '<td class="cell-status">{}</td>\n'
    '<td class="small cell-activity">{}</td>\n</tr>\n'
)


class _PageLabels:
    """What every row of a page shares: the detail URL's parts, labels and date formats."""

    def __init__(self):
        url = reverse("contacts:detail", args=[int(_ID_MARK)])
        self.url_head, _mark, self.url_tail = url.partition(_ID_MARK)
        self.availability = {
            value: str(label) for value, label in Contact.AvailabilityStatus.choices
        }
        self.push_state = {value: str(label) for value, label in Contact.PushState.choices}
        self.blocked = format_html('<span class="badge text-bg-dark">{}</span>', gettext("Blocked"))
        self.gone = format_html(
            '<span class="badge text-bg-warning">{}</span>', gettext("Gone from LiveDesk")
        )
        self.select = gettext("Select %(contact)s")
        # Each day shown, in the one date style (contacts.templatetags.when), formatted once.
        self.days: dict = {}


def _or_empty(value: str) -> str:
    return value or EMPTY


def _badges(contact: Contact, labels: _PageLabels) -> SafeString:
    status = contact.availability_status
    parts = [
        _html(
            '<span class="badge {}">{}</span>',
            availability_badge(status),
            labels.availability.get(status, status),
        )
    ]
    if contact.blocked:
        parts.append(labels.blocked)
    if contact.push_state != Contact.PushState.IN_SYNC:
        # Followed by contact_live.js (watchBadges) until the contact's edits settle.
        parts.append(
            _html(
                '<span class="badge {}" data-push-state-for="{}" data-push-state="{}">{}</span>',
                push_state_badge(contact.push_state),
                contact.remote_id,
                contact.push_state,
                labels.push_state.get(contact.push_state, contact.push_state),
            )
        )
    if contact.is_gone:
        parts.append(labels.gone)
    return mark_safe(" ".join(parts))


def _last_activity(contact: Contact, labels: _PageLabels) -> SafeString | str:
    if contact.last_activity_at is None:
        return EMPTY
    local = template_localtime(contact.last_activity_at)
    day = local.date()
    if day not in labels.days:
        labels.days[day] = when(local, "date")
    return _html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),  # the "c" format
        when(local, "full"),
        labels.days[day],
    )


def _html(template: str, *values) -> SafeString:
    """format_html, its values escaped by _escaped."""
    return SafeString(template.format(*(_escaped(value) for value in values)))


def _escaped(value) -> str:
    """conditional_escape without its lazy-string check, a cost at 450 cells a page."""
    return value if isinstance(value, SafeData) else html_escape(str(value))


def contact_row(contact: Contact, labels: _PageLabels, *, selectable: bool = False) -> SafeString:
    code = contact.country_code
    row = _html(
        _ROW,
        f"{labels.url_head}{contact.remote_id}{labels.url_tail}",
        str(contact),
        _or_empty(contact.email),
        _or_empty(phone_display(contact.phone_number)),
        _or_empty(contact.company_name),
        _or_empty(contact.country),
        _html(' <span class="text-body-secondary small">{}</span>', code) if code else "",
        _badges(contact, labels),
        _last_activity(contact, labels),
    )
    if not selectable:
        return row
    tick = _html(_TICK, contact.remote_id, labels.select % {"contact": contact})
    return SafeString(row.replace("<tr>\n", "<tr>\n" + tick, 1))


@register.simple_tag
def contact_list_rows(contacts, selectable: bool = False) -> SafeString:
    """The table body's rows of `contacts`, or the one row saying none match. `selectable`
    rows start with a tick for a bulk edit."""
    labels = _PageLabels()
    rows = [contact_row(contact, labels, selectable=selectable) for contact in contacts]
    if not rows:
        return format_html(
            '<tr><td colspan="{}" class="text-center text-body-secondary py-5">{}</td></tr>',
            COLUMNS + 1 if selectable else COLUMNS,
            gettext("No contacts match."),
        )
    return mark_safe("".join(rows))
