"""JSON schemas of the Primo ticket and employee API, carried with the provider.

The ``*.json`` files next to this module are draft 2020-12 JSON schemas transcribed verbatim from Primo's
published OpenAPI 3.1 document ("Public API - BETA", version 1.0), ``components.schemas``:

=============================== ============================== =========================================
file                            spec component                 used by
=============================== ============================== =========================================
create_ticket_body.json         CreateTicketBody               ``POST /tickets`` (request)
update_ticket_status_body.json  UpdateTicketStatusBody         ``POST /tickets/{ticketId}/status``
update_ticket_assignee_body.json UpdateTicketAssigneeBody      ``POST /tickets/{ticketId}/assignee``
update_ticket_priority_body.json UpdateTicketPriorityBody      ``POST /tickets/{ticketId}/priority``
create_ticket_comment_body.json CreateTicketCommentBody        ``POST /tickets/{ticketId}/comments``
ticket.json                     TicketOutput_Output            ticket responses
ticket_comment.json             TicketCommentOutput_Output     comment response
ticket_list.json                GetTickets_Output              ``GET /tickets``
employee.json                   GetEmployee_Output             ``GET /employees/{employeeId}``
employee_list.json              GetEmployees_Output            ``GET /employees``
=============================== ============================== =========================================

Field names, enums, patterns, ``required`` lists and ``additionalProperties: false`` are as in the spec,
with one deliberate difference: the spec leaves the *request-body* schemas open (no
``additionalProperties``), but the carried request-body schemas set ``additionalProperties: false``. The
local sandbox validates request bodies against them, so a client typo such as ``assignee_employee_id``
(instead of ``assigneeEmployeeId``) is rejected with a 400 naming the key rather than silently ignored.
The real API may accept and ignore such keys; clients must not rely on either behaviour.

Nothing here reads the spec at run time; the files are the project's own copy.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

__all__ = ["DATE_TIME_PATTERN", "SCHEMA_NAMES", "load_schema"]

#: The spec's regular expression for ``format: date-time`` strings, verbatim. It accepts UTC date-times
#: ending in ``Z`` with optional seconds and fractional seconds, and knows leap years
#: (``2028-02-29T00:00Z`` matches, ``2027-02-29T00:00Z`` does not). No offsets other than ``Z``.
DATE_TIME_PATTERN = (
    r"^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-"
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-"
    r"(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z))$"
)

_SCHEMA_DIR = Path(__file__).parent

#: Names accepted by :func:`load_schema` (file names without ``.json``).
SCHEMA_NAMES: tuple[str, ...] = (
    "create_ticket_body",
    "update_ticket_status_body",
    "update_ticket_assignee_body",
    "update_ticket_priority_body",
    "create_ticket_comment_body",
    "ticket",
    "ticket_comment",
    "ticket_list",
    "employee",
    "employee_list",
)


@functools.cache
def _read_schema(name: str) -> dict[str, Any]:
    """Parse one schema file once per process."""
    if name not in SCHEMA_NAMES:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    with (_SCHEMA_DIR / f"{name}.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def load_schema(name: str) -> dict[str, Any]:
    """Return the carried JSON schema ``name`` (e.g. ``"ticket"`` or ``"ticket.json"``).

    Files are parsed once and cached; each call returns a deep copy, so callers may mutate the result.

    :raises KeyError: if there is no such schema.
    """
    return copy.deepcopy(_read_schema(name.removesuffix(".json")))
