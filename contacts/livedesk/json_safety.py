"""JSON from LiveDesk made safe to store and show: decoded strictly, bounded and cleaned.

Python's `json` accepts what PostgreSQL refuses (NaN and Infinity, NUL characters, lone UTF-16
surrogates) and nests as deep as the sender likes. Here an answer's bytes are decoded with
those values marked (`Refused`), and a value is checked and cleaned (`json_clean`) before it
may become a contact, or made into a short safe excerpt (`json_preview`) for an error.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from contacts.livedesk.errors import LiveDeskProtocolError

MAX_DEPTH = 64  # levels of objects and lists, the outermost one included
MAX_INT_DIGITS = 4300  # the longest int Python converts to text (sys.int_info)
MIB = 1024 * 1024
REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates
_INT_LIMIT = 10**MAX_INT_DIGITS


class Refused:
    """A value the JSON decoder read but this app does not take (NaN, Infinity, a huge number).

    Left in place of the value, so that only the contact holding it is rejected.
    """

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _refused_constant(name: str) -> Refused:
    return Refused(name)


def _checked_int(digits: str) -> int | Refused:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        return Refused(f"{digits[:20]}... ({len(digits)} digits)")
    return int(digits)


def _checked_float(text: str) -> float | Refused:
    number = float(text)
    return number if math.isfinite(number) else Refused(text[:40])


# Lenient about raw control characters in strings (a NUL among them is cleaned later).
_DECODER = json.JSONDecoder(
    parse_constant=_refused_constant,
    parse_int=_checked_int,
    parse_float=_checked_float,
    strict=False,
)


class Unreadable(ValueError):
    """An answer's bytes are not JSON this app can read; the text says what they are."""


def json_decode(raw: bytes) -> Any:
    """An answer's bytes as JSON; NaN, Infinity and huge numbers are left as `Refused`."""
    text = raw.decode(json.detect_encoding(raw), errors="replace")
    try:
        return _DECODER.decode(text)
    except RecursionError as error:
        raise Unreadable("JSON nested too deeply to read") from error
    except ValueError as error:
        raise Unreadable("a body that is not JSON") from error


def text_clean(text: str) -> str:
    """`text` with each NUL and lone surrogate (which PostgreSQL refuses) made U+FFFD."""
    if text.isascii():
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def json_clean(value: Any, *, max_string: int, max_total: int, what: str) -> Any:
    """Decoded JSON `value` as PostgreSQL's jsonb and text columns accept it: `value` itself
    when it needs nothing, else a cleaned copy.

    NUL characters and lone surrogates become U+FFFD. Raises LiveDeskProtocolError, saying
    why, for NaN or Infinity, a huge number, nesting deeper than MAX_DEPTH, a string over
    `max_string` bytes or a whole over about `max_total` bytes of JSON.
    """
    if _is_clean(value, max_string=max_string, max_total=max_total):
        return value
    cleaner = _Cleaner(max_string=max_string, max_total=max_total, what=what)
    return cleaner.child(value, 0)


# Canonical JSON: the same value, the same text (keys sorted, no spaces, text kept as is).
CANONICAL_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def object_clean_texts(value: Any, *, max_string: int, max_total: int) -> dict[str, str] | None:
    """When the decoded JSON object `value` surely needs no cleaning (see json_clean): the
    canonical JSON text of each of its members that is an object or a list, by key; else None.

    The check a sync makes of every contact, so it costs one C-speed serialisation of each
    nested member, which callers keep (the mirror stores and digests these very texts), and a
    look at the top-level texts, instead of a serialisation of the whole object that is thrown
    away. Conservative like `_is_clean`: None sends the object through json_clean.
    """
    if not isinstance(value, dict):
        return None
    texts: dict[str, str] = {}
    parts: list[str] = []
    for key, item in value.items():
        if not isinstance(key, str):
            return None
        parts.append(key)
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, dict | list):
            try:
                text = CANONICAL_JSON.encode(item)
            except (TypeError, ValueError, RecursionError):  # Refused, NaN, a huge int
                return None
            # The object itself is one level: its members may nest one level less.
            if "\\u0000" in text or text.count("[") + text.count("{") >= MAX_DEPTH:
                return None
            texts[key] = text
            parts.append(text)
        elif not _is_plain_scalar(item):
            return None
    joined = "".join(parts)
    if "\x00" in joined:
        return None
    try:
        size = len(joined) if joined.isascii() else len(joined.encode())  # lone surrogates raise
    except UnicodeEncodeError:
        return None
    return texts if size <= min(max_string, max_total) else None


def _is_plain_scalar(value: Any) -> bool:
    """None, a bool, a finite float or an int Python can write as text."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):  # bool included
        return -_INT_LIMIT < value < _INT_LIMIT
    return value is None


def _is_clean(value: Any, *, max_string: int, max_total: int) -> bool:
    """Whether `value` surely needs no cleaning, told at C speed from its JSON text.

    Conservative: brackets or an escaped NUL inside a text send the value through the full
    walk, which then finds it clean.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        size = len(text) if text.isascii() else len(text.encode())  # lone surrogates raise
    except (TypeError, ValueError, RecursionError):  # Refused, NaN, an int over 4300 digits
        return False
    return (
        size <= min(max_string, max_total)
        and "\\u0000" not in text
        and text.count("[") + text.count("{") <= MAX_DEPTH
    )


class _Cleaner:
    """One walk over a value; containers take their children in a loop, not a call each."""

    def __init__(self, *, max_string: int, max_total: int, what: str):
        self.max_string = max_string
        self.max_total = max_total
        self.what = what
        self.size = 0

    def refuse(self, reason: str) -> LiveDeskProtocolError:
        return LiveDeskProtocolError(f"LiveDesk sent {self.what} {reason}.")

    def child(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict | list):
            return self.container(value, depth + 1)
        self.scalar(value)
        return value

    def container(self, value: dict | list, depth: int) -> dict | list:
        if depth > MAX_DEPTH:
            raise self.refuse(f"nested deeper than {MAX_DEPTH} levels")
        items = []
        for item in value.values() if isinstance(value, dict) else value:
            if isinstance(item, str):
                if item.isascii() and "\x00" not in item and len(item) <= self.max_string:
                    self.size += len(item) + 3  # the common case, without a call
                else:
                    item = self.text(item)
            elif isinstance(item, dict | list):
                item = self.container(item, depth + 1)
            elif item is not None and not isinstance(item, bool):
                self.scalar(item)
            items.append(item)
        self.size += 2 + 3 * len(items)
        if self.size > self.max_total:
            raise self.refuse(f"larger than {size_text(self.max_total)} of JSON")
        if isinstance(value, list):
            return items
        if not all(isinstance(key, str) for key in value):
            raise self.refuse("with an object key that is not text")
        return dict(zip(map(self.text, value), items, strict=True))

    def text(self, text: str) -> str:
        if len(text) > self.max_string:
            raise self.refuse(f"with a text over {size_text(self.max_string)}")
        cleaned = text_clean(text)
        size = len(cleaned) if cleaned.isascii() else len(cleaned.encode())
        if size > self.max_string:
            raise self.refuse(f"with a text over {size_text(self.max_string)}")
        self.size += size
        return cleaned

    def scalar(self, value: Any) -> None:
        if value is None or isinstance(value, bool):
            return
        if isinstance(value, int):
            if not -_INT_LIMIT < value < _INT_LIMIT:
                raise self.refuse(f"with a number over {MAX_INT_DIGITS} digits")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise self.refuse(f"with {_constant_name(value)}, which JSON does not allow")
        elif isinstance(value, Refused):
            raise self.refuse(f"with {value.text}, which this app does not accept")
        else:
            raise self.refuse(f"with a value JSON cannot hold ({type(value).__name__})")
        self.size += 8


def json_preview(value: Any, *, depth: int = 0) -> Any:
    """A short excerpt of any decoded value that is safe to show, log and store; never raises."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _excerpt(value)
    if isinstance(value, int):
        return value if -_INT_LIMIT < value < _INT_LIMIT else "(a number too long to show)"
    if isinstance(value, float):
        return value if math.isfinite(value) else _constant_name(value)
    if isinstance(value, Refused):
        return value.text
    if depth >= 4 and isinstance(value, dict | list):
        return "..."
    if isinstance(value, list):
        return [json_preview(item, depth=depth + 1) for item in value[:20]]
    if isinstance(value, dict):
        items = list(value.items())[:20]
        return {
            _excerpt(key if isinstance(key, str) else type(key).__name__): json_preview(
                item, depth=depth + 1
            )
            for key, item in items
        }
    return type(value).__name__


def text_excerpt(text: str, limit: int = 2000) -> str:
    """The start of a text, safe to store and show."""
    return text_clean(text[:limit])


def _excerpt(text: str, limit: int = 200) -> str:
    return text_clean(text if len(text) <= limit else text[:limit] + "...")


def _constant_name(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def size_text(limit: int) -> str:
    """A size in bytes in words: "10 MiB", "1000 bytes"."""
    return f"{limit / MIB:g} MiB" if limit >= MIB else f"{limit} bytes"
