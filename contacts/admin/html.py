"""HTML pieces of the admin pages, every value escaped by format_html."""

from __future__ import annotations

from typing import Any

from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext

from contacts.audit_story import StoryLine
from contacts.display import change_words, is_blank, json_pretty, value_words
from contacts.fields import field_label


def change_value_html(value: Any, key: str = ""):
    """One before or after value of an edit (of the field `key`: a phone formatted), escaped;
    absent or empty said quietly."""
    if is_blank(value):
        return format_html('<span class="quiet">{}</span>', value_words(value))
    return change_words(key, value)


def changes_html(changes: list[dict]):
    """An edit's changes as a before/after table, every value escaped."""
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th><td>{}</td><td>{}</td></tr>',
        (
            (
                _change_label(change),
                change_value_html(change.get("before"), change.get("field", "")),
                change_value_html(change.get("after"), change.get("field", "")),
            )
            for change in changes
        ),
    )
    return format_html(
        '<table class="edit-changes"><thead><tr><th scope="col">{}</th><th scope="col">{}</th>'
        '<th scope="col">{}</th></tr></thead><tbody>{}</tbody></table>',
        gettext("Field"),
        gettext("Before"),
        gettext("After"),
        rows,
    )


def _change_label(change: dict) -> str:
    label = field_label(change.get("field", ""))
    if change.get("carried_from_editor"):
        return gettext("%(field)s (carried from an edit by %(agent)s)") % {
            "field": label,
            "agent": change["carried_from_editor"],
        }
    return label


def json_html(value: Any):
    """A JSON body, pretty-printed and escaped in a <pre>; text that is not JSON shown as is."""
    if value is None:
        return format_html('<span class="quiet">{}</span>', gettext("(none)"))
    return format_html('<pre class="json-body">{}</pre>', json_pretty(value))


def audit_events_html(lines: list[StoryLine]):
    """An edit's audit events as a table: number, time, kind, what happened, start of the hash."""
    if not lines:
        return format_html('<span class="quiet">{}</span>', gettext("(none)"))
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>"
        '<td><code title="{}">{}</code></td></tr>',
        (
            (
                line.seq,
                formats.date_format(timezone.localtime(line.at), "Y-m-d H:i:s"),
                line.kind,
                line.sentence,
                line.hash,
                line.short_hash,
            )
            for line in lines
        ),
    )
    return format_html(
        '<table class="audit-events"><thead><tr><th scope="col">{}</th><th scope="col">{}</th>'
        '<th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        gettext("Number"),
        gettext("Time"),
        gettext("Event"),
        gettext("What happened"),
        gettext("Hash"),
        rows,
    )
