"""TicketStatusSensor: argument checks, poke mode, deferral, resumption and DAG serialization."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import requests_mock as rm
from airflow.providers.common.compat.sdk import (
    DAG,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from primo_provider.exceptions import PrimoError, PrimoNotFoundError
from primo_provider.hooks.primo import PrimoHook
from primo_provider.sensors.tickets import TicketStatusSensor
from primo_provider.triggers.tickets import TicketStatusTrigger

BASE = "https://primo.test"
TICKET_URL = f"{BASE}/tickets/tkt_1"


def ticket(status: str = "PENDING", **fields: Any) -> dict[str, Any]:
    return {
        "id": "tkt_1",
        "reference": "T-00001",
        "title": "Access request: warehouse",
        "status": status,
        "priority": "HIGH",
        "assignee": None,
        "dueDate": None,
        "createdAt": "2024-05-01T10:00:00.000Z",
        "updatedAt": "2024-05-01T10:00:00.000Z",
        "description": None,
        "comments": [],
        **fields,
    }


@pytest.fixture
def primo_conn(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "primo", "host": BASE, "password": "unit-test-key", "extra": {"max_retries": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_PRIMO_DEFAULT", json.dumps(conn))


@pytest.fixture
def mock_http(primo_conn: None) -> Iterator[rm.Mocker]:
    with rm.Mocker() as mocker:
        yield mocker


def sensor(**kwargs: Any) -> TicketStatusSensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("ticket_id", "tkt_1")
    kwargs.setdefault("deferrable", False)
    return TicketStatusSensor(**kwargs)


# --- construction --------------------------------------------------------------------------------


def test_defaults_and_normalisation() -> None:
    s = sensor(target_statuses=["completed", "Completed", "in_progress"], failure_statuses="cancelled")
    assert s.target_statuses == ("COMPLETED", "IN_PROGRESS")
    assert s.failure_statuses == ("CANCELLED",)
    assert s.primo_conn_id == "primo_default"
    assert set(s.template_fields) == {"ticket_id", "primo_conn_id"}
    default = TicketStatusSensor(task_id="default", ticket_id="tkt_1")
    assert default.target_statuses == ("COMPLETED",)
    assert default.failure_statuses == ("CANCELLED",)
    assert sensor(failure_statuses=None).failure_statuses == ()
    assert sensor(failure_statuses=()).failure_statuses == ()


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"target_statuses": ()}, ValueError, "target_statuses: give at least one status"),
        ({"target_statuses": None}, ValueError, "target_statuses: give at least one status"),
        ({"target_statuses": "DONE"}, ValueError, "target_statuses: 'DONE' is not one of"),
        ({"target_statuses": ["COMPLETED", 3]}, TypeError, "target_statuses: expected one of"),
        ({"target_statuses": 3}, TypeError, "target_statuses: expected a status or a list"),
        ({"target_statuses": {"COMPLETED": 1}}, TypeError, "target_statuses: expected a status or a list"),
        ({"failure_statuses": ["closed"]}, ValueError, "failure_statuses: 'closed' is not one of"),
        ({"failure_statuses": ["completed"]}, ValueError, "failure_statuses: COMPLETED is also in"),
        (
            {"target_statuses": ["COMPLETED", "CANCELLED"]},
            ValueError,
            "failure_statuses: CANCELLED is also in target_statuses",
        ),
    ],
)
def test_bad_arguments_fail_at_construction_naming_the_argument(
    kwargs: dict[str, Any],
    error: type[Exception],
    fragment: str,
    mock_http: rm.Mocker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(PrimoHook, "get_connection", _no_io)
    with pytest.raises(error) as raised:
        sensor(**kwargs)
    assert fragment in str(raised.value)
    assert mock_http.call_count == 0


def _no_io(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("constructing the sensor must not read the connection")


def test_construction_does_no_io(mock_http: rm.Mocker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PrimoHook, "get_connection", _no_io)
    s = sensor(ticket_id="{{ ti.xcom_pull(task_ids='create')['id'] }}", deferrable=True)
    assert "hook" not in s.__dict__
    assert mock_http.call_count == 0


def test_import_is_cheap_and_deferrable_follows_default_deferrable() -> None:
    """In a fresh interpreter: no HTTP client nor hook imported; ``[operators] default_deferrable`` read."""
    code = textwrap.dedent(
        """
        import sys
        from airflow.providers.common.compat.sdk import BaseSensorOperator, PokeReturnValue, conf
        import airflow.triggers.base
        before = set(sys.modules)
        from primo_provider.sensors.tickets import TicketStatusSensor
        import primo_provider.triggers.tickets
        new = set(sys.modules) - before
        print(sorted(m for m in new if m.split(".")[0] in ("requests", "httpx", "urllib3")
                     or m == "primo_provider.hooks.primo"))
        print(TicketStatusSensor(task_id="w", ticket_id="t").deferrable)
        print(TicketStatusSensor(task_id="x", ticket_id="t", deferrable=False).deferrable)
        """
    )
    env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip().splitlines()[-3:] == ["[]", "True", "False"]


def test_deferrable_is_off_by_default() -> None:
    from airflow.providers.common.compat.sdk import conf

    if conf.getboolean("operators", "default_deferrable", fallback=False):
        pytest.skip("[operators] default_deferrable is set in this environment")
    assert TicketStatusSensor(task_id="w", ticket_id="t").deferrable is False


def test_ticket_id_is_rendered_from_the_context() -> None:
    s = sensor(ticket_id="{{ ticket['id'] }}")
    s.render_template_fields({"ticket": {"id": "tkt_42"}})  # type: ignore[arg-type]
    assert s.ticket_id == "tkt_42"


# --- poke ----------------------------------------------------------------------------------------


def test_poke_pending_is_not_done(mock_http: rm.Mocker) -> None:
    mock_http.get(TICKET_URL, json=ticket("PENDING"))
    result = sensor().poke({})  # type: ignore[arg-type]
    assert not result
    assert result.xcom_value is None
    assert mock_http.call_count == 1
    assert mock_http.last_request.headers["Authorization"] == "Bearer unit-test-key"


def test_poke_completed_returns_the_ticket(mock_http: rm.Mocker) -> None:
    mock_http.get(TICKET_URL, json=ticket("COMPLETED"))
    result = sensor().poke({})  # type: ignore[arg-type]
    assert result
    assert result.xcom_value == ticket("COMPLETED")


def test_poke_cancelled_fails_at_once_with_a_clear_message(mock_http: rm.Mocker) -> None:
    mock_http.get(TICKET_URL, json=ticket("CANCELLED"))
    with pytest.raises(AirflowFailException) as raised:
        sensor().poke({})  # type: ignore[arg-type]
    message = str(raised.value)
    assert "T-00001" in message
    assert "is CANCELLED" in message
    assert "failure_statuses" in message
    assert "will not reach COMPLETED" in message


def test_poke_custom_target_status(mock_http: rm.Mocker) -> None:
    mock_http.get(TICKET_URL, json=ticket("IN_PROGRESS"))
    assert sensor(target_statuses="in_progress").poke({})  # type: ignore[arg-type]
    assert not sensor(target_statuses="COMPLETED").poke({})  # type: ignore[arg-type]


def test_poke_rejects_an_empty_rendered_ticket_id(mock_http: rm.Mocker) -> None:
    with pytest.raises(ValueError, match="ticket_id: must not be empty"):
        sensor(ticket_id="  ").poke({})  # type: ignore[arg-type]
    assert mock_http.call_count == 0


def test_poke_propagates_api_errors(mock_http: rm.Mocker) -> None:
    mock_http.get(TICKET_URL, status_code=404, json={"message": "Ticket tkt_1 not found"})
    with pytest.raises(PrimoNotFoundError, match="Ticket tkt_1 not found"):
        sensor().poke({})  # type: ignore[arg-type]


def test_execute_in_poke_mode_waits_then_returns_the_ticket(mock_http: rm.Mocker) -> None:
    mock_http.get(
        TICKET_URL,
        [
            {"json": ticket("PENDING")},
            {"json": ticket("IN_PROGRESS")},
            {"json": ticket("COMPLETED", comments=[{"id": "c", "text": "done"}])},
        ],
    )
    s = sensor(poke_interval=0, timeout=30)
    result = s.execute({})  # type: ignore[arg-type]
    assert result["status"] == "COMPLETED"
    assert result["comments"][0]["text"] == "done"
    assert mock_http.call_count == 3
    assert "hook" not in s.__dict__ or "session" not in s.hook.__dict__  # session closed at the end


def test_execute_in_poke_mode_fails_on_a_failure_status(mock_http: rm.Mocker) -> None:
    mock_http.get(TICKET_URL, [{"json": ticket("PENDING")}, {"json": ticket("CANCELLED")}])
    with pytest.raises(AirflowFailException, match="is CANCELLED"):
        sensor(poke_interval=0, timeout=30).execute({})  # type: ignore[arg-type]
    assert mock_http.call_count == 2


def test_execute_in_poke_mode_soft_fail_skips_on_a_failure_status(mock_http: rm.Mocker) -> None:
    mock_http.get(TICKET_URL, json=ticket("CANCELLED"))
    with pytest.raises(AirflowSkipException):
        sensor(poke_interval=0, timeout=30, soft_fail=True).execute({})  # type: ignore[arg-type]


# --- deferral ------------------------------------------------------------------------------------


def test_deferrable_sensor_defers_at_once_with_the_trigger(mock_http: rm.Mocker) -> None:
    s = sensor(
        ticket_id=" tkt_1 ",
        deferrable=True,
        poke_interval=2,
        timeout=dt.timedelta(minutes=10),
        target_statuses=["completed"],
        failure_statuses=["cancelled", "pending"],
        primo_conn_id="primo_other",
    )
    with pytest.raises(TaskDeferred) as deferred:
        s.execute({})  # type: ignore[arg-type]
    assert mock_http.call_count == 0  # no worker-side poke: the triggerer does the waiting
    trigger = deferred.value.trigger
    assert isinstance(trigger, TicketStatusTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == dt.timedelta(minutes=10)
    assert trigger.serialize() == (
        "primo_provider.triggers.tickets.TicketStatusTrigger",
        {
            "ticket_id": "tkt_1",
            "target_statuses": ["COMPLETED"],
            "failure_statuses": ["CANCELLED", "PENDING"],
            "poke_interval": 2.0,
            "primo_conn_id": "primo_other",
        },
    )


def test_deferrable_sensor_checks_the_ticket_id_before_deferring() -> None:
    with pytest.raises(ValueError, match="ticket_id"):
        sensor(ticket_id="", deferrable=True).execute({})  # type: ignore[arg-type]


def test_execute_complete_success_returns_the_ticket() -> None:
    event = {"status": "success", "ticket": ticket("COMPLETED"), "message": "reached COMPLETED"}
    assert sensor(deferrable=True).execute_complete({}, event) == ticket("COMPLETED")  # type: ignore[arg-type]


def test_execute_complete_failure_status_fails_without_retries() -> None:
    event = {"status": "failure", "ticket": ticket("CANCELLED"), "message": "T-00001 is CANCELLED, ..."}
    with pytest.raises(AirflowFailException, match="T-00001 is CANCELLED"):
        sensor(deferrable=True).execute_complete({}, event)  # type: ignore[arg-type]


def test_execute_complete_error_raises_the_triggers_message() -> None:
    event = {"status": "error", "ticket": None, "message": "Could not read Primo ticket tkt_1: HTTP 500"}
    with pytest.raises(PrimoError, match="Could not read Primo ticket tkt_1: HTTP 500") as raised:
        sensor(deferrable=True).execute_complete({}, event)  # type: ignore[arg-type]
    assert not isinstance(raised.value, AirflowFailException)  # errors keep the task's retries


def test_execute_complete_without_an_event() -> None:
    with pytest.raises(PrimoError, match="without an event"):
        sensor(deferrable=True).execute_complete({}, None)  # type: ignore[arg-type]


def test_resume_execution_calls_execute_complete_with_the_event() -> None:
    event = {"status": "success", "ticket": ticket("COMPLETED"), "message": "ok"}
    s = sensor(deferrable=True)
    assert s.resume_execution("execute_complete", {"event": event}, {}) == ticket("COMPLETED")  # type: ignore[arg-type]


@pytest.mark.parametrize("error", ["Trigger timeout", "Trigger/execution timeout"])
def test_trigger_timeout_becomes_a_sensor_timeout(error: str) -> None:
    s = sensor(deferrable=True, timeout=600)
    with pytest.raises(AirflowSensorTimeout, match=r"did not reach COMPLETED within 600s"):
        s.resume_execution("__fail__", {"error": error}, {})  # type: ignore[arg-type]
    soft = sensor(task_id="soft", deferrable=True, timeout=600, soft_fail=True)
    with pytest.raises(AirflowSkipException, match="timed out"):
        soft.resume_execution("__fail__", {"error": error}, {})  # type: ignore[arg-type]


def test_trigger_crash_is_not_reported_as_a_timeout() -> None:
    with pytest.raises(Exception) as raised:
        sensor(deferrable=True).resume_execution("__fail__", {"error": "Trigger failure"}, {})  # type: ignore[arg-type]
    assert not isinstance(raised.value, AirflowSensorTimeout)


# --- DAG serialization ---------------------------------------------------------------------------


def _dag_serializer() -> Any:
    from airflow.serialization import serialized_objects

    # Airflow 3 names the DAG serializer DagSerialization; Airflow 2 calls it SerializedDAG.
    return getattr(serialized_objects, "DagSerialization", None) or serialized_objects.SerializedDAG


def test_sensor_survives_dag_serialization() -> None:
    template = "{{ ti.xcom_pull(task_ids='create')['id'] }}"
    with DAG("serialize_me", schedule=None, start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)) as dag:
        sensor(ticket_id=template, deferrable=True, poke_interval=2, timeout=600, primo_conn_id="primo_x")
    serializer = _dag_serializer()
    data = json.loads(json.dumps(serializer.to_dict(dag)))  # what the metadata DB stores
    restored = serializer.from_dict(data)
    task = restored.task_dict["wait"]
    assert task.task_type == "TicketStatusSensor"
    assert task._task_module == "primo_provider.sensors.tickets"
    assert list(task.template_fields) == ["ticket_id", "primo_conn_id"]
    assert task.ticket_id == template
    assert task.primo_conn_id == "primo_x"
