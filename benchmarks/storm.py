"""Scale: a storm of concurrent notifiers for one fingerprint must converge on one open ticket.

N threads (50), each with its own ``PrimoNotifier`` and its own failure context of the same task (so the
same fingerprint), are released together by a barrier against an empty sandbox in its own process. The
time to converge is from the release until the last notification returns; then the open tickets carrying
the fingerprint's marker are counted (it must be 1), with the requests the storm cost.

Threads share one interpreter (and its GIL), so they interleave more finely than separate worker
processes would; the sandbox serves each connection in its own thread.
"""

from __future__ import annotations

import threading
import time

from benchmarks.common import INFO, SKIP, Row, Sandbox, set_connection, verdict
from benchmarks.notifier_cost import CONN_ID, failure_context, notifier_available

OPEN = ("PENDING", "IN_PROGRESS")


def run(quick: bool = False) -> list[Row]:
    """Measure and return the storm rows."""
    missing = notifier_available()
    if missing is not None:
        return [
            Row("storm.open_tickets", "storm: open tickets after concurrent notifiers", missing, "1", SKIP)
        ]
    from primo_provider.notifications.primo import PrimoNotifier

    count = 10 if quick else 50
    dag_id, task_id = "bench_storm", "load_orders"
    contexts = [failure_context(dag_id, task_id, f"manual__run_{number}") for number in range(count)]
    notifiers = [PrimoNotifier(primo_conn_id=CONN_ID, priority="high") for _ in range(count)]
    barrier = threading.Barrier(count + 1)
    finished: list[float] = [0.0] * count

    def worker(number: int) -> None:
        barrier.wait()
        notifiers[number](contexts[number])
        finished[number] = time.perf_counter()

    with Sandbox.run() as sandbox:
        set_connection(CONN_ID, sandbox.connection)
        threads = [threading.Thread(target=worker, args=(n,), name=f"notifier-{n}") for n in range(count)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        converged = max(finished) - started
        tickets = sandbox.tickets()  # the sandbox started empty: every ticket is the storm's
        requests = sandbox.requests()

    open_tickets = [t for t in tickets if t["status"] in OPEN]
    cancelled = [t for t in tickets if t["status"] == "CANCELLED"]
    comments = sum(len(t["comments"]) for t in tickets)
    measured = {
        "notifiers": count,
        "seconds": converged,
        "open": len(open_tickets),
        "created": len(tickets),
        "cancelled": len(cancelled),
        "comments": comments,
        "requests": len(requests),
        "unfinished": sum(1 for value in finished if not value),
    }
    return [
        Row(
            "storm.open_tickets",
            f"storm: open tickets after {count} concurrent notifiers, one fingerprint",
            str(len(open_tickets)),
            "1",
            verdict(len(open_tickets) == 1),
            measured,
        ),
        Row(
            "storm.converge_s",
            f"storm: time to converge ({count} notifiers)",
            f"{converged:.2f} s ({len(tickets)} created, {len(cancelled)} cancelled as duplicates, "
            f"{comments} comments, {len(requests)} requests)",
            "",
            INFO,
            measured,
        ),
    ]
