"""Turn a failing task into one Primo ticket, and close it when the task recovers.

``load_sales`` fails unless the run's conf says ``{"fixed": true}``. Its failure callback opens a Primo
ticket titled ``[airflow:example_primo_failure_alert.load_sales] ...``; further failures add comments to
that same ticket instead of opening new ones. Its success callback completes the ticket.

Try it against the sandbox (``python -m primo_provider.sandbox``) or a real Primo::

    airflow dags test example_primo_failure_alert                          # fails: opens a ticket
    airflow dags test example_primo_failure_alert                          # fails: comments on it
    airflow dags test example_primo_failure_alert --conf '{"fixed": true}' # succeeds: completes it

The first two runs are *meant* to fail (that is the demo); the third is the recovery.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.common.compat.sdk import DAG, get_current_context, task

from primo_provider.notifications.primo import PrimoNotifier

with DAG(
    dag_id="example_primo_failure_alert",
    schedule=None,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    tags=["example", "primo"],
    doc_md=__doc__,
) as dag:

    @task(
        on_failure_callback=PrimoNotifier(priority="high"),
        on_success_callback=PrimoNotifier(action="resolve"),
    )
    def load_sales() -> int:
        """Stands for a load that breaks until someone fixes its input."""
        conf = get_current_context()["dag_run"].conf or {}
        if not conf.get("fixed"):
            raise RuntimeError("sales.csv has 3 rows with an empty 'amount' column; fix the export and rerun")
        return 42

    load_sales()
