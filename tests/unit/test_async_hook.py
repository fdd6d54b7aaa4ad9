"""PrimoAsyncHook on httpx.MockTransport: the same requests, errors and retry rules as the sync hook."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from primo_provider import __version__
from primo_provider.exceptions import (
    PrimoAuthenticationError,
    PrimoNotFoundError,
    PrimoRateLimitError,
    PrimoRequestError,
    PrimoResponseError,
    PrimoServerError,
    PrimoValidationError,
)
from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook

from .helpers import BASE_URL, SENTINEL_KEY, comment, iso, page, summary, ticket, url

Responder = Callable[[httpx.Request], httpx.Response]


class MockPrimo:
    """An httpx transport answering from a queue per ``METHOD /path``, recording every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[str, list[Any]] = {}

    def add(self, method: str, path: str, *answers: Any) -> None:
        self.routes.setdefault(f"{method} {path}", []).extend(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get(f"{request.method} {request.url.path}")
        if not queue:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    @property
    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


@pytest.fixture
def primo(monkeypatch: pytest.MonkeyPatch) -> MockPrimo:
    """Every httpx.AsyncClient the hook builds gets this transport; its own settings are kept."""
    mock = MockPrimo()
    real_client = httpx.AsyncClient

    class MockedClient(real_client):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            kwargs.pop("verify", None)
            super().__init__(transport=httpx.MockTransport(mock), **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", MockedClient)
    return mock


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The async hook's sleeps, recorded instead of waited."""
    recorded: list[float] = []

    async def fake_sleep(seconds: float, *args: Any) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    return recorded


@pytest.fixture
def ahook(primo_conn: Callable[..., str]) -> PrimoAsyncHook:
    return PrimoAsyncHook(primo_conn_id=primo_conn(extra={"company_id": "cmp-1", "max_retries": 3}))


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def described(request: Any) -> dict[str, Any]:
    """Method, URL, query, JSON body and the headers that matter, from either client's request."""
    headers = {key.lower(): value for key, value in request.headers.items()}
    body = request.content if isinstance(request, httpx.Request) else request.body
    parts = urlsplit(str(request.url))
    return {
        "method": request.method,
        "url": f"{parts.scheme}://{parts.netloc}{parts.path}",
        "query": parse_qs(parts.query),
        "json": json.loads(body) if body else None,
        "headers": {
            key: headers.get(key)
            for key in ("authorization", "user-agent", "accept", "x-company-id", "content-type")
        },
    }


def async_client_of(ahook: PrimoAsyncHook) -> httpx.AsyncClient:
    async def build() -> httpx.AsyncClient:
        await ahook.aget_connection_params()
        return ahook.async_client

    return run(build())


# --- same requests as the sync hook -----------------------------------------------------------------

OPERATIONS = {
    "create": (
        "POST",
        "/tickets",
        ticket(),
        lambda h: h.create_ticket("Disk full", priority="high", due_date="2024-05-01T17:00:00+02:00"),
        lambda a: a.acreate_ticket("Disk full", priority="high", due_date="2024-05-01T17:00:00+02:00"),
    ),
    "get": (
        "GET",
        "/tickets/tkt-1",
        ticket(),
        lambda h: h.get_ticket("tkt-1"),
        lambda a: a.aget_ticket("tkt-1"),
    ),
    "comment": (
        "POST",
        "/tickets/tkt-1/comments",
        comment(),
        lambda h: h.add_comment("tkt-1", "Rebooted"),
        lambda a: a.aadd_comment("tkt-1", "Rebooted"),
    ),
    "status": (
        "POST",
        "/tickets/tkt-1/status",
        ticket(),
        lambda h: h.update_ticket_status("tkt-1", "completed"),
        lambda a: a.aupdate_ticket_status("tkt-1", "completed"),
    ),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_async_sends_the_same_request_as_sync(primo, http, primo_conn, operation):
    method, path, answer, sync_call, async_call = OPERATIONS[operation]
    conn_id = primo_conn(extra={"company_id": "cmp-1"})
    http.register_uri(method, url(path), json=answer)
    primo.add(method, path, httpx.Response(200, json=answer))

    sync_result = sync_call(PrimoHook(primo_conn_id=conn_id))
    async_result = run(async_call(PrimoAsyncHook(primo_conn_id=conn_id)))

    assert async_result == sync_result == answer
    [sync_request] = http.request_history
    [async_request] = primo.requests
    assert described(async_request) == described(sync_request)
    assert described(async_request)["headers"]["authorization"] == f"Bearer {SENTINEL_KEY}"
    assert described(async_request)["headers"]["x-company-id"] == "cmp-1"


def test_async_list_pages_like_sync(primo, http, primo_conn):
    conn_id = primo_conn()
    pages = [page([summary("t1")], 1, 3), page([summary("t2")], 2, 3), page([summary("t3")], 3, 3)]
    http.get(url("/tickets"), [{"json": body} for body in pages])
    primo.add("GET", "/tickets", *[httpx.Response(200, json=body) for body in pages])
    filters = {"status": "pending", "sort_by": "title", "sort_direction": "asc", "search_term": "disk"}

    async def collect() -> list[str]:
        return [item["id"] async for item in PrimoAsyncHook(primo_conn_id=conn_id).alist_tickets(**filters)]

    sync_ids = [item["id"] for item in PrimoHook(primo_conn_id=conn_id).list_tickets(**filters)]

    assert run(collect()) == sync_ids == ["t1", "t2", "t3"]
    assert [described(r) for r in primo.requests] == [described(r) for r in http.request_history]
    assert [r.url.params["page"] for r in primo.requests] == ["1", "2", "3"]
    assert primo.requests[0].url.params["status"] == "PENDING"


def test_async_list_rejects_bad_filters_before_any_request(primo, ahook):
    async def first() -> Any:
        return await anext(ahook.alist_tickets(sort_by="createdAt"))

    with pytest.raises(ValueError, match=r"^sort_by: "):
        run(first())
    assert primo.requests == []


def test_async_client_is_built_from_the_connection(primo, primo_conn):
    conn_id = primo_conn(host="http://127.0.0.1:8080/api", extra={"company_id": "cmp-1", "timeout": "7"})
    client = async_client_of(PrimoAsyncHook(primo_conn_id=conn_id))

    assert str(client.base_url) == "http://127.0.0.1:8080/api/"
    assert client.headers["Authorization"] == f"Bearer {SENTINEL_KEY}"
    assert client.headers["User-Agent"] == f"airflow-provider-primo/{__version__}"
    assert client.headers["x-company-id"] == "cmp-1"
    assert client.timeout == httpx.Timeout(7.0)


def test_async_base_url_path_is_kept(primo, primo_conn):
    hook = PrimoAsyncHook(primo_conn_id=primo_conn(host="http://127.0.0.1:8080/api"))
    primo.add("GET", "/api/tickets/tkt-1", httpx.Response(200, json=ticket()))

    run(hook.aget_ticket("tkt-1"))

    assert str(primo.requests[0].url) == "http://127.0.0.1:8080/api/tickets/tkt-1"


# --- same errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, PrimoValidationError),
        (401, PrimoAuthenticationError),
        (403, PrimoAuthenticationError),
        (404, PrimoNotFoundError),
        (422, PrimoValidationError),
    ],
)
def test_async_error_mapping(primo, ahook, status, error_class):
    primo.add("GET", "/tickets/tkt-1", httpx.Response(status, json={"message": ["bad", "worse"]}))

    with pytest.raises(error_class) as raised:
        run(ahook.aget_ticket("tkt-1"))

    assert (raised.value.status_code, raised.value.method, raised.value.path) == (
        status,
        "GET",
        "/tickets/tkt-1",
    )
    assert raised.value.message == "bad; worse"
    assert len(primo.requests) == 1


def test_async_server_errors_after_retries(primo, ahook, waits):
    primo.add("GET", "/tickets/tkt-1", httpx.Response(502, text="<html><title>Bad Gateway</title></html>"))

    with pytest.raises(PrimoServerError) as raised:
        run(ahook.aget_ticket("tkt-1"))

    assert raised.value.message == "HTML page: Bad Gateway"
    assert len(primo.requests) == 4
    assert len(waits) == 3


def test_async_rate_limit_honours_retry_after(primo, ahook, waits):
    primo.add(
        "GET",
        "/tickets/tkt-1",
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(503, headers={"Retry-After": "1"}),
        httpx.Response(200, json=ticket()),
    )

    assert run(ahook.aget_ticket("tkt-1"))["id"] == "tkt-1"
    assert waits == [3.0, 1.0]


def test_async_rate_limit_error_carries_retry_after(primo, primo_conn, waits):
    hook = PrimoAsyncHook(primo_conn_id=primo_conn(extra={"max_retries": 0}))
    primo.add("GET", "/tickets/tkt-1", httpx.Response(429, headers={"Retry-After": "9"}))

    with pytest.raises(PrimoRateLimitError) as raised:
        run(hook.aget_ticket("tkt-1"))

    assert raised.value.retry_after == 9.0


def test_async_bad_success_body(primo, ahook):
    primo.add("GET", "/tickets/tkt-1", httpx.Response(200, text='{"id": "tkt-1"'))

    with pytest.raises(
        PrimoResponseError, match=r"^GET /tickets/tkt-1 answered 200 with a body that is not JSON"
    ):
        run(ahook.aget_ticket("tkt-1"))


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("cut"),
    ],
    ids=["connect-error", "connect-timeout", "read-timeout", "protocol-error"],
)
def test_async_transport_failures_are_retried_for_reads(primo, ahook, waits, failure):
    primo.add("GET", "/tickets/tkt-1", failure, httpx.Response(200, json=ticket()))

    assert run(ahook.aget_ticket("tkt-1"))["id"] == "tkt-1"
    assert primo.calls == ["GET /tickets/tkt-1"] * 2
    assert len(waits) == 1


def test_async_transport_failure_after_retries_is_a_request_error(primo, primo_conn, waits):
    hook = PrimoAsyncHook(primo_conn_id=primo_conn(extra={"max_retries": 1}))
    primo.add("GET", "/tickets/tkt-1", httpx.ConnectError("refused"))

    with pytest.raises(
        PrimoRequestError, match=r"^GET /tickets/tkt-1: could not connect: ConnectError \(after 1 retries\)"
    ):
        run(hook.aget_ticket("tkt-1"))
    assert len(primo.requests) == 2


# --- same reconciliation ----------------------------------------------------------------------------


def _stamped(body: dict[str, Any]) -> Responder:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={**body, "data": [{**item, "createdAt": iso()} for item in body["data"]]}
        )

    return respond


@pytest.mark.parametrize(
    "ambiguous",
    [httpx.Response(500), httpx.Response(504), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("cut")],
    ids=["500", "504", "read-timeout", "protocol-error"],
)
def test_async_create_reconciles_instead_of_re_posting(primo, ahook, waits, ambiguous):
    landed = ticket("tkt-9", title="Disk full")
    primo.add("POST", "/tickets", ambiguous, httpx.Response(200, json=ticket("tkt-dup")))
    primo.add("GET", "/tickets", _stamped(page([summary("tkt-9", title="Disk full")])))
    primo.add("GET", "/tickets/tkt-9", httpx.Response(200, json=landed))

    assert run(ahook.acreate_ticket("Disk full")) == landed
    assert primo.calls == ["POST /tickets", "GET /tickets", "GET /tickets/tkt-9"]
    assert primo.requests[1].url.params["searchTerm"] == "Disk full"
    assert waits == []


def test_async_create_re_posts_when_nothing_landed(primo, ahook, waits):
    primo.add("POST", "/tickets", httpx.Response(500), httpx.Response(201, json=ticket("tkt-2")))
    primo.add("GET", "/tickets", httpx.Response(200, json=page([])))

    assert run(ahook.acreate_ticket("Disk full"))["id"] == "tkt-2"
    assert primo.calls == ["POST /tickets", "GET /tickets", "POST /tickets"]
    assert len(waits) == 1


@pytest.mark.parametrize(
    "certain",
    [httpx.Response(429), httpx.Response(503, headers={"Retry-After": "2"}), httpx.ConnectError("refused")],
    ids=["429", "503-retry-after", "connect-error"],
)
def test_async_create_retried_without_reconciliation(primo, ahook, waits, certain):
    primo.add("POST", "/tickets", certain, httpx.Response(201, json=ticket("tkt-2")))

    assert run(ahook.acreate_ticket("Disk full"))["id"] == "tkt-2"
    assert primo.calls == ["POST /tickets", "POST /tickets"]


def test_async_comment_reconciles_through_the_ticket(primo, ahook, waits):
    def with_comment(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=ticket(comments=[comment("c-mine", "Rebooted", createdAt=iso())]))

    primo.add("POST", "/tickets/tkt-1/comments", httpx.Response(502))
    primo.add("GET", "/tickets/tkt-1", with_comment)

    assert run(ahook.aadd_comment("tkt-1", "Rebooted"))["id"] == "c-mine"
    assert primo.calls == ["POST /tickets/tkt-1/comments", "GET /tickets/tkt-1"]


def test_sync_and_async_hooks_follow_the_same_sequence_on_the_same_faults(primo, http, primo_conn, waits):
    """One scenario, both transports: 503 with Retry-After, then a 500 that had landed."""
    conn_id = primo_conn()
    landed = ticket("tkt-9", title="Disk full")
    listing = page([summary("tkt-9", title="Disk full")])

    http.post(url("/tickets"), [{"status_code": 503, "headers": {"Retry-After": "2"}}, {"status_code": 500}])
    http.get(url("/tickets"), json=lambda request, context: _stamped(listing)(None).json())
    http.get(url("/tickets/tkt-9"), json=landed)
    primo.add("POST", "/tickets", httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(500))
    primo.add("GET", "/tickets", _stamped(listing))
    primo.add("GET", "/tickets/tkt-9", httpx.Response(200, json=landed))
    sync_hook = PrimoHook(primo_conn_id=conn_id)
    sync_sleeps: list[float] = []
    sync_hook._sleep = sync_sleeps.append

    assert sync_hook.create_ticket("Disk full") == landed
    assert run(PrimoAsyncHook(primo_conn_id=conn_id).acreate_ticket("Disk full")) == landed

    assert [described(r) for r in primo.requests] == [described(r) for r in http.request_history]
    assert primo.calls == ["POST /tickets", "POST /tickets", "GET /tickets", "GET /tickets/tkt-9"]
    assert waits == sync_sleeps == [2.0]


# --- lifecycle --------------------------------------------------------------------------------------


def test_async_hook_reads_the_connection_once_and_closes_its_client(primo, ahook):
    primo.add("GET", "/tickets/tkt-1", httpx.Response(200, json=ticket()))

    async def scenario() -> httpx.AsyncClient:
        await ahook.aget_ticket("tkt-1")
        await ahook.aget_ticket("tkt-1")
        client = ahook.async_client
        await ahook.aclose()
        return client

    client = run(scenario())

    assert client.is_closed
    assert "async_client" not in ahook.__dict__
    assert len(primo.requests) == 2
    assert ahook.connection_params.base_url == BASE_URL


def test_async_hook_init_does_no_io():
    hook = PrimoAsyncHook(primo_conn_id="does_not_exist")

    assert "connection_params" not in hook.__dict__ and "async_client" not in hook.__dict__


def test_async_unknown_connection_fails_before_any_request(primo):
    from airflow.providers.common.compat.sdk import AirflowNotFoundException

    with pytest.raises(AirflowNotFoundException, match="does_not_exist"):
        run(PrimoAsyncHook(primo_conn_id="does_not_exist").aget_ticket("tkt-1"))
    assert primo.requests == []
