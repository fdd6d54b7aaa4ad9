"""HTTP plumbing of the sandbox: the threading server, the keep-alive request handler, fault application
and the request log's :class:`RequestRecord`."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import selectors
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from primo_provider import __version__
from primo_provider.sandbox.control import CONTROL_PREFIX, handle_control
from primo_provider.sandbox.endpoints import Response, json_response
from primo_provider.sandbox.errors import error_body
from primo_provider.sandbox.faults import Fault
from primo_provider.sandbox.routes import match_route

if TYPE_CHECKING:
    from primo_provider.sandbox.server import PrimoSandbox

__all__ = ["RequestRecord", "SandboxHTTPServer"]

_MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class RequestRecord:
    """One API request the sandbox received (control requests are not recorded).

    ``status`` is None when the connection was dropped without an answer; ``fault`` is the applied fault in
    :meth:`Fault.describe` form, or None; ``endpoint`` is ``"METHOD /template"`` or None for unknown paths;
    ``body`` is the parsed JSON request body (None if absent or not JSON); ``timestamp`` is the arrival time
    (``time.time()``).
    """

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    fault: str | None
    timestamp: float
    endpoint: str | None = None
    body: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-able dict."""
        return dataclasses.asdict(self)


class _BadRequestBody(Exception):
    """The request body cannot be read (bad framing); answer and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its sandbox and its open connections (to close them on stop)."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: PrimoSandbox, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.sandbox = sandbox
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop_requested = False
        super().__init__(address, _Handler)

    def serve_until_stopped(self) -> None:
        """Accept connections until :meth:`request_stop`; wakes at once (no poll interval)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop_requested:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r or self._stop_requested:
                        return
                    self._handle_request_noblock()

    def request_stop(self) -> None:
        """Make :meth:`serve_until_stopped` return."""
        self._stop_requested = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host (``getfqdn`` can be slow)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def close_connections(self) -> None:
        """Shut down every open client connection (idle keep-alive ones included)."""
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler: every answer carries Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = f"primo-sandbox/{__version__}"
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms each.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr log; the sandbox reports requests through ``on_request``."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # ----------------------------------------------------------------- dispatch

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        # http.server collapses a leading "//" in self.path; route on the raw request target instead.
        words = self.requestline.split()
        split = urlsplit(words[1] if len(words) == 3 else self.path)
        path = split.path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            self._control(path)
            return
        arrived = time.time()
        query = parse_qs(split.query, keep_blank_values=True)
        matched = match_route(path)
        template = matched[0] if matched else None
        fault = sandbox._faults.take(self.command, path, template)
        raw = b""
        response: Response | None = None  # None: drop the connection without answering
        if fault is None or fault.kind != "drop_before":
            try:
                raw = self._read_body()
            except _BadRequestBody as exc:
                self.close_connection = True
                response = json_response(exc.status, error_body(exc.status, exc.message))
            else:
                response = self._respond(path, query, raw, fault)
        # Record before answering, so a client that got the answer also finds the record.
        sandbox._record(
            RequestRecord(
                method=self.command,
                path=path,
                query={k: v[-1] for k, v in query.items()},
                status=response.status if response is not None else None,
                fault=fault.describe() if fault is not None else None,
                timestamp=arrived,
                endpoint=f"{self.command} {template}" if template else None,
                body=_json_or_none(raw),
            )
        )
        if response is None:
            self._drop()
        else:
            self._send(response)

    def _respond(
        self, path: str, query: dict[str, list[str]], raw: bytes, fault: Fault | None
    ) -> Response | None:
        """Process the request under ``fault``; return the answer, or None to drop the connection."""
        sandbox = self.server.sandbox
        if fault is not None and fault.kind == "delay" and not fault.after:
            sandbox._sleep(fault.seconds)
        if fault is not None and fault.kind == "status":
            return _fault_response(fault)
        try:
            response = sandbox._api.handle(self.command, path, query, self.headers, raw)
        except Exception as exc:  # a sandbox bug: answer 500 rather than hang up
            response = json_response(500, error_body(500, f"sandbox error: {exc!r}"))
        if fault is None:
            return response
        if fault.kind == "drop_after":
            return None
        if fault.kind in ("status_after", "body"):
            return _fault_response(fault)
        if fault.after:  # delay after processing
            sandbox._sleep(fault.seconds)
        return response

    def _control(self, path: str) -> None:
        try:
            raw = self._read_body()
        except _BadRequestBody as exc:
            self.close_connection = True
            self._send(json_response(exc.status, error_body(exc.status, exc.message)))
            return
        self._send(handle_control(self.server.sandbox, self.command, path, raw))

    # ----------------------------------------------------------------- I/O

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise _BadRequestBody(400, f"invalid Content-Length {length!r}")
        size = int(length)
        if size > _MAX_BODY:
            raise _BadRequestBody(413, f"body larger than {_MAX_BODY} bytes")
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequestBody(400, "invalid chunked encoding") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > _MAX_BODY:
                raise _BadRequestBody(413, f"body larger than {_MAX_BODY} bytes")
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, response: Response) -> int:
        """Write an answer; return its status (also when the client has gone away meanwhile)."""
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(response.body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        return response.status

    def _drop(self) -> None:
        """Close the connection abruptly, without an answer (RST rather than FIN where possible)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _fault_response(fault: Fault) -> Response:
    """The answer of a ``status``/``status_after``/``body`` fault."""
    status = int(fault.status or 200)
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.body is None and fault.kind != "body":
        response = json_response(
            status, error_body(status, f"{_reason(status)} (injected by the Primo sandbox)")
        )
        response.headers.update(headers)
        return response
    return Response(status, (fault.body or "").encode(), fault.content_type or "application/json", headers)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
