"""Open a Primo ticket from a DAG, with fields rendered from the run's context, and use it downstream."""

from __future__ import annotations

import datetime as dt

from airflow.providers.common.compat.sdk import DAG, task

from primo_provider.operators.tickets import CreateTicketOperator

with DAG(
    dag_id="example_primo_create_ticket",
    schedule=None,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    tags=["example", "primo"],
    doc_md=__doc__,
) as dag:

    @task
    def laptop_request() -> dict[str, str]:
        """Stands for whatever upstream work decides a ticket is needed."""
        return {"device": "MacBook Pro 14", "reason": "new data engineer starts on Monday"}

    request = laptop_request()

    create_ticket = CreateTicketOperator(
        task_id="create_ticket",
        # Airflow 3 runs triggered without a logical date have no `ds`: fall back to when the run was due.
        title="Laptop for the data team ({{ dag.dag_id }}, {{ (logical_date or dag_run.run_after) | ds }})",
        description=(
            "## Hardware request\n\n"
            "* Device: {{ ti.xcom_pull(task_ids='laptop_request')['device'] }}\n"
            "* Why: {{ ti.xcom_pull(task_ids='laptop_request')['reason'] }}\n"
            "* Opened by Airflow run `{{ run_id }}`"
        ),
        priority="medium",
        due_date="{{ macros.ds_add((logical_date or dag_run.run_after) | ds, 7) }}T17:00:00+01:00",
    )

    @task
    def announce(ticket: dict) -> str:
        """Downstream tasks get the created ticket from XCom."""
        message = f"Primo ticket {ticket['reference']} is open: {ticket['title']}"
        print(message)
        return ticket["reference"]

    request >> create_ticket
    announce(create_ticket.output)
