"""Unit tier: the provider's code against mocked transports, never a network.

Fixtures (builders of answers shaped like the spec live in ``helpers.py``):

* ``primo_conn(conn_id="primo_unit", **fields)`` sets ``AIRFLOW_CONN_<ID>`` (JSON form) for the test and
  returns the connection id; the API key is :data:`SENTINEL_KEY` and the host :data:`BASE_URL`.
* ``hook`` - a :class:`PrimoHook` on ``primo_unit`` whose sleeps are recorded in ``sleeps`` instead of
  waited; ``http`` - an active ``requests_mock.Mocker`` (no real HTTP: unknown URLs raise).
* ``logs`` - everything the provider logs, through structlog (Airflow 3) and stdlib logging (Airflow 2).
* ``airflow_db`` - a migrated SQLite metadata DB in the throwaway AIRFLOW_HOME, created once per session
  and only for the tests that need one; ``unit_dags_bundle`` - the DAG bundle on ``tests/unit/dags``,
  configured for the duration of one test module.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests_mock

from .helpers import (
    BASE_URL,
    CONN_ID,
    DAGS_FOLDER,
    PARSE_CHECK_PROCESS,
    SENTINEL_KEY,
    CapturedLogs,
    start_parse_check,
)

# --- connections, hooks, HTTP -----------------------------------------------------------------------


@pytest.fixture
def primo_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Set a Primo connection through ``AIRFLOW_CONN_<ID>`` (JSON form) for this test."""

    def make(conn_id: str = CONN_ID, *, extra: dict[str, Any] | None = None, **fields: Any) -> str:
        conn: dict[str, Any] = {"conn_type": "primo", "host": BASE_URL, "password": SENTINEL_KEY}
        conn.update(fields)
        if extra is not None:
            conn["extra"] = extra
        conn = {key: value for key, value in conn.items() if value is not None}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make


@pytest.fixture
def sleeps() -> list[float]:
    """The waits a hook asked for, in order (the ``hook`` fixture never really sleeps)."""
    return []


@pytest.fixture
def make_hook(primo_conn: Callable[..., str], sleeps: list[float]) -> Callable[..., Any]:
    """``make_hook(max_retries=3, **conn_fields)``: a PrimoHook on a fresh ``primo_unit`` connection."""
    from primo_provider.hooks.primo import PrimoHook

    def make(max_retries: int | None = 3, extra: dict[str, Any] | None = None, **fields: Any) -> PrimoHook:
        extra = dict(extra or {})
        if max_retries is not None:
            extra.setdefault("max_retries", max_retries)
        hook = PrimoHook(primo_conn_id=primo_conn(extra=extra, **fields))
        hook._sleep = sleeps.append
        return hook

    return make


@pytest.fixture
def hook(make_hook: Callable[..., Any]) -> Any:
    """A PrimoHook on ``primo_unit`` (3 retries), recording its sleeps in ``sleeps``."""
    return make_hook()


@pytest.fixture
def http() -> Iterator[requests_mock.Mocker]:
    """requests-mock, active for the test; a request to an unregistered URL raises NoMockAddress."""
    with requests_mock.Mocker(real_http=False) as mocker:
        yield mocker


# --- logs -------------------------------------------------------------------------------------------


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[CapturedLogs]:
    """Hooks log through structlog on Airflow 3 (which caplog does not see) and stdlib logging on 2."""
    caplog.set_level(logging.DEBUG)
    try:
        from structlog.testing import capture_logs
    except ImportError:  # pragma: no cover - Airflow 2 without structlog
        yield CapturedLogs([], caplog)
        return
    with capture_logs() as events:
        yield CapturedLogs(events, caplog)


# --- Airflow metadata DB, for the tests that run DAGs -----------------------------------------------


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A metadata DB for ``dag.test()``: SQLite in the throwaway AIRFLOW_HOME, created once per session."""
    from airflow import settings
    from airflow.utils import db

    if settings.engine is None:  # pragma: no cover - Airflow configures the ORM on import
        settings.configure_orm()
    backend = settings.engine.url
    if backend.get_backend_name() != "sqlite" or not str(backend.database or "").startswith(
        os.environ["AIRFLOW_HOME"]
    ):
        pytest.fail(f"the unit tier runs DAGs on a throwaway SQLite DB only, not on {backend!r}")
    db.initdb()
    return Path(str(backend.database))


@pytest.fixture(scope="module")
def unit_dags_bundle(airflow_db: Path) -> Iterator[Path]:
    """While a module runs, the only DAG bundle is ``tests/unit/dags`` (``dag.test()`` parses it)."""
    bundles = [
        {
            "name": "primo-unit-dags",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(DAGS_FOLDER), "refresh_interval": 0},
        }
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
        yield DAGS_FOLDER


# --- the DAG-parse check runs in a fresh interpreter, started early to overlap the other tests -------


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(
        item.originalname == "test_importing_and_constructing_operators_is_cheap" for item in session.items
    ):
        session.config.stash[PARSE_CHECK_PROCESS] = start_parse_check()


def pytest_sessionfinish(session: pytest.Session) -> None:
    process = session.config.stash.get(PARSE_CHECK_PROCESS, None)
    if process is not None and process.poll() is None:
        process.kill()
        process.communicate()
