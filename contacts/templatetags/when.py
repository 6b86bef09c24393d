"""One date style for every page: `{% load when %}`.

- `{{ value|when }}`: "24 Nov 2026, 14:05" in the site's time zone; on Thai pages the Thai month
  and the Buddhist-era year ("24 พ.ย. 2569, 14:05"). `{{ value|when:"date" }}` drops the time,
  `{{ value|when:"full" }}` names the weekday and the seconds (what a tooltip shows).
- `{{ value|relative }}`: "2 minutes ago", "in 40 s", "just now"; past a week, the `when` date.
- `{% time_when value %}` and `{% time_relative value %}`: the same inside
  `<time datetime="ISO" title="full date">`, so a reader can hover for the exact time and a
  machine reads the ISO one.

Month and weekday names come from Django's catalogues (`dateformat`), so a language Django knows
needs nothing here; only the era of the year is the site's choice.
"""

from __future__ import annotations

import datetime

from django import template
from django.utils import dateformat, timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext

register = template.Library()

# Languages whose pages count years in the Buddhist era (2026 CE is 2569 BE).
BUDDHIST_ERA_LANGUAGES = frozenset({"th"})
BUDDHIST_ERA_OFFSET = 543

# Django date-format parts around the year: day and month before it, the time after it.
STYLES = {
    "": ("j M", ", H:i"),
    "date": ("j M", ""),
    "full": ("l j F", ", H:i:s T"),
}
RELATIVE_LIMIT = datetime.timedelta(days=7)


def local_moment(value: datetime.date | datetime.datetime) -> datetime.date | datetime.datetime:
    """An aware datetime in the site's time zone; a date or a naive datetime as it is."""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def era_year(year: int) -> int:
    """The year as the active language counts it."""
    language = (translation.get_language() or "").split("-")[0]
    if language in BUDDHIST_ERA_LANGUAGES:
        return year + BUDDHIST_ERA_OFFSET
    return year


@register.filter
def when(value: datetime.date | datetime.datetime | None, style: str = "") -> str:
    """The site's one way to show a date and time; empty for no value."""
    if value in (None, ""):
        return ""
    if style not in STYLES:
        raise template.TemplateSyntaxError(f"when takes one of {sorted(STYLES)}, not {style!r}")
    moment = local_moment(value)
    before_year, after_year = STYLES[style]
    if not isinstance(moment, datetime.datetime):
        after_year = ""
    text = f"{dateformat.format(moment, before_year)} {era_year(moment.year)}"
    if after_year:
        text += dateformat.format(moment, after_year)
    return text


def relative_phrase(seconds: int) -> str:
    """`seconds` from now (negative: in the past) in words: "in 40 s", "2 minutes ago"."""
    distance = abs(seconds)
    if distance < 5:
        return gettext("just now") if seconds <= 0 else gettext("in a moment")
    if distance < 60:
        amount = ngettext("%(count)d s", "%(count)d s", distance) % {"count": distance}
    elif distance < 3600:
        minutes = distance // 60
        amount = ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    elif distance < 86400:
        hours = distance // 3600
        amount = ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    else:
        days = distance // 86400
        amount = ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if seconds < 0:
        return gettext("%(amount)s ago") % {"amount": amount}
    return gettext("in %(amount)s") % {"amount": amount}


@register.filter
def relative(value: datetime.datetime | None, now: datetime.datetime | None = None) -> str:
    """How long ago (or how soon) `value` is; past a week away, its `when` date instead."""
    if value in (None, ""):
        return ""
    now = now or timezone.now()
    offset = value - now
    if abs(offset) >= RELATIVE_LIMIT:
        return when(value)
    return relative_phrase(round(offset.total_seconds()))


def iso(value: datetime.date | datetime.datetime) -> str:
    """The machine-readable moment of a `<time>` element."""
    return local_moment(value).isoformat()


@register.simple_tag
def time_when(value: datetime.date | datetime.datetime | None, style: str = "") -> str:
    """`<time>` holding the `when` text, its full date as the title."""
    if value in (None, ""):
        return ""
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        iso(value),
        when(value, "full"),
        when(value, style),
    )


@register.simple_tag
def time_relative(value: datetime.datetime | None) -> str:
    """`<time>` holding the relative text ("2 minutes ago"), its full date as the title."""
    if value in (None, ""):
        return ""
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', iso(value), when(value, "full"), relative(value)
    )
