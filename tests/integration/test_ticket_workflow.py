"""example_primo_ticket_workflow through real Airflow (``airflow dags test``) against the sandbox.

An IT agent (``scripts/it_agent.py``) plays the human side: it completes, or cancels, the access request.
It is started only once the deferred sensor's trigger has read the ticket while it was still open, so
every run proves the wait really went through the trigger, whatever the machine's speed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from primo_provider.sandbox import PrimoSandbox

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_primo_ticket_workflow"
PREFIX = "Access request:"
ESCALATION = "Escalated to HIGH by Airflow: the pipeline `example_primo_ticket_workflow` is blocked until"


def _load_it_agent() -> ModuleType:
    spec = importlib.util.spec_from_file_location("it_agent", REPO / "scripts" / "it_agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("it_agent", module)
    spec.loader.exec_module(module)
    return module


it_agent = _load_it_agent()


def _ticket_reads(sandbox: PrimoSandbox, ticket_id: str) -> list[Any]:
    return [r for r in sandbox.requests if r.method == "GET" and r.path == f"/tickets/{ticket_id}"]


@contextmanager
def agent_after_first_poll(sandbox: PrimoSandbox, status: str) -> Iterator[list[str]]:
    """Run the IT agent once the ticket has been read twice: by ``escalate``, then by the trigger.

    ``escalate`` (UpdateTicketOperator) reads the ticket once after commenting; any later read is the
    sensor's. Yields the list of ticket ids the agent handled.
    """
    stop = threading.Event()
    handled: list[str] = []

    def watch_then_act() -> None:
        while not stop.is_set():
            ours = [t for t in sandbox.tickets() if t["title"].startswith(PREFIX)]
            if ours and len(_ticket_reads(sandbox, ours[0]["id"])) >= 2:
                it_agent.complete_tickets(
                    sandbox.url,
                    sandbox.api_key,
                    PREFIX,
                    after_seconds=0,
                    stop_event=stop,
                    status=status,
                    poll_interval=0.2,
                    max_tickets=1,
                    handled=handled,
                )
                return
            stop.wait(0.2)

    thread = threading.Thread(target=watch_then_act, name="it-agent", daemon=True)
    thread.start()
    try:
        yield handled
    finally:
        stop.set()
        thread.join(timeout=10)


def _employee_id(sandbox: PrimoSandbox, email: str) -> str:
    return next(e["id"] for e in sandbox.employees() if e["email"] == email)


def _assert_deferred_and_polled(output: str, sandbox: PrimoSandbox, ticket_id: str) -> None:
    """The sensor deferred, its trigger ran (inline under ``dags test``) and polled while open."""
    assert f"Deferring: the triggerer waits for Primo ticket {ticket_id} to be COMPLETED" in output
    assert "[DAG TEST] running trigger in line" in output
    assert re.search(
        r"Primo ticket T-00001 \(id \w+\) is PENDING; waiting for COMPLETED; checking again", output
    )
    assert output.count("[DAG TEST] running trigger in line") == 1  # one try: no retry, no second deferral
    assert len(_ticket_reads(sandbox, ticket_id)) >= 3  # escalate's read, then the trigger's polls


def test_access_request_is_created_escalated_and_waited_for_until_completed(
    run_dag: Any, sandbox: PrimoSandbox, xcom: Any
) -> None:
    with agent_after_first_poll(sandbox, "COMPLETED") as handled:
        started = time.time()
        done = run_dag(DAG_ID)

    (ticket,) = sandbox.tickets()
    assert handled == [ticket["id"]]
    assert ticket["status"] == "COMPLETED"
    assert ticket["priority"] == "HIGH"
    assert ticket["assignee"] == {
        "type": "EMPLOYEE",
        "employeeId": _employee_id(sandbox, "ada.lovelace@example.com"),
    }
    assert ticket["title"].startswith(f"{PREFIX} the analytics warehouse (read-only) for alan.turing@")
    [comment] = ticket["comments"]
    assert comment["text"].startswith(ESCALATION)
    _assert_deferred_and_polled(done.stdout, sandbox, ticket["id"])

    # The trigger's last read came after the agent completed the ticket.
    [completed] = [r for r in sandbox.requests if r.path == f"/tickets/{ticket['id']}/status"]
    assert completed.timestamp >= started
    assert _ticket_reads(sandbox, ticket["id"])[-1].timestamp >= completed.timestamp

    # The sensor pushed the completed ticket; the next task received it.
    assert xcom(DAG_ID, "wait_for_completion") == ticket
    assert xcom(DAG_ID, "report") == "T-00001"
    assert "Primo ticket T-00001 is COMPLETED (priority HIGH, 1 comment(s))" in done.stdout


def test_cancelled_request_fails_the_run_at_once_with_a_clear_message(
    run_dag: Any, sandbox: PrimoSandbox
) -> None:
    """Also: the assignee comes from ``--conf``, and a cancelled ticket is not retried (retries=1 here)."""
    retries = {"AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "1", "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1"}
    with agent_after_first_poll(sandbox, "CANCELLED") as handled:
        done = run_dag(DAG_ID, conf={"assignee_email": "grace.hopper@example.com"}, env=retries, check=False)

    output = done.stdout
    states = re.findall(r"DagRun Finished: .*?state=(\w+)", output)
    assert states and states[-1] == "failed", output[-4000:]
    (ticket,) = sandbox.tickets()
    assert handled == [ticket["id"]]
    assert ticket["status"] == "CANCELLED"
    assert ticket["priority"] == "HIGH"
    assert ticket["assignee"] == {
        "type": "EMPLOYEE",
        "employeeId": _employee_id(sandbox, "grace.hopper@example.com"),
    }
    assert "AirflowFailException: Primo ticket T-00001" in output
    assert "is CANCELLED, one of failure_statuses (CANCELLED): it will not reach COMPLETED" in output
    _assert_deferred_and_polled(output, sandbox, ticket["id"])
    assert "Primo ticket T-00001 is COMPLETED" not in output  # report never ran


# --- the trigger alone, in this process, over real HTTP (httpx) --------------------------------------


@pytest.fixture
def sandbox_conn(sandbox: PrimoSandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    """``primo_default`` on the sandbox, with one retry per call."""
    conn = {**json.loads(sandbox.connection_json), "extra": {"max_retries": 1}}
    monkeypatch.setenv("AIRFLOW_CONN_PRIMO_DEFAULT", json.dumps(conn))
    return "primo_default"


def _open_ticket(sandbox: PrimoSandbox, status: str | None = None) -> str:
    from primo_provider.hooks.primo import PrimoHook

    hook = PrimoHook()
    ticket_id = hook.create_ticket(f"{PREFIX} VPN for a contractor")["id"]
    if status:
        hook.update_ticket_status(ticket_id, status)
    hook.close()
    return ticket_id


def _event(ticket_id: str) -> dict[str, Any]:
    from primo_provider.triggers.tickets import TicketStatusTrigger

    trigger = TicketStatusTrigger(ticket_id, ["COMPLETED"], ["CANCELLED"], poke_interval=0.2)
    return asyncio.run(trigger.run().__anext__()).payload


def test_trigger_waits_across_polls_until_the_agent_completes(
    sandbox: PrimoSandbox, sandbox_conn: str
) -> None:
    ticket_id = _open_ticket(sandbox)
    stop = threading.Event()
    agent = threading.Thread(
        target=it_agent.complete_tickets,
        args=(sandbox.url, sandbox.api_key, PREFIX),
        kwargs={"after_seconds": 1, "stop_event": stop, "poll_interval": 0.1, "max_tickets": 1},
        daemon=True,
    )
    agent.start()
    try:
        payload = _event(ticket_id)
    finally:
        stop.set()
        agent.join(timeout=10)
    assert payload["status"] == "success"
    assert payload["ticket"] == sandbox.ticket(ticket_id)
    assert len(_ticket_reads(sandbox, ticket_id)) >= 3  # several polls while it was PENDING


def test_trigger_rides_out_transient_errors(sandbox: PrimoSandbox, sandbox_conn: str) -> None:
    ticket_id = _open_ticket(sandbox, "COMPLETED")
    sandbox.add_fault("GET /tickets/{ticketId}", "status", status=503, retry_after=0, times=1)
    payload = _event(ticket_id)
    assert payload["status"] == "success"
    assert [r.status for r in _ticket_reads(sandbox, ticket_id)] == [503, 200]


def test_trigger_reports_a_lasting_error_as_an_event(sandbox: PrimoSandbox, sandbox_conn: str) -> None:
    ticket_id = _open_ticket(sandbox)
    sandbox.add_fault("GET /tickets/{ticketId}", "status", status=503, retry_after=0, times=None)
    payload = _event(ticket_id)
    assert payload["status"] == "error"
    assert payload["ticket"] is None
    assert f"Could not read Primo ticket {ticket_id}" in payload["message"]
    assert "503" in payload["message"]
    assert len(_ticket_reads(sandbox, ticket_id)) == 2  # the first attempt and the connection's one retry


def test_trigger_reports_failure_for_a_cancelled_ticket(sandbox: PrimoSandbox, sandbox_conn: str) -> None:
    ticket_id = _open_ticket(sandbox, "CANCELLED")
    payload = _event(ticket_id)
    assert payload["status"] == "failure"
    assert "is CANCELLED, one of failure_statuses (CANCELLED)" in payload["message"]
