"""The named failures of a call to LiveDesk: every error the client raises is one of these."""

from __future__ import annotations

from typing import Any


class LiveDeskError(Exception):
    """A call to LiveDesk failed. `transient` says whether trying again later may succeed."""

    transient = False
    default_message = "LiveDesk answered with an error."

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        body: Any = None,
        outcome_unknown: bool = False,
    ):
        self.message = message or self.default_message
        self.status = status
        self.body = body
        # The request reached LiveDesk (or a gateway before it) and no answer came back: it may
        # have been applied, and may still be, after a later call.
        self.outcome_unknown = outcome_unknown
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


class LiveDeskRedirected(LiveDeskError):
    """LiveDesk's API never redirects: a 3xx means a wrong base URL or a proxy in the way."""

    default_message = (
        "LiveDesk answered with a redirect, which its API never does: check LIVEDESK_BASE_URL."
    )
