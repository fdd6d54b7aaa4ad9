"""Fault injection: the :class:`Fault` description and the thread-safe book of active faults."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from primo_provider.sandbox.routes import endpoint_exists

__all__ = ["FAULT_KINDS", "Fault", "FaultBook"]

#: What a fault does to a matching request:
#:
#: - ``status``: answer ``status`` without processing the request (optional ``retry_after``, ``body``,
#:   ``content_type``).
#: - ``status_after``: process the request (state changes), then answer ``status`` anyway.
#: - ``delay``: sleep ``seconds`` then process (``after=False``), or process, sleep, answer (``after=True``).
#: - ``drop_before``: close the connection without processing or answering.
#: - ``drop_after``: process the request, then close the connection without answering.
#: - ``body``: process, then answer ``status`` (default 200) with the raw ``body``.
FAULT_KINDS: tuple[str, ...] = ("status", "status_after", "delay", "drop_before", "drop_after", "body")

_ANSWERING_KINDS = ("status", "status_after", "body")


@dataclass
class Fault:
    """One injected fault.

    :param endpoint: ``"METHOD /template"`` as in the spec (``"POST /tickets/{ticketId}/comments"``), a
        concrete path (``"POST /tickets/tkt_123/status"``), ``"METHOD *"`` or ``"*"`` (every API request).
    :param kind: one of :data:`FAULT_KINDS`.
    :param times: how many matching requests it applies to; ``None`` means forever.
    :param status: HTTP status to answer (required for ``status``/``status_after``; ``body`` defaults to 200).
    :param retry_after: value of a ``Retry-After`` header to send with the answer.
    :param body: raw response body; default: a JSON error body for error statuses, empty for ``body``.
    :param content_type: ``Content-Type`` of ``body`` (default ``application/json``).
    :param seconds: delay for ``delay`` faults.
    :param after: for ``delay``: sleep after processing, before answering.
    """

    endpoint: str = "*"
    kind: str = "status"
    times: int | None = 1
    status: int | None = None
    retry_after: str | int | None = None
    body: str | None = None
    content_type: str | None = None
    seconds: float = 0.0
    after: bool = False

    def __post_init__(self) -> None:
        self.endpoint = _normalize_endpoint(self.endpoint)
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if self.times is not None and (isinstance(self.times, bool) or int(self.times) < 0):
            raise ValueError("times must be a non-negative integer or None")
        if self.times is not None:
            self.times = int(self.times)
        if self.kind == "body" and self.status is None:
            self.status = 200
        if self.kind in ("status", "status_after") and self.status is None:
            raise ValueError(f"a {self.kind!r} fault needs status=")
        if self.status is not None:
            if self.kind not in _ANSWERING_KINDS:
                raise ValueError(f"status= does not apply to a {self.kind!r} fault")
            self.status = int(self.status)
            if not 100 <= self.status <= 599:
                raise ValueError(f"status must be an HTTP status code, got {self.status}")
        if (self.retry_after is not None or self.body is not None or self.content_type is not None) and (
            self.kind not in _ANSWERING_KINDS
        ):
            raise ValueError(f"retry_after/body/content_type do not apply to a {self.kind!r} fault")
        self.seconds = float(self.seconds)
        if self.kind == "delay" and self.seconds <= 0:
            raise ValueError("a 'delay' fault needs seconds= > 0")
        if self.kind != "delay" and (self.seconds or self.after):
            raise ValueError(f"seconds/after do not apply to a {self.kind!r} fault")

    def matches(self, method: str, path: str, template: str | None) -> bool:
        """Whether this fault's endpoint covers a request (``template`` is None for unknown paths)."""
        if self.endpoint == "*":
            return True
        f_method, f_path = self.endpoint.split(" ", 1)
        if f_method != method:
            return False
        return f_path in ("*", path) or (template is not None and f_path == template)

    def to_dict(self) -> dict[str, Any]:
        """The fault as a JSON-able dict, without parameters left at their defaults."""
        out: dict[str, Any] = {"endpoint": self.endpoint, "kind": self.kind, "times": self.times}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name not in out and value != field.default:
                out[field.name] = value
        return out

    def describe(self) -> str:
        """The fault in the CLI's ``ENDPOINT:KIND:k=v,...`` form (``body`` shown by length only)."""
        params = []
        for key, value in self.to_dict().items():
            if key in ("endpoint", "kind"):
                continue
            if key == "body":
                value = f"<{len(value)} chars>"
            params.append(f"{key}={'forever' if value is None else value}")
        return f"{self.endpoint}:{self.kind}:{','.join(params)}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from a JSON object (the control API's ``POST /_sandbox/faults`` body)."""
        if not isinstance(data, Mapping):
            raise ValueError("a fault must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown fault parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse the CLI form ``ENDPOINT:KIND[:key=value,...]``.

        Example: ``"POST /tickets:status:status=429,retry_after=1,times=2"``. ``times=forever`` (or
        ``none``) means forever; ``after=true``; ``body=`` must be the last parameter and takes the rest of
        the string verbatim (so it may contain commas).
        """
        parts = spec.split(":", 2)
        if len(parts) < 2:
            raise ValueError(f"fault {spec!r} is not ENDPOINT:KIND[:key=value,...]")
        params: dict[str, Any] = {"endpoint": parts[0].strip(), "kind": parts[1].strip()}
        rest = parts[2] if len(parts) == 3 else ""
        while rest:
            item, _, tail = rest.partition(",")
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep:
                raise ValueError(f"fault parameter {item!r} is not key=value")
            if key == "body":
                value = rest.partition("=")[2]
                tail = ""
            params[key] = _convert(key, value.strip() if key != "body" else value)
            rest = tail
        return cls.from_dict(params)


def _convert(key: str, value: str) -> Any:
    """Convert one CLI ``key=value`` string to the field's type."""
    if key == "times":
        return None if value.lower() in ("none", "forever", "inf") else int(value)
    if key == "status":
        return int(value)
    if key == "seconds":
        return float(value)
    if key == "after":
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"after= must be true or false, got {value!r}")
        return value.lower() in ("true", "1", "yes")
    if key == "retry_after":
        return int(value) if value.isdigit() else value
    return value


def _normalize_endpoint(endpoint: str) -> str:
    """Validate and normalize an endpoint selector (upper-case method, single space)."""
    endpoint = " ".join(str(endpoint).split())
    if endpoint == "*":
        return endpoint
    method, _, path = endpoint.partition(" ")
    method = method.upper()
    if not path or (path != "*" and not endpoint_exists(method, path)):
        raise ValueError(
            f"fault endpoint {endpoint!r} is not an API endpoint; use e.g. 'POST /tickets', "
            "'POST /tickets/{ticketId}/comments', 'GET *' or '*'"
        )
    return f"{method} {path}"


@dataclass
class _Entry:
    fault: Fault
    remaining: int | None


class FaultBook:
    """The active faults of one sandbox, matched in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []

    def add(self, fault: Fault) -> Fault:
        """Append a fault."""
        with self._lock:
            self._entries.append(_Entry(fault, fault.times))
        return fault

    def clear(self) -> int:
        """Remove all faults; return how many were active."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
        return count

    def take(self, method: str, path: str, template: str | None) -> Fault | None:
        """Return the first fault applying to this request and use up one of its ``times``."""
        with self._lock:
            for entry in self._entries:
                if entry.remaining == 0 or not entry.fault.matches(method, path, template):
                    continue
                if entry.remaining is not None:
                    entry.remaining -= 1
                self._entries = [e for e in self._entries if e.remaining != 0]
                return entry.fault
        return None

    def active(self) -> list[dict[str, Any]]:
        """The faults still active, as dicts with a ``remaining`` count (None = forever)."""
        with self._lock:
            return [
                {**e.fault.to_dict(), "remaining": e.remaining} for e in self._entries if e.remaining != 0
            ]
