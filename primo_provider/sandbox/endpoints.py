"""The API endpoints: auth, routing, query and body validation, state calls, JSON answers.

Transport-free: :meth:`ApiHandler.handle` takes the parsed request and returns a :class:`Response`; the
HTTP plumbing and fault injection live in :mod:`primo_provider.sandbox.http_handler`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from primo_provider.sandbox.errors import ApiError, error_body
from primo_provider.sandbox.routes import API_ROUTES, match_route
from primo_provider.sandbox.state import PRIORITY_ORDER, STATUS_ORDER, SandboxState
from primo_provider.sandbox.validation import schema_errors

__all__ = ["JSON_CONTENT_TYPE", "ApiHandler", "Response", "json_response"]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_MAX_INT = 9007199254740991
_PAGE_PARAMS = ("page", "perPage")
_QUERY_PARAMS: dict[str, tuple[str, ...]] = {
    "GET /tickets": (
        *_PAGE_PARAMS,
        "status",
        "priority",
        "searchTerm",
        "assigneeEmployeeId",
        "sortBy",
        "sortDirection",
    ),
    "GET /employees": _PAGE_PARAMS,
}
_QUERY_ENUMS: dict[str, tuple[str, ...]] = {
    "status": tuple(STATUS_ORDER),
    "priority": tuple(p for p in PRIORITY_ORDER if p is not None),
    "sortBy": ("status", "priority", "reference", "title", "tasksCount"),
    "sortDirection": ("ASC", "DESC"),
}


@dataclass
class Response:
    """An HTTP answer: status, raw body, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str = JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A compact JSON answer."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, JSON_CONTENT_TYPE, dict(headers or {}))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class ApiHandler:
    """Answers API requests against a :class:`SandboxState`."""

    def __init__(self, state: SandboxState, api_key: str, *, validate_responses: bool = True) -> None:
        self.state = state
        self.api_key = api_key
        self.validate_responses = validate_responses
        self._endpoints: dict[str, Callable[[dict[str, str], dict[str, str], Any], Response]] = {
            "POST /tickets": self._create_ticket,
            "GET /tickets": self._list_tickets,
            "GET /tickets/{ticketId}": self._get_ticket,
            "POST /tickets/{ticketId}/status": self._update("status", "update_ticket_status_body", "status"),
            "POST /tickets/{ticketId}/assignee": self._update(
                "assignee", "update_ticket_assignee_body", "assigneeEmployeeId"
            ),
            "POST /tickets/{ticketId}/priority": self._update(
                "priority", "update_ticket_priority_body", "priority"
            ),
            "POST /tickets/{ticketId}/comments": self._add_comment,
            "GET /employees": self._list_employees,
            "GET /employees/{employeeId}": self._get_employee,
        }

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        raw_body: bytes,
    ) -> Response:
        """Answer one API request (``path`` without query string; ``query`` as from ``parse_qs``)."""
        try:
            matched = match_route(path)
            if matched is None:
                raise ApiError(404, f"Cannot {method} {path}")
            template, params = matched
            if method not in API_ROUTES[template]:
                allowed = ", ".join(API_ROUTES[template])
                raise ApiError(405, f"Cannot {method} {path}; allowed: {allowed}", {"Allow": allowed})
            self._authenticate(headers.get("Authorization"))
            endpoint = f"{method} {template}"
            flat_query = self._check_query(endpoint, query)
            body = self._parse_body(headers.get("Content-Type"), raw_body) if method == "POST" else None
            return self._endpoints[endpoint](params, flat_query, body)
        except ApiError as exc:
            return json_response(exc.status, exc.body(), exc.headers)

    # ----------------------------------------------------------------- request checks

    def _authenticate(self, header: str | None) -> None:
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        ):
            raise ApiError(401, "Unauthorized", {"WWW-Authenticate": 'Bearer realm="primo"'})

    @staticmethod
    def _check_query(endpoint: str, query: Mapping[str, list[str]]) -> dict[str, str]:
        allowed = _QUERY_PARAMS.get(endpoint, ())
        flat: dict[str, str] = {}
        for name, values in query.items():
            if name not in allowed:
                hint = f"; allowed: {', '.join(allowed)}" if allowed else ""
                raise ApiError(400, f"query has unknown parameter {name!r}{hint}")
            if len(values) != 1:
                raise ApiError(400, f"query/{name} must be given once")
            value = values[0]
            if name in _PAGE_PARAMS:
                limit = 100 if name == "perPage" else _MAX_INT
                if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= limit:
                    raise ApiError(400, f"query/{name} must be an integer from 1 to {limit}")
            elif name in _QUERY_ENUMS and value not in _QUERY_ENUMS[name]:
                raise ApiError(400, f"query/{name} must be one of {', '.join(_QUERY_ENUMS[name])}")
            elif name == "searchTerm" and not value:
                raise ApiError(400, "query/searchTerm must not be empty")
            flat[name] = value
        return flat

    @staticmethod
    def _parse_body(content_type: str | None, raw: bytes) -> Any:
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if not raw.strip():
            raise ApiError(400, "body is empty; expected a JSON object")
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise ApiError(400, f"Content-Type must be application/json, got {content_type or 'none'!r}")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, f"body is not valid JSON: {exc}") from None

    @staticmethod
    def _validate_body(schema: str, body: Any) -> dict[str, Any]:
        errors = schema_errors(schema, body)
        if errors:
            raise ApiError(400, "; ".join(errors))
        return body

    def _answer(self, status: int, schema: str, payload: dict[str, Any]) -> Response:
        if self.validate_responses:
            # List pages: the envelope, pagination and first item (items share one shape by construction;
            # validating 100 items would cost ~35 ms per page).
            checked = {**payload, "data": payload["data"][:1]} if "data" in payload else payload
            errors = schema_errors(schema, checked, root="response")
            if errors:  # a sandbox bug; say so loudly rather than serve an off-spec body
                return json_response(500, error_body(500, "sandbox bug: " + "; ".join(errors)))
        return json_response(status, payload)

    # ----------------------------------------------------------------- endpoints

    def _create_ticket(self, params: dict[str, str], query: dict[str, str], body: Any) -> Response:
        ticket = self.state.create_ticket(self._validate_body("create_ticket_body", body))
        return self._answer(201, "ticket", ticket)

    def _list_tickets(self, params: dict[str, str], query: dict[str, str], body: Any) -> Response:
        page = self.state.list_tickets(
            page=int(query.get("page", 1)),
            per_page=int(query.get("perPage", 50)),
            status=query.get("status"),
            priority=query.get("priority"),
            search_term=query.get("searchTerm"),
            assignee_employee_id=query.get("assigneeEmployeeId"),
            sort_by=query.get("sortBy"),
            sort_direction=query.get("sortDirection"),
        )
        return self._answer(200, "ticket_list", page)

    def _get_ticket(self, params: dict[str, str], query: dict[str, str], body: Any) -> Response:
        return self._answer(200, "ticket", self.state.ticket(params["ticketId"]))

    def _update(
        self, field_name: str, schema: str, body_key: str
    ) -> Callable[[dict[str, str], dict[str, str], Any], Response]:
        def update(params: dict[str, str], query: dict[str, str], body: Any) -> Response:
            value = self._validate_body(schema, body)[body_key]
            return self._answer(
                201, "ticket", self.state.update_ticket(params["ticketId"], field_name, value)
            )

        return update

    def _add_comment(self, params: dict[str, str], query: dict[str, str], body: Any) -> Response:
        text = self._validate_body("create_ticket_comment_body", body)["text"]
        return self._answer(201, "ticket_comment", self.state.add_comment(params["ticketId"], text))

    def _list_employees(self, params: dict[str, str], query: dict[str, str], body: Any) -> Response:
        page = self.state.list_employees(
            page=int(query.get("page", 1)), per_page=int(query.get("perPage", 50))
        )
        return self._answer(200, "employee_list", page)

    def _get_employee(self, params: dict[str, str], query: dict[str, str], body: Any) -> Response:
        return self._answer(200, "employee", self.state.employee(params["employeeId"]))
