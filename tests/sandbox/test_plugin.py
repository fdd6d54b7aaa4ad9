"""The pytest plugin (fixtures) and the sandbox's import hygiene (no Airflow, no requests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

INNER_TESTS = """
from __future__ import annotations

import json
import os

import requests

SEEN = []


def test_function_sandbox(primo_sandbox):
    assert primo_sandbox.running
    response = requests.get(primo_sandbox.url + "/employees",
                            headers={"Authorization": "Bearer " + primo_sandbox.api_key}, timeout=5)
    assert response.status_code == 200


def test_connection_env(primo_connection):
    conn = json.loads(os.environ["AIRFLOW_CONN_PRIMO_DEFAULT"])
    assert conn == {"conn_type": "primo", "host": primo_connection.url, "password": primo_connection.api_key}


def test_env_restored():
    assert "AIRFLOW_CONN_PRIMO_DEFAULT" not in os.environ


def test_session_a(primo_sandbox_session):
    SEEN.append(primo_sandbox_session)


def test_session_b(primo_sandbox_session):
    assert SEEN == [primo_sandbox_session]
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_CONN_PRIMO_DEFAULT"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def test_fixtures_work_in_a_pytest_run(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    env = _env()
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # load the plugin explicitly, installed or not
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "primo_provider.sandbox.pytest_plugin",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout


def test_plugin_entry_point_is_declared() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    entry_points = pyproject["project"]["entry-points"]["pytest11"]
    assert entry_points == {"primo_sandbox": "primo_provider.sandbox.pytest_plugin"}


def test_imports_stay_light() -> None:
    code = (
        "import sys\n"
        "import primo_provider.sandbox.pytest_plugin\n"
        "assert 'primo_provider.sandbox.server' not in sys.modules, 'plugin import is not lazy'\n"
        "import primo_provider.sandbox, primo_provider.sandbox.__main__\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'requests', 'urllib3'))\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr


def test_entry_point_plugin_when_installed(request: pytest.FixtureRequest) -> None:
    if not request.config.pluginmanager.has_plugin("primo_sandbox"):
        pytest.skip("the project is not installed, so its pytest11 entry point is not loaded")
    sandbox = request.getfixturevalue("primo_connection")
    assert json.loads(os.environ["AIRFLOW_CONN_PRIMO_DEFAULT"])["host"] == sandbox.url
    assert sandbox.running
