"""TLS: certificates are verified by default, on the sync (requests) and async (httpx) clients alike.

A local HTTPS server with a freshly made self-signed certificate stands in for a man in the middle: by
default the hooks refuse it before sending anything; ``verify: false`` turns the check off, and
``verify: <path>`` trusts the CA bundle at that path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from primo_provider.exceptions import PrimoConnectionConfigError, PrimoRequestError
from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook
from primo_provider.retries import RetryPolicy

from .conftest import LOGGER

EMPTY_PAGE = {"data": [], "pagination": {"totalElements": 0, "totalPages": 0, "page": 1, "perPage": 100}}


class TLSServer:
    """An HTTPS server on 127.0.0.1 that answers every request with an empty ticket page."""

    def __init__(self, directory: Path) -> None:
        self.ca_bundle = directory / "self-signed.pem"
        key_file = directory / "self-signed.key"
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "primo.local")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.ca_bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.paths: list[str] = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                paths.append(self.path)
                body = json.dumps(EMPTY_PAGE).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_bundle, key_file)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="tls-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSServer]:
    server = TLSServer(tmp_path_factory.mktemp("tls"))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _forget_paths(tls_server: TLSServer) -> None:
    tls_server.paths.clear()


def _hook(primo_conn, tls_server: TLSServer, cls: type[PrimoHook] = PrimoHook, **extra: Any) -> Any:
    hook = cls(primo_conn_id=primo_conn(host=tls_server.url, max_retries=1, **extra))
    hook._sleep = lambda seconds: None
    hook.retry_policy = RetryPolicy(max_retries=1, backoff_base=0.01)  # type: ignore[misc]
    return hook


def _alist(hook: PrimoAsyncHook) -> list[Any]:
    async def run() -> list[Any]:
        try:
            return [ticket async for ticket in hook.alist_tickets()]
        finally:
            await hook.aclose()

    return asyncio.run(run())


def test_verification_is_on_by_default(primo_conn, tls_server: TLSServer) -> None:
    hook = _hook(primo_conn, tls_server)
    assert hook.connection_params.verify is True
    assert hook.session.verify is True
    with pytest.raises(PrimoRequestError, match="GET /tickets: TLS certificate verification failed: self"):
        list(hook.list_tickets())
    assert tls_server.paths == []  # the handshake failed: no request was ever sent


def test_a_create_refused_by_tls_is_not_reconciled(
    primo_conn, tls_server: TLSServer, test_logger, caplog
) -> None:
    """A failed handshake certainly sent nothing, so there is nothing to look for before retrying."""
    hook = _hook(primo_conn, tls_server)
    hook._log = test_logger
    with pytest.raises(
        PrimoRequestError, match=r"POST /tickets: TLS certificate verification failed.*after 1 retries"
    ):
        hook.create_ticket("Never sent")
    assert tls_server.paths == []
    assert not any("checking whether it landed" in r.getMessage() for r in caplog.records if r.name == LOGGER)


def test_async_verification_is_on_by_default(primo_conn, tls_server: TLSServer) -> None:
    hook = _hook(primo_conn, tls_server, PrimoAsyncHook)
    with pytest.raises(PrimoRequestError, match="TLS certificate verification failed"):
        _alist(hook)
    assert tls_server.paths == []


@pytest.mark.parametrize("off", [False, "false", "False"])
def test_the_verify_extra_turns_verification_off(primo_conn, tls_server: TLSServer, off: Any) -> None:
    hook = _hook(primo_conn, tls_server, verify=off)
    assert hook.session.verify is False
    assert list(hook.list_tickets()) == []
    assert _alist(_hook(primo_conn, tls_server, PrimoAsyncHook, verify=off)) == []
    assert len(tls_server.paths) == 2


def test_the_verify_extra_may_name_a_ca_bundle(primo_conn, tls_server: TLSServer) -> None:
    bundle = str(tls_server.ca_bundle)
    hook = _hook(primo_conn, tls_server, verify=bundle)
    assert hook.session.verify == bundle
    assert list(hook.list_tickets()) == []
    assert _alist(_hook(primo_conn, tls_server, PrimoAsyncHook, verify=bundle)) == []
    assert len(tls_server.paths) == 2


def test_requests_ca_bundle_in_the_environment_does_not_turn_verification_off(
    primo_conn, tls_server: TLSServer, monkeypatch, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_bytes(b"")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    hook = _hook(primo_conn, tls_server)
    with pytest.raises(PrimoRequestError):
        list(hook.list_tickets())
    assert tls_server.paths == []


@pytest.mark.parametrize(
    ("verify", "problem"),
    [("/no/such/ca.pem", "is neither true, false nor an existing CA bundle"), (5, "extra verify must be")],
)
def test_a_bad_verify_extra_names_the_connection(primo_conn, tls_server: TLSServer, verify, problem) -> None:
    hook = _hook(primo_conn, tls_server, verify=verify)
    with pytest.raises(
        PrimoConnectionConfigError, match=rf"^Primo connection 'primo_reliability': .*{problem}"
    ):
        list(hook.list_tickets())
    assert tls_server.paths == []
