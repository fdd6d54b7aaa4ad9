"""Primo's REST API as data: one builder per endpoint and one decoder of answers.

Nothing here does I/O. The sync hook (requests) and the async hook (httpx) both send the
:class:`ApiRequest` objects built here and hand what came back to :func:`decode`, so every endpoint,
every argument check and every error mapping is written once.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from primo_provider import validation as v
from primo_provider.exceptions import PrimoResponseError, api_error_class

DEFAULT_BASE_URL = "https://api.getprimo.com"
MAX_PER_PAGE = 100

#: What a successful answer must hold, by kind; checked by :func:`decode`.
Expect = Literal["ticket", "comment", "page", "employee"]
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "ticket": ("id", "reference", "title", "status"),
    "comment": ("id", "text", "createdAt"),
    "page": ("data", "pagination"),
    "employee": ("id", "email"),
}


@dataclass(frozen=True)
class ApiRequest:
    """One call to Primo, before it is sent.

    ``ticket_id`` names the ticket a comment is for. ``creates`` marks a POST that makes something new (a ticket, a comment): it is retried only when the
    earlier attempt certainly did not reach Primo, and otherwise reconciled (see ``primo_provider.retries``).
    """

    method: Literal["GET", "POST"]
    path: str
    expect: Expect
    params: dict[str, str | int] | None = None
    json: dict[str, Any] | None = None
    creates: bool = False
    ticket_id: str | None = None

    @property
    def is_safe(self) -> bool:
        """True when sending the request twice has the same effect as sending it once."""
        return not self.creates


@dataclass(frozen=True)
class RawResponse:
    """The parts of an HTTP answer the decoder needs, whichever client received it."""

    status_code: int
    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def _segment(name: str, value: Any) -> str:
    return quote(v.required_text(name, value), safe="")


# --- tickets -------------------------------------------------------------------------------------


def create_ticket(
    title: Any,
    *,
    description: Any = None,
    assignee_employee_id: Any = None,
    priority: Any = None,
    due_date: Any = None,
) -> ApiRequest:
    """``POST /tickets``. Optional fields left as ``None`` are omitted from the body."""
    body: dict[str, Any] = {"title": v.required_text("title", title)}
    if (text := v.optional_text("description", description)) is not None:
        body["description"] = text
    if (assignee := v.optional_id("assignee_employee_id", assignee_employee_id)) is not None:
        body["assigneeEmployeeId"] = assignee
    if (level := v.optional_enum_value("priority", priority, v.Priority)) is not None:
        body["priority"] = level
    if (due := v.due_date("due_date", due_date)) is not None:
        body["dueDate"] = due
    return ApiRequest("POST", "/tickets", "ticket", json=body, creates=True)


def get_ticket(ticket_id: Any) -> ApiRequest:
    """``GET /tickets/{ticketId}``."""
    return ApiRequest("GET", f"/tickets/{_segment('ticket_id', ticket_id)}", "ticket")


def list_tickets(
    *,
    page: int = 1,
    per_page: int = MAX_PER_PAGE,
    status: Any = None,
    priority: Any = None,
    search_term: Any = None,
    assignee_employee_id: Any = None,
    sort_by: Any = None,
    sort_direction: Any = None,
) -> ApiRequest:
    """``GET /tickets``, one page."""
    params: dict[str, str | int] = {"page": _positive("page", page), "perPage": _per_page(per_page)}
    optional = {
        "status": v.optional_enum_value("status", status, v.TicketStatus),
        "priority": v.optional_enum_value("priority", priority, v.Priority),
        "searchTerm": v.optional_id("search_term", search_term),
        "assigneeEmployeeId": v.optional_id("assignee_employee_id", assignee_employee_id),
        "sortBy": v.optional_enum_value("sort_by", sort_by, v.SortBy),
        "sortDirection": v.optional_enum_value("sort_direction", sort_direction, v.SortDirection),
    }
    params.update({key: value for key, value in optional.items() if value is not None})
    return ApiRequest("GET", "/tickets", "page", params=params)


def update_ticket_status(ticket_id: Any, status: Any) -> ApiRequest:
    """``POST /tickets/{ticketId}/status``."""
    path = f"/tickets/{_segment('ticket_id', ticket_id)}/status"
    return ApiRequest("POST", path, "ticket", json={"status": v.enum_value("status", status, v.TicketStatus)})


def update_ticket_priority(ticket_id: Any, priority: Any) -> ApiRequest:
    """``POST /tickets/{ticketId}/priority``; ``None`` clears the priority."""
    path = f"/tickets/{_segment('ticket_id', ticket_id)}/priority"
    level = None if priority is None else v.enum_value("priority", priority, v.Priority)
    return ApiRequest("POST", path, "ticket", json={"priority": level})


def update_ticket_assignee(ticket_id: Any, assignee_employee_id: Any) -> ApiRequest:
    """``POST /tickets/{ticketId}/assignee``."""
    path = f"/tickets/{_segment('ticket_id', ticket_id)}/assignee"
    assignee = v.required_text("assignee_employee_id", assignee_employee_id)
    return ApiRequest("POST", path, "ticket", json={"assigneeEmployeeId": assignee})


def add_comment(ticket_id: Any, text: Any) -> ApiRequest:
    """``POST /tickets/{ticketId}/comments``."""
    path = f"/tickets/{_segment('ticket_id', ticket_id)}/comments"
    body = {"text": v.required_text("text", text)}
    return ApiRequest("POST", path, "comment", json=body, creates=True, ticket_id=ticket_id.strip())


# --- employees -----------------------------------------------------------------------------------


def list_employees(*, page: int = 1, per_page: int = MAX_PER_PAGE) -> ApiRequest:
    """``GET /employees``, one page."""
    params: dict[str, str | int] = {"page": _positive("page", page), "perPage": _per_page(per_page)}
    return ApiRequest("GET", "/employees", "page", params=params)


def get_employee(employee_id: Any) -> ApiRequest:
    """``GET /employees/{employeeId}``."""
    return ApiRequest("GET", f"/employees/{_segment('employee_id', employee_id)}", "employee")


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


def _per_page(value: Any) -> int:
    if _positive("per_page", value) > MAX_PER_PAGE:
        raise ValueError(f"per_page: at most {MAX_PER_PAGE}, got {value!r}")
    return value


def is_last_page(page: int, body: dict[str, Any]) -> bool:
    """True when ``body``, page number ``page`` of a list answer, is its last (or empty) page."""
    return not body["data"] or page >= body["pagination"]["totalPages"]


# --- answers -------------------------------------------------------------------------------------

_TAGS = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_MESSAGE = 300


def decode(request: ApiRequest, response: RawResponse) -> Any:
    """Return the JSON body of a successful answer, or raise the matching ``PrimoError``.

    Error answers raise a subclass of :class:`~primo_provider.exceptions.PrimoAPIError` chosen by status
    code, with the server's message (from a JSON body, an HTML page's title, or plain text). A success
    whose body is empty, not JSON, or lacks the fields the API documents raises
    :class:`~primo_provider.exceptions.PrimoResponseError`.
    """
    status = response.status_code
    if status >= 400:
        error_class = api_error_class(status)
        raise error_class(
            error_message(response),
            status_code=status,
            method=request.method,
            path=request.path,
            retry_after=retry_after_seconds(response.headers),
        )

    def bad(what: str) -> PrimoResponseError:
        return PrimoResponseError(what, method=request.method, path=request.path, status_code=status)

    if not response.content.strip():
        raise bad("an empty body where JSON was expected")
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise bad(f"a body that is not JSON: {_excerpt(response.content)!r}") from None
    if not isinstance(body, dict):
        raise bad(f"a JSON {type(body).__name__} where an object was expected")
    missing = [key for key in _REQUIRED_KEYS[request.expect] if key not in body]
    if missing:
        article = "an" if request.expect == "employee" else "a"
        raise bad(f"{article} {request.expect} object that lacks {', '.join(map(repr, missing))}")
    if request.expect == "page":
        pagination = body["pagination"]
        if (
            not isinstance(body["data"], list)
            or not isinstance(pagination, dict)
            or not isinstance(pagination.get("totalPages"), int)
        ):
            raise bad("a page whose 'data' or 'pagination' is malformed")
    return body


def error_message(response: RawResponse) -> str:
    """The server's own words from an error answer, whatever its format, kept short."""
    raw = response.content
    if not raw.strip():
        return "(empty body)"
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        text = raw.decode("utf-8", "replace")
        if "<" in text and ">" in text:  # an HTML error page from a proxy or load balancer
            title = _TITLE.search(text)
            text = title.group(1) if title else _TAGS.sub(" ", text)
            return f"HTML page: {' '.join(text.split())[:_MAX_MESSAGE]}"
        return _excerpt(raw)
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body.get("detail")
        if isinstance(message, list):
            message = "; ".join(map(str, message))
        if message:
            return str(message)[:_MAX_MESSAGE]
    return _excerpt(raw)


def _excerpt(raw: bytes) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, given as seconds or as an HTTP date."""
    value = next((val for key, val in headers.items() if key.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
