"""The Primo API endpoints the sandbox serves, and matching of request paths to them."""

from __future__ import annotations

from urllib.parse import unquote

__all__ = ["API_ROUTES", "endpoint_exists", "match_route"]

#: Path template -> HTTP methods, exactly the ticket and employee paths of the spec.
API_ROUTES: dict[str, tuple[str, ...]] = {
    "/tickets": ("GET", "POST"),
    "/tickets/{ticketId}": ("GET",),
    "/tickets/{ticketId}/status": ("POST",),
    "/tickets/{ticketId}/assignee": ("POST",),
    "/tickets/{ticketId}/priority": ("POST",),
    "/tickets/{ticketId}/comments": ("POST",),
    "/employees": ("GET",),
    "/employees/{employeeId}": ("GET",),
}

_SPLIT_ROUTES: list[tuple[str, list[str]]] = [(t, t.strip("/").split("/")) for t in API_ROUTES]


def match_route(path: str) -> tuple[str, dict[str, str]] | None:
    """Match a request path (no query string) to a template; return ``(template, path_params)`` or None.

    One trailing slash is tolerated (Express' default, non-strict routing); empty segments such as in
    ``//tickets`` are not, so a client that joins URLs badly gets a 404.
    """
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    if not path.startswith("/"):
        return None
    segments = path[1:].split("/")
    for template, parts in _SPLIT_ROUTES:
        if len(parts) != len(segments):
            continue
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                if not segment:
                    break
                params[part[1:-1]] = unquote(segment)
            elif part != segment:
                break
        else:
            return template, params
    return None


def endpoint_exists(method: str, path: str) -> bool:
    """Whether ``method path`` names an endpoint: ``path`` is a template or a concrete path of one."""
    if path in API_ROUTES:
        return method in API_ROUTES[path]
    matched = match_route(path)
    return matched is not None and method in API_ROUTES[matched[0]]
