"""Reliability tier: the provider against the local sandbox over real HTTP, with faults injected.

Fixtures:

* ``sandbox`` - one :class:`~primo_provider.sandbox.PrimoSandbox` for the session, emptied (tickets,
  request log, faults) before every test.
* ``primo_conn(**extra)`` - sets ``AIRFLOW_CONN_PRIMO_RELIABILITY`` to the sandbox, with a short client
  timeout (:data:`TIMEOUT`) and any other connection extras, and returns the connection id.
* ``hook`` - a :class:`~primo_provider.hooks.primo.PrimoHook` on that connection whose backoff sleeps are
  recorded in ``sleeps`` instead of waited, and whose log goes to stdlib logging (so ``caplog`` sees it on
  Airflow 2 and 3 alike).
* ``fault_table`` - rows ``(fault, call, result, requests)`` printed as a table at the end of the run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook
from primo_provider.sandbox import PrimoSandbox

CONN_ID = "primo_reliability"
API_KEY = "reliability-key-5b1e"
#: The client timeout of the test connection: far above a local answer, short enough to keep timeouts cheap.
TIMEOUT = 0.5
LOGGER = "primo.reliability"

_TABLE = pytest.StashKey[list[tuple[str, str, str, str]]]()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[PrimoSandbox]:
    with PrimoSandbox(api_key=API_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_sandbox(sandbox: PrimoSandbox) -> None:
    sandbox.reset()


@pytest.fixture
def primo_conn(sandbox: PrimoSandbox, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``primo_conn(conn_id=CONN_ID, host=..., password=..., **extra)``: set a connection, return its id."""

    def make(
        conn_id: str = CONN_ID, *, host: str | None = None, password: str | None = API_KEY, **extra: Any
    ):
        conn: dict[str, Any] = {
            "conn_type": "primo",
            "host": host or sandbox.url,
            "extra": {"timeout": TIMEOUT},
        }
        if password is not None:
            conn["password"] = password
        conn["extra"].update(extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def test_logger(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return logger


@pytest.fixture
def make_hook(
    primo_conn: Callable[..., str], sleeps: list[float], test_logger: logging.Logger
) -> Callable[..., PrimoHook]:
    """``make_hook(cls=PrimoHook, **extra)``: a hook on a fresh test connection, sleeps recorded."""

    def make(cls: type[PrimoHook] = PrimoHook, **extra: Any) -> PrimoHook:
        hook = cls(primo_conn_id=primo_conn(**extra))
        hook._sleep = sleeps.append
        hook._log = test_logger  # stdlib logging on both Airflow versions, for caplog
        return hook

    return make


@pytest.fixture
def hook(make_hook: Callable[..., PrimoHook]) -> Iterator[PrimoHook]:
    hook = make_hook()
    yield hook
    hook.close()


@pytest.fixture
def async_hook(make_hook: Callable[..., PrimoHook]) -> PrimoAsyncHook:
    return make_hook(PrimoAsyncHook)  # type: ignore[return-value]


@pytest.fixture
def fault_table(request: pytest.FixtureRequest) -> list[tuple[str, str, str, str]]:
    return request.config.stash.setdefault(_TABLE, [])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rows = config.stash.get(_TABLE, [])
    if not rows:
        return
    header = ("fault", "call", "result", "requests (endpoint -> status)")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(3)]
    terminalreporter.write_sep(
        "=", "fault injection: outcome of each call under each fault (sandbox, real HTTP)"
    )
    line = " | ".join(f"{{:<{w}}}" for w in widths) + " | {}"
    terminalreporter.write_line(line.format(*header))
    terminalreporter.write_line("-+-".join("-" * w for w in [*widths, len(header[3])]))
    for row in rows:
        terminalreporter.write_line(line.format(*row))
