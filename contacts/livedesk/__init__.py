"""The LiveDesk contacts API: its client, the errors it raises and the values it answers.

`client` is the one module of the project that imports `requests`; `errors`, `answers` (an
HTTP answer into a body or an error), `parsing` (bodies into values) and `json_safety` (JSON
cleaned and bounded so the database takes it) are plain Python, so code that only needs the
errors or the parsers does not pull in HTTP.
"""

from contacts.livedesk.client import LiveDeskClient
from contacts.livedesk.errors import (
    LiveDeskAuthenticationError,
    LiveDeskError,
    LiveDeskNotFound,
    LiveDeskProtocolError,
    LiveDeskRateLimited,
    LiveDeskRedirected,
    LiveDeskUnavailable,
    LiveDeskValidationError,
)
from contacts.livedesk.parsing import (
    ContactPage,
    ContactUpdateAnswer,
    RemoteContact,
    parse_contact,
    parse_timestamp,
    parse_validation_errors,
)

__all__ = [
    "ContactPage",
    "ContactUpdateAnswer",
    "LiveDeskAuthenticationError",
    "LiveDeskClient",
    "LiveDeskError",
    "LiveDeskNotFound",
    "LiveDeskProtocolError",
    "LiveDeskRateLimited",
    "LiveDeskRedirected",
    "LiveDeskUnavailable",
    "LiveDeskValidationError",
    "RemoteContact",
    "parse_contact",
    "parse_timestamp",
    "parse_validation_errors",
]
