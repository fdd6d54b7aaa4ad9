"""A local, spec-faithful Primo API server for tests, demos and fault-injection drills.

Standard library plus ``jsonschema`` only (no Airflow, no requests), so it runs standalone
(``python -m primo_provider.sandbox``) and loads cheaply as a pytest plugin: the names below are imported
lazily, on first access. See ``docs/sandbox.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from primo_provider.sandbox.faults import FAULT_KINDS, Fault
    from primo_provider.sandbox.server import PrimoSandbox, RequestRecord

__all__ = ["FAULT_KINDS", "Fault", "PrimoSandbox", "RequestRecord"]

_LAZY = {
    "FAULT_KINDS": "primo_provider.sandbox.faults",
    "Fault": "primo_provider.sandbox.faults",
    "PrimoSandbox": "primo_provider.sandbox.server",
    "RequestRecord": "primo_provider.sandbox.server",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
