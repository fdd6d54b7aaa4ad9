"""Integration tier: real DAGs, run by real Airflow (``airflow dags test``), against the local sandbox.

Fixtures:

* ``sandbox`` - a :class:`~primo_provider.sandbox.PrimoSandbox` for the whole session, emptied (tickets,
  request log, faults) before every test.
* ``airflow_env`` - the environment for an Airflow subprocess: a session-wide AIRFLOW_HOME on SQLite
  (migrated once), the example DAGs folder, and ``AIRFLOW_CONN_PRIMO_DEFAULT`` pointing at the sandbox.
* ``run_dag`` - ``run_dag(dag_id, *, dags_folder=None, conf=None, env=None, check=True)`` runs
  ``airflow dags test`` and returns the finished process (stdout and stderr merged into ``.stdout``).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from primo_provider.sandbox import PrimoSandbox

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
TEST_DAGS = Path(__file__).parent / "dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def sandbox() -> Iterator[PrimoSandbox]:
    with PrimoSandbox(api_key="integration-test-key") as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_sandbox(sandbox: PrimoSandbox) -> None:
    sandbox.reset()


@pytest.fixture(scope="session")
def _airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow-home")
    env = _base_env(home)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return home


def _base_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    return env


@pytest.fixture
def airflow_env(_airflow_home: Path, sandbox: PrimoSandbox) -> dict[str, str]:
    env = _base_env(_airflow_home)
    env["AIRFLOW_CONN_PRIMO_DEFAULT"] = sandbox.connection_json
    return env


@pytest.fixture
def run_dag(airflow_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(
        dag_id: str,
        *,
        dags_folder: Path | None = None,
        conf: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        command = [AIRFLOW, "dags", "test", dag_id]
        if conf is not None:
            command += ["--conf", json.dumps(conf)]
        run_env = {**airflow_env, **(env or {})}
        if dags_folder is not None:
            run_env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
        done = subprocess.run(
            command,
            env=run_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        if check and (done.returncode != 0 or _run_failed(done.stdout)):
            raise AssertionError(
                f"airflow dags test {dag_id} failed (exit {done.returncode}):\n{done.stdout[-6000:]}"
            )
        return done

    return run


def _run_failed(output: str) -> bool:
    """``airflow dags test`` may exit 0 although the run failed (2.x); read the run's final state."""
    states = re.findall(r"DagRun Finished: .*?state=(\w+)", output)
    return not states or states[-1] != "success"


@pytest.fixture
def xcom(airflow_env: dict[str, str]) -> Callable[..., Any]:
    """``xcom(dag_id, task_id, key="return_value")``: the latest value Airflow stored, JSON-decoded."""

    def read(dag_id: str, task_id: str, key: str = "return_value") -> Any:
        database = Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db"
        with closing(sqlite3.connect(database)) as connection:
            row = connection.execute(
                "SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = ? "
                "ORDER BY timestamp DESC LIMIT 1",
                (dag_id, task_id, key),
            ).fetchone()
        if row is None:
            raise LookupError(f"no XCom {key!r} for {dag_id}.{task_id}")
        value = row[0]
        return json.loads(value.decode() if isinstance(value, bytes) else value)

    return read
