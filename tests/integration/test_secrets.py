"""The API key never leaks: every example DAG, run by real Airflow with a sentinel key.

Each DAG in ``example_dags/`` runs (``airflow dags test``) against a sandbox that accepts only the sentinel
key, so every answer it gives proves the key was sent in the Authorization header. Then the sentinel must
be absent from the run's stdout and stderr, every file under ``AIRFLOW_HOME/logs``, the XCom and rendered
template tables, and the metadata database as a whole.

The checks are not vacuous: each place scanned must hold the run's own traces (the references of the
tickets it made), and a planted copy of the key in the logs folder must be found by the same scan.

A broken connection holding the sentinel key fails the task with a message naming the connection id, and
without the key.
"""

from __future__ import annotations

import importlib.util
import re
import secrets
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest

from primo_provider.sandbox import PrimoSandbox

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
SENTINEL = f"SENTINEL-KEY-{secrets.token_hex(8)}"
#: What a leak looks like: the key itself, URL-quoted, or its random tail alone (a partial leak).
LEAK_FORMS = tuple(dict.fromkeys([SENTINEL, quote(SENTINEL, safe=""), SENTINEL.rsplit("-", 1)[1]]))


def _dag_ids(path: Path) -> list[str]:
    text = path.read_text()
    ids = re.findall(r"""\bdag_id\s*=\s*["']([\w.-]+)["']""", text)
    ids += [name for name in re.findall(r"@dag\([^)]*\)\s*def\s+(\w+)", text) if name not in ids]
    return ids


EXAMPLES = {
    path.name: _dag_ids(path) for path in sorted(EXAMPLE_DAGS.glob("*.py")) if path.name != "__init__.py"
}


@dataclass
class Run:
    """One ``airflow dags test`` of a DAG: its conf, the state it must end in, and who plays IT."""

    conf: dict[str, Any] | None = None
    state: str = "success"
    agent_prefix: str | None = None  # complete the DAG's ticket, as IT would, once the DAG has escalated it


#: How to run the examples that need more than a plain successful run; any other DAG runs once.
PLANS: dict[str, list[Run]] = {
    "example_primo_failure_alert": [Run(state="failed"), Run(conf={"fixed": True})],
    "example_primo_ticket_workflow": [Run(agent_prefix="Access request:")],
}


def test_every_example_file_is_covered() -> None:
    assert EXAMPLES, f"no example DAGs found in {EXAMPLE_DAGS}"
    for name, ids in EXAMPLES.items():
        assert ids, f"{name}: no dag_id found; teach _dag_ids how this file declares its DAG"


def _load_it_agent() -> ModuleType:
    spec = importlib.util.spec_from_file_location("it_agent", REPO / "scripts" / "it_agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("it_agent", module)
    spec.loader.exec_module(module)
    return module


@contextmanager
def it_agent(sandbox: PrimoSandbox, prefix: str) -> Iterator[None]:
    """Complete the run's ticket once it carries a comment (the DAG escalated it), or after 120 s."""
    agent = _load_it_agent()
    stop = threading.Event()

    def watch() -> None:
        waited = 0.0
        while not stop.is_set():
            ours = [t for t in sandbox.tickets() if t["title"].startswith(prefix)]
            if ours and (ours[0]["comments"] or waited > 120):
                agent.complete_tickets(
                    sandbox.url, sandbox.api_key, prefix, after_seconds=0, stop_event=stop, max_tickets=1
                )
                return
            stop.wait(0.2)
            waited += 0.2

    thread = threading.Thread(target=watch, name="it-agent", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def secret_sandbox() -> Iterator[PrimoSandbox]:
    with PrimoSandbox(api_key=SENTINEL) as server:
        yield server


@pytest.fixture
def sentinel_env(secret_sandbox: PrimoSandbox) -> dict[str, str]:
    secret_sandbox.reset()
    return {"AIRFLOW_CONN_PRIMO_DEFAULT": secret_sandbox.connection_json}


# --- the scan ------------------------------------------------------------------------------------


@dataclass
class Corpus:
    """Everything a run left behind, by place."""

    places: dict[str, str] = field(default_factory=dict)

    def add(self, place: str, text: str) -> None:
        self.places[place] = self.places.get(place, "") + text + "\n"

    def leaks(self) -> list[str]:
        return [
            f"{place}: {form!r}" for place, text in self.places.items() for form in LEAK_FORMS if form in text
        ]


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _collect(home: Path, dag_id: str, outputs: list[str]) -> Corpus:
    corpus = Corpus()
    for output in outputs:
        corpus.add("stdout/stderr", output)
    for path in sorted((home / "logs").rglob("*")):
        if path.is_file():
            corpus.add("log files", path.read_bytes().decode("utf-8", "replace"))
    with closing(sqlite3.connect(home / "airflow.db")) as db:
        for row in db.execute("SELECT key, value FROM xcom WHERE dag_id = ?", (dag_id,)):
            corpus.add("xcom", " ".join(map(_text, row)))
        for (fields,) in db.execute(
            "SELECT rendered_fields FROM rendered_task_instance_fields WHERE dag_id = ?", (dag_id,)
        ):
            corpus.add("rendered fields", _text(fields))
    database = b"".join(p.read_bytes() for p in home.glob("airflow.db*"))  # the WAL too, if any
    corpus.add("metadata database (raw)", database.decode("utf-8", "replace"))
    return corpus


def test_the_scan_finds_a_planted_key(airflow_env: dict[str, str]) -> None:
    """Positive control: a key written where task logs go is found by the same scan."""
    home = Path(airflow_env["AIRFLOW_HOME"])
    planted = home / "logs" / "dag_id=planted" / "attempt=1.log"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(f"some line\nAuthorization: Bearer {SENTINEL}\n")
    try:
        leaks = _collect(home, "planted", []).leaks()
        assert leaks == [f"log files: {form!r}" for form in LEAK_FORMS]
        assert f"log files: {SENTINEL!r}" in leaks
    finally:
        planted.unlink()
        planted.parent.rmdir()


# --- every example DAG ----------------------------------------------------------------------------


@pytest.mark.parametrize("dag_id", [dag_id for ids in EXAMPLES.values() for dag_id in ids])
def test_example_dag_never_leaks_the_key(
    dag_id: str,
    run_dag: Callable[..., Any],
    airflow_env: dict[str, str],
    sentinel_env: dict[str, str],
    secret_sandbox: PrimoSandbox,
) -> None:
    outputs = []
    for plan in PLANS.get(dag_id, [Run()]):
        agent = it_agent(secret_sandbox, plan.agent_prefix) if plan.agent_prefix else _nothing()
        with agent:
            done = run_dag(dag_id, conf=plan.conf, env=sentinel_env, check=plan.state == "success")
        states = re.findall(r"DagRun Finished: .*?state=(\w+)", done.stdout)
        assert states and states[-1] == plan.state, done.stdout[-4000:]
        outputs.append(done.stdout)

    # Positive controls: the key was used (every call was accepted), and the run left traces to scan.
    used = secret_sandbox.requests
    assert used, "the DAG made no Primo request, so its key was never used"
    assert all(r.status != 401 for r in used), "the sandbox refused the key"
    references = [t["reference"] for t in secret_sandbox.tickets()]
    assert references, "the DAG made no ticket"
    corpus = _collect(Path(airflow_env["AIRFLOW_HOME"]), dag_id, outputs)
    assert all(ref in corpus.places["stdout/stderr"] for ref in references)
    assert any(
        ref in corpus.places.get("xcom", "") + corpus.places.get("rendered fields", "") for ref in references
    ) or (
        dag_id in PLANS and PLANS[dag_id][0].state == "failed"  # callbacks push no XCom
    )

    assert corpus.leaks() == []


@contextmanager
def _nothing() -> Iterator[None]:
    yield


# --- a broken connection ----------------------------------------------------------------------------


def test_a_broken_connection_fails_the_task_naming_the_connection(
    run_dag: Callable[..., Any], airflow_env: dict[str, str], secret_sandbox: PrimoSandbox
) -> None:
    secret_sandbox.reset()
    broken = (
        f'{{"conn_type": "primo", "host": "{secret_sandbox.url}", "password": "{SENTINEL}", '
        '"extra": {"retries": 3}}'
    )
    done = run_dag("example_primo_create_ticket", env={"AIRFLOW_CONN_PRIMO_DEFAULT": broken}, check=False)

    assert re.findall(r"DagRun Finished: .*?state=(\w+)", done.stdout)[-1:] == ["failed"]
    assert "Primo connection 'primo_default': unknown extra field(s) retries" in done.stdout
    assert "PrimoConnectionConfigError" in done.stdout
    assert secret_sandbox.requests == []
    corpus = _collect(Path(airflow_env["AIRFLOW_HOME"]), "example_primo_create_ticket", [done.stdout])
    assert corpus.leaks() == []
