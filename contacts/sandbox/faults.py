"""The faults the sandbox serves to order: latency, failures, 429s, hangs and type quirks."""

import dataclasses
from dataclasses import dataclass
from http import HTTPStatus
from random import Random

from .answer import Answer

GATEWAY_PAGE = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class Faults:
    """What goes wrong with API calls; counters count down as calls consume them."""

    latency_ms: int = 0
    failure_rate: float = 0.0
    failure_status: int = 503
    fail_next: int = 0
    rate_limit_next: int = 0
    retry_after: int = 1
    hang_next: int = 0
    hang_seconds: float = 30.0
    quirks: bool = False
    # Only calls with one of these HTTP methods meet the faults ("PATCH", "GET,PATCH"...);
    # empty: every call.
    methods: str = ""

    @classmethod
    def from_dict(cls, settings: dict) -> "Faults":
        """Faults from a JSON object; missing keys take defaults, bad ones raise ValueError."""
        if not isinstance(settings, dict):
            raise ValueError("faults must be a JSON object")
        known = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(unknown)}")
        for key, value in settings.items():
            wanted = known[key].type
            if wanted is bool:
                valid = isinstance(value, bool)
            elif wanted is str:
                valid = isinstance(value, str) and len(value) <= 64
            elif wanted is int:
                valid = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            else:
                valid = (
                    isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
                )
            if not valid:
                raise ValueError(f"{key} must be a non-negative {wanted.__name__}")
        faults = cls(**settings)
        if faults.failure_rate > 1:
            raise ValueError("failure_rate must be between 0 and 1")
        if not 400 <= faults.failure_status <= 599:
            raise ValueError("failure_status must be an HTTP error status (400-599)")
        return faults

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def take(self, rng: Random, method: str = "") -> tuple[float, float, Answer | None, bool]:
        """Consume one call's share, counting down: (delay, hang, failure answer, quirks)."""
        delay = max(self.latency_ms, 0) / 1000
        chosen = {name.strip().upper() for name in self.methods.split(",") if name.strip()}
        if chosen and method.upper() not in chosen:
            return delay, 0.0, None, self.quirks
        hang = 0.0
        if self.hang_next > 0:
            self.hang_next -= 1
            hang = self.hang_seconds
        failure = None
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            failure = _failure(HTTPStatus.TOO_MANY_REQUESTS, retry_after=self.retry_after)
        elif self.fail_next > 0:
            self.fail_next -= 1
            failure = _failure(self.failure_status, retry_after=self.retry_after)
        elif self.failure_rate > 0 and rng.random() < self.failure_rate:
            failure = _failure(self.failure_status, retry_after=self.retry_after)
        return delay, hang, failure, self.quirks


def _failure(status: int, *, retry_after: int) -> Answer:
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        # As Rack::Attack answers: plain text, and when to come back.
        return Answer(status, "Retry later\n", (("Retry-After", str(retry_after)),))
    phrase = _phrase(status)
    if status in (HTTPStatus.BAD_GATEWAY, HTTPStatus.GATEWAY_TIMEOUT):
        return Answer(status, GATEWAY_PAGE.format(status=status, phrase=phrase))
    return Answer(status, {"error": phrase})


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def quirky(contact: dict) -> dict:
    """The documented type quirks: string ids, booleans and timestamps, last_name as a list."""
    contact = dict(contact)
    contact["id"] = str(contact["id"])
    contact["blocked"] = "true" if contact["blocked"] else "false"
    for key in ("created_at", "last_activity_at"):
        if contact[key] is not None:
            contact[key] = str(contact[key])
    contact["last_name"] = [contact["last_name"]] if contact["last_name"] else []
    return contact
