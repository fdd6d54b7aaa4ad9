"""Memory: ``PrimoHook.list_tickets`` streams, so iterating 10,000 tickets barely grows the client.

The sandbox runs in its own process, seeded through its state file (``--state-file``: a JSON file it
loads at start) with N realistic tickets. The measured client is another fresh process
(``python -m benchmarks.memory --client``): it reads the connection, fetches one page to warm up, resets
its peak RSS to the current RSS (Linux ``/proc/self/clear_refs``; elsewhere ``ru_maxrss`` as is), then
consumes ``list_tickets()`` item by item without keeping anything, and reads the peak (``VmHWM``) again.
The growth of the peak is the result. For comparison the same
process then keeps every ticket (``list(hook.list_tickets())``), which is what a non-streaming client
would hold at least.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import INFO, ROOT, Row, Sandbox, set_connection, verdict

GOAL_MB = 20.0
_DAGS = ("sales_daily", "billing_sync", "crm_export", "warehouse_load", "ml_features")
_TASKS = ("extract", "transform", "load_orders", "publish", "validate")
_STATUSES = ("PENDING", "IN_PROGRESS", "COMPLETED", "CANCELLED")
_PRIORITIES = (None, "LOW", "MEDIUM", "HIGH")


def _timestamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_state(path: Path, count: int) -> Path:
    """A sandbox state file with ``count`` tickets shaped like the notifier's (no employees)."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    tickets = []
    for number in range(1, count + 1):
        dag, task = _DAGS[number % len(_DAGS)], _TASKS[number // len(_DAGS) % len(_TASKS)]
        created = _timestamp(start + dt.timedelta(minutes=number))
        tickets.append(
            {
                "id": f"tkt_{number:024x}",
                "reference": f"T-{number:05d}",
                "title": f"[airflow:{dag}.{task}] Airflow task {task} in DAG {dag} failed",
                "status": _STATUSES[number % len(_STATUSES)],
                "priority": _PRIORITIES[number % len(_PRIORITIES)],
                "assignee": None,
                "dueDate": None,
                "createdAt": created,
                "updatedAt": created,
                "description": f"**Airflow task {task} in DAG {dag} failed.**\n\n- **Run:** `scheduled_{number}`",
                "comments": [],
            }
        )
    state = {"version": 1, "ticketSequence": count, "tickets": tickets, "employees": []}
    path.write_text(json.dumps(state), encoding="utf-8")
    return path


def _proc_status_mb(field: str) -> float | None:
    """``VmRSS`` or ``VmHWM`` of this process in MB, from /proc (Linux); None elsewhere."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs``); False if impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _proc_status_mb("VmHWM") is not None


def _ru_maxrss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class PeakMeter:
    """Growth of the peak RSS over a block of code.

    On Linux the kernel's high-water mark is reset first (``/proc/self/clear_refs``), so the peak
    reached earlier (Airflow's import, and the parent's RSS that ``ru_maxrss`` inherits across
    fork and exec) cannot hide the block's growth. Elsewhere it falls back to ``ru_maxrss``.
    """

    def __init__(self) -> None:
        self.method = "ru_maxrss"
        self.before = 0.0

    def start(self) -> None:
        """Collect garbage, reset the peak where possible, and note where it starts."""
        gc.collect()
        self.method = "VmHWM after clear_refs" if _reset_peak() else "ru_maxrss"
        self.before = self._peak()

    def _peak(self) -> float:
        if self.method == "ru_maxrss":
            return _ru_maxrss_mb()
        return _proc_status_mb("VmHWM") or 0.0

    def growth(self) -> tuple[float, float, float]:
        """``(before, peak, growth)`` in MB."""
        peak = self._peak()
        return self.before, peak, peak - self.before


def client(conn_id: str, keep: bool) -> dict[str, Any]:
    """The measured client (runs in its own process): peak RSS growth while reading every ticket."""
    from primo_provider.hooks.primo import PrimoHook

    hook = PrimoHook(primo_conn_id=conn_id)
    for _ in itertools.islice(hook.list_tickets(), 1):  # warm up: connection, first page decoded
        pass
    meter = PeakMeter()
    meter.start()
    started = time.perf_counter()
    count = 0
    for _ticket in hook.list_tickets():
        count += 1
    seconds = time.perf_counter() - started
    before, peak, growth = meter.growth()
    result: dict[str, Any] = {
        "count": count,
        "seconds": seconds,
        "method": meter.method,
        "peak_before_mb": before,
        "peak_after_mb": peak,
        "growth_mb": growth,
    }
    if keep:
        meter.start()
        kept = list(hook.list_tickets())
        result["kept_count"] = len(kept)
        result["kept_growth_mb"] = meter.growth()[2]
    return result


def _run_client(sandbox: Sandbox, keep: bool) -> dict[str, Any]:
    set_connection("primo_bench_memory", sandbox.connection)
    command = [sys.executable, "-m", "benchmarks.memory", "--client", "primo_bench_memory"]
    if keep:
        command.append("--keep")
    done = subprocess.run(
        command, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the memory client failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Row]:
    """Measure and return the memory rows."""
    count = 500 if quick else 10_000
    with tempfile.TemporaryDirectory(prefix="primo-bench-memory-") as tmp:
        state = write_state(Path(tmp) / "state.json", count)
        with Sandbox.run(state_file=state) as sandbox:
            result = _run_client(sandbox, keep=True)
    if result["count"] != count:
        raise RuntimeError(f"list_tickets yielded {result['count']} tickets, expected {count}")
    growth = result["growth_mb"]
    rows = [
        Row(
            "memory.stream_growth_mb",
            f"memory: peak RSS growth iterating list_tickets over {count:,} tickets (client process)",
            f"{growth:.1f} MB (peak {result['peak_before_mb']:.0f} -> {result['peak_after_mb']:.0f} MB, "
            f"{result['seconds']:.1f} s)",
            f"< {GOAL_MB:g} MB",
            verdict(growth < GOAL_MB),
            result,
        )
    ]
    if "kept_growth_mb" in result:
        rows.append(
            Row(
                "memory.kept_growth_mb",
                f"memory: same, keeping all {result['kept_count']:,} tickets (list(...)), for comparison",
                f"{result['kept_growth_mb']:.1f} MB",
                "",
                INFO,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.memory --client CONN_ID [--keep]``: the measured client; prints JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", metavar="CONN_ID", required=True)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(client(args.client, args.keep)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
