"""DAGs the unit tier runs in-process with ``dag.test()`` while requests-mock answers for Primo.

See ``tests/unit/test_operators.py``. The connection is ``primo_unit`` (set per test through
``AIRFLOW_CONN_PRIMO_UNIT``), named through a template so that rendering of ``primo_conn_id`` is exercised.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.common.compat.sdk import DAG, task

from primo_provider.operators.tickets import CreateTicketOperator, UpdateTicketOperator

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

with DAG(
    dag_id="primo_unit_create",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"conn_id": "primo_unit", "assignee": "emp-7", "priority": "high"},
) as create_dag:
    create = CreateTicketOperator(
        task_id="create",
        title="Disk full on {{ dag.dag_id }} ({{ ds }})",
        description="## Run `{{ run_id }}`\n\n* logical date: {{ ds }}\n* task: {{ task.task_id }}",
        assignee_employee_id="{{ params.assignee }}",
        priority="{{ params.priority }}",
        due_date="{{ macros.ds_add(ds, 7) }}T17:00:00+02:00",
        primo_conn_id="{{ params.conn_id }}",
    )

    @task
    def announce(ticket: dict) -> str:
        return f"{ticket['reference']}: {ticket['title']}"

    announce(create.output)


with DAG(
    dag_id="primo_unit_native",
    schedule=None,
    start_date=START,
    catchup=False,
    render_template_as_native_obj=True,
) as native_dag:
    CreateTicketOperator(
        task_id="create",
        title="Native run {{ ds }}",
        # a pendulum DateTime in India's time zone, not a string: the operator converts it to UTC
        due_date="{{ (logical_date + macros.timedelta(hours=30)).in_timezone('Asia/Kolkata') }}",
        priority="{{ 'low' }}",
        primo_conn_id="primo_unit",
    )


with DAG(
    dag_id="primo_unit_assignee_email",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"email": "ada.lovelace@example.com"},
) as email_dag:
    CreateTicketOperator(
        task_id="create",
        title="Laptop for {{ params.email }}",
        assignee_email="{{ params.email }}",
        primo_conn_id="primo_unit",
    )


with DAG(dag_id="primo_unit_workflow", schedule=None, start_date=START, catchup=False) as workflow_dag:
    opened = CreateTicketOperator(
        task_id="create", title="Nightly load failed ({{ ds }})", primo_conn_id="primo_unit"
    )
    UpdateTicketOperator(
        task_id="update",
        ticket_id="{{ ti.xcom_pull(task_ids='create')['id'] }}",
        status="in_progress",
        priority="{{ 'HIGH' }}",
        comment="Picked up by `{{ dag.dag_id }}` for {{ ds }}",
        primo_conn_id="primo_unit",
    ).set_upstream(opened)
