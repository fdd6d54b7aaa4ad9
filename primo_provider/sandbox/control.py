"""The sandbox's control API under ``/_sandbox/``: faults, state, request log, reset (no auth, not logged)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from primo_provider.sandbox.endpoints import Response, json_response
from primo_provider.sandbox.errors import error_body
from primo_provider.sandbox.faults import Fault

if TYPE_CHECKING:
    from primo_provider.sandbox.server import PrimoSandbox

__all__ = ["CONTROL_PREFIX", "handle_control"]

CONTROL_PREFIX = "/_sandbox"

_ROUTES: dict[str, tuple[str, ...]] = {
    "/_sandbox/health": ("GET",),
    "/_sandbox/state": ("GET",),
    "/_sandbox/requests": ("GET",),
    "/_sandbox/faults": ("GET", "POST", "DELETE"),
    "/_sandbox/reset": ("POST",),
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, error_body(status, message), headers)


def handle_control(sandbox: PrimoSandbox, method: str, path: str, raw_body: bytes) -> Response:
    """Answer one control request.

    - ``GET /_sandbox/health`` -> ``{"status": "ok"}``
    - ``GET /_sandbox/state`` -> ``{"tickets": [...], "employees": [...], "ticketSequence": n, ...}``
    - ``GET /_sandbox/requests`` -> the request log, oldest first
    - ``GET /_sandbox/faults`` -> active faults with their ``remaining`` count
    - ``POST /_sandbox/faults`` with a fault object (or a list of them) -> 201 ``{"faults": [...]}``
    - ``DELETE /_sandbox/faults`` -> ``{"cleared": n}``
    - ``POST /_sandbox/reset`` -> ``{"status": "reset"}``
    """
    path = path.rstrip("/") or path
    if path not in _ROUTES:
        return _error(404, f"Cannot {method} {path}; control endpoints: {', '.join(_ROUTES)}")
    if method not in _ROUTES[path]:
        allowed = ", ".join(_ROUTES[path])
        return _error(405, f"Cannot {method} {path}; allowed: {allowed}", {"Allow": allowed})
    if path == "/_sandbox/health":
        return json_response(200, {"status": "ok"})
    if path == "/_sandbox/state":
        return json_response(200, sandbox.state())
    if path == "/_sandbox/requests":
        return json_response(200, [record.to_dict() for record in sandbox.requests])
    if path == "/_sandbox/reset":
        sandbox.reset()
        return json_response(200, {"status": "reset"})
    if method == "GET":
        return json_response(200, sandbox.faults())
    if method == "DELETE":
        return json_response(200, {"cleared": sandbox.clear_faults()})
    return _add_faults(sandbox, raw_body)


def _add_faults(sandbox: PrimoSandbox, raw_body: bytes) -> Response:
    """``POST /_sandbox/faults``: all faults of the body are validated before any is added."""
    try:
        payload: Any = json.loads(raw_body or b"null")
        items = payload if isinstance(payload, list) else [payload]
        faults = [Fault.parse(item) if isinstance(item, str) else Fault.from_dict(item) for item in items]
    except (ValueError, TypeError) as exc:
        return _error(400, f"invalid fault: {exc}")
    for fault in faults:
        sandbox.add_fault(fault)
    return json_response(201, {"faults": [fault.to_dict() for fault in faults]})
