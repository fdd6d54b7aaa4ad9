"""Shared pieces of the benchmarks: result rows, the table, the machine, helper processes."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-api-key"

PASS, MISS, INFO, SKIP = "PASS", "MISS", "INFO", "SKIP"


@dataclass
class Row:
    """One line of the results table.

    ``key`` is stable (the smoke test and the JSON output use it); ``measured`` holds the raw numbers.
    ``status`` is PASS or MISS against ``goal``, INFO for context rows without a goal, SKIP when the
    measurement could not run (``value`` says why).
    """

    key: str
    metric: str
    value: str
    goal: str = ""
    status: str = INFO
    measured: dict[str, Any] = field(default_factory=dict)


def verdict(ok: bool) -> str:
    """PASS or MISS."""
    return PASS if ok else MISS


def median(values: Sequence[float]) -> float:
    """The median (of at least one value)."""
    return statistics.median(values)


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a markdown table (readable on a terminal, pasteable into RESULTS.md)."""
    header = ("metric", "value", "goal", "result")
    cells = [header, *((row.metric, row.value, row.goal or "-", row.status) for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return (
            "| " + " | ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)) + " |"
        )

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), rule, *(line(values) for values in cells[1:])])


def rows_to_json(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """The rows as JSON-able dicts."""
    return [asdict(row) for row in rows]


# --- the machine ---------------------------------------------------------------------------------


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    """What the results ran on (read without importing Airflow)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    try:
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        load = "n/a"
    return {
        "cpu": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {usable} usable",
        "os": platform.platform(terse=True),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "airflow": _version("apache-airflow"),
        "task sdk": _version("apache-airflow-task-sdk"),
        "airflow-provider-primo": _version("airflow-provider-primo"),
        "requests": _version("requests"),
        "apache-airflow-providers-http": _version("apache-airflow-providers-http"),
        "load average at start (1, 5, 15 min)": load,
    }


# --- environment ---------------------------------------------------------------------------------


#: Bytecode cache of the benchmark's interpreters, kept between runs (outside the repository and venv).
PYCACHE = Path(tempfile.gettempdir()) / "primo-bench-pycache"


def prepare_environment(home: Path) -> None:
    """Point Airflow at a throwaway home, keep its logs quiet (errors still show), cache bytecode.

    Must run before Airflow is imported. The benchmark reads connections from ``AIRFLOW_CONN_*``
    variables only, so no metadata database is needed. Bytecode goes to :data:`PYCACHE` for this process
    and its children, even under ``PYTHONDONTWRITEBYTECODE=1``: otherwise every helper process would
    recompile Airflow from source (10 s and more), and the DAG-parse numbers would measure the compiler.
    """
    PYCACHE.mkdir(parents=True, exist_ok=True)
    sys.pycache_prefix = str(PYCACHE)
    sys.dont_write_bytecode = False
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    )


def set_connection(conn_id: str, conn: dict[str, Any]) -> None:
    """Define an Airflow connection through its ``AIRFLOW_CONN_<ID>`` variable (JSON form)."""
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)


# --- helper processes ----------------------------------------------------------------------------


@contextlib.contextmanager
def fast_server() -> Iterator[str]:
    """Run :mod:`benchmarks.fast_server` in its own process; yield its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fast_server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"the fast server did not start (said {port!r})")
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Sandbox:
    """A Primo sandbox (``python -m primo_provider.sandbox``) in its own process, and its control API.

    The sandbox runs apart from the measured client, so neither its CPU time nor its memory is counted
    against the client.
    """

    def __init__(self, url: str, process: subprocess.Popen[Any]) -> None:
        self.url = url
        self.process = process
        self.api_key = API_KEY

    @classmethod
    @contextlib.contextmanager
    def run(cls, *, state_file: Path | None = None, timeout: float = 300.0) -> Iterator[Sandbox]:
        """Start a sandbox (optionally loading ``state_file``), wait until it listens, stop it after."""
        with tempfile.TemporaryDirectory(prefix="primo-bench-sandbox-") as tmp:
            ready = Path(tmp) / "url"
            command = [
                sys.executable,
                "-m",
                "primo_provider.sandbox",
                "--port",
                "0",
                "--api-key",
                API_KEY,
                "--ready-file",
                str(ready),
                "--quiet",
            ]
            if state_file is not None:
                command += ["--state-file", str(state_file)]
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + timeout
                while not (ready.exists() and ready.read_text().strip()):
                    if process.poll() is not None:
                        raise RuntimeError(f"the sandbox exited with status {process.returncode}")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the sandbox was not ready within {timeout:g}s")
                    time.sleep(0.05)
                yield cls(ready.read_text().strip(), process)
            finally:
                _stop(process)

    @property
    def connection(self) -> dict[str, Any]:
        """The Airflow connection to this sandbox (JSON form)."""
        return {"conn_type": "primo", "host": self.url, "password": self.api_key}

    def _control(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}/_sandbox/{path}", method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def requests(self) -> list[dict[str, Any]]:
        """The request log (API requests only), oldest first."""
        return self._control("GET", "requests")

    def tickets(self) -> list[dict[str, Any]]:
        """Every ticket, full form."""
        return self._control("GET", "state")["tickets"]

    def reset(self) -> None:
        """Forget tickets and the request log."""
        self._control("POST", "reset")
