"""Smoke test of ``benchmarks/run.py --quick``: every section runs and reports its rows.

No timing is asserted (timings live in the benchmarks, never in pass/fail tests); only what is counted:
the requests of a steady-state notification, the open tickets after a notifier storm, and which modules
the DAG-facing imports load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_ROWS = (
    "parse.extra_ms",
    "parse.no_http_client",
    "parse.modules_added",
    "client.per_call",
    "client.primo_vs_raw",
    "client.primo_vs_httphook",
    "notifier.first_requests",
    "notifier.first_ms",
    "notifier.steady_requests",
    "notifier.steady_ms",
    "memory.stream_growth_mb",
    "storm.open_tickets",
    "storm.converge_s",
)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the quick benchmark once for the module; its stdout and its JSON report."""
    report = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-5000:]}"
    results = json.loads(report.read_text())
    results["stdout"] = done.stdout
    results["by_key"] = {row["key"]: row for row in results["rows"]}
    return results


def test_prints_the_machine_a_table_and_a_conclusion(quick_run: dict[str, Any]) -> None:
    stdout = quick_run["stdout"]
    for fact in ("cpu:", "cores:", "python:", "airflow:"):
        assert fact in stdout
    assert "| metric" in stdout and "| result |" in stdout
    assert "Conclusion:" in stdout
    assert quick_run["machine"]["airflow"] != "not installed"


def test_every_section_reports_its_rows(quick_run: dict[str, Any]) -> None:
    rows = quick_run["by_key"]
    assert set(EXPECTED_ROWS) <= set(rows)
    for key, row in rows.items():
        assert row["status"] in ("PASS", "MISS", "INFO", "SKIP"), (key, row["value"])
        assert row["metric"] in quick_run["stdout"]
        if row["goal"]:
            assert row["status"] in ("PASS", "MISS", "SKIP"), key


def test_dag_facing_modules_import_no_http_client_nor_hook(quick_run: dict[str, Any]) -> None:
    row = quick_run["by_key"]["parse.no_http_client"]
    assert row["measured"]["forbidden"] == []
    added = row["measured"]["modules_added"]
    assert "primo_provider.notifications.primo" in added
    assert not [m for m in added if m.split(".")[0] in ("requests", "httpx", "urllib3")]
    assert not [m for m in added if m.startswith("primo_provider.hooks")]


def test_storm_converges_on_one_open_ticket(quick_run: dict[str, Any]) -> None:
    measured = quick_run["by_key"]["storm.open_tickets"]["measured"]
    assert measured["unfinished"] == 0
    assert measured["open"] == 1


def test_memory_client_read_every_ticket(quick_run: dict[str, Any]) -> None:
    assert quick_run["by_key"]["memory.stream_growth_mb"]["measured"]["count"] == 500


def test_steady_state_notification_costs_at_most_two_requests(quick_run: dict[str, Any]) -> None:
    assert max(quick_run["by_key"]["notifier.steady_requests"]["measured"]["requests"]) <= 2


def test_httphook_comparison_runs_when_the_http_provider_is_installed(quick_run: dict[str, Any]) -> None:
    pytest.importorskip("airflow.providers.http")
    assert quick_run["by_key"]["client.primo_vs_httphook"]["status"] in ("PASS", "MISS")
    assert quick_run["by_key"]["client.primo_vs_httphook_session"]["status"] == "INFO"
