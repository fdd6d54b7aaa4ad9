"""PrimoNotifier through real Airflow (``airflow dags test``) against the sandbox.

Six ``airflow dags test`` runs in all (about 15 s each on a quiet machine).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airflow import __version__ as AIRFLOW_VERSION

from primo_provider.sandbox import PrimoSandbox

TEST_DAGS = Path(__file__).parent / "dags"

EXAMPLE = "example_primo_failure_alert"
BURST = 6
AIRFLOW_3 = int(AIRFLOW_VERSION.split(".")[0]) >= 3


def open_tickets(sandbox: PrimoSandbox) -> list[dict[str, Any]]:
    return [t for t in sandbox.tickets() if t["status"] in ("PENDING", "IN_PROGRESS")]


def texts(ticket: dict[str, Any]) -> list[str]:
    return [comment["text"] for comment in ticket["comments"]]


def run_failing(run_dag: Callable[..., Any], dag_id: str, **kwargs: Any) -> Any:
    done = run_dag(dag_id, check=False, **kwargs)
    states = re.findall(r"DagRun Finished: .*?state=(\w+)", done.stdout)
    assert states and states[-1] == "failed", f"{dag_id} was expected to fail:\n{done.stdout[-4000:]}"
    return done


def test_example_failures_share_a_ticket_until_recovery(sandbox: PrimoSandbox, run_dag: Any) -> None:
    """fail, fail, recover, fail: one ticket with one comment, completed; then a new one."""
    marker = f"[airflow:{EXAMPLE}.load_sales]"

    run_failing(run_dag, EXAMPLE)
    [first] = sandbox.tickets()
    assert first["title"] == f"{marker} Airflow task load_sales in DAG {EXAMPLE} failed"
    assert first["status"] == "PENDING" and first["priority"] == "HIGH"
    assert "RuntimeError: sales.csv has 3 rows" in first["description"]
    assert "- **Log:** http" in first["description"]

    run_failing(run_dag, EXAMPLE)
    [first] = sandbox.tickets()
    assert first["status"] == "PENDING"
    [comment] = texts(first)
    assert comment.startswith("**New occurrence**") and "RuntimeError: sales.csv" in comment

    run_dag(EXAMPLE, conf={"fixed": True})
    [first] = sandbox.tickets()
    assert first["status"] == "COMPLETED"
    assert len(texts(first)) == 2 and texts(first)[1].startswith("**Recovered:**")
    assert re.search(r"succeeded in run `manual__", texts(first)[1])

    run_failing(run_dag, EXAMPLE)
    first, second = sandbox.tickets()
    assert first["status"] == "COMPLETED" and len(texts(first)) == 2
    assert second["status"] == "PENDING" and second["title"].startswith(marker) and not texts(second)


def test_dag_level_callback_renders_its_templates(sandbox: PrimoSandbox, run_dag: Any) -> None:
    """On Airflow 3.3 the DAG callback's context carries a SerializedDAG (apache/airflow#64649)."""
    done = run_failing(run_dag, "notifier_dag_level", dags_folder=TEST_DAGS)
    assert "could not notify Primo" not in done.stdout
    [ticket] = sandbox.tickets()
    assert re.fullmatch(
        r"\[airflow:notifier_dag_level\] notifier_dag_level run manual__\S+ failed: task_failure",
        ticket["title"],
    ), ticket["title"]
    assert "**Airflow DAG notifier_dag_level failed.**" in ticket["description"]
    assert "- **Reason:** `task_failure`" in ticket["description"]


def test_simultaneous_failures_leave_one_open_ticket(sandbox: PrimoSandbox, run_dag: Any) -> None:
    """BURST notifiers in separate processes, released together: one open ticket, every failure on it."""
    # Each first lookup is answered (empty) only 3 s after it was processed: all of them create.
    sandbox.add_fault("GET /tickets", "delay", seconds=3.0, after=True, times=BURST)
    run_failing(run_dag, "notifier_burst", dags_folder=TEST_DAGS, env={"PRIMO_NOTIFIER_BURST": str(BURST)})

    tickets = sandbox.tickets()
    start = min((r.timestamp for r in sandbox.requests), default=0)
    log = "\n".join(
        f"{r.timestamp - start:6.2f}s {r.method} {r.path} {r.query.get('status', '')} -> {r.status} {r.fault or ''}"
        for r in sandbox.requests
    )
    assert len(tickets) >= 2, f"no duplicate was created: the race was not exercised\n{log}"
    [survivor] = open_tickets(sandbox)
    assert survivor["reference"] == tickets[0]["reference"]  # the oldest
    for duplicate in tickets[1:]:
        assert duplicate["status"] == "CANCELLED"
        assert texts(duplicate) == [f"Duplicate of {survivor['reference']}"]  # by its creator only
    occurrences = [text for text in texts(survivor) if text.startswith("**New occurrence**")]
    assert len(occurrences) == BURST - 1, "every failure but the first must be on the survivor"


@pytest.mark.skipif(not AIRFLOW_3, reason="deadline alerts run notifiers in the triggerer on Airflow 3.1+")
def test_deadline_callback_in_the_triggerer(sandbox: PrimoSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow's own CallbackTrigger builds the notifier with the deadline context and awaits it."""
    from airflow.triggers.callback import CallbackTrigger

    monkeypatch.setenv("AIRFLOW_CONN_PRIMO_DEFAULT", sandbox.connection_json)
    context = {
        "dag_run": {"dag_id": "sales", "dag_run_id": "scheduled__2026-01-01", "logical_date": None},
        "deadline": {"id": "1", "deadline_time": "2026-01-01T02:00:00Z"},
    }
    trigger = CallbackTrigger(
        callback_path="primo_provider.notifications.primo.PrimoNotifier",
        callback_kwargs={"priority": "high", "context": context},
    )

    async def events() -> list[Any]:
        return [event async for event in trigger.run()]

    assert asyncio.run(events())[-1].payload["state"] == "success"
    [ticket] = sandbox.tickets()
    assert ticket["title"] == "[airflow:sales] Airflow DAG sales missed its deadline"
    assert ticket["priority"] == "HIGH"
    assert "- **Deadline:** 2026-01-01T02:00:00Z" in ticket["description"]
