"""The LiveDesk contacts API: its client, the errors it raises and the values it answers.

`client` is the one module of the project that imports `requests`; `errors` and `parsing`
are plain Python, so code that only needs the errors or the parsers does not pull in HTTP.
"""

from contacts.livedesk.client import LiveDeskClient
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
    "LiveDeskUnavailable",
    "LiveDeskValidationError",
    "RemoteContact",
    "parse_contact",
    "parse_timestamp",
    "parse_validation_errors",
]
