"""A ticket's whole life from a DAG: open an access request, escalate it, wait for IT, then carry on.

1. ``create_access_request`` opens a Primo ticket assigned, by e-mail, to the employee who handles it.
2. ``escalate`` raises its priority to HIGH and leaves a comment.
3. ``wait_for_completion`` waits for the ticket to be COMPLETED. It is deferrable: the wait runs in the
   triggerer, so no worker slot is held while IT works on the ticket. A CANCELLED ticket fails the run at
   once, with a message saying so.
4. ``report`` receives the completed ticket from XCom.

Every value the run uses is a DAG param, so it can be overridden when triggering, for example
``airflow dags trigger example_primo_ticket_workflow --conf '{"assignee_email": "grace.hopper@example.com"}'``.
Against the sandbox, ``scripts/it_agent.py --prefix "Access request:"`` plays IT and completes the ticket.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.common.compat.sdk import DAG, Param, task

from primo_provider.operators.tickets import CreateTicketOperator, UpdateTicketOperator
from primo_provider.sensors.tickets import TicketStatusSensor

#: Every ticket this DAG opens has a title starting with this (the demo's IT agent looks for it).
TITLE_PREFIX = "Access request:"
TICKET_ID = "{{ ti.xcom_pull(task_ids='create_access_request')['id'] }}"

with DAG(
    dag_id="example_primo_ticket_workflow",
    schedule=None,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    tags=["example", "primo"],
    doc_md=__doc__,
    params={
        "assignee_email": Param(
            "ada.lovelace@example.com",
            type="string",
            description="E-mail of the Primo employee who handles the request.",
        ),
        "requester": Param("alan.turing@example.com", type="string", description="Who needs the access."),
        "resource": Param(
            "the analytics warehouse (read-only)", type="string", description="What access is needed to."
        ),
    },
) as dag:
    create_access_request = CreateTicketOperator(
        task_id="create_access_request",
        title=TITLE_PREFIX + " {{ params.resource }} for {{ params.requester }} ({{ run_id }})",
        description=(
            "## Access request\n\n"
            "* Requester: {{ params.requester }}\n"
            "* Resource: {{ params.resource }}\n"
            "* Opened by Airflow run `{{ run_id }}` of `{{ dag.dag_id }}`"
        ),
        assignee_email="{{ params.assignee_email }}",
        priority="MEDIUM",
    )

    escalate = UpdateTicketOperator(
        task_id="escalate",
        ticket_id=TICKET_ID,
        priority="HIGH",
        comment=(
            "Escalated to HIGH by Airflow: the pipeline `{{ dag.dag_id }}` is blocked until "
            "{{ params.requester }} can read {{ params.resource }}."
        ),
    )

    wait_for_completion = TicketStatusSensor(
        task_id="wait_for_completion",
        ticket_id=TICKET_ID,
        target_statuses=["COMPLETED"],
        failure_statuses=["CANCELLED"],
        deferrable=True,
        poke_interval=2,  # a demo; every minute or more is plenty for real tickets
        timeout=dt.timedelta(minutes=30),  # then the task fails with AirflowSensorTimeout
    )

    @task
    def report(ticket: dict) -> str:
        """Downstream tasks get the completed ticket from the sensor's XCom."""
        comments = ticket.get("comments") or []
        print(
            f"Primo ticket {ticket['reference']} is {ticket['status']} "
            f"(priority {ticket['priority']}, {len(comments)} comment(s)): {ticket['title']}"
        )
        return ticket["reference"]

    create_access_request >> escalate >> wait_for_completion
    report(wait_for_completion.output)
