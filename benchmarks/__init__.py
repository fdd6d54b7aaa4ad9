"""Benchmarks of airflow-provider-primo: ``make bench`` (``python benchmarks/run.py [--quick]``).

Timings live here, never in the pass/fail tests. See ``benchmarks/RESULTS.md`` for the last results.
"""

from __future__ import annotations
