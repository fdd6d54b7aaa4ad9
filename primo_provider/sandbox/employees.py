"""Employees the sandbox is seeded with: five realistic defaults, partial dicts completed, or N generated."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from primo_provider.sandbox.validation import schema_errors

__all__ = ["DEFAULT_EMPLOYEES", "build_employees", "complete_employee", "employee_id"]

_CREATED_AT = "2024-01-15T09:00:00.000Z"

#: The five default employees (ids are derived from the e-mail, so they are stable across runs).
DEFAULT_EMPLOYEES: tuple[dict[str, Any], ...] = (
    {
        "firstName": "Grace",
        "lastName": "Hopper",
        "email": "grace.hopper@example.com",
        "teams": ["IT"],
        "jobs": ["Head of IT"],
        "groups": ["it-admins", "managers"],
        "workLocation": "Paris",
        "startDate": "2019-09-02T00:00:00.000Z",
    },
    {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada.lovelace@example.com",
        "teams": ["Data"],
        "jobs": ["Data Engineer"],
        "groups": ["data-platform"],
        "workLocation": "London",
        "startDate": "2021-03-01T00:00:00.000Z",
    },
    {
        "firstName": "Alan",
        "lastName": "Turing",
        "email": "alan.turing@example.com",
        "teams": ["Data"],
        "jobs": ["Analytics Engineer"],
        "groups": ["data-platform", "on-call"],
        "workLocation": "London",
        "startDate": "2022-06-13T00:00:00.000Z",
    },
    {
        "firstName": "Katherine",
        "lastName": "Johnson",
        "email": "katherine.johnson@example.com",
        "teams": ["IT"],
        "jobs": ["IT Support Specialist"],
        "groups": ["it-admins", "on-call"],
        "workLocation": "Remote",
        "startDate": "2023-01-09T00:00:00.000Z",
    },
    {
        "firstName": "Margaret",
        "lastName": "Hamilton",
        "email": "margaret.hamilton@example.com",
        "teams": ["Engineering"],
        "jobs": ["Site Reliability Engineer"],
        "groups": ["on-call"],
        "workLocation": "Paris",
        "startDate": "2020-11-16T00:00:00.000Z",
    },
)

_FIRST_NAMES = (
    "Alice", "Bruno", "Chloe", "David", "Emma", "Farid", "Giulia", "Hugo", "Ines", "Jonas",
    "Karim", "Lea", "Mateo", "Nora", "Omar", "Paula", "Quentin", "Rosa", "Samir", "Tessa",
)  # fmt: skip
_LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
)  # fmt: skip
_TEAMS = ("IT", "Data", "Engineering", "Finance", "Sales", "People")


def employee_id(email: str) -> str:
    """A stable ``emp_`` + 24 hex id derived from the e-mail address."""
    return "emp_" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def complete_employee(partial: Mapping[str, Any]) -> dict[str, Any]:
    """Complete a partial employee (at least ``email``, ``firstName``, ``lastName``) with defaults.

    :raises ValueError: if a required key is missing or the result is not a valid employee per the spec.
    """
    missing = [k for k in ("email", "firstName", "lastName") if not partial.get(k)]
    if missing:
        raise ValueError(f"employee {dict(partial)!r} lacks {', '.join(missing)}")
    employee: dict[str, Any] = {
        "id": employee_id(partial["email"]),
        "firstName": partial["firstName"],
        "lastName": partial["lastName"],
        "email": partial["email"],
        "teams": [],
        "jobs": [],
        "groups": [],
        "workLocation": None,
        "legalEntity": "Example SAS",
        "managerId": None,
        "startDate": None,
        "terminationDate": None,
        "deviceIds": [],
        "accessoryIds": [],
        "createdAt": _CREATED_AT,
        "updatedAt": _CREATED_AT,
    }
    employee.update(partial)
    errors = schema_errors("employee", employee, root="employee")
    if errors:
        raise ValueError(f"invalid employee {employee['email']!r}: {'; '.join(errors)}")
    return employee


def _generated(index: int) -> dict[str, Any]:
    """The ``index``-th generated employee (after the defaults), with a unique e-mail."""
    first = _FIRST_NAMES[index % len(_FIRST_NAMES)]
    last = _LAST_NAMES[(index // len(_FIRST_NAMES)) % len(_LAST_NAMES)]
    cycle = index // (len(_FIRST_NAMES) * len(_LAST_NAMES))
    suffix = str(cycle + 1) if cycle else ""
    return {
        "firstName": first,
        "lastName": last,
        "email": f"{first}.{last}{suffix}@example.com".lower(),
        "teams": [_TEAMS[index % len(_TEAMS)]],
        "jobs": ["Employee"],
        "groups": ["all-staff"],
        "workLocation": "Remote" if index % 3 else "Paris",
    }


def build_employees(
    employees: int | Sequence[Mapping[str, Any]] | None, seed: bool = True
) -> list[dict[str, Any]]:
    """The initial employee list of a sandbox.

    :param employees: None for the defaults (when ``seed``), an int N for N employees (the defaults first,
        then generated ones), or a list of partial employee dicts completed by :func:`complete_employee`.
    :param seed: with ``employees=None``, whether to seed the five defaults at all.
    :raises ValueError: on invalid or duplicate employees.
    """
    if employees is None:
        partials: list[Mapping[str, Any]] = list(DEFAULT_EMPLOYEES) if seed else []
    elif isinstance(employees, int) and not isinstance(employees, bool):
        if employees < 0:
            raise ValueError("employees must be >= 0")
        partials = list(DEFAULT_EMPLOYEES[:employees])
        partials += [_generated(i) for i in range(employees - len(partials))]
    else:
        partials = list(employees)
    result = [complete_employee(p) for p in partials]
    if employees is None or isinstance(employees, int):
        # Realism: everybody but the head of IT reports to the first employee.
        for employee in result[1:]:
            employee["managerId"] = result[0]["id"]
    ids = [e["id"] for e in result]
    if len(set(ids)) != len(ids):
        raise ValueError("employees must have distinct ids (ids derive from e-mails unless given)")
    return result
