"""The admin contact list's results tag: each cell rendered by a renderer chosen once per column.

Django's changelist renders every cell through lookup_field and display_for_field, and the
action checkbox through a form widget's template: most of a page's time at 50 rows. Here each
column's renderer is chosen once per page, the change link and the checkbox are built from
one template string, and the HTML is the same as Django's.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape as html_escape
from typing import Any

from django import template
from django.contrib.admin import helpers
from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    _boolean_icon,
    result_headers,
    result_hidden_fields,
    results,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.contrib.admin.utils import display_for_field
from django.contrib.admin.views.main import ChangeList
from django.db import models
from django.utils import dateformat
from django.utils.formats import get_format
from django.utils.html import format_html
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext

from contacts.display import phone_display

# A pk no contact has, put in the change URL once and replaced by each row's.
_PK_MARK = "9081726354453627189"
# The column whose numbers are shown formatted, "+66 81 234 5678".
PHONE_COLUMN = "phone_number"

register = template.Library()


def contact_result_list(cl):
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": contact_rows(cl),
    }


@register.tag(name="contact_result_list")
def contact_result_list_tag(parser, token):
    return InclusionAdminNode(
        parser,
        token,
        func=contact_result_list,
        template_name="change_list_results.html",
        takes_context=False,
    )


def contact_rows(cl: ChangeList) -> list[ResultList]:
    """The rows of the page as Django's changelist renders them, built faster; Django's own
    rendering when a column is not a plain model field or the list is editable.

    Each row's cells come joined, as one item: the template's loop over 500 cells cost as
    much as rendering them.
    """
    renderers = _column_renderers(cl)
    if renderers is None:
        return list(results(cl))
    return [
        ResultList(None, [SafeString("".join([render(row) for render in renderers]))])
        for row in cl.result_list
    ]


def _column_renderers(cl: ChangeList) -> list[Callable[[Any], SafeString]] | None:
    if cl.formset or cl.is_popup or cl.to_field:
        return None
    opts = cl.lookup_opts
    fields = {field.name: field for field in opts.concrete_fields}
    # Lazy strings would be translated again in every cell: evaluated once a page.
    empty = mark_safe(str(cl.model_admin.get_empty_value_display()))
    renderers = []
    first_link = True
    for name in cl.list_display:
        if name == "action_checkbox":
            renderers.append(_checkbox_renderer())
            continue
        field = fields.get(name)
        if field is None or field.is_relation:
            return None
        display = _display(field, empty)
        classes = f"field-{name}" + (" nowrap" if isinstance(field, models.DateField) else "")
        linked = cl.list_display_links is not None and (
            name in cl.list_display_links or (first_link and not cl.list_display_links)
        )
        if linked:
            renderers.append(
                _link_renderer(cl, field, display, classes, "th" if first_link else "td")
            )
            first_link = False
        else:
            renderers.append(_cell_renderer(field, display, classes))
    return renderers


def _display(field: models.Field, empty: str) -> Callable[[Any], Any]:
    """The cell's text for a value, as display_for_field gives it."""
    if field.flatchoices:
        choices = {value: str(label) for value, label in field.flatchoices}
        return lambda value: choices.get(value, empty)
    if isinstance(field, models.BooleanField):
        icons = {True: _boolean_icon(True), False: _boolean_icon(False), None: _boolean_icon(None)}
        return lambda value: icons[value]
    if isinstance(field, models.DateTimeField):
        # As formats.localize does it, with the format looked up once, not once a cell.
        datetime_format = get_format("DATETIME_FORMAT")
        return lambda value: (
            empty
            if value is None
            else dateformat.format(template_localtime(value), datetime_format)
        )
    if field.name == PHONE_COLUMN:
        return lambda value: phone_display(value) if value and value.strip() else empty
    if isinstance(field, models.CharField):
        return lambda value: value if value and value.strip() else empty
    return lambda value: display_for_field(
        "" if isinstance(value, str) and not value.strip() else value, field, empty
    )


def _cell_renderer(field, display, classes):
    opening = mark_safe(f'<td class="{classes}">')
    attname = field.attname

    def render(row) -> SafeString:
        return SafeString(opening + _escaped(display(getattr(row, attname))) + "</td>")

    return render


def _link_renderer(cl, field, display, classes, tag):
    url = add_preserved_filters(
        {"preserved_filters": cl.preserved_filters, "opts": cl.opts},
        cl.url_for_result(_RowWithPk(cl.lookup_opts.pk.attname)),
    )
    path, _sep, query = url.partition("?")
    attname = field.attname
    pk_attname = cl.lookup_opts.pk.attname

    def render(row) -> SafeString:
        row_url = path.replace(_PK_MARK, str(getattr(row, pk_attname))) + _sep + query
        return format_html(
            '<{} class="{}"><a href="{}">{}</a></{}>',
            tag,
            classes,
            row_url,
            display(getattr(row, attname)),
            tag,
        )

    return render


def _checkbox_renderer():
    label = gettext("Select this object for an action - {}")

    def render(row) -> SafeString:
        aria = format_html(label, str(row))
        return format_html(
            '<td class="action-checkbox"><input type="checkbox" name="{}" value="{}" '
            'class="action-select" aria-label="{}"></td>',
            helpers.ACTION_CHECKBOX_NAME,
            str(row.pk),
            aria,
        )

    return render


def _escaped(value: Any) -> str:
    """conditional_escape without its lazy-string check (a cost at 500 cells): a cell's text
    is a str, or safe HTML (the boolean icons, the empty value)."""
    if isinstance(value, SafeData):
        return value
    return html_escape(str(value))


class _RowWithPk:
    """Stands for a row in url_for_result, whose URL is built once with a mark as its pk."""

    def __init__(self, pk_attname: str):
        setattr(self, pk_attname, int(_PK_MARK))
