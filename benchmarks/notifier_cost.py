"""Notifier cost: requests and time per ``PrimoNotifier`` notification against the sandbox.

The sandbox runs in its own process; requests are counted from its request log (control API). Each
notification is a fresh ``PrimoNotifier(priority="high")`` (as in ``example_primo_failure_alert``) called
like Airflow calls a callback, ``notifier(context)``, with a task-failure context: a real DAG, and a task
instance and DAG run with the attributes Airflow's have (ids, try number, host, log URL, logical date)
plus the exception with its traceback. Two cases:

* first failure: no ticket carries the fingerprint yet (a task that never failed before), so one is
  opened;
* steady state: an open ticket exists, so the failure becomes a comment on it.

The baseline is one ``PrimoHook.create_ticket`` by a fresh hook (a new connection, like each notification)
against the same sandbox, so the times are also reported as multiples of it.
"""

from __future__ import annotations

import datetime as dt
import time
from types import SimpleNamespace
from typing import Any

from benchmarks.common import INFO, SKIP, Row, Sandbox, median, set_connection, verdict

CONN_ID = "primo_bench_notifier"
GOAL_STEADY_REQUESTS = 2
BASELINE_TITLE = "Baseline ticket"


def failure_context(dag_id: str, task_id: str, run_id: str, try_number: int = 1) -> dict[str, Any]:
    """A task ``on_failure_callback`` context with the fields the notifier reads.

    The DAG is a real one (the notifier renders its template fields with the DAG's Jinja environment);
    the task instance and DAG run carry the attributes Airflow's have, without a metadata database.
    """
    from airflow.providers.common.compat.sdk import DAG

    try:
        raise OSError(28, "No space left on device: '/data/orders.parquet'")
    except OSError as error:
        exception = error
    logical_date = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC)
    ti = SimpleNamespace(
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        map_index=-1,
        try_number=try_number,
        max_tries=2,
        state="failed",
        hostname="worker-1.example.internal",
        log_url=f"http://localhost:8080/dags/{dag_id}/runs/{run_id}/tasks/{task_id}?try_number={try_number}",
    )
    dag_run = SimpleNamespace(dag_id=dag_id, run_id=run_id, logical_date=logical_date)
    return {
        "dag": DAG(dag_id, schedule=None, start_date=logical_date),
        "task": SimpleNamespace(task_id=task_id),
        "task_instance": ti,
        "ti": ti,
        "dag_run": dag_run,
        "run_id": run_id,
        "logical_date": logical_date,
        "exception": exception,
    }


def notifier_available() -> str | None:
    """None when ``primo_provider.notifications.primo`` imports, else why not."""
    try:
        import primo_provider.notifications.primo  # noqa: F401
    except ImportError as error:
        return f"{type(error).__name__}: {error}"
    return None


def notify_once(context: dict[str, Any]) -> float:
    """Send one notification with a fresh notifier; return its wall time in seconds."""
    from primo_provider.notifications.primo import PrimoNotifier

    started = time.perf_counter()
    PrimoNotifier(primo_conn_id=CONN_ID, priority="high")(context)
    return time.perf_counter() - started


def _create_once() -> float:
    from primo_provider.hooks.primo import PrimoHook

    started = time.perf_counter()
    hook = PrimoHook(primo_conn_id=CONN_ID)
    hook.create_ticket(BASELINE_TITLE, description="One create_ticket by a fresh hook")
    hook.close()
    return time.perf_counter() - started


def _kinds(records: list[dict[str, Any]]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for record in records:
        kinds[record["endpoint"]] = kinds.get(record["endpoint"], 0) + 1
    return kinds


def _shown(kinds: dict[str, int]) -> str:
    return ", ".join(f"{count}× {endpoint}" for endpoint, count in kinds.items())


def run(quick: bool = False) -> list[Row]:
    """Measure and return the notifier rows.

    Rounds interleave the three measurements (order rotating): a baseline ``create_ticket``, a first
    failure (a task never seen before, so a new fingerprint) and a steady-state failure (the task whose
    ticket is open). Times are medians over the rounds, ratios medians of per-round ratios.
    """
    missing = notifier_available()
    if missing is not None:
        return [Row("notifier.steady_requests", "notifier: steady state", missing, "", SKIP)]
    rounds = 3 if quick else 15
    run_id = "scheduled__2026-01-01T03:00:00+00:00"
    steady_context = failure_context("bench_orders", "load_orders", run_id)
    times: dict[str, list[float]] = {"baseline": [], "first": [], "steady": []}
    requests: dict[str, list[int]] = {"first": [], "steady": []}
    kinds: dict[str, dict[str, int]] = {}
    with Sandbox.run() as sandbox:
        set_connection(CONN_ID, sandbox.connection)
        _create_once()  # warm up: imports, connection
        notify_once(steady_context)  # opens the ticket the steady-state notifications join
        steady_id = next(t["id"] for t in sandbox.tickets() if t["title"] != BASELINE_TITLE)
        for number in range(rounds):
            steps = {
                "baseline": _create_once,
                "first": lambda n=number: notify_once(failure_context("bench_orders", f"load_{n}", run_id)),
                "steady": lambda: notify_once(steady_context),
            }
            names = list(steps)
            for name in names[number % 3 :] + names[: number % 3]:
                since = len(sandbox.requests())
                times[name].append(steps[name]())
                if name in requests:
                    records = sandbox.requests()[since:]
                    requests[name].append(len(records))
                    kinds[name] = _kinds(records)
        tickets = sandbox.tickets()
        steady_ticket = [t for t in tickets if t["id"] == steady_id]
        first_tickets = [t for t in tickets if t["id"] != steady_id and t["title"] != BASELINE_TITLE]

    if len(steady_ticket) != 1 or len(steady_ticket[0]["comments"]) != rounds or len(first_tickets) != rounds:
        raise RuntimeError(
            f"the notifier did not behave: {len(first_tickets)} ticket(s) for {rounds} first failures, "
            f"{len(steady_ticket)} for the steady state with "
            f"{len(steady_ticket[0]['comments']) if steady_ticket else 0} comment(s) for {rounds} failures"
        )

    def ratio(name: str) -> float:
        return median([a / b for a, b in zip(times[name], times["baseline"], strict=True)])

    baseline = median(times["baseline"])
    steady = max(requests["steady"])
    return [
        Row(
            "notifier.first_requests",
            "notifier: requests on a first failure (opens a ticket)",
            f"{max(requests['first'])} ({_shown(kinds['first'])})",
            "",
            INFO,
            {"requests": requests["first"], "kinds": kinds["first"]},
        ),
        Row(
            "notifier.first_ms",
            f"notifier: time per first-failure notification (median of {rounds})",
            f"{median(times['first']) * 1000:.1f} ms ({ratio('first'):.1f}x one create_ticket)",
            "",
            INFO,
            {"seconds": times["first"], "baseline_seconds": times["baseline"], "ratio": ratio("first")},
        ),
        Row(
            "notifier.steady_requests",
            "notifier: requests in the steady state (an open ticket exists: comment)",
            f"{steady} ({_shown(kinds['steady'])})",
            f"<= {GOAL_STEADY_REQUESTS}",
            verdict(steady <= GOAL_STEADY_REQUESTS),
            {"requests": requests["steady"], "kinds": kinds["steady"]},
        ),
        Row(
            "notifier.steady_ms",
            f"notifier: time per steady-state notification (median of {rounds})",
            f"{median(times['steady']) * 1000:.1f} ms ({ratio('steady'):.1f}x one create_ticket "
            f"by a fresh hook, {baseline * 1000:.1f} ms)",
            "",
            INFO,
            {"seconds": times["steady"], "baseline_seconds": times["baseline"], "ratio": ratio("steady")},
        ),
    ]
