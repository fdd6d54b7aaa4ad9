"""Fixtures for the sandbox's own tests: a started sandbox and an authenticated client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from primo_provider.sandbox import PrimoSandbox

from .helpers import Client


@pytest.fixture
def sandbox() -> Iterator[PrimoSandbox]:
    with PrimoSandbox() as started:
        yield started


@pytest.fixture
def client(sandbox: PrimoSandbox) -> Iterator[Client]:
    c = Client(sandbox)
    yield c
    c.close()
