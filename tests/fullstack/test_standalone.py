"""The example DAGs in a running Airflow: triggered through the REST API, scheduled by the real scheduler,
run by the real executor, the deferrable sensor resumed by the real triggerer; results read back from the
sandbox and from Airflow's REST API.

The runs are all triggered at once (``runs``), so they overlap; each test then waits for its own and looks
only at its own tickets (told apart by their titles).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

import pytest

from .conftest import REPO, AirflowStack, dump

pytestmark = pytest.mark.fullstack

WORKFLOW = "example_primo_ticket_workflow"
ALERT = "example_primo_failure_alert"
CREATE = "example_primo_create_ticket"
ACCESS_PREFIX = "Access request:"
ALERT_MARK = f"[airflow:{ALERT}.load_sales]"
LAPTOP_PREFIX = f"Laptop for the data team ({CREATE}, "
ASSIGNEE = "grace.hopper@example.com"
#: Bounded waits for one run, in seconds (generous: Airflow 2's SequentialExecutor runs one task at a time).
RUN_TIMEOUT = 180


def _load_it_agent() -> ModuleType:
    spec = importlib.util.spec_from_file_location("it_agent", REPO / "scripts" / "it_agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("it_agent", module)
    spec.loader.exec_module(module)
    return module


def _tickets(stack: AirflowStack, prefix: str) -> list[dict[str, Any]]:
    return [t for t in stack.sandbox.tickets() if t["title"].startswith(prefix)]


@pytest.fixture(scope="module")
def runs(airflow_stack: AirflowStack) -> dict[str, str]:
    """Trigger one run of each scenario through the REST API; return their run ids by DAG id."""
    airflow_stack.sandbox.reset()
    return {
        WORKFLOW: airflow_stack.trigger(WORKFLOW, conf={"assignee_email": ASSIGNEE}),
        # The DAG's templates use {{ ds }}, so the run gets a logical date (as a scheduled run has).
        CREATE: airflow_stack.trigger(CREATE, logical_date="2026-01-15T09:00:00Z"),
        ALERT: airflow_stack.trigger(ALERT),  # fails: the notifier opens a ticket
    }


def test_ticket_workflow_waits_in_the_triggerer_until_it_completes_the_ticket(
    airflow_stack: AirflowStack, runs: dict[str, str]
) -> None:
    stack, run_id = airflow_stack, runs[WORKFLOW]
    sandbox = stack.sandbox
    grace = next(e for e in sandbox.employees() if e["email"] == ASSIGNEE)

    def deferred_and_polled() -> dict[str, Any] | None:
        """The sensor is deferred and the trigger has read the still-open ticket (``escalate`` read it once).

        Also wait for the scheduler to have processed the executor's event for the deferring attempt: on
        Airflow 3.3 a trigger that fires before that makes the scheduler fail the resumed task ("finished
        with state success, but the task instance's state attribute is queued", apache/airflow#67287), a
        race in Airflow, not in the provider. A real ticket is never closed within seconds of its deferral.
        """
        if stack.task_states(WORKFLOW, run_id).get("wait_for_completion") != "deferred":
            return None
        if not stack.executor_reported(WORKFLOW, "wait_for_completion", run_id):
            return None
        ours = _tickets(stack, ACCESS_PREFIX)
        if not ours:
            return None
        reads = [r for r in sandbox.requests if r.method == "GET" and r.path == f"/tickets/{ours[0]['id']}"]
        return ours[0] if len(reads) >= 2 else None

    ticket = stack.wait_until(
        "the sensor to be deferred and its trigger to poll the ticket",
        deferred_and_polled,
        timeout=RUN_TIMEOUT,
    )
    assert ticket["status"] == "PENDING"

    # The IT agent completes the ticket; the triggerer sees it and the sensor resumes on a worker.
    it_agent = _load_it_agent()
    stop = threading.Event()
    handled: list[str] = []
    agent = threading.Thread(
        target=it_agent.complete_tickets,
        args=(sandbox.url, sandbox.api_key, ACCESS_PREFIX),
        kwargs={"after_seconds": 0, "stop_event": stop, "max_tickets": 1, "handled": handled},
        daemon=True,
    )
    agent.start()
    try:
        state = stack.wait_for_run(WORKFLOW, run_id, timeout=RUN_TIMEOUT)
    finally:
        stop.set()
        agent.join(timeout=10)
    assert handled == [ticket["id"]]
    assert state == "success", stack.run_report(WORKFLOW, run_id)
    assert stack.task_states(WORKFLOW, run_id) == dict.fromkeys(
        ("create_access_request", "escalate", "wait_for_completion", "report"), "success"
    )

    [done] = _tickets(stack, ACCESS_PREFIX)
    assert done["status"] == "COMPLETED"
    assert done["priority"] == "HIGH"
    assert done["assignee"] == {"type": "EMPLOYEE", "employeeId": grace["id"]}
    assert run_id in done["title"]
    [comment] = done["comments"]
    assert comment["text"].startswith("Escalated to HIGH by Airflow")
    assert stack.xcom(WORKFLOW, run_id, "report") == done["reference"]
    assert stack.xcom(WORKFLOW, run_id, "wait_for_completion")["status"] == "COMPLETED"


def test_create_ticket_renders_its_fields_from_the_run(
    airflow_stack: AirflowStack, runs: dict[str, str]
) -> None:
    stack, run_id = airflow_stack, runs[CREATE]
    assert stack.wait_for_run(CREATE, run_id, timeout=RUN_TIMEOUT) == "success", stack.run_report(
        CREATE, run_id
    )
    [ticket] = _tickets(stack, LAPTOP_PREFIX)
    assert ticket["title"] == f"{LAPTOP_PREFIX}2026-01-15)"
    assert ticket["dueDate"] == "2026-01-22T16:00:00Z"  # ds + 7 days, 17:00+01:00 sent in UTC
    assert ticket["priority"] == "MEDIUM"
    assert f"Opened by Airflow run `{run_id}`" in ticket["description"]
    assert stack.xcom(CREATE, run_id, "announce") == ticket["reference"]
    assert stack.xcom(CREATE, run_id, "create_ticket")["id"] == ticket["id"]


def test_failure_alert_opens_a_ticket_then_closes_it_when_the_task_recovers(
    airflow_stack: AirflowStack, runs: dict[str, str]
) -> None:
    stack, failed_run = airflow_stack, runs[ALERT]
    assert stack.wait_for_run(ALERT, failed_run, timeout=RUN_TIMEOUT) == "failed", stack.run_report(
        ALERT, failed_run
    )
    [ticket] = _tickets(stack, ALERT_MARK)
    assert ticket["status"] == "PENDING", dump(ticket)
    assert ticket["priority"] == "HIGH"
    assert failed_run in ticket["description"]
    assert "sales.csv has 3 rows" in ticket["description"]

    fixed_run = stack.trigger(ALERT, conf={"fixed": True})
    assert stack.wait_for_run(ALERT, fixed_run, timeout=RUN_TIMEOUT) == "success", stack.run_report(
        ALERT, fixed_run
    )
    [ticket] = _tickets(stack, ALERT_MARK)
    assert ticket["status"] == "COMPLETED"
    assert any(fixed_run in comment["text"] for comment in ticket["comments"]), dump(ticket)


def test_rest_api_knows_the_provider_and_tests_a_primo_connection(airflow_stack: AirflowStack) -> None:
    stack = airflow_stack
    providers = stack.api("GET", "/providers", params={"limit": 100})["providers"]
    [primo] = [p for p in providers if p["package_name"] == "airflow-provider-primo"]
    from primo_provider import __version__

    assert primo["version"] == __version__
    # [core] test_connection is Enabled for this stack (it is disabled by default).
    body = {
        "connection_id": "primo_rest_test",
        "conn_type": "primo",
        "host": stack.sandbox.url,
        "password": stack.sandbox.api_key,
        "extra": '{"company_id": "acme-corp", "timeout": 5}',
    }
    result = stack.api("POST", "/connections/test", json=body)
    assert result == {
        "status": True,
        "message": f"Connected to Primo at {stack.sandbox.url} ({len(stack.sandbox.tickets())} tickets visible)",
    }
    body["password"] = "wrong-key"
    result = stack.api("POST", "/connections/test", json=body)
    assert result["status"] is False and "401" in result["message"], result
