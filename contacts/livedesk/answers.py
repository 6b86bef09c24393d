"""One HTTP answer from LiveDesk turned into its JSON body, or into the named error it means.

Plain Python over the status, the headers and the body's bytes: `client` does the HTTP.
Every error raised here carries a message and a body that are safe to store and show.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from contacts.livedesk import errors
from contacts.livedesk.json_safety import Unreadable, json_clean, json_decode, text_excerpt
from contacts.livedesk.parsing import (
    MAX_CONTACT_BYTES,
    MAX_CONTACT_STRING_BYTES,
    error_text,
    parse_validation_errors,
)

# Answered by a gateway that stopped waiting for LiveDesk, not by LiveDesk itself.
GATEWAY_GAVE_UP = frozenset({502, 504})

_SECONDS = re.compile(r"\s*-?[0-9]+(\.[0-9]+)?\s*", re.ASCII)


def answer_body(
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    *,
    method: str,
    path: str,
    retry_after_max: float,
) -> Any:
    """The decoded JSON body of a 2xx answer; any other answer raises its LiveDeskError."""
    if 300 <= status < 400:
        location = text_excerpt(headers.get("Location") or "nowhere (no Location header)", 500)
        raise errors.LiveDeskRedirected(
            f"LiveDesk answered {method} {path} with a redirect (HTTP {status}) to {location}. "
            "Its API never redirects, so the redirect was not followed and nothing was applied: "
            "check LIVEDESK_BASE_URL (a wrong address, or a proxy or login page in the way).",
            status=status,
            body=_raw_excerpt(raw),
        )
    if 200 <= status < 300:
        try:
            return json_decode(raw)
        except Unreadable as error:
            raise errors.LiveDeskProtocolError(
                f"LiveDesk answered {method} {path} with {error}.",
                status=status,
                body=_raw_excerpt(raw),
            ) from error
    body = _error_body(raw)
    stored_body = body if body is not None else _raw_excerpt(raw)
    if status == 401:
        raise errors.LiveDeskAuthenticationError(status=status, body=stored_body)
    if status == 404:
        raise errors.LiveDeskNotFound(status=status, body=stored_body)
    if status == 422:
        message, field_errors = parse_validation_errors(body)
        raise errors.LiveDeskValidationError(
            message, status=status, body=stored_body, field_errors=field_errors
        )
    if status == 429:
        raise errors.LiveDeskRateLimited(
            status=status,
            body=stored_body,
            retry_after=retry_after_seconds(headers.get("Retry-After"), cap=retry_after_max),
        )
    if status >= 500:
        raise errors.LiveDeskUnavailable(
            f"LiveDesk failed with HTTP {status}; the call can be tried again later.",
            status=status,
            body=stored_body,
            # A gateway gave up waiting: the server behind it may still apply the call.
            outcome_unknown=status in GATEWAY_GAVE_UP,
        )
    raise errors.LiveDeskError(
        f"LiveDesk refused {method} {path} with HTTP {status}: {error_text(body)}",
        status=status,
        body=stored_body,
    )


def retry_after_seconds(value: str | None, *, cap: float, now: float | None = None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as the seconds to wait, between 0 and
    `cap`; None when there is none or it cannot be read."""
    if value is None:
        return None
    if _SECONDS.fullmatch(value):
        seconds = float(value)  # inf for hundreds of digits, clamped below
    else:
        try:
            date = email.utils.parsedate_tz(value)
            if date is None:
                return None
            seconds = email.utils.mktime_tz(date) - (time.time() if now is None else now)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    if math.isnan(seconds):
        return None
    return float(min(max(seconds, 0.0), cap))


def _error_body(raw: bytes) -> Any:
    """The JSON of an error answer, cleaned to be stored; None when it is not such JSON."""
    try:
        return json_clean(
            json_decode(raw),
            max_string=MAX_CONTACT_STRING_BYTES,
            max_total=MAX_CONTACT_BYTES,
            what="an error answer",
        )
    except (Unreadable, errors.LiveDeskProtocolError):
        return None


def _raw_excerpt(raw: bytes, limit: int = 2000) -> str:
    return text_excerpt(raw[: limit * 4].decode("utf-8", errors="replace"), limit)
