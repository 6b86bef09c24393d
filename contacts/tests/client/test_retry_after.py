"""Hostile Retry-After headers: every wait is a finite number of seconds between 0 and a cap."""

from __future__ import annotations

import email.utils
import math
import time

import pytest
from urllib3.response import HTTPResponse

from contacts.livedesk import LiveDeskRateLimited
from contacts.livedesk.answers import retry_after_seconds
from contacts.livedesk.client import _CappedRetry
from contacts.tests.factories import json_answer

NOW = 1_800_000_000.0
FAR_DATE = "Fri, 31 Dec 9999 23:59:59 GMT"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (str(10**17), 3600.0),
        ("9" * 400, 3600.0),
        ("-5", 0.0),
        (FAR_DATE, 3600.0),
        (email.utils.formatdate(NOW + 90, usegmt=True), 90.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Fri, 31 Dec 99999999999 23:59:59 GMT", None),
        ("Mon, 45 Foo 2026 99:99:99 GMT", None),
        ("soon", None),
        ("1e400", None),
        ("NaN", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_between_0_and_the_cap_or_none(header, expected):
    seconds = retry_after_seconds(header, cap=3600.0, now=NOW)

    assert seconds == expected
    assert seconds is None or (isinstance(seconds, float) and math.isfinite(seconds))


def urllib3_answer(retry_after: str) -> HTTPResponse:
    return HTTPResponse(body=b"", headers={"Retry-After": retry_after}, status=429)


@pytest.mark.parametrize("header", [str(10**17), "9" * 400, FAR_DATE])
def test_urllib3s_wait_is_capped_and_never_overflows(header):
    retry = _CappedRetry(total=1, retry_after_cap=0.01)

    assert retry.get_retry_after(urllib3_answer(header)) == 0.01
    assert retry.parse_retry_after(header) == 0.01
    started = time.monotonic()
    retry.sleep(urllib3_answer(header))  # time.sleep(10**17) would raise OverflowError
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("header", "wait"), [("-5", 0.0), ("soon", None), ("Mon, 45 Foo 2026 99:99:99 GMT", None)]
)
def test_urllib3_falls_back_to_its_backoff_on_an_unreadable_retry_after(header, wait):
    retry = _CappedRetry(total=1, retry_after_cap=30)

    assert retry.get_retry_after(urllib3_answer(header)) == wait
    assert retry.parse_retry_after(header) == 0.0
    retry.sleep(urllib3_answer(header))  # urllib3's own parser raises InvalidHeader here


@pytest.mark.parametrize(
    ("header", "expected"),
    [(str(10**17), 120.0), (FAR_DATE, 120.0), ("-5", 0.0), ("soon", None)],
)
def test_rate_limited_carries_a_capped_retry_after_read_from_the_setting(
    scripted, settings, header, expected
):
    settings.LIVEDESK_RETRY_AFTER_MAX = 120
    server = scripted((*json_answer({"error": "slow down"}, status=429), {"Retry-After": header}))

    started = time.monotonic()
    with pytest.raises(LiveDeskRateLimited) as caught:
        server.client(retries=2, retry_after_cap=0.05).contacts_list()

    assert caught.value.retry_after == expected
    assert len(server.requests) == 3
    assert time.monotonic() - started < 2


def test_the_retry_after_cap_defaults_to_an_hour(scripted, settings):
    del settings.LIVEDESK_RETRY_AFTER_MAX
    server = scripted((*json_answer({}, status=429), {"Retry-After": str(10**17)}))

    with pytest.raises(LiveDeskRateLimited) as caught:
        server.client(retries=0).contacts_list()

    assert caught.value.retry_after == 3600.0
