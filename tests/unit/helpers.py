"""Constants and builders shared by the unit tests: answers shaped like Primo's, captured logs."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

SENTINEL_KEY = "SENTINEL-KEY-3f9a"
BASE_URL = "http://primo.test"
CONN_ID = "primo_unit"
DAGS_FOLDER = Path(__file__).parent / "dags"


def iso(moment: dt.datetime | None = None) -> str:
    """A timestamp as Primo writes them (UTC, ``Z``)."""
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def summary(ticket_id: str = "tkt-1", **overrides: Any) -> dict[str, Any]:
    """A ticket as ``GET /tickets`` lists it."""
    body: dict[str, Any] = {
        "id": ticket_id,
        "reference": f"REF-{ticket_id}",
        "title": "Disk full on db-1",
        "status": "PENDING",
        "priority": None,
        "assignee": None,
        "dueDate": None,
        "createdAt": "2024-03-01T08:00:00.000Z",
        "updatedAt": "2024-03-01T08:00:00.000Z",
    }
    body.update(overrides)
    return body


def ticket(ticket_id: str = "tkt-1", **overrides: Any) -> dict[str, Any]:
    """A full ticket, as created, fetched or updated."""
    body = summary(ticket_id)
    body.update(description=None, comments=[])
    body.update(overrides)
    return body


def comment(comment_id: str = "cmt-1", text: str = "Looking into it", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": comment_id,
        "text": text,
        "creator": {"type": "API"},
        "createdAt": "2024-03-01T08:00:00.000Z",
    }
    body.update(overrides)
    return body


def employee(employee_id: str, email: str) -> dict[str, Any]:
    first, _, last = email.partition("@")[0].partition(".")
    return {
        "id": employee_id,
        "firstName": first.title(),
        "lastName": last.title(),
        "email": email,
        "teams": [],
        "jobs": [],
        "groups": [],
        "workLocation": None,
        "legalEntity": None,
        "managerId": None,
        "startDate": None,
        "terminationDate": None,
        "deviceIds": [],
        "accessoryIds": [],
        "createdAt": "2023-01-01T00:00:00.000Z",
        "updatedAt": "2023-01-01T00:00:00.000Z",
    }


def page(items: list[dict[str, Any]], number: int = 1, total_pages: int = 1, per_page: int = 100) -> dict:
    return {
        "data": items,
        "pagination": {
            "totalElements": len(items) if total_pages <= 1 else per_page * total_pages,
            "totalPages": total_pages,
            "page": number,
            "perPage": per_page,
        },
    }


def url(path: str) -> str:
    return BASE_URL + path


class CapturedLogs:
    """What was logged, from structlog (the hooks' loggers on Airflow 3) and from stdlib logging."""

    def __init__(self, structlog_events: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
        self._events = structlog_events
        self._caplog = caplog

    @property
    def records(self) -> list[tuple[str, str]]:
        """``(level, message)`` pairs, lower-case level names."""
        events = [(str(e.get("log_level", "")).lower(), _render(e)) for e in self._events]
        records = [(r.levelname.lower(), r.getMessage()) for r in self._caplog.records]
        return events + records

    def messages(self, level: str | None = None) -> list[str]:
        return [message for lvl, message in self.records if level is None or lvl == level]

    @property
    def text(self) -> str:
        """Everything, event fields included, for leak checks."""
        return "\n".join([repr(e) for e in self._events] + [self._caplog.text])


def _render(event: dict[str, Any]) -> str:
    message = str(event.get("event", ""))
    args = event.get("positional_args")
    if args:
        try:
            message = message % args
        except (TypeError, ValueError):
            message = f"{message} {args!r}"
    return message


# --- DAG-parse cheapness, checked in a fresh interpreter --------------------------------------------

PARSE_CHECK = textwrap.dedent(
    """
    import datetime as dt, json, socket, sys

    def no_network(*args, **kwargs):
        raise AssertionError("network I/O while parsing a DAG")

    socket.socket.connect = socket.socket.connect_ex = no_network
    socket.create_connection = socket.getaddrinfo = no_network

    from airflow.providers.common.compat.sdk import DAG, BaseHook, BaseOperator

    def no_lookup(*args, **kwargs):
        raise AssertionError("connection looked up while parsing a DAG")

    BaseHook.get_connection = classmethod(no_lookup)
    before = set(sys.modules)
    from primo_provider.operators.tickets import CreateTicketOperator, UpdateTicketOperator
    imported = set(sys.modules) - before
    with DAG("parse_check", schedule=None, start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)):
        CreateTicketOperator(task_id="c", title="{{ ds }}", assignee_email="a@x.io", primo_conn_id="nope")
        UpdateTicketOperator(task_id="u", ticket_id="t", status="DONE?", primo_conn_id="nope")
    constructed = set(sys.modules) - before
    result = {
        "imported": sorted(imported),
        "constructed": sorted(constructed),
        "requests_loaded": "requests" in set(sys.modules) - before,  # Airflow 2 imports it itself
        "hook_loaded": "primo_provider.hooks.primo" in sys.modules,
    }
    import primo_provider.hooks.primo  # control: the check does see modules once they are loaded
    result["control"] = "primo_provider.hooks.primo" in sys.modules
    print(json.dumps(result))
    """
)


#: Where conftest keeps the parse check it started as soon as collection ended.
PARSE_CHECK_PROCESS = pytest.StashKey[subprocess.Popen]()


def start_parse_check() -> subprocess.Popen:
    """Run :data:`PARSE_CHECK` in a fresh interpreter, without any Primo connection in its environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")}
    return subprocess.Popen(
        [sys.executable, "-c", PARSE_CHECK],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
