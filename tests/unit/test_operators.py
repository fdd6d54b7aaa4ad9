"""CreateTicketOperator and UpdateTicketOperator.

Templates are rendered by Airflow itself: the DAGs in ``tests/unit/dags`` run in-process with
``dag.test()`` on a throwaway SQLite DB while requests-mock answers for Primo, so the real hook sends the
real rendered request and Airflow stores the real XCom.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
from airflow import __version__ as AIRFLOW_VERSION

from primo_provider.operators.tickets import CreateTicketOperator, UpdateTicketOperator

from .helpers import PARSE_CHECK_PROCESS, employee, page, start_parse_check, ticket, url


def calls(http: Any) -> list[str]:
    return [f"{r.method} {urlsplit(r.url).path}" for r in http.request_history]


@pytest.fixture(scope="module")
def dags(unit_dags_bundle: Path) -> ModuleType:
    """The DAG file the bundle holds, imported once (dag.test() needs the DAG serialized from it)."""
    spec = importlib.util.spec_from_file_location("primo_unit_dags", unit_dags_bundle / "primo_unit_dags.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


AIRFLOW_V_3 = int(AIRFLOW_VERSION.split(".")[0]) >= 3


def run_dag(dag: Any, day: int, **kwargs: Any) -> Any:
    when = dt.datetime(2024, 3, day, tzinfo=dt.UTC)
    if AIRFLOW_V_3:
        return dag.test(logical_date=when, **kwargs)
    return dag.test(execution_date=when, **kwargs)


def xcom(dag_run: Any, task_id: str) -> Any:
    return dag_run.get_task_instance(task_id).xcom_pull(task_ids=task_id)


def rendered_fields(dag_run: Any, task_id: str) -> dict[str, Any]:
    """What Airflow stored as the task's rendered template fields (what the UI shows)."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields

    return RenderedTaskInstanceFields.get_templated_fields(dag_run.get_task_instance(task_id))


# --- rendering through Airflow ----------------------------------------------------------------------


def test_create_ticket_renders_templates_and_pushes_the_ticket_to_xcom(dags, primo_conn, http):
    primo_conn()
    answer = ticket("tkt-1", reference="T-00042", title="Disk full on primo_unit_create (2024-03-01)")
    http.post(url("/tickets"), json=answer, status_code=201)

    dag_run = run_dag(dags.create_dag, 1)

    assert dag_run.state == "success"
    [request] = http.request_history
    assert request.json() == {
        "title": "Disk full on primo_unit_create (2024-03-01)",
        "description": f"## Run `{dag_run.run_id}`\n\n* logical date: 2024-03-01\n* task: create",
        "assigneeEmployeeId": "emp-7",
        "priority": "HIGH",
        "dueDate": "2024-03-08T15:00:00Z",
    }
    assert xcom(dag_run, "create") == answer
    assert xcom(dag_run, "announce") == "T-00042: Disk full on primo_unit_create (2024-03-01)"
    shown = rendered_fields(dag_run, "create")
    assert shown["description"] == request.json()["description"]
    assert shown["primo_conn_id"] == "primo_unit"


def test_run_conf_changes_what_is_rendered_and_which_connection_is_used(dags, primo_conn, http):
    primo_conn()
    primo_conn("primo_other", host="http://other.primo.test")
    http.post("http://other.primo.test/tickets", json=ticket())

    dag_run = run_dag(
        dags.create_dag, 2, run_conf={"conn_id": "primo_other", "assignee": "", "priority": "Low"}
    )

    assert dag_run.state == "success"
    [request] = http.request_history
    assert request.url == "http://other.primo.test/tickets"
    assert request.json() == {
        "title": "Disk full on primo_unit_create (2024-03-02)",
        "description": f"## Run `{dag_run.run_id}`\n\n* logical date: 2024-03-02\n* task: create",
        "priority": "LOW",
        "dueDate": "2024-03-09T15:00:00Z",
    }


def test_native_rendering_passes_a_datetime_that_is_sent_in_utc(dags, primo_conn, http):
    primo_conn()
    http.post(url("/tickets"), json=ticket())

    dag_run = run_dag(dags.native_dag, 3)

    assert dag_run.state == "success"
    assert http.last_request.json() == {
        "title": "Native run 2024-03-03",
        "priority": "LOW",
        "dueDate": "2024-03-04T06:00:00Z",  # 11:30 in Kolkata (+05:30)
    }
    assert rendered_fields(dag_run, "create")["due_date"] == "2024-03-04 11:30:00+05:30"


def test_assignee_email_is_resolved_through_employee_pages(dags, primo_conn, http):
    primo_conn()
    http.get(
        url("/employees"),
        [
            {"json": page([employee("e1", "grace.hopper@example.com")], 1, 2)},
            {"json": page([employee("e2", "Ada.Lovelace@Example.com")], 2, 2)},
        ],
    )
    http.post(url("/tickets"), json=ticket(assignee={"type": "EMPLOYEE", "employeeId": "e2"}))

    dag_run = run_dag(dags.email_dag, 4)

    assert dag_run.state == "success"
    assert calls(http) == ["GET /employees", "GET /employees", "POST /tickets"]
    assert http.last_request.json() == {
        "title": "Laptop for ada.lovelace@example.com",
        "assigneeEmployeeId": "e2",
    }


def test_unknown_assignee_email_fails_the_task_without_creating_anything(dags, primo_conn, http):
    primo_conn()
    http.get(url("/employees"), json=page([employee("e1", "grace.hopper@example.com")]))
    http.post(url("/tickets"), json=ticket())

    dag_run = run_dag(dags.email_dag, 5, run_conf={"email": "nobody@example.com"})

    assert dag_run.state == "failed"
    assert dag_run.get_task_instance("create").state == "failed"
    assert calls(http) == ["GET /employees"]


def test_create_then_update_with_the_ticket_id_from_xcom(dags, primo_conn, http):
    primo_conn()
    final = ticket("tkt-5", status="IN_PROGRESS", priority="HIGH")
    http.post(url("/tickets"), json=ticket("tkt-5"))
    http.post(url("/tickets/tkt-5/status"), json=ticket("tkt-5", status="IN_PROGRESS"))
    http.post(url("/tickets/tkt-5/priority"), json=ticket("tkt-5", status="IN_PROGRESS", priority="HIGH"))
    http.post(
        url("/tickets/tkt-5/comments"), json={"id": "c1", "text": "x", "createdAt": "2024-03-06T00:00:00Z"}
    )
    http.get(url("/tickets/tkt-5"), json=final)

    dag_run = run_dag(dags.workflow_dag, 6)

    assert dag_run.state == "success"
    assert calls(http) == [
        "POST /tickets",
        "POST /tickets/tkt-5/status",
        "POST /tickets/tkt-5/priority",
        "POST /tickets/tkt-5/comments",
        "GET /tickets/tkt-5",
    ]
    bodies = [r.json() if r.body else None for r in http.request_history]
    assert bodies[1:4] == [
        {"status": "IN_PROGRESS"},
        {"priority": "HIGH"},
        {"text": "Picked up by `primo_unit_workflow` for 2024-03-06"},
    ]
    assert xcom(dag_run, "update") == final


# --- operator logic, with rendered values ----------------------------------------------------------


def update(**kwargs: Any) -> UpdateTicketOperator:
    return UpdateTicketOperator(task_id="update", ticket_id="tkt-1", primo_conn_id="primo_unit", **kwargs)


def test_update_sends_only_the_given_change(primo_conn, http):
    primo_conn()
    answer = ticket(status="COMPLETED")
    http.post(url("/tickets/tkt-1/status"), json=answer)

    assert update(status="completed").execute({}) == answer
    assert calls(http) == ["POST /tickets/tkt-1/status"]


def test_update_sends_changes_in_order_and_returns_the_last_answer(primo_conn, http):
    primo_conn()
    http.post(url("/tickets/tkt-1/status"), json=ticket(status="IN_PROGRESS"))
    http.post(url("/tickets/tkt-1/priority"), json=ticket(status="IN_PROGRESS", priority="LOW"))
    last = ticket(status="IN_PROGRESS", priority="LOW", assignee={"type": "EMPLOYEE", "employeeId": "e9"})
    http.post(url("/tickets/tkt-1/assignee"), json=last)

    result = update(assignee_employee_id="e9", priority="low", status="in_progress").execute({})

    assert result == last
    assert calls(http) == [
        "POST /tickets/tkt-1/status",
        "POST /tickets/tkt-1/priority",
        "POST /tickets/tkt-1/assignee",
    ]
    assert [r.json() for r in http.request_history] == [
        {"status": "IN_PROGRESS"},
        {"priority": "LOW"},
        {"assigneeEmployeeId": "e9"},
    ]


@pytest.mark.parametrize("empty", [None, ""])
def test_update_ignores_changes_rendered_empty(primo_conn, http, empty):
    primo_conn()
    answer = ticket()
    http.get(url("/tickets/tkt-1"), json=answer)

    assert (
        update(status=empty, priority=empty, assignee_employee_id=empty, assignee_email=empty).execute({})
        == answer
    )
    assert calls(http) == ["GET /tickets/tkt-1"]


def test_update_with_a_comment_returns_the_ticket_read_afterwards(primo_conn, http):
    primo_conn()
    http.post(url("/tickets/tkt-1/status"), json=ticket(status="COMPLETED"))
    http.post(
        url("/tickets/tkt-1/comments"), json={"id": "c1", "text": "Done", "createdAt": "2024-03-01T00:00:00Z"}
    )
    final = ticket(status="COMPLETED", comments=[{"id": "c1", "text": "Done"}])
    http.get(url("/tickets/tkt-1"), json=final)

    assert update(status="COMPLETED", comment=" Done ").execute({}) == final
    assert calls(http) == ["POST /tickets/tkt-1/status", "POST /tickets/tkt-1/comments", "GET /tickets/tkt-1"]
    assert http.request_history[1].json() == {"text": "Done"}


def test_update_resolves_assignee_email_before_changing_anything(primo_conn, http):
    primo_conn()
    http.get(url("/employees"), json=page([employee("e1", "grace.hopper@example.com")]))
    http.post(url("/tickets/tkt-1/status"), json=ticket())

    with pytest.raises(
        ValueError, match=r"^assignee_email: no Primo employee has the e-mail address 'x@example.com'"
    ):
        update(status="COMPLETED", assignee_email="x@example.com").execute({})

    assert calls(http) == ["GET /employees"]


def test_update_stops_at_the_first_refused_change(primo_conn, http):
    from primo_provider.exceptions import PrimoValidationError

    primo_conn()
    http.post(url("/tickets/tkt-1/status"), json=ticket(status="COMPLETED"))
    http.post(url("/tickets/tkt-1/priority"), status_code=422, json={"message": "ticket is closed"})

    with pytest.raises(PrimoValidationError, match="ticket is closed"):
        update(status="COMPLETED", priority="HIGH", comment="bump").execute({})

    assert calls(http) == ["POST /tickets/tkt-1/status", "POST /tickets/tkt-1/priority"]


def test_create_with_unknown_email_names_assignee_email_and_posts_nothing(primo_conn, http):
    primo_conn()
    http.get(url("/employees"), json=page([employee("e1", "grace.hopper@example.com")]))
    http.post(url("/tickets"), json=ticket())
    operator = CreateTicketOperator(
        task_id="create", title="Laptop", assignee_email="Nobody@Example.com", primo_conn_id="primo_unit"
    )

    with pytest.raises(ValueError) as raised:
        operator.execute({})

    assert (
        str(raised.value) == "assignee_email: no Primo employee has the e-mail address 'Nobody@Example.com'"
    )
    assert calls(http) == ["GET /employees"]


def test_create_checks_every_field_before_looking_up_the_email(primo_conn, http):
    primo_conn()
    operator = CreateTicketOperator(
        task_id="create",
        title="Laptop",
        assignee_email="a@example.com",
        due_date="2023-02-29",
        primo_conn_id="primo_unit",
    )

    with pytest.raises(ValueError, match=r"^due_date: "):
        operator.execute({})
    assert http.call_count == 0


# --- DAG-parse cheapness ----------------------------------------------------------------------------


def test_importing_and_constructing_operators_is_cheap(request):
    """In a fresh interpreter (started early, see conftest): no HTTP client, no hook, no I/O."""
    process = request.config.stash.get(PARSE_CHECK_PROCESS, None) or start_parse_check()
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])

    heavy = (
        "requests",
        "httpx",
        "urllib3",
        "primo_provider.hooks",
        "primo_provider.retries",
        "primo_provider.api",
    )
    for phase in ("imported", "constructed"):
        loaded = [m for m in result[phase] if m.split(".")[0] in heavy or m.startswith(heavy)]
        assert loaded == [], f"{phase}: {loaded}"
    assert result["requests_loaded"] is False
    assert result["hook_loaded"] is False
    assert result["control"] is True
