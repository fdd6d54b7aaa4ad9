"""The sandbox's API error type and its NestJS-style JSON error bodies."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

__all__ = ["ApiError", "error_body"]


def error_body(status: int, message: str) -> dict[str, Any]:
    """An error body as NestJS (which Primo's API appears to use) shapes it.

    ``{"statusCode": 400, "message": "...", "error": "Bad Request"}``; 401 carries no ``error`` key, like
    NestJS' ``UnauthorizedException``. Primo does not document its error format; this is an assumption.
    """
    body: dict[str, Any] = {"statusCode": status, "message": message}
    if status != 401:
        try:
            body["error"] = HTTPStatus(status).phrase
        except ValueError:
            body["error"] = "Error"
    return body


class ApiError(Exception):
    """An error answer of the API: HTTP status, message, and optional extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return error_body(self.status, self.message)
