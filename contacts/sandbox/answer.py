"""What the sandbox answers a request with, and how its body goes on the wire."""

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    """A status, a body (JSON-able, text, an HTML page or None) and extra headers."""

    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False

    def encoded(self) -> tuple[bytes, str | None]:
        """The body's bytes and Content-Type: text as is, anything else but None as JSON."""
        if isinstance(self.body, str):
            content_type = (
                "text/html; charset=utf-8"
                if self.body.startswith("<html")
                else "text/plain; charset=utf-8"
            )
            return self.body.encode(), content_type
        if self.body is None:
            return b"", None
        payload = json.dumps(self.body, ensure_ascii=False).encode()
        return payload, "application/json; charset=utf-8"
