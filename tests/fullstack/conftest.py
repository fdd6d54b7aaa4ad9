"""Full-stack tier: the provider inside a running Airflow, driven through Airflow's own REST API.

``airflow_stack`` (package scope: stopped after the last full-stack test) starts, in a throwaway
AIRFLOW_HOME on the default embedded SQLite:

* Airflow 3: ``api-server`` + ``scheduler`` (LocalExecutor) + ``triggerer`` + ``dag-processor``, with
  SimpleAuthManager in all-admins mode (a token still comes from ``GET /auth/token``) and connection
  testing enabled for the UI;
* Airflow 2.11: ``webserver`` + ``scheduler`` (SequentialExecutor, the one SQLite allows on 2.x) +
  ``triggerer``, with an admin user and the REST API v1 on basic auth.

Every component runs as the test venv's ``airflow`` in its own process group (its task processes with it),
logging to ``<home>/<component>.log``. The DAGs folder is ``example_dags/``; ``AIRFLOW_CONN_PRIMO_DEFAULT``
points at an in-process :class:`~primo_provider.sandbox.PrimoSandbox`. The browser test and the run tests
share one stack. Teardown (also after a failed start, or when pytest gets SIGTERM) sends SIGTERM to each
group, then SIGKILL to what is left after a grace period, so no process survives the tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from primo_provider.sandbox import PrimoSandbox

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
API_KEY = "fullstack-test-key"
ADMIN = ("admin", "admin-fullstack")  # Airflow 2 only (basic auth on REST API v1)
#: Bounded waits, in seconds.
START_TIMEOUT = 150.0
STOP_GRACE = 20.0
TERMINAL_RUN_STATES = {"success", "failed"}


def airflow_major() -> int:
    from airflow import __version__

    return int(__version__.split(".")[0])


def example_dag_ids() -> list[str]:
    """The dag_id of every example DAG file (one DAG per file, ``dag_id="..."``)."""
    import re

    ids = []
    for path in sorted(EXAMPLE_DAGS.glob("*.py")):
        ids += re.findall(r'dag_id="([^"]+)"', path.read_text())
    return ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AirflowStack:
    """A running Airflow and the sandbox it talks to; REST helpers for the tests."""

    major: int
    home: Path
    url: str
    env: dict[str, str]
    sandbox: PrimoSandbox
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    # --- processes -------------------------------------------------------------------------------

    def start(self, name: str, *args: str) -> None:
        log = (self.home / f"{name}.log").open("ab")
        try:
            self.processes[name] = subprocess.Popen(
                [AIRFLOW, *args],
                env=self.env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped with all its children
            )
        finally:
            log.close()

    def stop(self) -> None:
        """SIGTERM every component's process group, wait, then SIGKILL whatever is left."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():
            _signal_group(process, signal.SIGKILL)  # also task processes a component left behind
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        self.http.close()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(
                    f"Airflow {name} exited with status {process.returncode}.\n{self.logs(name)}"
                )

    def logs(self, *names: str, chars: int = 4000) -> str:
        """The end of the components' logs, for failure messages."""
        parts = []
        for name in names or tuple(self.processes):
            path = self.home / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            parts.append(f"--- {name} log (last {chars} chars) ---\n{text[-chars:]}")
        return "\n".join(parts)

    # --- REST API --------------------------------------------------------------------------------

    @property
    def api_prefix(self) -> str:
        return "/api/v2" if self.major >= 3 else "/api/v1"

    def api(self, method: str, path: str, *, expect: int | tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        """Call Airflow's REST API (``path`` after ``/api/v2`` or ``/api/v1``) and return the JSON body."""
        response = self.http.request(method, self.url + self.api_prefix + path, timeout=30, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in expected:
            raise AssertionError(
                f"{method} {self.api_prefix}{path} answered {response.status_code}: {response.text[:2000]}"
            )
        return response.json() if response.content else None

    def trigger(
        self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None
    ) -> str:
        """Create a manual DAG run through the REST API; return its run id.

        Without ``logical_date`` the run has none on Airflow 3 (as the UI's and the CLI's default) and the
        current time on Airflow 2.
        """
        body: dict[str, Any] = {"conf": conf or {}}
        if logical_date is not None or self.major >= 3:
            body["logical_date"] = logical_date
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", json=body, expect=(200, 201))
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        body = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in body["task_instances"]}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """An XCom value as the task pushed it (REST API v1 needs ``deserialize`` for that)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        params = {"deserialize": "true", "stringify": "false"} if self.major < 3 else None
        return self.api("GET", path, params=params)["value"]

    def executor_reported(self, dag_id: str, task_id: str, run_id: str) -> bool:
        """Whether the scheduler has processed the executor's event for the task's latest workload."""
        log = (self.home / "scheduler.log").read_text(errors="replace")
        key = f"TaskInstanceKey(dag_id='{dag_id}', task_id='{task_id}', run_id='{run_id}'"
        return any("Received executor event" in line and key in line for line in log.splitlines())

    def run_report(self, dag_id: str, run_id: str, chars: int = 3000) -> str:
        """Task states and the end of every task log of a run, for failure messages."""
        parts = [f"task states: {self.task_states(dag_id, run_id)}"]
        run_dir = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        for log in sorted(run_dir.glob("task_id=*/**/*.log")):
            parts.append(f"--- {log.relative_to(run_dir)} ---\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def wait_until(
        self, what: str, check: Callable[[], Any], *, timeout: float, interval: float = 1.0
    ) -> Any:
        """Poll ``check`` until it returns something truthy; fail after ``timeout`` with the logs."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                last = check()
            except (requests.RequestException, AssertionError) as error:
                last = error
            else:
                if last:
                    return last
            time.sleep(interval)
        raise AssertionError(
            f"timed out after {timeout:g}s waiting for {what} (last: {last!r})\n{self.logs()}"
        )

    def wait_for_run(self, dag_id: str, run_id: str, *, timeout: float = 90) -> str:
        """Wait until the run is finished; return its state."""

        def finished() -> str | None:
            state = self.run_state(dag_id, run_id)
            return state if state in TERMINAL_RUN_STATES else None

        return self.wait_until(f"{dag_id} run {run_id} to finish", finished, timeout=timeout)


@contextlib.contextmanager
def _sigterm_runs_teardown() -> Iterator[None]:
    """Turn SIGTERM (``timeout``, a CI runner stopping) into SystemExit, so the stack is still stopped:
    its components run in their own sessions and would otherwise outlive pytest."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(f"pytest received signal {signum}; stopping the Airflow components")

    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:  # someone else handles it already
        yield
        return
    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)  # start_new_session=True: the group id is the process id


def _base_env(home: Path, sandbox: PrimoSandbox) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__CORE__FERNET_KEY="",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="2",
        AIRFLOW_CONN_PRIMO_DEFAULT=sandbox.connection_json,
        PYTHONWARNINGS="ignore::DeprecationWarning",
        NO_COLOR="1",
    )
    # The venv's bin first: Airflow starts helper processes as plain ``airflow``.
    env["PATH"] = f"{Path(AIRFLOW).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _start_airflow_3(stack: AirflowStack, port: int) -> None:
    env = stack.env
    env.update(
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=stack.url,
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API__SECRET_KEY=secrets.token_hex(16),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{stack.url}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
    )
    _migrate(stack)
    stack.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1")
    stack.start("scheduler", "scheduler")
    stack.start("triggerer", "triggerer")
    stack.start("dag-processor", "dag-processor")

    def healthy() -> bool:
        health = requests.get(f"{stack.url}/api/v2/monitor/health", timeout=5).json()
        return all(
            (health.get(part) or {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        )

    stack.wait_until(
        "the API server, scheduler, triggerer and DAG processor to be healthy", healthy, timeout=START_TIMEOUT
    )
    token = stack.http.get(f"{stack.url}/auth/token", timeout=10)
    assert token.status_code in (200, 201), token.text
    stack.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"


def _start_airflow_2(stack: AirflowStack, port: int) -> None:
    env = stack.env
    env.update(
        AIRFLOW__CORE__EXECUTOR="SequentialExecutor",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
        AIRFLOW__API__AUTH_BACKENDS="airflow.providers.fab.auth_manager.api.auth.backend.basic_auth",
        AIRFLOW__API__ENABLE_XCOM_DESERIALIZE_SUPPORT="True",
        AIRFLOW__WEBSERVER__WEB_SERVER_HOST="127.0.0.1",
        AIRFLOW__WEBSERVER__WEB_SERVER_PORT=str(port),
        AIRFLOW__WEBSERVER__BASE_URL=stack.url,
        AIRFLOW__WEBSERVER__WORKERS="1",
        AIRFLOW__WEBSERVER__SECRET_KEY=secrets.token_hex(16),
        AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL="5",
        AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
    )
    _migrate(stack)
    user, password = ADMIN
    subprocess.run(
        [AIRFLOW, "users", "create", "--role", "Admin", "--username", user, "--password", password,
         "--email", "admin@example.com", "--firstname", "Air", "--lastname", "Flow"],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    stack.start("webserver", "webserver", "--hostname", "127.0.0.1", "--port", str(port), "--workers", "1")
    stack.start("scheduler", "scheduler")
    stack.start("triggerer", "triggerer")
    stack.http.auth = ADMIN

    def healthy() -> bool:
        health = requests.get(f"{stack.url}/health", timeout=5).json()
        return all(
            (health.get(part) or {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "triggerer")
        )

    stack.wait_until("the webserver, scheduler and triggerer to be healthy", healthy, timeout=START_TIMEOUT)


def _migrate(stack: AirflowStack) -> None:
    done = subprocess.run(
        [AIRFLOW, "db", "migrate"],
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    if done.returncode:
        raise AssertionError(f"airflow db migrate failed:\n{done.stdout[-4000:]}")


@pytest.fixture(scope="package")
def airflow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    """A running Airflow (see the module docstring) with every example DAG parsed, and its sandbox."""
    home = tmp_path_factory.mktemp("fullstack-airflow-home")
    port = _free_port()
    with _sigterm_runs_teardown(), PrimoSandbox(api_key=API_KEY) as sandbox:
        stack = AirflowStack(
            major=airflow_major(),
            home=home,
            url=f"http://127.0.0.1:{port}",
            env=_base_env(home, sandbox),
            sandbox=sandbox,
        )
        try:
            (_start_airflow_3 if stack.major >= 3 else _start_airflow_2)(stack, port)
            wanted = set(example_dag_ids())

            def parsed() -> bool:
                body = stack.api("GET", "/dags", params={"limit": 100})
                return wanted <= {dag["dag_id"] for dag in body["dags"]}

            stack.wait_until(f"the example DAGs {sorted(wanted)} to be parsed", parsed, timeout=START_TIMEOUT)
            yield stack
        finally:
            stack.stop()


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
