"""Errors raised by the Primo provider.

Every error that comes from an HTTP exchange carries the status code, method and path, and the server's
message. None of them ever holds the API key: the hook never puts headers into an error.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowException


class PrimoError(AirflowException):
    """Base class of every error raised by the Primo provider."""


class PrimoConnectionConfigError(PrimoError, ValueError):
    """The Airflow connection is unusable (no API key, malformed host, bad extras)."""


class PrimoRequestError(PrimoError):
    """The request could not be completed: network failure, timeout, or retries exhausted."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: {message}")
        self.method = method
        self.path = path


class PrimoResponseError(PrimoError):
    """Primo answered with a success code but a body that is not what the API documents."""

    def __init__(self, message: str, *, method: str, path: str, status_code: int) -> None:
        super().__init__(f"{method} {path} answered {status_code} with {message}")
        self.method = method
        self.path = path
        self.status_code = status_code


class PrimoAPIError(PrimoError):
    """Primo answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str,
        path: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"Primo API error {status_code} on {method} {path}: {message}")
        self.message = message
        self.status_code = status_code
        self.method = method
        self.path = path
        self.retry_after = retry_after


class PrimoAuthenticationError(PrimoAPIError):
    """401 or 403: the API key is missing, wrong, or lacks the scope for this call."""


class PrimoNotFoundError(PrimoAPIError):
    """404: the ticket, employee or path does not exist."""


class PrimoValidationError(PrimoAPIError):
    """400 or 422: Primo rejected the request body or query."""


class PrimoRateLimitError(PrimoAPIError):
    """429: too many requests; ``retry_after`` holds the server's hint in seconds, if any."""


class PrimoServerError(PrimoAPIError):
    """5xx: Primo failed to process the request."""


_BY_STATUS: dict[int, type[PrimoAPIError]] = {
    400: PrimoValidationError,
    401: PrimoAuthenticationError,
    403: PrimoAuthenticationError,
    404: PrimoNotFoundError,
    422: PrimoValidationError,
    429: PrimoRateLimitError,
}


def api_error_class(status_code: int) -> type[PrimoAPIError]:
    """Return the exception class for an HTTP error status."""
    if status_code >= 500:
        return PrimoServerError
    return _BY_STATUS.get(status_code, PrimoAPIError)
