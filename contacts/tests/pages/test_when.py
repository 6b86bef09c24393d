"""The one date style: `when`, `relative` and their `<time>` tags, in English and Thai."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.template import Context, Template, TemplateSyntaxError
from django.urls import reverse
from django.utils import timezone, translation

from contacts.models import EditBatch
from contacts.templatetags.when import relative, when

UTC = datetime.UTC
# 07:05 UTC is 14:05 in Bangkok, the site's time zone in the test settings.
MOMENT = datetime.datetime(2026, 11, 24, 7, 5, 33, tzinfo=UTC)


@pytest.fixture(autouse=True)
def bangkok(settings):
    settings.TIME_ZONE = "Asia/Bangkok"


def test_when_shows_day_month_year_and_time_in_the_site_time_zone():
    with translation.override("en"):
        assert when(MOMENT) == "24 Nov 2026, 14:05"
        assert when(MOMENT, "date") == "24 Nov 2026"


def test_when_crosses_midnight_into_the_next_local_day():
    late = datetime.datetime(2026, 12, 31, 18, 30, tzinfo=UTC)
    with translation.override("en"):
        assert when(late) == "1 Jan 2027, 01:30"


def test_when_on_thai_pages_uses_thai_months_and_the_buddhist_era_year():
    with translation.override("th"):
        assert when(MOMENT) == "24 พ.ย. 2569, 14:05"
        assert when(MOMENT, "date") == "24 พ.ย. 2569"
        assert "พฤศจิกายน 2569" in when(MOMENT, "full")


def test_when_takes_a_plain_date_and_shows_no_time():
    with translation.override("en"):
        assert when(datetime.date(2025, 11, 5)) == "5 Nov 2025"
    with translation.override("th"):
        assert when(datetime.date(2025, 11, 5)) == "5 พ.ย. 2568"


def test_when_full_names_the_weekday_and_the_seconds():
    with translation.override("en"):
        assert when(MOMENT, "full").startswith("Tuesday 24 November 2026, 14:05:33")


def test_when_of_nothing_is_empty_and_an_unknown_style_is_refused():
    assert when(None) == ""
    with pytest.raises(TemplateSyntaxError):
        when(MOMENT, "long")


@pytest.mark.parametrize(
    ("seconds", "english"),
    [
        (-2, "just now"),
        (3, "in a moment"),
        (40, "in 40 s"),
        (-40, "40 s ago"),
        (-60, "1 minute ago"),
        (-150, "2 minutes ago"),
        (3 * 3600 + 100, "in 3 hours"),
        (-86400, "1 day ago"),
        (-6 * 86400, "6 days ago"),
    ],
)
def test_relative_says_how_long_ago_or_how_soon(seconds, english):
    with translation.override("en"):
        assert relative(MOMENT + datetime.timedelta(seconds=seconds), MOMENT) == english


def test_relative_past_a_week_gives_the_date():
    with translation.override("en"):
        assert relative(MOMENT - datetime.timedelta(days=8), MOMENT) == "16 Nov 2026, 14:05"


def test_relative_defaults_to_now():
    with translation.override("en"):
        assert relative(timezone.now() - datetime.timedelta(minutes=2, seconds=5)) == (
            "2 minutes ago"
        )


def test_time_tags_carry_the_iso_moment_and_the_full_date_as_title():
    rendered = Template(
        "{% load when %}{% time_when moment %}|{% time_relative recent %}|{{ moment|when }}"
    ).render(Context({"moment": MOMENT, "recent": timezone.now() - datetime.timedelta(minutes=5)}))
    when_tag, relative_tag, plain = rendered.split("|")
    assert when_tag == (
        '<time datetime="2026-11-24T14:05:33+07:00" title="Tuesday 24 November 2026, 14:05:33 +07">'
        "24 Nov 2026, 14:05</time>"
    )
    assert relative_tag.startswith('<time datetime="')
    assert relative_tag.endswith(">5 minutes ago</time>")
    assert plain == "24 Nov 2026, 14:05"


def test_time_when_of_nothing_renders_nothing():
    assert Template("{% load when %}[{% time_when missing %}]").render(Context({})) == "[]"


def test_the_iso_moment_keeps_the_site_offset_whatever_the_input_zone():
    elsewhere = MOMENT.astimezone(ZoneInfo("America/New_York"))
    rendered = Template("{% load when %}{% time_when moment %}").render(
        Context({"moment": elsewhere})
    )
    assert 'datetime="2026-11-24T14:05:33+07:00"' in rendered


@pytest.mark.django_db
def test_the_batch_list_shows_the_one_style_with_the_buddhist_year_in_thai(lead, lead_client):
    EditBatch.objects.create(
        kind=EditBatch.Kind.BULK_EDIT,
        state=EditBatch.State.CONFIRMED,
        created_by=lead,
        created_by_username="lead",
        confirmed_at=MOMENT,
    )
    english = lead_client.get(reverse("contacts:batches")).content.decode()
    lead_client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "th"
    thai = lead_client.get(reverse("contacts:batches")).content.decode()

    assert '<time datetime="2026-11-24T14:05:33+07:00"' in english
    assert ">24 Nov 2026, 14:05</time>" in english
    assert ">24 พ.ย. 2569, 14:05</time>" in thai
