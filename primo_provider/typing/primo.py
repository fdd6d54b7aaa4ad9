"""Typed shapes of Primo's request and response bodies, transcribed from the published API."""

from __future__ import annotations

from typing import Literal, NotRequired, Required, TypedDict

TicketStatusValue = Literal["PENDING", "IN_PROGRESS", "COMPLETED", "CANCELLED"]
PriorityValue = Literal["LOW", "MEDIUM", "HIGH"]


class CreateTicketPayload(TypedDict, total=False):
    """Body of ``POST /tickets``."""

    title: Required[str]
    description: NotRequired[str | None]
    assigneeEmployeeId: NotRequired[str]
    priority: NotRequired[PriorityValue | None]
    dueDate: NotRequired[str | None]


class Assignee(TypedDict, total=False):
    """A ticket's assignee: ``{"type": "EMPLOYEE", "employeeId": ...}`` or ``{"type": "EMAIL", ...}``."""

    type: Required[Literal["EMPLOYEE", "EMAIL"]]
    employeeId: NotRequired[str]
    email: NotRequired[str]


class TicketComment(TypedDict):
    """A comment on a ticket."""

    id: str
    text: str
    creator: dict[str, object]
    createdAt: str


class TicketSummary(TypedDict):
    """A ticket as ``GET /tickets`` lists it (no description, no comments)."""

    id: str
    reference: str
    title: str
    status: TicketStatusValue
    priority: PriorityValue | None
    assignee: Assignee | None
    dueDate: str | None
    createdAt: str
    updatedAt: str


class Ticket(TicketSummary):
    """A full ticket, as created, fetched or updated."""

    description: str | None
    comments: list[TicketComment]


class Employee(TypedDict, total=False):
    """An employee (the fields the provider uses; Primo returns more)."""

    id: Required[str]
    firstName: Required[str]
    lastName: Required[str]
    email: Required[str]
