"""The LiveDesk contacts API client: the one module of the project that speaks HTTP.

Every call goes through one `requests.Session` with Basic auth, a (connect, read) timeout and
urllib3's `Retry`. Every failure becomes one of the named `LiveDeskError` subclasses below, and
every answer is parsed into plain values, tolerant of the type quirks of LiveDesk's docs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

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


class LiveDeskError(Exception):
    """A call to LiveDesk failed. `transient` says whether trying again later may succeed."""

    transient = False
    default_message = "LiveDesk answered with an error."

    def __init__(self, message: str = "", *, status: int | None = None, body: Any = None):
        self.message = message or self.default_message
        self.status = status
        self.body = body
        super().__init__(self.message)


class LiveDeskAuthenticationError(LiveDeskError):
    default_message = (
        "LiveDesk refused the API key and secret (401). Check LIVEDESK_API_KEY and "
        "LIVEDESK_API_SECRET against Project Settings - API Management in the LiveDesk console."
    )


class LiveDeskNotFound(LiveDeskError):
    default_message = "LiveDesk has no such contact (404): it may have been deleted there."


class LiveDeskValidationError(LiveDeskError):
    """LiveDesk rejected the values (422); `field_errors` maps each named field to its messages."""

    default_message = "LiveDesk rejected the values (422)."

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = 422,
        body: Any = None,
        field_errors: dict[str, list[str]] | None = None,
    ):
        super().__init__(message, status=status, body=body)
        self.field_errors = field_errors or {}


class LiveDeskRateLimited(LiveDeskError):
    transient = True
    default_message = (
        "LiveDesk is rate limiting this account (429) and still was after retrying; "
        "try again in a minute."
    )

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = 429,
        body: Any = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class LiveDeskUnavailable(LiveDeskError):
    transient = True
    default_message = "LiveDesk could not be reached or failed (network error, timeout or 5xx)."


class LiveDeskProtocolError(LiveDeskError):
    default_message = "LiveDesk answered with a body this app does not understand."


@dataclass(frozen=True)
class RemoteContact:
    """One contact as LiveDesk sent it: normalised fields plus the payload exactly as received."""

    remote_id: int
    name: str
    first_name: str
    last_name: str
    email: str
    phone_number: str
    identifier: str
    thumbnail: str
    availability_status: str
    blocked: bool
    additional_attributes: dict[str, Any]
    custom_attributes: dict[str, Any]
    contact_inboxes: list[dict[str, Any]] | None
    created_at: datetime | None
    last_activity_at: datetime | None
    payload: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class ContactPage:
    contacts: list[RemoteContact]
    count: int | None  # over all pages; None when LiveDesk did not say
    current_page: int
    rejected: list[tuple[Any, str]] = field(default_factory=list)


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
        self.last_status: int | None = None
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
            "include_contact_inboxes": _bool_param(include_contact_inboxes),
        }
        optional = {"q": q, "sort": sort, "direction": direction, "page_size": page_size}
        params.update({key: value for key, value in optional.items() if value is not None})
        if labels:
            params["labels[]"] = list(labels)
        body = self._request("GET", CONTACTS_PATH, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("payload"), list):
            raise LiveDeskProtocolError(
                "LiveDesk's contact list has no 'payload' list.", status=200, body=body
            )
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        contacts, rejected = [], []
        for item in body["payload"]:
            try:
                contacts.append(parse_contact(item))
            except LiveDeskProtocolError as error:
                rejected.append((item, error.message))
        return ContactPage(
            contacts=contacts,
            count=_parse_int(meta.get("count"), default=None),
            current_page=_parse_int(meta.get("current_page"), default=page),
            rejected=rejected,
        )

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
                    status=self.last_status,
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
        body = self._request(
            "GET", f"{CONTACTS_PATH}/{int(remote_id)}", params={"include_contact_inboxes": "true"}
        )
        return parse_contact(_payload(body))

    def contact_create(self, *, inbox_id: int, **fields: Any) -> RemoteContact:
        """Create a contact in an inbox (name, email, phone_number, avatar_url, identifier...)."""
        body = self._request("POST", CONTACTS_PATH, json={"inbox_id": inbox_id, **fields})
        payload = _payload(body)
        contact = payload.get("contact") if isinstance(payload.get("contact"), dict) else payload
        return parse_contact(contact)

    def contact_update(self, remote_id: int, changes: dict[str, Any]) -> RemoteContact:
        """PATCH a contact with the given body; answers the contact as LiveDesk stored it."""
        body = self._request(
            "PATCH",
            f"{CONTACTS_PATH}/{int(remote_id)}",
            params={"include_contact_inboxes": "true"},
            json=changes,
        )
        return parse_contact(_payload(body))

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
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
        self.last_status = response.status_code
        return _parse_response(response, method=method, path=path)


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
        f"LiveDesk refused {method} {path} with HTTP {status}: {_error_text(body)}",
        status=status,
        body=stored_body,
    )


def parse_validation_errors(body: Any) -> tuple[str, dict[str, list[str]]]:
    """Split a 422 body `{"message", "attributes"}` into a message and messages per field.

    LiveDesk joins one message per failing field with ", ", each starting with the field's
    name in words ("Email has already been taken, Phone number should be in e164 format").
    """
    if not isinstance(body, dict):
        return LiveDeskValidationError.default_message, {}
    message = body.get("message") or body.get("error") or LiveDeskValidationError.default_message
    if isinstance(message, list):
        message = ", ".join(str(part) for part in message if part)
    message = str(message)
    attributes = body.get("attributes")
    if isinstance(attributes, str):
        attributes = [attributes]
    if not isinstance(attributes, list):
        attributes = []
    attributes = list(
        dict.fromkeys(str(name) for name in attributes if isinstance(name, str) and name)
    )
    field_errors: dict[str, list[str]] = {name: [] for name in attributes}
    for part in (piece.strip() for piece in message.split(", ")):
        owner = next(
            (
                name
                for name in sorted(attributes, key=len, reverse=True)
                if part.lower().startswith(name.replace("_", " ").lower())
            ),
            None,
        )
        if owner is not None and part:
            field_errors[owner].append(part)
    for messages in field_errors.values():
        if not messages:
            messages.append(message)
    return message, field_errors


def parse_contact(payload: Any) -> RemoteContact:
    """Parse one contact object, accepting the documented type quirks."""
    if not isinstance(payload, dict):
        raise LiveDeskProtocolError(
            "LiveDesk sent a contact that is not a JSON object.", body=payload
        )
    try:
        remote_id = int(str(payload["id"]).strip())
    except (KeyError, TypeError, ValueError) as error:
        raise LiveDeskProtocolError(
            "LiveDesk sent a contact without a valid id.", body=payload
        ) from error
    additional = payload.get("additional_attributes")
    custom = payload.get("custom_attributes")
    inboxes = payload.get("contact_inboxes")
    availability = str(payload.get("availability_status") or "offline")
    return RemoteContact(
        remote_id=remote_id,
        name=_text(payload.get("name")),
        first_name=_text(payload.get("first_name")),
        last_name=_text(payload.get("last_name")),
        email=_text(payload.get("email")),
        phone_number=_text(payload.get("phone_number")),
        identifier=_text(payload.get("identifier")),
        thumbnail=_text(payload.get("thumbnail")),
        availability_status=availability
        if availability in ("online", "offline", "busy")
        else "offline",
        blocked=_parse_bool(payload.get("blocked")),
        additional_attributes=additional if isinstance(additional, dict) else {},
        custom_attributes=custom if isinstance(custom, dict) else {},
        contact_inboxes=inboxes if isinstance(inboxes, list) else None,
        created_at=parse_timestamp(payload.get("created_at")),
        last_activity_at=parse_timestamp(payload.get("last_activity_at")),
        payload=payload,
    )


def parse_timestamp(value: Any) -> datetime | None:
    """Unix seconds as int, float or numeric string (or null) to an aware UTC datetime."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(float(str(value).strip()), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _payload(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
        raise LiveDeskProtocolError("LiveDesk's answer has no 'payload' object.", body=body)
    return body["payload"]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(part) for part in value if part is not None)
    return str(value)


def _parse_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _parse_int(value: Any, *, default: int | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _bool_param(value: bool) -> str:
    return "true" if value else "false"


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return float(value)
    return None


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)
    return "no readable message"


def _text_excerpt(response: requests.Response, limit: int = 2000) -> str:
    return response.text[:limit]
