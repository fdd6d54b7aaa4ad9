"""The command line: ``python -m primo_provider.sandbox``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "cli-s3cret/key+="


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text().strip()
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("sandbox did not become ready")


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    state = tmp_path / "state.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "primo_provider.sandbox",
            "--port=0",
            f"--api-key={API_KEY}",
            f"--ready-file={ready}",
            f"--state-file={state}",
            "--employees=7",
            "--fault",
            "POST /tickets:status:status=429,retry_after=1,times=1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        url = _wait_for(ready, proc)
        assert url.startswith("http://127.0.0.1:")
        headers = {"Authorization": f"Bearer {API_KEY}"}
        first = requests.post(f"{url}/tickets", json={"title": "t"}, headers=headers, timeout=5)
        assert (first.status_code, first.headers["Retry-After"]) == (429, "1")
        assert (
            requests.post(f"{url}/tickets", json={"title": "t"}, headers=headers, timeout=5).status_code
            == 201
        )
        employees = requests.get(f"{url}/employees", headers=headers, timeout=5).json()
        assert employees["pagination"]["totalElements"] == 7
        assert requests.get(f"{url}/tickets", timeout=5).status_code == 401
        assert len(requests.get(f"{url}/_sandbox/state", timeout=5).json()["tickets"]) == 1
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr

    uri = f"primo://:{quote(API_KEY, safe='')}@{quote(url, safe='')}"
    assert f"export AIRFLOW_CONN_PRIMO_DEFAULT='{uri}'" in stdout
    assert f"Primo sandbox listening on {url}" in stdout
    assert '"conn_type": "primo"' in stdout
    # The key appears in clear only inside the connection lines, and never in the request log.
    assert all("AIRFLOW_CONN_PRIMO_DEFAULT" in line for line in stdout.splitlines() if API_KEY in line)
    assert API_KEY not in stderr
    assert quote(API_KEY, safe="") not in stderr
    log = [line.split(" ", 1)[1] for line in stderr.splitlines()]
    assert log[0].startswith("POST /tickets 429 fault=POST /tickets:status:")
    assert log[1:] == ["POST /tickets 201", "GET /employees 200", "GET /tickets 401"]
    assert state.exists()


def test_cli_rejects_a_bad_fault() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "primo_provider.sandbox",
            "--port=0",
            "--fault",
            "POST /nope:status:status=500",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=20,
    )
    assert proc.returncode == 2
    assert "--fault" in proc.stderr
