"""Run the benchmarks and print a table and a conclusion: ``make bench`` / ``python benchmarks/run.py``.

Sections (``--only`` takes a comma-separated list of them):

* ``parse``: DAG-parse cost of the provider's operator and notifier modules (fresh interpreters);
* ``client``: client overhead of ``PrimoHook`` against a raw ``requests.Session`` and ``HttpHook``;
* ``notifier``: requests and time per ``PrimoNotifier`` notification (first failure, steady state);
* ``memory``: peak RSS growth while ``list_tickets`` streams 10,000 tickets;
* ``storm``: 50 concurrent notifiers for one fingerprint converge on one open ticket.

``--quick`` runs every section small (about 20 calls each), for the smoke test. ``--json PATH`` also
writes the machine and every row with its raw measurements. ``--profile`` prints a cProfile of 1,000
``PrimoHook.create_ticket`` calls instead of running the sections. Timings live here, never in pass/fail
tests. The exit status is 1 only when a section could not run (a MISS is a result, not an error).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts benchmarks/ first on sys.path: import the package from the repository.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks")]

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402

from benchmarks import common  # noqa: E402
from benchmarks.common import MISS, PASS, SKIP, Row  # noqa: E402

SECTIONS = ("parse", "client", "notifier", "memory", "storm")
ERROR = "ERROR"


def _section(name: str) -> Callable[[bool], list[Row]]:
    if name == "parse":
        from benchmarks import parse_cost

        return parse_cost.run
    if name == "client":
        from benchmarks import client_overhead

        return client_overhead.run
    if name == "notifier":
        from benchmarks import notifier_cost

        return notifier_cost.run
    if name == "memory":
        from benchmarks import memory

        return memory.run
    from benchmarks import storm

    return storm.run


def conclusion(rows: Sequence[Row]) -> str:
    """A short verdict: goals met, and what missed or could not run."""
    goals = [row for row in rows if row.status in (PASS, MISS)]
    met = sum(row.status == PASS for row in goals)
    lines = [f"Conclusion: {met} of {len(goals)} goals met."]
    lines += [f"  MISS  {row.metric}: {row.value} (goal {row.goal})" for row in rows if row.status == MISS]
    lines += [f"  {row.status}  {row.metric}: {row.value}" for row in rows if row.status in (SKIP, ERROR)]
    if met == len(goals) and not any(row.status in (SKIP, ERROR) for row in rows):
        lines.append("  Every goal is met.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections; print the machine, the table and the conclusion."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small runs (smoke test), not for results")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--profile", action="store_true", help="cProfile PrimoHook.create_ticket and exit")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")

    home = Path(tempfile.mkdtemp(prefix="primo-bench-airflow-"))
    common.prepare_environment(home)
    try:
        if args.profile:
            from benchmarks import client_overhead

            print(client_overhead.profile())
            return 0
        return _run(chosen, args.quick, args.json, argv)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run(chosen: Sequence[str], quick: bool, json_path: Path | None, argv: Sequence[str] | None) -> int:
    started = time.perf_counter()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python benchmarks/run.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    machine = common.machine()
    print(f"airflow-provider-primo benchmarks, {when}{' (--quick: not for results)' if quick else ''}")
    for key, value in machine.items():
        print(f"  {key}: {value}")
    rows: list[Row] = []
    for name in chosen:
        print(f"running {name} ...", flush=True)
        section_started = time.perf_counter()
        try:
            new = _section(name)(quick)
        except Exception as error:
            traceback.print_exc()
            new = [
                Row(f"{name}.error", f"{name}: could not run", f"{type(error).__name__}: {error}", "", ERROR)
            ]
        rows += new
        print(f"  done in {time.perf_counter() - section_started:.1f} s", flush=True)
    seconds = time.perf_counter() - started
    print()
    print(common.format_table(rows))
    print()
    print(conclusion(rows))
    print(f"Total time: {seconds:.0f} s.")
    if json_path is not None:
        report = {
            "command": command.strip(),
            "date": when,
            "quick": quick,
            "seconds": seconds,
            "machine": machine,
            "rows": common.rows_to_json(rows),
        }
        json_path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return 1 if any(row.status == ERROR for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
