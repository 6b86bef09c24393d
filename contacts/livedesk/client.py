"""The LiveDesk contacts API client: the one module of the project that speaks HTTP.

Every call goes through one `requests.Session` with Basic auth, a (connect, read) timeout and
urllib3's `Retry`. Every failure becomes one of the named `LiveDeskError` subclasses, and every
answer is parsed into plain values by `contacts.livedesk.parsing`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from contacts.livedesk.errors import (
    LiveDeskAuthenticationError,
    LiveDeskError,
    LiveDeskNotFound,
    LiveDeskProtocolError,
    LiveDeskRateLimited,
    LiveDeskUnavailable,
    LiveDeskValidationError,
)
from contacts.livedesk.parsing import (
    ContactPage,
    ContactUpdateAnswer,
    RemoteContact,
    error_text,
    parse_contact,
    parse_page,
    parse_validation_errors,
    payload_object,
)

logger = logging.getLogger(__name__)

CONTACTS_PATH = "/api/v2/accounts/contacts"
RETRY_STATUSES = (429, 502, 503, 504)
RETRIED_METHODS = frozenset({"GET", "POST", "PATCH"})
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
    """urllib3's Retry, with the wait a server asks for in Retry-After capped by a setting."""

    def __init__(self, *args: Any, retry_after_cap: float = 30.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap

    def new(self, **kwargs: Any) -> _CappedRetry:
        kwargs.setdefault("retry_after_cap", self.retry_after_cap)
        return super().new(**kwargs)  # type: ignore[return-value]

    def get_retry_after(self, response: Any) -> float | None:
        retry_after = super().get_retry_after(response)
        return None if retry_after is None else min(retry_after, self.retry_after_cap)


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
            retry_after_cap=settings.LIVEDESK_RETRY_AFTER_CAP,
        )
        self.session = requests.Session()
        self.session.auth = (
            api_key or settings.LIVEDESK_API_KEY,
            api_secret or settings.LIVEDESK_API_SECRET,
        )
        self.session.headers.update(
            {"Accept": "application/json", "Content-Type": "application/json"}
        )
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
        _, body = self._request(
            "GET", f"{CONTACTS_PATH}/{int(remote_id)}", params={"include_contact_inboxes": "true"}
        )
        return parse_contact(payload_object(body))

    def contact_update(self, remote_id: int, changes: dict[str, Any]) -> ContactUpdateAnswer:
        """PATCH a contact with the given body; answers the contact as LiveDesk stored it."""
        status, body = self._request(
            "PATCH",
            f"{CONTACTS_PATH}/{int(remote_id)}",
            params={"include_contact_inboxes": "true"},
            json=changes,
        )
        return ContactUpdateAnswer(contact=parse_contact(payload_object(body)), status=status)

    def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Send one call; answers the 2xx status and the decoded JSON body, or raises."""
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.exceptions.ConnectTimeout as error:
            raise LiveDeskUnavailable(
                f"Could not connect to LiveDesk at {self.base_url} within "
                f"{self.timeout[0]:g} seconds: check LIVEDESK_BASE_URL and the network."
            ) from error
        except requests.exceptions.Timeout as error:
            raise LiveDeskUnavailable(
                f"LiveDesk did not answer {method} {path} within {self.timeout[1]:g} seconds."
            ) from error
        except requests.exceptions.RetryError as error:
            raise LiveDeskUnavailable(
                f"LiveDesk kept failing on {method} {path} after retries."
            ) from error
        except requests.exceptions.RequestException as error:
            # Retries exhausted on read timeouts surface as a ConnectionError wrapping them.
            if _read_timed_out(error):
                raise LiveDeskUnavailable(
                    f"LiveDesk did not answer {method} {path} within {self.timeout[1]:g} seconds."
                ) from error
            raise LiveDeskUnavailable(
                f"Could not reach LiveDesk at {self.base_url} ({type(error).__name__}): "
                "check LIVEDESK_BASE_URL and the network."
            ) from error
        logger.debug("%s %s -> %s", method, path, response.status_code)
        return response.status_code, _parse_response(response, method=method, path=path)


def _read_timed_out(error: requests.exceptions.RequestException) -> bool:
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, ReadTimeoutError)


def _parse_response(response: requests.Response, *, method: str, path: str) -> Any:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if 200 <= status < 300:
        if body is None:
            raise LiveDeskProtocolError(
                f"LiveDesk answered {method} {path} with a body that is not JSON.",
                status=status,
                body=_text_excerpt(response),
            )
        return body
    stored_body = body if body is not None else _text_excerpt(response)
    if status == 401:
        raise LiveDeskAuthenticationError(status=status, body=stored_body)
    if status == 404:
        raise LiveDeskNotFound(status=status, body=stored_body)
    if status == 422:
        message, field_errors = parse_validation_errors(body)
        raise LiveDeskValidationError(
            message, status=status, body=stored_body, field_errors=field_errors
        )
    if status == 429:
        raise LiveDeskRateLimited(
            status=status, body=stored_body, retry_after=_retry_after_seconds(response)
        )
    if status >= 500:
        raise LiveDeskUnavailable(
            f"LiveDesk failed with HTTP {status}; the call can be tried again later.",
            status=status,
            body=stored_body,
        )
    raise LiveDeskError(
        f"LiveDesk refused {method} {path} with HTTP {status}: {error_text(body)}",
        status=status,
        body=stored_body,
    )


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return float(value)
    return None


def _text_excerpt(response: requests.Response, limit: int = 2000) -> str:
    return response.text[:limit]
