"""Fixtures of the manifests tests: fixture files live next to this file, named after the test."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from ingressctl.manifests import LoadResult, load_paths

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def load_yaml() -> Callable[[str], LoadResult]:
    """Load YAML text the way `ingressctl validate -` does (through stdin)."""

    def load(text: str) -> LoadResult:
        return load_paths(["-"], stdin=io.StringIO(text))

    return load
