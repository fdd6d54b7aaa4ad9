"""One table of bad values for every public entry point, run against the sandbox.

Each row gives a bad value to one argument of a hook method (sync and async), an operator, the sensor, its
trigger or the notifier. Every one must fail with a clear ``TypeError`` or ``ValueError`` whose message
names the argument, and nothing may reach Primo: the sandbox's request log stays empty.

(``tests/unit/test_validation.py`` checks the hook's and operators' messages in detail with requests-mock;
this table is the cross-cutting one: every entry point, over a real connection.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook
from primo_provider.operators.tickets import CreateTicketOperator, UpdateTicketOperator
from primo_provider.sandbox import PrimoSandbox
from primo_provider.sensors.tickets import TicketStatusSensor
from primo_provider.triggers.tickets import TicketStatusTrigger

from .conftest import LOGGER

try:
    from primo_provider.notifications.primo import PrimoNotifier
except ImportError:  # pragma: no cover - being written in parallel
    PrimoNotifier = None  # type: ignore[assignment,misc]

ID = "tkt_0123456789abcdef01234567"
BAD = object()  # marks the field that gets the row's bad value


@dataclass
class Env:
    conn_id: str
    hook: PrimoHook
    async_hook: PrimoAsyncHook
    logger: logging.Logger


Row = tuple[str, str, Any, Callable[[Env, Any], Any]]

BLANKS: list[Any] = ["", "   ", None, 42]
ENUMS = ["URGENT", "done", 3]
DATES: list[Any] = [
    "2024-02-30",
    "2023-02-29",
    "2024-13-01",
    "2024-05-01T25:00:00Z",
    "next tuesday",
    1714579200,
    3.5,
    dt.time(17, 0),
]


def _rows() -> list[Row]:
    rows: list[Row] = []

    def add(entry: str, arg: str, values: list[Any], call: Callable[[Env, Any], Any]) -> None:
        rows.extend((entry, arg, value, call) for value in values)

    # --- PrimoHook ------------------------------------------------------------------------------
    add("PrimoHook.create_ticket", "title", [*BLANKS, ["a list"]], lambda e, v: e.hook.create_ticket(v))
    add(
        "PrimoHook.create_ticket",
        "description",
        [42, b"bytes"],
        lambda e, v: e.hook.create_ticket("t", description=v),
    )
    add(
        "PrimoHook.create_ticket",
        "assignee_employee_id",
        [42, ["emp"]],
        lambda e, v: e.hook.create_ticket("t", assignee_employee_id=v),
    )
    add("PrimoHook.create_ticket", "priority", ENUMS, lambda e, v: e.hook.create_ticket("t", priority=v))
    add("PrimoHook.create_ticket", "due_date", DATES, lambda e, v: e.hook.create_ticket("t", due_date=v))
    add("PrimoHook.get_ticket", "ticket_id", BLANKS, lambda e, v: e.hook.get_ticket(v))
    for arg in ("status", "priority", "sort_by", "sort_direction"):
        add(
            "PrimoHook.list_tickets",
            arg,
            ["nonsense", 7],
            lambda e, v, arg=arg: e.hook.list_tickets(**{arg: v}),
        )
    for arg in ("search_term", "assignee_employee_id"):
        add("PrimoHook.list_tickets", arg, [7], lambda e, v, arg=arg: e.hook.list_tickets(**{arg: v}))
    add(
        "PrimoHook.update_ticket_status",
        "ticket_id",
        BLANKS,
        lambda e, v: e.hook.update_ticket_status(v, "PENDING"),
    )
    add(
        "PrimoHook.update_ticket_status",
        "status",
        [*ENUMS, "", None],
        lambda e, v: e.hook.update_ticket_status(ID, v),
    )
    add(
        "PrimoHook.update_ticket_priority",
        "ticket_id",
        BLANKS,
        lambda e, v: e.hook.update_ticket_priority(v, "LOW"),
    )
    add(
        "PrimoHook.update_ticket_priority",
        "priority",
        ENUMS,
        lambda e, v: e.hook.update_ticket_priority(ID, v),
    )
    add(
        "PrimoHook.update_ticket_assignee",
        "ticket_id",
        BLANKS,
        lambda e, v: e.hook.update_ticket_assignee(v, "emp"),
    )
    add(
        "PrimoHook.update_ticket_assignee",
        "assignee_employee_id",
        BLANKS,
        lambda e, v: e.hook.update_ticket_assignee(ID, v),
    )
    add("PrimoHook.add_comment", "ticket_id", BLANKS, lambda e, v: e.hook.add_comment(v, "text"))
    add("PrimoHook.add_comment", "text", BLANKS, lambda e, v: e.hook.add_comment(ID, v))
    add("PrimoHook.get_employee", "employee_id", BLANKS, lambda e, v: e.hook.get_employee(v))
    add("PrimoHook.find_employee_by_email", "email", BLANKS, lambda e, v: e.hook.find_employee_by_email(v))
    for secret in ("api_key", "password", "token"):
        add(
            "PrimoHook()",
            secret,
            ["k3y"],
            lambda e, v, s=secret: PrimoHook(primo_conn_id=e.conn_id, **{s: v}),
        )

    # --- PrimoAsyncHook -------------------------------------------------------------------------
    def run(coro_factory: Callable[[], Any]) -> Any:
        return asyncio.run(coro_factory())

    async def first(iterator: Any) -> Any:
        async for item in iterator:
            return item
        return None

    add(
        "PrimoAsyncHook.acreate_ticket",
        "title",
        BLANKS,
        lambda e, v: run(lambda: e.async_hook.acreate_ticket(v)),
    )
    add(
        "PrimoAsyncHook.acreate_ticket",
        "due_date",
        DATES[:3],
        lambda e, v: run(lambda: e.async_hook.acreate_ticket("t", due_date=v)),
    )
    add(
        "PrimoAsyncHook.aget_ticket",
        "ticket_id",
        BLANKS,
        lambda e, v: run(lambda: e.async_hook.aget_ticket(v)),
    )
    add(
        "PrimoAsyncHook.aadd_comment",
        "text",
        BLANKS,
        lambda e, v: run(lambda: e.async_hook.aadd_comment(ID, v)),
    )
    add(
        "PrimoAsyncHook.aupdate_ticket_status",
        "status",
        ENUMS,
        lambda e, v: run(lambda: e.async_hook.aupdate_ticket_status(ID, v)),
    )
    add(
        "PrimoAsyncHook.alist_tickets",
        "status",
        ENUMS,
        lambda e, v: run(lambda: first(e.async_hook.alist_tickets(status=v))),
    )

    # --- operators ------------------------------------------------------------------------------
    def create_op(**fields: Any) -> Callable[[Env, Any], Any]:
        def call(e: Env, v: Any) -> Any:
            values = {"title": "Laptop", **fields}
            values = {key: (v if value is BAD else value) for key, value in values.items()}
            return CreateTicketOperator(task_id="create", primo_conn_id=e.conn_id, **values).execute({})

        return call

    def update_op(**fields: Any) -> Callable[[Env, Any], Any]:
        def call(e: Env, v: Any) -> Any:
            values = {"ticket_id": ID, **fields}
            values = {key: (v if value is BAD else value) for key, value in values.items()}
            return UpdateTicketOperator(task_id="update", primo_conn_id=e.conn_id, **values).execute({})

        return call

    add("CreateTicketOperator", "title", BLANKS, create_op(title=BAD))
    add("CreateTicketOperator", "description", [42], create_op(description=BAD))
    add("CreateTicketOperator", "priority", ENUMS, create_op(priority=BAD))
    add("CreateTicketOperator", "due_date", DATES, create_op(due_date=BAD))
    add("CreateTicketOperator", "assignee_employee_id", [42], create_op(assignee_employee_id=BAD))
    add("CreateTicketOperator", "assignee_email", [42], create_op(assignee_email=BAD))
    add(
        "CreateTicketOperator",
        "assignee_email",
        ["ada.lovelace@example.com"],
        create_op(assignee_employee_id="emp_1", assignee_email=BAD),
    )
    add("UpdateTicketOperator", "ticket_id", BLANKS, update_op(ticket_id=BAD, status="COMPLETED"))
    add("UpdateTicketOperator", "status", ENUMS, update_op(status=BAD))
    add("UpdateTicketOperator", "priority", ENUMS, update_op(priority=BAD))
    add("UpdateTicketOperator", "assignee_employee_id", [42], update_op(assignee_employee_id=BAD))
    add(
        "UpdateTicketOperator",
        "assignee_email",
        ["ada.lovelace@example.com"],
        update_op(assignee_employee_id="emp_1", assignee_email=BAD),
    )

    # --- sensor and trigger ---------------------------------------------------------------------
    def sensor(**fields: Any) -> Callable[[Env, Any], Any]:
        def call(e: Env, v: Any) -> Any:
            values = {"ticket_id": ID, **fields}
            values = {key: (v if value is BAD else value) for key, value in values.items()}
            deferrable = values.pop("deferrable", False)
            op = TicketStatusSensor(task_id="wait", primo_conn_id=e.conn_id, deferrable=deferrable, **values)
            return op.execute({}) if deferrable else op.poke({})

        return call

    add(
        "TicketStatusSensor",
        "target_statuses",
        [*ENUMS, [], ["COMPLETED", "DONE"], {"COMPLETED": 1}],
        sensor(target_statuses=BAD),
    )
    add("TicketStatusSensor", "failure_statuses", ["NEVER", ["COMPLETED"], 5], sensor(failure_statuses=BAD))
    add("TicketStatusSensor", "ticket_id", BLANKS, sensor(ticket_id=BAD))
    add("TicketStatusSensor(deferrable)", "ticket_id", BLANKS, sensor(ticket_id=BAD, deferrable=True))
    add("TicketStatusTrigger", "ticket_id", BLANKS, lambda e, v: TicketStatusTrigger(ticket_id=v))
    add(
        "TicketStatusTrigger",
        "target_statuses",
        ENUMS,
        lambda e, v: TicketStatusTrigger(ID, target_statuses=v),
    )
    add(
        "TicketStatusTrigger",
        "poke_interval",
        [-1, "60", True],
        lambda e, v: TicketStatusTrigger(ID, poke_interval=v),
    )
    add(
        "TicketStatusTrigger",
        "primo_conn_id",
        BLANKS[:2],
        lambda e, v: TicketStatusTrigger(ID, primo_conn_id=v),
    )

    # --- notifier (construction checks every value that is not a template) -----------------------
    if PrimoNotifier is not None:
        for arg, values in {
            "action": ["close", 1],
            "title": [42],
            "description": [42],
            "priority": ENUMS,
            "assignee_employee_id": [42],
            "due_date": DATES,
            "fingerprint": ["!!!", 42],
            "primo_conn_id": BLANKS,
        }.items():
            add("PrimoNotifier", arg, values, lambda e, v, arg=arg: PrimoNotifier(**{arg: v}))
    return rows


ROWS = _rows()


def _id(row: Row) -> str:
    entry, arg, value, _call = row
    return f"{entry}-{arg}={value!r}"


@pytest.fixture
def env(primo_conn, test_logger: logging.Logger) -> Env:
    conn_id = primo_conn()
    async_hook = PrimoAsyncHook(primo_conn_id=conn_id)
    return Env(conn_id, PrimoHook(primo_conn_id=conn_id), async_hook, test_logger)


@pytest.mark.parametrize("row", ROWS, ids=[_id(row) for row in ROWS])
def test_bad_value_fails_naming_the_argument_before_any_request(
    row: Row, env: Env, sandbox: PrimoSandbox
) -> None:
    entry, arg, value, call = row
    with pytest.raises((TypeError, ValueError)) as raised:
        call(env, value)
    message = str(raised.value)
    assert arg in message, f"{entry}: {message!r} does not name {arg!r}"
    assert sandbox.requests == []


# --- templated values are checked when the notifier fires: it logs, names the argument, sends nothing ---


@pytest.mark.skipif(PrimoNotifier is None, reason="primo_provider.notifications.primo not written yet")
@pytest.mark.parametrize(
    ("arg", "template"),
    [("priority", "{{ 'urgent' }}"), ("due_date", "{{ '2024-02-30' }}"), ("fingerprint", "{{ '!!!' }}")],
)
def test_notifier_logs_a_rendered_bad_value_and_sends_nothing(
    arg: str, template: str, env: Env, sandbox: PrimoSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = PrimoNotifier(primo_conn_id=env.conn_id, **{arg: template})
    notifier._log = env.logger
    context = {
        "ti": SimpleNamespace(dag_id="sales", task_id="load", state="failed", try_number=1, max_tries=0),
        "run_id": "manual__1",
        "exception": RuntimeError("boom"),
    }
    notifier(context)  # never raises into Airflow

    logged = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]
    assert len(logged) == 1 and f"{arg}:" in logged[0], logged
    assert sandbox.requests == []
