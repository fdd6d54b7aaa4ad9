"""The sandbox's data (tickets, employees, reference counter) behind one lock, with optional persistence."""

from __future__ import annotations

import copy
import json
import math
import os
import secrets
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from primo_provider.sandbox.errors import ApiError
from primo_provider.sandbox.validation import schema_errors

__all__ = ["LIST_FIELDS", "PRIORITY_ORDER", "STATUS_ORDER", "SandboxState", "utc_now"]

STATE_FILE_VERSION = 1

#: Keys of a ticket in ``GET /tickets`` items (the full ticket minus description and comments).
LIST_FIELDS = (
    "id",
    "reference",
    "title",
    "status",
    "priority",
    "assignee",
    "dueDate",
    "createdAt",
    "updatedAt",
)
#: Sort orders (assumptions: the spec does not define them). Enum order for status; null priority first.
STATUS_ORDER = {"PENDING": 0, "IN_PROGRESS": 1, "COMPLETED": 2, "CANCELLED": 3}
PRIORITY_ORDER = {None: 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def _format(moment: datetime) -> str:
    """``2026-12-04T20:31:05.123Z``: UTC, truncated to milliseconds, like JavaScript's toISOString."""
    return moment.strftime(_TIME_FORMAT)[:-3] + "Z"


def utc_now() -> str:
    """The current time in the API's format."""
    return _format(datetime.now(UTC))


def _later_than(previous: str) -> str:
    """The current time, or ``previous`` + 1 ms if the clock has not moved past it (updatedAt must change)."""
    now = utc_now()
    if now > previous:
        return now
    parsed = datetime.strptime(previous[:-1], _TIME_FORMAT).replace(tzinfo=UTC)
    return _format(parsed + timedelta(milliseconds=1))


def paginate(items: list[dict[str, Any]], page: int, per_page: int) -> dict[str, Any]:
    """A ``{"data", "pagination"}`` page of ``items``; pages past the end are empty."""
    total = len(items)
    start = (page - 1) * per_page
    return {
        "data": items[start : start + per_page],
        "pagination": {
            "totalElements": total,
            "totalPages": math.ceil(total / per_page),
            "page": page,
            "perPage": per_page,
        },
    }


class SandboxState:
    """Tickets and employees of one sandbox. Every public method is atomic under one re-entrant lock.

    Returned dicts are deep copies; mutating them does not change the state.
    """

    def __init__(self, employees: list[dict[str, Any]], state_file: str | os.PathLike[str] | None = None):
        self.lock = threading.RLock()
        self._employees: dict[str, dict[str, Any]] = {e["id"]: e for e in employees}
        self._tickets: dict[str, dict[str, Any]] = {}
        self._sequence = 0
        self.state_file = Path(state_file) if state_file is not None else None

    # ----------------------------------------------------------------- persistence

    def load_or_init(self) -> None:
        """Load the state file if it exists, else write it; no-op without a state file."""
        if self.state_file is None:
            return
        with self.lock:
            if self.state_file.exists():
                self._load(json.loads(self.state_file.read_text(encoding="utf-8")))
            else:
                self._save()

    def _load(self, data: dict[str, Any]) -> None:
        if data.get("version") != STATE_FILE_VERSION:
            raise ValueError(f"{self.state_file}: unsupported state file version {data.get('version')!r}")
        problems = [
            m for t in data["tickets"] for m in schema_errors("ticket", t, root=f"ticket {t.get('id')}")
        ]
        problems += [m for e in data["employees"] for m in schema_errors("employee", e, root="employee")]
        if problems:
            raise ValueError(f"{self.state_file}: invalid state: {'; '.join(problems[:5])}")
        self._tickets = {t["id"]: t for t in data["tickets"]}
        self._employees = {e["id"]: e for e in data["employees"]}
        self._sequence = int(data["ticketSequence"])

    def snapshot(self) -> dict[str, Any]:
        """The full state as a JSON-able dict (the state file's content)."""
        with self.lock:
            return copy.deepcopy(
                {
                    "version": STATE_FILE_VERSION,
                    "ticketSequence": self._sequence,
                    "tickets": list(self._tickets.values()),
                    "employees": list(self._employees.values()),
                }
            )

    def _save(self) -> None:
        """Write the state file atomically (temp file in the same directory, then ``os.replace``)."""
        if self.state_file is None:
            return
        directory = self.state_file.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.state_file.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.snapshot(), fh, indent=2)
                fh.write("\n")
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def reset(self) -> None:
        """Forget all tickets and restart references at T-00001; employees stay."""
        with self.lock:
            self._tickets.clear()
            self._sequence = 0
            self._save()

    # ----------------------------------------------------------------- reads

    def tickets(self) -> list[dict[str, Any]]:
        """All tickets, full form, in creation order."""
        with self.lock:
            return copy.deepcopy(list(self._tickets.values()))

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        """One ticket, full form; :class:`ApiError` 404 if unknown."""
        with self.lock:
            return copy.deepcopy(self._ticket(ticket_id))

    def employees(self) -> list[dict[str, Any]]:
        """All employees in seed order."""
        with self.lock:
            return copy.deepcopy(list(self._employees.values()))

    def employee(self, employee_id: str) -> dict[str, Any]:
        """One employee; :class:`ApiError` 404 if unknown."""
        with self.lock:
            if employee_id not in self._employees:
                raise ApiError(404, f"Employee {employee_id} not found")
            return copy.deepcopy(self._employees[employee_id])

    def list_tickets(
        self,
        *,
        page: int = 1,
        per_page: int = 50,
        status: str | None = None,
        priority: str | None = None,
        search_term: str | None = None,
        assignee_employee_id: str | None = None,
        sort_by: str | None = None,
        sort_direction: str | None = None,
    ) -> dict[str, Any]:
        """``GET /tickets``: filters AND-ed, then sorted (stable, creation order first), then paginated."""
        with self.lock:
            items = list(self._tickets.values())
            if status is not None:
                items = [t for t in items if t["status"] == status]
            if priority is not None:
                items = [t for t in items if t["priority"] == priority]
            if assignee_employee_id is not None:
                wanted = {"type": "EMPLOYEE", "employeeId": assignee_employee_id}
                items = [t for t in items if t["assignee"] == wanted]
            if search_term is not None:
                needle = search_term.casefold()
                items = [
                    t for t in items if needle in t["title"].casefold() or needle in t["reference"].casefold()
                ]
            descending = sort_direction == "DESC"
            if sort_by is not None or descending:
                items = sorted(items, key=_SORT_KEYS.get(sort_by or "", _creation_key), reverse=descending)
            listed = [{k: copy.deepcopy(t[k]) for k in LIST_FIELDS} for t in items]
        return paginate(listed, page, per_page)

    def list_employees(self, *, page: int = 1, per_page: int = 50) -> dict[str, Any]:
        """``GET /employees``: seed order, paginated."""
        return paginate(self.employees(), page, per_page)

    # ----------------------------------------------------------------- writes

    def create_ticket(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /tickets`` with a schema-valid body."""
        with self.lock:
            assignee = None
            if body.get("assigneeEmployeeId") is not None:
                assignee = self._assignee(body["assigneeEmployeeId"])
            self._sequence += 1
            now = utc_now()
            ticket = {
                "id": "tkt_" + secrets.token_hex(12),
                "reference": f"T-{self._sequence:05d}",
                "title": body["title"],
                "status": "PENDING",
                "priority": body.get("priority"),
                "assignee": assignee,
                "dueDate": body.get("dueDate"),
                "createdAt": now,
                "updatedAt": now,
                "description": body.get("description"),
                "comments": [],
            }
            self._tickets[ticket["id"]] = ticket
            self._save()
            return copy.deepcopy(ticket)

    def update_ticket(self, ticket_id: str, field: str, value: Any) -> dict[str, Any]:
        """Set ``status``/``priority`` (value as given) or ``assignee`` (value: an employee id)."""
        with self.lock:
            ticket = self._ticket(ticket_id)
            ticket[field] = self._assignee(value) if field == "assignee" else value
            ticket["updatedAt"] = _later_than(ticket["updatedAt"])
            self._save()
            return copy.deepcopy(ticket)

    def add_comment(self, ticket_id: str, text: str) -> dict[str, Any]:
        """``POST /tickets/{ticketId}/comments``: append an API-created comment, bump updatedAt."""
        with self.lock:
            ticket = self._ticket(ticket_id)
            updated = _later_than(ticket["updatedAt"])
            comment = {
                "id": "cmt_" + secrets.token_hex(12),
                "text": text,
                "creator": {"type": "API"},
                "createdAt": updated,
            }
            ticket["comments"].append(comment)
            ticket["updatedAt"] = updated
            self._save()
            return copy.deepcopy(comment)

    # ----------------------------------------------------------------- helpers

    def _ticket(self, ticket_id: str) -> dict[str, Any]:
        try:
            return self._tickets[ticket_id]
        except KeyError:
            raise ApiError(404, f"Ticket {ticket_id} not found") from None

    def _assignee(self, employee_id: str) -> dict[str, str]:
        if employee_id not in self._employees:
            raise ApiError(
                400, f"body/assigneeEmployeeId must be the id of an existing employee; {employee_id!r} is not"
            )
        return {"type": "EMPLOYEE", "employeeId": employee_id}


def _creation_key(ticket: dict[str, Any]) -> int:
    return int(ticket["reference"][2:])


_SORT_KEYS: dict[str, Any] = {
    "status": lambda t: STATUS_ORDER[t["status"]],
    "priority": lambda t: PRIORITY_ORDER[t["priority"]],
    "reference": _creation_key,  # numeric, so T-100000 sorts after T-99999
    "title": lambda t: (t["title"].casefold(), t["title"]),
    "tasksCount": lambda t: 0,  # the sandbox has no tasks: every ticket counts 0, order stays stable
}
