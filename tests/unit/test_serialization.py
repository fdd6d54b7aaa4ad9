"""Everything the provider puts in a DAG survives Airflow's serializers, on Airflow 3 and 2.11.

* The DAG serializer (``DagSerialization`` on Airflow 3, ``SerializedDAG`` on 2.x), which is what the
  DAG processor writes to the metadata DB and the scheduler, API server and UI read back: the operators,
  the sensor (deferrable, poke and reschedule mode) and the notifier as task and DAG callbacks. Checked
  against Airflow's JSON schema, through a real JSON round trip.
* The trigger path: ``TicketStatusTrigger.serialize()`` stored the way Airflow stores it (the ``Trigger``
  row's encrypted kwargs), then rebuilt from its classpath as the triggerer does.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG

from primo_provider.notifications.primo import PrimoNotifier
from primo_provider.operators.tickets import CreateTicketOperator, UpdateTicketOperator
from primo_provider.sensors.tickets import TicketStatusSensor
from primo_provider.triggers.tickets import TicketStatusTrigger

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
TICKET_ID = "{{ ti.xcom_pull(task_ids='open')['id'] }}"

#: Every task's template fields and the values given to them (what must come back unchanged).
EXPECTED_TEMPLATES: dict[str, dict[str, Any]] = {
    "open": {
        "title": "Disk full on {{ params.host }} ({{ ds }})",
        "description": "## What happened\n\nRun `{{ run_id }}` saw {{ params.host }} fill up.",
        "assignee_employee_id": None,
        "assignee_email": "{{ params.oncall }}",
        "priority": "high",
        "due_date": "{{ macros.ds_add(ds, 2) }}T17:00:00+01:00",
        "primo_conn_id": "primo_ops",
    },
    "escalate": {
        "ticket_id": TICKET_ID,
        "status": "in_progress",
        "priority": "HIGH",
        "assignee_employee_id": "emp_0123456789abcdef01234567",
        "assignee_email": None,
        "comment": "Escalated by `{{ dag.dag_id }}`",
        "primo_conn_id": "primo_ops",
    },
    "wait_deferred": {"ticket_id": TICKET_ID, "primo_conn_id": "primo_ops"},
    "wait_poke": {"ticket_id": TICKET_ID, "primo_conn_id": "primo_default"},
    "wait_reschedule": {"ticket_id": TICKET_ID, "primo_conn_id": "primo_default"},
}
TASK_TYPES = {
    "open": ("CreateTicketOperator", "primo_provider.operators.tickets"),
    "escalate": ("UpdateTicketOperator", "primo_provider.operators.tickets"),
    "wait_deferred": ("TicketStatusSensor", "primo_provider.sensors.tickets"),
    "wait_poke": ("TicketStatusSensor", "primo_provider.sensors.tickets"),
    "wait_reschedule": ("TicketStatusSensor", "primo_provider.sensors.tickets"),
}


def _dag_serializer() -> Any:
    from airflow.serialization import serialized_objects

    # Airflow 3 names the DAG serializer DagSerialization; Airflow 2 calls it SerializedDAG.
    return getattr(serialized_objects, "DagSerialization", None) or serialized_objects.SerializedDAG


def _build_dag() -> DAG:
    with DAG(
        "primo_serialization",
        schedule=None,
        start_date=START,
        params={"host": "db-1", "oncall": "grace.hopper@example.com"},
        on_failure_callback=PrimoNotifier(priority="high", title="{{ dag.dag_id }} failed"),
        on_success_callback=[PrimoNotifier(action="resolve")],
    ) as dag:
        open_ticket = CreateTicketOperator(
            task_id="open",
            on_failure_callback=PrimoNotifier(fingerprint="{{ dag.dag_id }}.open", priority="low"),
            **EXPECTED_TEMPLATES["open"],
        )
        escalate = UpdateTicketOperator(
            task_id="escalate",
            on_retry_callback=PrimoNotifier(description="Retrying {{ ti.task_id }}"),
            on_success_callback=PrimoNotifier(action="resolve"),
            **EXPECTED_TEMPLATES["escalate"],
        )
        deferred = TicketStatusSensor(
            task_id="wait_deferred",
            ticket_id=TICKET_ID,
            primo_conn_id="primo_ops",
            deferrable=True,
            poke_interval=30,
            timeout=3600,
        )
        poke = TicketStatusSensor(task_id="wait_poke", ticket_id=TICKET_ID, deferrable=False, poke_interval=5)
        reschedule = TicketStatusSensor(
            task_id="wait_reschedule",
            ticket_id=TICKET_ID,
            target_statuses=["IN_PROGRESS", "COMPLETED"],
            failure_statuses=None,
            mode="reschedule",
            poke_interval=60,
        )
        open_ticket >> escalate >> [deferred, poke, reschedule]
    return dag


@pytest.fixture(scope="module")
def round_trip() -> tuple[DAG, dict[str, Any], Any]:
    """The DAG, its serialized form (after a JSON round trip, as the metadata DB keeps it), and the DAG
    deserialized from it."""
    dag = _build_dag()
    serializer = _dag_serializer()
    data = json.loads(json.dumps(serializer.to_dict(dag)))
    serializer.validate_schema(data)
    return dag, data, serializer.from_dict(data)


def _has_callback(obj: Any, name: str) -> bool:
    """Airflow 3 keeps ``has_<callback>`` flags; Airflow 2.11 keeps a marker in the callback attribute on
    operators and ``has_<callback>`` on the DAG."""
    flag = getattr(obj, f"has_{name}", None)
    if flag is not None:
        return bool(flag)
    return bool(getattr(obj, name, None))


def test_every_task_comes_back_with_its_type_and_module(round_trip: tuple[DAG, dict[str, Any], Any]) -> None:
    _, _, restored = round_trip
    assert sorted(restored.task_dict) == sorted(TASK_TYPES)
    for task_id, (task_type, module) in TASK_TYPES.items():
        task = restored.task_dict[task_id]
        assert (task.task_type, task._task_module) == (task_type, module), task_id


@pytest.mark.parametrize("task_id", sorted(EXPECTED_TEMPLATES))
def test_template_fields_and_their_values_survive(
    round_trip: tuple[DAG, dict[str, Any], Any], task_id: str
) -> None:
    dag, _, restored = round_trip
    original, task = dag.task_dict[task_id], restored.task_dict[task_id]
    assert list(task.template_fields) == list(original.template_fields)
    assert list(task.template_fields) == list(EXPECTED_TEMPLATES[task_id])
    for field, value in EXPECTED_TEMPLATES[task_id].items():
        assert getattr(task, field) == value, f"{task_id}.{field}"
    assert task.template_fields_renderers == original.template_fields_renderers


def test_markdown_renderers_survive_for_the_rendered_template_view(
    round_trip: tuple[DAG, dict[str, Any], Any],
) -> None:
    _, _, restored = round_trip
    assert restored.task_dict["open"].template_fields_renderers == {"description": "md"}
    assert restored.task_dict["escalate"].template_fields_renderers == {"comment": "md"}


def test_sensor_modes_survive(round_trip: tuple[DAG, dict[str, Any], Any]) -> None:
    dag, data, restored = round_trip
    tasks = {t["__var"]["task_id"]: t["__var"] for t in data["dag"]["tasks"]}
    assert tasks["wait_reschedule"].get("reschedule") is True
    assert not tasks["wait_poke"].get("reschedule")
    assert not tasks["wait_deferred"].get("reschedule")
    # The deferral starts in execute() (not from the scheduler), so no start trigger is serialized.
    for task_id in ("wait_deferred", "wait_poke", "wait_reschedule"):
        assert not getattr(restored.task_dict[task_id], "start_from_trigger", False), task_id
    assert dag.task_dict["wait_deferred"].deferrable is True
    assert dag.task_dict["wait_poke"].deferrable is False


def test_notifier_callbacks_are_recorded_on_tasks_and_dag(
    round_trip: tuple[DAG, dict[str, Any], Any],
) -> None:
    _, _, restored = round_trip
    assert _has_callback(restored, "on_failure_callback")
    assert _has_callback(restored, "on_success_callback")
    assert _has_callback(restored.task_dict["open"], "on_failure_callback")
    assert not _has_callback(restored.task_dict["open"], "on_success_callback")
    assert _has_callback(restored.task_dict["escalate"], "on_retry_callback")
    assert _has_callback(restored.task_dict["escalate"], "on_success_callback")
    assert not _has_callback(restored.task_dict["wait_poke"], "on_failure_callback")


def _callbacks(obj: Any, name: str) -> list[Any]:
    callbacks = getattr(obj, name)
    return list(callbacks) if isinstance(callbacks, list | tuple) else [callbacks]


def test_notifiers_survive_airflows_copy_of_the_dag(round_trip: tuple[DAG, dict[str, Any], Any]) -> None:
    """Callbacks run from the parsed DAG file, not from the serialized DAG; Airflow deep-copies that DAG's
    tasks (``partial_subset``, used by ``tasks test`` and clearing): the notifiers keep their templates."""
    dag, _, _ = round_trip
    subset = dag.partial_subset(["escalate"], include_upstream=True, include_downstream=False)
    assert sorted(subset.task_dict) == ["escalate", "open"]
    [original] = _callbacks(dag.task_dict["open"], "on_failure_callback")
    [copied] = _callbacks(subset.task_dict["open"], "on_failure_callback")
    assert isinstance(copied, PrimoNotifier)
    for field in copied.template_fields:
        assert getattr(copied, field) == getattr(original, field), field
    assert (copied.fingerprint, copied.priority) == ("{{ dag.dag_id }}.open", "low")
    [retry] = _callbacks(subset.task_dict["escalate"], "on_retry_callback")
    assert retry.description == "Retrying {{ ti.task_id }}"
    [resolve] = _callbacks(dag, "on_success_callback")
    assert resolve.action == "resolve"


def test_dependencies_survive(round_trip: tuple[DAG, dict[str, Any], Any]) -> None:
    _, _, restored = round_trip
    assert restored.task_dict["open"].downstream_task_ids == {"escalate"}
    assert restored.task_dict["escalate"].downstream_task_ids == {
        "wait_deferred",
        "wait_poke",
        "wait_reschedule",
    }


# --- the trigger, the way Airflow stores and rebuilds it ----------------------------------------------


def _import(classpath: str) -> Any:
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_trigger_round_trips_through_the_trigger_row_and_its_classpath() -> None:
    from airflow.models.trigger import Trigger

    trigger = TicketStatusTrigger(
        ticket_id="tkt_0123456789abcdef01234567",
        target_statuses=["completed", "IN_PROGRESS"],
        failure_statuses="cancelled",
        poke_interval=2.5,
        primo_conn_id="primo_ops",
    )
    row = Trigger.from_object(trigger)  # what the scheduler / task runner stores (kwargs encrypted)
    classpath, kwargs = row.classpath, row.kwargs
    assert classpath == "primo_provider.triggers.tickets.TicketStatusTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs, "kwargs must be plain JSON"

    rebuilt = _import(classpath)(**kwargs)  # what the triggerer does
    assert isinstance(rebuilt, TicketStatusTrigger)
    assert rebuilt.serialize() == trigger.serialize()
    assert rebuilt.ticket_id == "tkt_0123456789abcdef01234567"
    assert rebuilt.target_statuses == ("COMPLETED", "IN_PROGRESS")
    assert rebuilt.failure_statuses == ("CANCELLED",)
    assert rebuilt.poke_interval == 2.5
    assert rebuilt.primo_conn_id == "primo_ops"


def test_the_trigger_the_deferred_sensor_hands_over_survives_the_round_trip() -> None:
    """The trigger built by the sensor's deferral (not one built by hand) rebuilds to the same trigger."""
    from airflow.models.trigger import Trigger
    from airflow.providers.common.compat.sdk import TaskDeferred

    sensor = TicketStatusSensor(
        task_id="wait",
        ticket_id="tkt_0123456789abcdef01234567",
        target_statuses="completed",
        failure_statuses=["cancelled"],
        deferrable=True,
        poke_interval=7,
        timeout=120,
        primo_conn_id="primo_ops",
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})  # type: ignore[arg-type]
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == dt.timedelta(seconds=120)
    row = Trigger.from_object(deferred.value.trigger)
    rebuilt = _import(row.classpath)(**row.kwargs)
    assert rebuilt.serialize() == (
        "primo_provider.triggers.tickets.TicketStatusTrigger",
        {
            "ticket_id": "tkt_0123456789abcdef01234567",
            "target_statuses": ["COMPLETED"],
            "failure_statuses": ["CANCELLED"],
            "poke_interval": 7.0,
            "primo_conn_id": "primo_ops",
        },
    )
