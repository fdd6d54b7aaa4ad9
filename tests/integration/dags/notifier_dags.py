"""DAGs for tests/integration/test_notifier.py: a DAG-level notifier, and a burst of concurrent notifiers."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from primo_provider.notifications.primo import Event, PrimoNotifier

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
#: How many notifiers the burst DAG runs at once, each in its own process.
BURST = int(os.environ.get("PRIMO_NOTIFIER_BURST", "6"))


def _notify_after(barrier: Any, notifier: PrimoNotifier, context: Any) -> None:
    barrier.wait(timeout=120)
    notifier(context)


def notify_in_parallel(context: Any) -> None:
    """Hand the real failure context to BURST notifiers in separate processes, released together."""
    notifier = PrimoNotifier()
    # Before forking: read the connection, load what the context loads lazily (on 2.x, from the database)
    # and do the imports a first notification does, so the children start talking to Primo at once.
    notifier.hook.connection_params  # noqa: B018
    notifier.render_template_fields(context)
    Event.from_context(context).description()
    fork = multiprocessing.get_context("fork")
    barrier = fork.Barrier(BURST)
    children = [fork.Process(target=_notify_after, args=(barrier, notifier, context)) for _ in range(BURST)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=300)
    failed = [child.exitcode for child in children if child.exitcode != 0]
    if failed:
        raise RuntimeError(f"notifier processes failed with exit codes {failed}")


def _fail() -> None:
    raise RuntimeError("simulated failure")


with DAG(
    "notifier_dag_level",
    schedule=None,
    start_date=START,
    on_failure_callback=PrimoNotifier(title="{{ dag.dag_id }} run {{ run_id }} failed: {{ reason }}"),
):
    task(task_id="fail")(_fail)()


with DAG("notifier_burst", schedule=None, start_date=START):
    task(task_id="fail", on_failure_callback=notify_in_parallel)(_fail)()
