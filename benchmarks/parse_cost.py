"""DAG-parse cost: what importing the provider's DAG-facing modules adds once ``airflow.sdk`` is imported.

Each measurement is a fresh interpreter run with ``-X importtime`` that imports ``airflow.sdk`` (on
Airflow 2, ``airflow.models``), then the provider modules a DAG file imports
(``primo_provider.operators.tickets`` and ``primo_provider.notifications.primo``). The baseline is the
import time of everything before them (``airflow.sdk`` and what it pulls in) in the same interpreter; the
provider's extra cost is the sum of the cumulative times of every top-level import made after it, i.e. (sdk + provider) - sdk measured in one
process, which is free of the process-to-process noise (often tens of ms) that subtracting two separately
timed interpreters would add to a difference of a few ms. The median over the runs is reported.

Bytecode is cached (``PYTHONPYCACHEPREFIX``, see :func:`benchmarks.common.prepare_environment`; one
unmeasured warm-up run first), as in a DAG processor: with ``PYTHONDONTWRITEBYTECODE=1`` every run would
recompile Airflow from source.

On Airflow 2 the baseline is ``airflow.models`` plus ``DAG``, ``BaseOperator`` and ``BaseNotifier``
(``airflow.models`` loads them lazily, and any DAG file with an operator and a callback imports them),
so the provider is not charged for Airflow's own classes; on Airflow 3 ``import airflow.sdk`` already
loads them.

The same interpreters check that these imports load no HTTP client and no hook: the modules they add to
``sys.modules`` must not include ``requests``, ``httpx``, ``urllib3`` or ``primo_provider.hooks``, and no
``import`` statement in a provider module run by them may name one (that also catches ``httpx``, which
Airflow 3's task SDK has already loaded itself, and ``requests``, which Airflow 2 has).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from benchmarks.common import INFO, ROOT, SKIP, Row, median, verdict

PROVIDER_MODULES = ("primo_provider.operators.tickets", "primo_provider.notifications.primo")
FORBIDDEN = ("requests", "httpx", "urllib3", "primo_provider.hooks")
GOAL_MS = 5.0
_START, _END = "##primo-bench:start", "##primo-bench:end"

# Run in the fresh interpreter. Prints one JSON line on stdout; -X importtime writes to stderr.
_CHILD = r"""
import builtins, importlib, importlib.util, json, sys, time

FORBIDDEN = {forbidden!r}
MODULES = {modules!r}

def forbidden(name):
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)

started = time.perf_counter()
try:
    import airflow.sdk
    baseline_module = "airflow.sdk"
except ImportError:  # Airflow 2: what any DAG file with an operator and a callback already imports
    import airflow.models
    from airflow.models import DAG, BaseOperator
    from airflow.notifications.basenotifier import BaseNotifier
    baseline_module = "airflow.models (with DAG, BaseOperator, BaseNotifier)"
sdk_seconds = time.perf_counter() - started

before = set(sys.modules)
asked = []
real_import = builtins.__import__

def spy(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {{}}).get("__name__", "?")
    if not importer.startswith("primo_provider"):  # Airflow's own imports are Airflow's business
        return real_import(name, globals, locals, fromlist, level)
    absolute = importlib.util.resolve_name("." * level + name, (globals or {{}}).get("__package__")) if level else name
    for wanted in [absolute, *(f"{{absolute}}.{{item}}" for item in fromlist or ())]:
        if forbidden(wanted):
            asked.append(f"{{importer}} imports {{wanted}}")
    return real_import(name, globals, locals, fromlist, level)

errors = {{}}
sys.stderr.write({start!r} + "\n"); sys.stderr.flush()
builtins.__import__ = spy
started = time.perf_counter()
for module in MODULES:
    try:
        importlib.import_module(module)
    except ImportError as error:
        errors[module] = f"{{type(error).__name__}}: {{error}}"
provider_seconds = time.perf_counter() - started
builtins.__import__ = real_import
sys.stderr.write({end!r} + "\n"); sys.stderr.flush()
added = sorted(set(sys.modules) - before)
print(json.dumps({{
    "baseline_module": baseline_module,
    "sdk_wall": sdk_seconds,
    "provider_wall": provider_seconds,
    "added": added,
    "forbidden_added": [m for m in added if forbidden(m)],
    "forbidden_asked": asked,
    "errors": errors,
    "preloaded": {{name: name in before for name in ("requests", "httpx", "urllib3")}},
}}))
"""


def _importtime(stderr: str) -> tuple[float, float]:
    """``(baseline µs, provider µs)`` from ``-X importtime`` output, top-level entries only.

    The baseline is everything imported before the provider's modules (Airflow, and a few stdlib modules
    of the probe); the provider's cost is everything imported between the markers.
    """
    baseline = provider = 0.0
    inside = False
    for line in stderr.splitlines():
        if line.startswith(_START):
            inside = True
        elif line.startswith(_END):
            break
        elif line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|", 2)
            if name.startswith("  "):  # nested: already counted in its top-level parent
                continue
            if not cumulative.strip().isdigit():  # the header line
                continue
            if inside:
                provider += float(cumulative)
            else:
                baseline += float(cumulative)
    return baseline, provider


def _grouped(modules: list[str]) -> str:
    """``12: 9 primo_provider.*, 3 airflow.providers.common.compat.*``."""
    groups: dict[str, int] = {}
    for module in modules:
        group = "primo_provider" if module.startswith("primo_provider") else module.rsplit(".", 1)[0]
        groups[group] = groups.get(group, 0) + 1
    return f"{len(modules)}: " + ", ".join(f"{count} {group}.*" for group, count in groups.items())


def measure_once(env: dict[str, str]) -> dict[str, Any]:
    """One fresh interpreter: timings in ms and the import checks."""
    code = _CHILD.format(forbidden=FORBIDDEN, modules=PROVIDER_MODULES, start=_START, end=_END)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the import probe failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    baseline_us, provider_us = _importtime(done.stderr)
    result["baseline_ms"] = baseline_us / 1000
    result["provider_ms"] = provider_us / 1000
    return result


def run(quick: bool = False) -> list[Row]:
    """Measure and return the parse-cost rows."""
    runs = 1 if quick else 15
    env = dict(os.environ)  # with the bytecode cache set by common.prepare_environment
    measure_once(env)  # warm-up: fill the bytecode cache
    results = [measure_once(env) for _ in range(runs)]
    first = results[0]
    baseline_module = first["baseline_module"]
    if first["errors"]:
        missing = "; ".join(f"{module}: {error}" for module, error in first["errors"].items())
        return [Row("parse.extra_ms", "DAG parse: provider import after airflow.sdk", missing, "", SKIP)]
    extra = median([r["provider_ms"] for r in results])
    baseline = median([r["baseline_ms"] for r in results])
    wall = median([r["provider_wall"] * 1000 for r in results])
    forbidden = sorted({m for r in results for m in r["forbidden_added"] + r["forbidden_asked"]})
    modules = " + ".join(name.rsplit(".", 2)[-2] + "." + name.rsplit(".", 1)[-1] for name in PROVIDER_MODULES)
    interpreters = "fresh interpreters" if runs > 1 else "fresh interpreter"
    preloaded = [name for name, loaded in first["preloaded"].items() if loaded]
    return [
        Row(
            "parse.extra_ms",
            f"DAG parse: import of {modules} after {baseline_module} (median of {runs} {interpreters})",
            f"{extra:.1f} ms (+{100 * extra / baseline:.2f}% over the {baseline:.0f} ms of the imports before)",
            f"<= {GOAL_MS:g} ms",
            verdict(extra <= GOAL_MS),
            {
                "provider_ms": [r["provider_ms"] for r in results],
                "baseline_ms": [r["baseline_ms"] for r in results],
                "provider_wall_ms": [r["provider_wall"] * 1000 for r in results],
                "median_wall_ms": wall,
            },
        ),
        Row(
            "parse.no_http_client",
            "DAG parse: requests, httpx, urllib3 or the hook imported by those modules",
            ("none" if not forbidden else ", ".join(forbidden))
            + " (new sys.modules entries, and the import statements they ran)"
            + (f"; {', '.join(preloaded)} already loaded by {baseline_module} itself" if preloaded else ""),
            "none",
            verdict(not forbidden),
            {
                "forbidden": forbidden,
                "modules_added": first["added"],
                "already_loaded_by_airflow": preloaded,
            },
        ),
        Row(
            "parse.modules_added",
            "DAG parse: modules those imports add to sys.modules",
            _grouped(first["added"]),
            "",
            INFO,
            {"modules": first["added"]},
        ),
    ]
