"""Checks the hostile-answer tests share: is a value what PostgreSQL stores as it is?"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def _nodes(value: Any) -> Iterator[tuple[Any, int]]:
    """Every value inside a JSON value (objects' keys included) with its level, without
    recursion: objects and lists are at level 1 and deeper, a key at its object's level."""
    todo = [(value, 1)]
    while todo:
        node, level = todo.pop()
        yield node, level
        if isinstance(node, dict):
            todo.extend((key, level) for key in node)
        if isinstance(node, dict | list | tuple):
            children = node.values() if isinstance(node, dict) else node
            todo.extend((child, level + 1) for child in children)


def depth_of(value: Any) -> int:
    """How many levels of objects and lists a JSON value has (a scalar has none)."""
    return max((level for node, level in _nodes(value) if isinstance(node, dict | list)), default=0)


def assert_storable(value: Any) -> None:
    """What PostgreSQL's jsonb and text take: no NaN or Infinity, no NUL, no lone surrogate."""
    json.dumps(value, allow_nan=False)
    for node, _ in _nodes(value):
        if isinstance(node, str):
            assert "\x00" not in node
            node.encode("utf-8")  # raises on a lone surrogate
