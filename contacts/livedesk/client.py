"""The LiveDesk contacts API client: the one module of the project that speaks HTTP.

Every call goes through one `requests.Session` with Basic auth, a (connect, read) timeout and
urllib3's `Retry`; redirects are never followed and no answer is read past
LIVEDESK_MAX_RESPONSE_BYTES. Every failure becomes one of the named `LiveDeskError` subclasses
(`answers`), and every answer is parsed into plain values by `contacts.livedesk.parsing`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from contacts.livedesk.answers import GATEWAY_GAVE_UP, answer_body, retry_after_seconds
from contacts.livedesk.errors import LiveDeskProtocolError, LiveDeskUnavailable
from contacts.livedesk.json_safety import MIB, size_text
from contacts.livedesk.parsing import (
    ContactPage,
    ContactUpdateAnswer,
    RemoteContact,
    parse_contact_answer,
    parse_page,
)

logger = logging.getLogger(__name__)

CONTACTS_PATH = "/api/v2/accounts/contacts"
RETRY_STATUSES = (429, 502, 503, 504)
RETRIED_METHODS = frozenset({"GET", "POST", "PATCH"})
# Writes never sent again by the client once sent without an answer.
NOT_RESENT_UNANSWERED = frozenset({"POST", "PATCH"})
DEFAULT_MAX_RESPONSE_BYTES = 10 * MIB
DEFAULT_RETRY_AFTER_MAX = 3600.0
READ_CHUNK_BYTES = 64 * 1024
LIST_SORTS = frozenset(
    {
        "email",
        "name",
        "phone_number",
        "last_activity_at",
        "created_at",
        "company",
        "city",
        "country",
    }
)


class _CappedRetry(Retry):
    """urllib3's Retry, with the wait a server asks for in Retry-After capped by a setting.

    Any Retry-After (10**17 seconds, a date in the year 9999, a negative or unreadable one)
    becomes a wait between 0 and the cap, or none (then urllib3's backoff applies).
    """

    def __init__(self, *args: Any, retry_after_cap: float = 30.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap

    def new(self, **kwargs: Any) -> _CappedRetry:
        kwargs.setdefault("retry_after_cap", self.retry_after_cap)
        return super().new(**kwargs)  # type: ignore[return-value]

    def get_retry_after(self, response: Any) -> float | None:
        return retry_after_seconds(response.headers.get("Retry-After"), cap=self.retry_after_cap)

    def parse_retry_after(self, retry_after: str) -> float:
        return retry_after_seconds(retry_after, cap=self.retry_after_cap) or 0.0

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method in NOT_RESENT_UNANSWERED and status_code in GATEWAY_GAVE_UP:
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def increment(self, method=None, url=None, response=None, error=None, *args, **kwargs):
        # A write whose answer was lost (read timeout, reset after sending) may have been
        # applied: sending it again could land after a newer write. The outbox decides.
        if method in NOT_RESENT_UNANSWERED and error is not None and self._is_read_error(error):
            spent = self.new(read=False)
            return Retry.increment(spent, method, url, response, error, *args, **kwargs)
        return super().increment(method, url, response, error, *args, **kwargs)


class LiveDeskClient:
    """A client for one LiveDesk account; settings are read when it is made, not at import."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        timeout: tuple[float, float] | None = None,
        retries: int | None = None,
        retry_after_cap: float | None = None,
    ):
        self.base_url = (base_url or settings.LIVEDESK_BASE_URL).rstrip("/")
        self.timeout = timeout or tuple(settings.LIVEDESK_TIMEOUT)
        retries = settings.LIVEDESK_RETRIES if retries is None else retries
        retry = _CappedRetry(
            total=retries,
            connect=retries,
            read=min(retries, 1),
            status=retries,
            other=0,
            allowed_methods=RETRIED_METHODS,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=settings.LIVEDESK_BACKOFF_FACTOR,
            respect_retry_after_header=True,
            raise_on_status=False,
            retry_after_cap=(
                settings.LIVEDESK_RETRY_AFTER_CAP if retry_after_cap is None else retry_after_cap
            ),
        )
        self.session = requests.Session()
        self.session.auth = (
            api_key or settings.LIVEDESK_API_KEY,
            api_secret or settings.LIVEDESK_API_SECRET,
        )
        self.session.headers.update(
            {"Accept": "application/json", "Content-Type": "application/json"}
        )
        # The environment's proxies and CA bundle, read once here rather than on every call
        # (requests scans the whole environment per call when it trusts it).
        self.session.trust_env = False
        self.session.proxies = requests.utils.get_environ_proxies(self.base_url)
        self.session.verify = _ca_bundle() or True
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"<LiveDeskClient {self.base_url}>"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> LiveDeskClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def contacts_list(
        self,
        *,
        page: int = 1,
        q: str | None = None,
        sort: str | None = None,
        direction: str | None = None,
        labels: list[str] | None = None,
        include_contact_inboxes: bool = True,
        page_size: int | None = None,
    ) -> ContactPage:
        """List or search contacts: one page and the total count over all pages."""
        if sort is not None and sort not in LIST_SORTS:
            raise ValueError(f"LiveDesk cannot sort contacts by {sort!r}.")
        if direction is not None and direction not in ("asc", "desc"):
            raise ValueError("direction must be 'asc' or 'desc'.")
        params: dict[str, Any] = {
            "page": page,
            "include_contact_inboxes": "true" if include_contact_inboxes else "false",
        }
        optional = {"q": q, "sort": sort, "direction": direction, "page_size": page_size}
        params.update({key: value for key, value in optional.items() if value is not None})
        if labels:
            params["labels[]"] = list(labels)
        status, body = self._request("GET", CONTACTS_PATH, params=params)
        return parse_page(body, page=page, status=status)

    def contacts_iter(
        self, *, page_size: int | None = None, **filters: Any
    ) -> Iterator[ContactPage]:
        """Every page of contacts in turn, stable by creation time, until all are fetched."""
        filters.setdefault("sort", "created_at")
        filters.setdefault("direction", "asc")
        page_number, fetched, full_page = 1, 0, 0
        previous_ids: list[int] | None = None
        while True:
            page = self.contacts_list(page=page_number, page_size=page_size, **filters)
            received = len(page.contacts) + len(page.rejected)
            if not received:
                return
            ids = [contact.remote_id for contact in page.contacts]
            if ids and ids == previous_ids:
                raise LiveDeskProtocolError(
                    "LiveDesk sent the same page of contacts twice: it may be ignoring `page`.",
                    status=page.status,
                )
            yield page
            fetched += received
            full_page = full_page or received
            if page.count is None:
                # No total given: the first short page is the last one.
                if received < full_page:
                    return
            elif fetched >= page.count:
                return
            previous_ids = ids
            page_number += 1

    def contact_get(self, remote_id: int) -> RemoteContact:
        """One contact, with its inboxes."""
        status, body = self._request(
            "GET", f"{CONTACTS_PATH}/{int(remote_id)}", params={"include_contact_inboxes": "true"}
        )
        return parse_contact_answer(body, remote_id=int(remote_id), status=status)

    def contact_update(self, remote_id: int, changes: dict[str, Any]) -> ContactUpdateAnswer:
        """PATCH a contact with the given body; answers the contact as LiveDesk stored it."""
        status, body = self._request(
            "PATCH",
            f"{CONTACTS_PATH}/{int(remote_id)}",
            params={"include_contact_inboxes": "true"},
            json=changes,
        )
        return ContactUpdateAnswer(
            contact=parse_contact_answer(body, remote_id=int(remote_id), status=status),
            status=status,
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Send one call; answers the 2xx status and the decoded JSON body, or raises."""
        url = f"{self.base_url}{path}"
        limit = getattr(settings, "LIVEDESK_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES)
        try:
            response = self.session.request(
                method, url, timeout=self.timeout, stream=True, allow_redirects=False, **kwargs
            )
            with response:
                raw = _body_read(response, limit=limit, method=method, path=path)
        except requests.exceptions.ConnectTimeout as error:
            raise LiveDeskUnavailable(
                f"Could not connect to LiveDesk at {self.base_url} within "
                f"{self.timeout[0]:g} seconds: check LIVEDESK_BASE_URL and the network."
            ) from error
        except requests.exceptions.Timeout as error:
            raise LiveDeskUnavailable(
                f"LiveDesk did not answer {method} {path} within {self.timeout[1]:g} seconds.",
                outcome_unknown=True,
            ) from error
        except requests.exceptions.RetryError as error:
            raise LiveDeskUnavailable(
                f"LiveDesk kept failing on {method} {path} after retries."
            ) from error
        except requests.exceptions.RequestException as error:
            # Retries exhausted on read timeouts surface as a ConnectionError wrapping them.
            if _read_timed_out(error):
                raise LiveDeskUnavailable(
                    f"LiveDesk did not answer {method} {path} within {self.timeout[1]:g} seconds.",
                    outcome_unknown=True,
                ) from error
            raise LiveDeskUnavailable(
                f"Could not reach LiveDesk at {self.base_url} ({type(error).__name__}): "
                "check LIVEDESK_BASE_URL and the network.",
                outcome_unknown=not _never_sent(error),
            ) from error
        logger.debug("%s %s -> %s", method, path, response.status_code)
        body = answer_body(
            response.status_code,
            response.headers,
            raw,
            method=method,
            path=path,
            retry_after_max=getattr(settings, "LIVEDESK_RETRY_AFTER_MAX", DEFAULT_RETRY_AFTER_MAX),
        )
        return response.status_code, body


def _ca_bundle() -> str | None:
    """The CA bundle the environment names, as requests reads it when it trusts it."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


def _body_read(response: requests.Response, *, limit: int, method: str, path: str) -> bytes:
    """The answer's body, read no further than `limit` bytes (once decompressed).

    A larger success is a LiveDeskProtocolError; a larger error answer is cut at `limit`, so
    that it is still the error its status says.
    """
    status = response.status_code
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared[:20]) > limit and status < 400:
        raise _too_large(status, limit=limit, method=method, path=path)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(READ_CHUNK_BYTES):
        chunks.append(chunk[: limit - size])
        size += len(chunk)
        if size > limit:
            if status < 400:
                raise _too_large(status, limit=limit, method=method, path=path)
            break
    return b"".join(chunks)


def _too_large(status: int, *, limit: int, method: str, path: str) -> LiveDeskProtocolError:
    return LiveDeskProtocolError(
        f"LiveDesk sent an answer larger than {size_text(limit)} to {method} {path}; it was "
        "not read (LIVEDESK_MAX_RESPONSE_BYTES).",
        status=status,
    )


def _never_sent(error: requests.exceptions.RequestException) -> bool:
    """The connection failed before the request went out (refused, unresolvable, no route)."""
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _read_timed_out(error: requests.exceptions.RequestException) -> bool:
    cause = error.args[0] if error.args else None
    return isinstance(cause, ReadTimeoutError) or isinstance(
        getattr(cause, "reason", None), ReadTimeoutError
    )
