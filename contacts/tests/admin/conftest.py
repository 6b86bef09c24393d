"""Fixtures of the admin tests."""

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _countries_not_cached():
    cache.clear()
