"""pytest fixtures for the Primo sandbox (registered as the ``primo_sandbox`` pytest11 entry point).

Cheap to import: the sandbox itself is imported when a fixture is first used, and Airflow never is.

- ``primo_sandbox``: a started :class:`~primo_provider.sandbox.PrimoSandbox` on a free port, stopped after
  the test.
- ``primo_sandbox_session``: one sandbox for the whole session; call ``.reset()`` yourself where needed.
- ``primo_connection``: ``primo_sandbox`` with ``AIRFLOW_CONN_PRIMO_DEFAULT`` set (JSON form) for the
  test, so ``PrimoHook()`` with its default connection id talks to the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from primo_provider.sandbox import PrimoSandbox

__all__ = ["primo_connection", "primo_sandbox", "primo_sandbox_session"]

CONNECTION_ENV_VAR = "AIRFLOW_CONN_PRIMO_DEFAULT"


@pytest.fixture
def primo_sandbox() -> Iterator[PrimoSandbox]:
    """A started sandbox (random port, default employees) for one test."""
    from primo_provider.sandbox import PrimoSandbox

    with PrimoSandbox() as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def primo_sandbox_session() -> Iterator[PrimoSandbox]:
    """One started sandbox shared by the session; state persists between tests unless reset."""
    from primo_provider.sandbox import PrimoSandbox

    with PrimoSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def primo_connection(primo_sandbox: PrimoSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrimoSandbox]:
    """``primo_sandbox`` with ``AIRFLOW_CONN_PRIMO_DEFAULT`` pointing at it for the test's duration."""
    monkeypatch.setenv(CONNECTION_ENV_VAR, primo_sandbox.connection_json)
    yield primo_sandbox
