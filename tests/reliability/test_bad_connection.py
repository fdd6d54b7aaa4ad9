"""Bad Airflow connections: a clear error naming the connection id, before any request, never the key.

Each broken connection is used through every kind of entry point (sync and async hook, operator, sensor,
the UI's connection test and the notifier). The DAG-level check (a real task run with a broken
``AIRFLOW_CONN_PRIMO_DEFAULT``) is in ``tests/integration/test_secrets.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from primo_provider.exceptions import PrimoConnectionConfigError
from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook
from primo_provider.notifications.primo import PrimoNotifier
from primo_provider.operators.tickets import CreateTicketOperator
from primo_provider.sandbox import PrimoSandbox
from primo_provider.sensors.tickets import TicketStatusSensor

from .conftest import API_KEY, LOGGER

CONN = "primo_broken"
ID = "tkt_0123456789abcdef01234567"

BROKEN: dict[str, tuple[dict[str, Any], str]] = {
    "no API key": ({"password": None}, "no API key"),
    "blank API key": ({"password": "  \t"}, "no API key"),
    "ftp host": ({"host": "ftp://127.0.0.1"}, "is not an http(s) URL"),
    "scheme only": ({"host": "https://"}, "is not an http(s) URL"),
    "query in host": ({"host": "https://api.getprimo.com/?v=1"}, "is not an http(s) URL"),
    "port out of range": ({"host": "http://127.0.0.1:70000"}, "has an invalid port"),
    "port not a number": ({"host": "http://127.0.0.1:http"}, "has an invalid port"),
    "unclosed IPv6 bracket": ({"host": "http://[::1"}, "is not a valid URL"),
    "space in host name": ({"host": "http://api.get primo.com"}, "malformed host name"),
    "credentials in host": ({"host": f"http://me:{API_KEY}@127.0.0.1:1"}, "must not hold credentials"),
    "unknown extra": ({"retries": 3}, "unknown extra field(s) retries"),
    "misspelt prefixed extra": ({"extra__primo__time_out": 3}, "unknown extra field(s) time_out"),
    "timeout not a number": ({"timeout": "soon"}, "extra timeout='soon'"),
    "timeout zero": ({"timeout": 0}, "extra timeout=0"),
    "timeout infinite": ({"timeout": "inf"}, "extra timeout='inf'"),
    "max_retries negative": ({"max_retries": -1}, "extra max_retries=-1"),
    "max_retries fraction": ({"max_retries": 1.5}, "extra max_retries=1.5"),
    "max_retries boolean": ({"max_retries": True}, "extra max_retries=True"),
    "company_id not text": ({"company_id": 7}, "company_id must be a string"),
    "verify not a flag": ({"verify": 3}, "extra verify must be"),
    "verify missing bundle": ({"host": "https://127.0.0.1:1", "verify": "/no/such/ca.pem"}, "CA bundle"),
}


def _through_hook(conn_id: str) -> Any:
    return PrimoHook(primo_conn_id=conn_id).get_ticket(ID)


def _through_async_hook(conn_id: str) -> Any:
    hook = PrimoAsyncHook(primo_conn_id=conn_id)

    async def run() -> Any:
        try:
            return await hook.aget_ticket(ID)
        finally:
            await hook.aclose()

    return asyncio.run(run())


def _through_operator(conn_id: str) -> Any:
    return CreateTicketOperator(task_id="create", title="Laptop", primo_conn_id=conn_id).execute({})


def _through_sensor(conn_id: str) -> Any:
    return TicketStatusSensor(task_id="wait", ticket_id=ID, primo_conn_id=conn_id).poke({})


ENTRY_POINTS: dict[str, Callable[[str], Any]] = {
    "PrimoHook.get_ticket": _through_hook,
    "PrimoAsyncHook.aget_ticket": _through_async_hook,
    "CreateTicketOperator.execute": _through_operator,
    "TicketStatusSensor.poke": _through_sensor,
}


def _connect(primo_conn: Callable[..., str], fields: dict[str, Any]) -> str:
    conn_fields = {key: fields[key] for key in ("host", "password") if key in fields}
    extra = {key: value for key, value in fields.items() if key not in ("host", "password")}
    return primo_conn(CONN, **conn_fields, **extra)


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_broken_connection_fails_clearly_before_any_request(
    broken: str, entry: str, primo_conn, sandbox: PrimoSandbox
) -> None:
    fields, problem = BROKEN[broken]
    conn_id = _connect(primo_conn, fields)

    with pytest.raises(PrimoConnectionConfigError) as raised:
        ENTRY_POINTS[entry](conn_id)

    message = str(raised.value)
    assert message.startswith(f"Primo connection {CONN!r}: "), message
    assert problem in message, message
    assert API_KEY not in message and API_KEY not in repr(raised.value)
    assert isinstance(raised.value, ValueError)
    assert sandbox.requests == []


@pytest.mark.parametrize("broken", ["no API key", "credentials in host", "unknown extra"])
def test_the_ui_connection_test_reports_the_problem(broken: str, primo_conn, sandbox: PrimoSandbox) -> None:
    fields, problem = BROKEN[broken]
    ok, message = PrimoHook(primo_conn_id=_connect(primo_conn, fields)).test_connection()
    assert not ok
    assert message.startswith(f"Primo connection {CONN!r}: ") and problem in message
    assert API_KEY not in message
    assert sandbox.requests == []


def test_the_notifier_logs_the_problem_and_sends_nothing(
    primo_conn, sandbox: PrimoSandbox, test_logger: logging.Logger, caplog
) -> None:
    conn_id = _connect(primo_conn, BROKEN["no API key"][0])
    notifier = PrimoNotifier(primo_conn_id=conn_id, fingerprint="sales.load", title="Load failed")
    notifier._log = test_logger
    notifier.notify({"run_id": "manual__1", "reason": "task_failure"})

    [logged] = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]
    assert f"Primo connection {CONN!r}: no API key" in logged
    assert sandbox.requests == []


def test_a_missing_connection_names_the_connection_id(sandbox: PrimoSandbox) -> None:
    with pytest.raises(Exception, match="primo_nowhere"):
        PrimoHook(primo_conn_id="primo_nowhere").get_ticket(ID)
    assert sandbox.requests == []
