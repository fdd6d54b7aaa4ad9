"""``make demo``: every example DAG through real Airflow, against a local Primo sandbox.

Starts the sandbox, makes a throwaway AIRFLOW_HOME on SQLite, runs each example DAG with
``airflow dags test`` (the connection comes from ``AIRFLOW_CONN_PRIMO_DEFAULT``), prints what the sandbox
holds, stops everything, and exits non-zero if any run did not end as expected.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from primo_provider.sandbox import PrimoSandbox

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "example_dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
sys.path.insert(0, str(REPO / "scripts"))


@dataclass(frozen=True)
class Run:
    """One ``airflow dags test`` of an example DAG, and the final state it should reach."""

    note: str
    expect: str = "success"
    conf: dict[str, Any] = field(default_factory=dict)
    it_agent: str | None = None  # complete tickets whose title starts with this, as an IT agent would


SCENARIOS: dict[str, list[Run]] = {
    "example_primo_create_ticket": [Run("opens a ticket rendered from the run's context")],
    "example_primo_failure_alert": [
        Run("the load fails: the notifier opens an incident ticket", expect="failed"),
        Run("it fails again: the same ticket gets a comment", expect="failed"),
        Run("fixed: the run succeeds and the ticket is completed", conf={"fixed": True}),
    ],
    "example_primo_ticket_workflow": [
        Run(
            "access request: create, update, wait (deferred) until IT completes it", it_agent="Access request"
        )
    ],
}


def main() -> int:
    dag_ids = sorted(
        re.findall(r'dag_id="([^"]+)"', "".join(p.read_text() for p in EXAMPLE_DAGS.glob("*.py")))
    )
    with (
        tempfile.TemporaryDirectory(prefix="primo-demo-") as tmp,
        PrimoSandbox(api_key="demo-api-key", state_file=str(Path(tmp) / "primo-state.json")) as sandbox,
    ):
        print(f"Primo sandbox listening on {sandbox.url} (state in {tmp}/primo-state.json)")
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            AIRFLOW_HOME=str(Path(tmp) / "airflow"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
            AIRFLOW_CONN_PRIMO_DEFAULT=sandbox.connection_json,
            PYTHONWARNINGS="ignore",
        )
        print("Preparing a throwaway Airflow home on SQLite ...", flush=True)
        subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
        failures = 0
        for dag_id in dag_ids:
            for number, run in enumerate(SCENARIOS.get(dag_id, [Run("runs to success")]), start=1):
                failures += not run_dag(dag_id, number, run, env, sandbox, Path(tmp))
        print_tickets(sandbox)
    print("Sandbox stopped; nothing left running.")
    if failures:
        print(f"{failures} run(s) did not end as expected; their logs are shown above.")
        return 1
    print("All example DAGs ran as expected.")
    return 0


def run_dag(
    dag_id: str, number: int, run: Run, env: dict[str, str], sandbox: PrimoSandbox, tmp: Path
) -> bool:
    print(f"\n▶ {dag_id} #{number}: {run.note}", flush=True)
    command = [AIRFLOW, "dags", "test", dag_id]
    if run.conf:
        command += ["--conf", json.dumps(run.conf)]
    stop = threading.Event()
    agent = None
    if run.it_agent:
        from it_agent import complete_tickets

        agent = threading.Thread(
            target=complete_tickets,
            args=(sandbox.url, sandbox.api_key, run.it_agent),
            kwargs={"after_seconds": 3, "stop_event": stop},
            daemon=True,
        )
        agent.start()
    started = time.monotonic()
    log = tmp / f"{dag_id}-{number}.log"
    with log.open("w") as out:
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    stop.set()
    if agent:
        agent.join(timeout=10)
    output = log.read_text()
    states = re.findall(r"DagRun Finished: .*?state=(\w+)", output)
    state = states[-1] if states else f"unknown (exit {done.returncode})"
    ok = state == run.expect
    mark = "✔" if ok else "✘"
    print(
        f"  {mark} run ended {state} (expected {run.expect}) in {time.monotonic() - started:.0f}s", flush=True
    )
    if not ok:
        print(textwrap.indent(output[-4000:], "    | "))
    return ok


def print_tickets(sandbox: PrimoSandbox) -> None:
    tickets = sandbox.tickets()
    print(f"\nWhat Primo now holds ({len(tickets)} tickets):\n")
    columns = ("reference", "status", "priority", "comments", "title")
    rows = [
        (t["reference"], t["status"], t["priority"] or "-", str(len(t["comments"])), shorten(t["title"], 70))
        for t in tickets
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    print("  " + "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  " + "  ".join("-" * w for w in widths))
    for ticket, row in zip(tickets, rows, strict=True):
        print("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        for comment in ticket["comments"]:
            print(f"  {'':{widths[0]}}  └ comment: {shorten(comment['text'], 90)}")


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


if __name__ == "__main__":
    sys.exit(main())
