"""The sandbox facade :class:`PrimoSandbox`: lifecycle, addresses, Airflow connection, state, faults."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from types import TracebackType
from typing import Any
from urllib.parse import quote

from primo_provider.sandbox.employees import build_employees
from primo_provider.sandbox.endpoints import ApiHandler
from primo_provider.sandbox.errors import ApiError
from primo_provider.sandbox.faults import Fault, FaultBook
from primo_provider.sandbox.http_handler import RequestRecord, SandboxHTTPServer
from primo_provider.sandbox.state import SandboxState

__all__ = ["PrimoSandbox", "RequestRecord"]


class PrimoSandbox:
    """A local, spec-faithful Primo API server (tickets and employees) with fault injection.

    Use as a context manager or call :meth:`start` / :meth:`stop`::

        with PrimoSandbox() as sandbox:
            requests.post(f"{sandbox.url}/tickets", json={"title": "t"},
                          headers={"Authorization": f"Bearer {sandbox.api_key}"})
            assert sandbox.tickets()[0]["reference"] == "T-00001"

    :param host: interface to bind (``"127.0.0.1"``; ``"::1"`` for IPv6).
    :param port: TCP port; 0 picks a free one (see :attr:`port` once started).
    :param api_key: the only accepted ``Authorization: Bearer`` token.
    :param employees: None (defaults), an int N (N employees), or partial employee dicts.
    :param state_file: JSON file loaded at start if it exists, rewritten atomically after each mutation.
    :param seed_employees: with ``employees=None``, whether to seed the five default employees.
    :param validate_responses: check every answer against the carried output schemas (500 if off-spec).
    :param on_request: called with each :class:`RequestRecord` (from the server's threads).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "sandbox-api-key",
        employees: int | Sequence[Mapping[str, Any]] | None = None,
        state_file: str | PathLike[str] | None = None,
        seed_employees: bool = True,
        validate_responses: bool = True,
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.host = host
        self._port = port
        self._api_key = api_key
        self._state = SandboxState(build_employees(employees, seed_employees), state_file)
        self._api = ApiHandler(self._state, api_key, validate_responses=validate_responses)
        self._faults = FaultBook()
        self._records: list[RequestRecord] = []
        self._records_lock = threading.Lock()
        self._on_request = on_request
        self._stopping = threading.Event()
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> PrimoSandbox:
        """Load the state file (if any), bind and serve in a background thread; return self."""
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        self._state.load_or_init()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._stopping.clear()
        self._server = SandboxHTTPServer((self.host, self._port), self, family)
        self._port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_until_stopped,
            name="primo-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and the listening socket. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        server.close_connections()
        server.server_close()

    def __enter__(self) -> PrimoSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    # ----------------------------------------------------------------- addresses and connection

    @property
    def port(self) -> int:
        """The TCP port (the actual one once started, even with ``port=0``)."""
        return self._port

    @property
    def api_key(self) -> str:
        """The accepted API key."""
        return self._api_key

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._port == 0:
            raise RuntimeError("the sandbox picks its port at start(); start it first")
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}"

    @property
    def connection_uri(self) -> str:
        """Airflow connection URI of conn type ``primo``; the base URL, scheme included, is the host."""
        return f"primo://:{quote(self._api_key, safe='')}@{quote(self.url, safe='')}"

    @property
    def connection_json(self) -> str:
        """Airflow connection in JSON form: ``{"conn_type": "primo", "host": url, "password": api_key}``."""
        return json.dumps({"conn_type": "primo", "host": self.url, "password": self._api_key})

    @property
    def state_file(self) -> str | None:
        """The state file path, if any."""
        return str(self._state.state_file) if self._state.state_file is not None else None

    # ----------------------------------------------------------------- state access

    def tickets(self) -> list[dict[str, Any]]:
        """All tickets (full form, with description and comments), in creation order."""
        return self._state.tickets()

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        """One ticket in full form; KeyError if unknown."""
        try:
            return self._state.ticket(ticket_id)
        except ApiError as exc:
            raise KeyError(ticket_id) from exc

    def employees(self) -> list[dict[str, Any]]:
        """All employees."""
        return self._state.employees()

    def state(self) -> dict[str, Any]:
        """The full state: ``{"version", "ticketSequence", "tickets", "employees"}``."""
        return self._state.snapshot()

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, in order of completion."""
        with self._records_lock:
            return list(self._records)

    def reset(self) -> None:
        """Clear tickets (references restart at T-00001), the request log and faults; keep employees."""
        self._state.reset()
        self._faults.clear()
        with self._records_lock:
            self._records.clear()

    # ----------------------------------------------------------------- faults

    def add_fault(self, fault: Fault | str, kind: str | None = None, **params: Any) -> Fault:
        """Add a fault; faults apply in the order added.

        ``add_fault(Fault(...))``, ``add_fault("POST /tickets", "status", status=429, retry_after=1,
        times=2)`` or the CLI form ``add_fault("POST /tickets:status:status=429,times=2")``.
        """
        if isinstance(fault, str):
            fault = Fault(endpoint=fault, kind=kind, **params) if kind is not None else Fault.parse(fault)
        elif kind is not None or params:
            raise TypeError("pass either a Fault or endpoint, kind and parameters")
        return self._faults.add(fault)

    def clear_faults(self) -> int:
        """Remove all faults; return how many were active."""
        return self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        """Active faults as dicts, each with its ``remaining`` count (None = forever)."""
        return self._faults.active()

    # ----------------------------------------------------------------- internals used by the handler

    def _record(self, record: RequestRecord) -> None:
        with self._records_lock:
            self._records.append(record)
        if self._on_request is not None:
            with contextlib.suppress(Exception):  # a failing log callback must not break the answer
                self._on_request(record)

    def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up early when the sandbox stops."""
        self._stopping.wait(seconds)
