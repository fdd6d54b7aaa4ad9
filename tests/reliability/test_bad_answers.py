"""Bad answers over real HTTP: a success status with a body that is not what the API documents.

The sandbox's ``body`` fault processes the request, then answers 200 with a raw body. Every such answer
must raise :class:`~primo_provider.exceptions.PrimoResponseError` naming the call, never a ``KeyError``,
``JSONDecodeError`` or ``AttributeError`` from deep inside the provider, and must not be retried. A create
that was answered has landed: instead of failing (and having an Airflow task retry duplicate it), the hook
reads back what it made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from primo_provider import retries
from primo_provider.exceptions import PrimoRequestError, PrimoResponseError, PrimoServerError
from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook
from primo_provider.retries import RetryPolicy
from primo_provider.sandbox import PrimoSandbox

BODIES = {
    "plain text": ("Service temporarily unavailable", "text/plain", "not JSON"),
    "truncated JSON": ('{"id": "tkt_0123', None, "not JSON"),
    "HTML page": ("<html><body><h1>Welcome to nginx!</h1></body></html>", "text/html", "not JSON"),
    "empty 200": ("", None, "an empty body"),
    "whitespace only": ("  \r\n ", None, "an empty body"),
    "JSON array": ("[]", None, "a JSON list where an object was expected"),
    "JSON null": ("null", None, "where an object was expected"),
    "missing fields": ('{"id": "tkt_0123", "unexpected": true}', None, "lacks"),
}

CALLS: dict[str, tuple[str, Callable[[PrimoHook, dict[str, Any]], Any]]] = {
    "get ticket": ("GET /tickets/{ticketId}", lambda hook, t: hook.get_ticket(t["id"])),
    "list tickets": ("GET /tickets", lambda hook, t: list(hook.list_tickets())),
    "status update": (
        "POST /tickets/{ticketId}/status",
        lambda hook, t: hook.update_ticket_status(t["id"], "COMPLETED"),
    ),
    "list employees": ("GET /employees", lambda hook, t: list(hook.list_employees())),
}


@pytest.mark.parametrize("call_name", list(CALLS))
@pytest.mark.parametrize("body_name", list(BODIES))
def test_a_bad_success_answer_is_a_clear_error(
    body_name: str, call_name: str, hook: PrimoHook, sandbox: PrimoSandbox, sleeps
) -> None:
    body, content_type, problem = BODIES[body_name]
    endpoint, call = CALLS[call_name]
    ticket = hook.create_ticket("Existing")
    since = len(sandbox.requests)
    sandbox.add_fault(endpoint, "body", body=body, **({"content_type": content_type} if content_type else {}))

    with pytest.raises(PrimoResponseError) as raised:
        call(hook, ticket)

    message = str(raised.value)
    method, path = endpoint.split()
    assert message.startswith(f"{method} {path.split('{')[0]}"), message
    assert "answered 200 with " in message and problem in message, message
    assert raised.value.status_code == 200
    assert (
        not isinstance(raised.value.__context__, (KeyError, ValueError)) or raised.value.__suppress_context__
    )
    assert [r.endpoint for r in sandbox.requests[since:]] == [endpoint]  # answered: never sent twice
    assert sleeps == []


@pytest.mark.parametrize("body_name", list(BODIES))
def test_a_create_answered_with_a_bad_body_returns_what_landed(
    body_name: str, hook: PrimoHook, sandbox: PrimoSandbox, sleeps
) -> None:
    body, content_type, _ = BODIES[body_name]
    sandbox.add_fault(
        "POST /tickets", "body", body=body, **({"content_type": content_type} if content_type else {})
    )

    ticket = hook.create_ticket("Bad answer")

    assert [t["id"] for t in sandbox.tickets()] == [ticket["id"]]
    assert ticket == sandbox.ticket(ticket["id"])
    assert [r.endpoint for r in sandbox.requests] == [
        "POST /tickets",
        "GET /tickets",
        "GET /tickets/{ticketId}",
    ]
    assert sleeps == []


@pytest.mark.parametrize("body_name", list(BODIES))
def test_a_comment_answered_with_a_bad_body_returns_what_landed(
    body_name: str, hook: PrimoHook, sandbox: PrimoSandbox, sleeps
) -> None:
    body, content_type, _ = BODIES[body_name]
    ticket = hook.create_ticket("Existing")
    since = len(sandbox.requests)
    sandbox.add_fault(
        "POST /tickets/{ticketId}/comments",
        "body",
        body=body,
        **({"content_type": content_type} if content_type else {}),
    )

    comment = hook.add_comment(ticket["id"], "Hello")

    assert sandbox.ticket(ticket["id"])["comments"] == [comment]
    assert [r.endpoint for r in sandbox.requests[since:]] == [
        "POST /tickets/{ticketId}/comments",
        "GET /tickets/{ticketId}",
    ]
    assert sleeps == []


def test_a_malformed_page_is_a_clear_error(hook: PrimoHook, sandbox: PrimoSandbox) -> None:
    sandbox.add_fault("GET /tickets", "body", body='{"data": {"id": 1}, "pagination": {"totalPages": 1}}')
    with pytest.raises(PrimoResponseError, match="GET /tickets answered 200 with a page whose 'data'"):
        list(hook.list_tickets())


@pytest.mark.parametrize(
    "item",
    ['"tkt_0123"', "null", '{"title": "Duplicate?", "createdAt": "2999-01-01T00:00:00.000Z"}'],
    ids=["string item", "null item", "item without id"],
)
def test_a_malformed_answer_while_checking_for_a_landed_create_fails_safely(
    item: str, hook: PrimoHook, sandbox: PrimoSandbox
) -> None:
    """The search made after an ambiguous failure answers garbage: fail, do not guess, do not resend."""
    sandbox.add_fault("POST /tickets", "status", status=500)
    sandbox.add_fault(
        "GET /tickets",
        "body",
        body=f'{{"data": [{item}], "pagination": {{"totalPages": 1, "totalElements": 1}}}}',
    )

    with pytest.raises((PrimoRequestError, PrimoResponseError)) as raised:
        hook.create_ticket("Duplicate?")

    assert "not sending it again" in str(raised.value)
    assert [r.endpoint for r in sandbox.requests] == ["POST /tickets", "GET /tickets"]
    assert sandbox.tickets() == []


@pytest.mark.parametrize(
    "comments",
    ['["just text"]', '"not a list"', '[{"text": "Hello", "createdAt": "2999-01-01T00:00:00Z"}]'],
    ids=["string comment", "string comments", "comment without id"],
)
def test_a_malformed_ticket_while_checking_for_a_landed_comment_fails_safely(
    comments: str, hook: PrimoHook, sandbox: PrimoSandbox
) -> None:
    ticket = hook.create_ticket("Commented")
    since = len(sandbox.requests)
    sandbox.add_fault("POST /tickets/{ticketId}/comments", "status", status=502)
    broken = (
        f'{{"id": "{ticket["id"]}", "reference": "T-00001", "title": "Commented", "status": "PENDING", '
        f'"comments": {comments}}}'
    )
    sandbox.add_fault("GET /tickets/{ticketId}", "body", body=broken)

    with pytest.raises((PrimoRequestError, PrimoResponseError), match="not sending it again"):
        hook.add_comment(ticket["id"], "Hello")

    assert sandbox.ticket(ticket["id"])["comments"] == []
    assert [r.endpoint for r in sandbox.requests[since:]] == [
        "POST /tickets/{ticketId}/comments",
        "GET /tickets/{ticketId}",
    ]


@pytest.mark.parametrize("body_name", ["truncated JSON", "HTML page", "empty 200", "missing fields"])
def test_the_async_hook_finds_what_a_garbled_create_made(
    body_name: str, async_hook: PrimoAsyncHook, sandbox: PrimoSandbox
) -> None:
    body, content_type, _ = BODIES[body_name]
    async_hook.retry_policy = RetryPolicy(backoff_base=0.01)  # type: ignore[misc]
    sandbox.add_fault(
        "POST /tickets", "body", body=body, **({"content_type": content_type} if content_type else {})
    )

    async def create() -> Any:
        try:
            return await async_hook.acreate_ticket("Bad answer")
        finally:
            await async_hook.aclose()

    ticket = asyncio.run(create())  # the answer was unreadable, but the ticket is found, not made twice
    assert [t["id"] for t in sandbox.tickets()] == [ticket["id"]]
    assert [r.endpoint for r in sandbox.requests] == [
        "POST /tickets",
        "GET /tickets",
        "GET /tickets/{ticketId}",
    ]


def test_too_many_matches_to_check_fails_rather_than_resend(
    hook: PrimoHook, sandbox: PrimoSandbox, monkeypatch
) -> None:
    """Reconciliation reads a bounded number of pages; past them it cannot prove nothing landed."""
    monkeypatch.setattr(retries, "RECONCILE_MAX_PAGES", 1)
    old = '{"id": "tkt_old", "reference": "T-9", "title": "Common title", "createdAt": "2020-01-01T00:00:00.000Z"}'
    sandbox.add_fault("POST /tickets", "status", status=500)
    sandbox.add_fault(
        "GET /tickets",
        "body",
        body=f'{{"data": [{old}], "pagination": {{"totalPages": 2, "totalElements": 101, "page": 1}}}}',
    )

    with pytest.raises(PrimoRequestError, match=r"more than 1 pages .*not sending it again"):
        hook.create_ticket("Common title")

    assert [r.endpoint for r in sandbox.requests] == ["POST /tickets", "GET /tickets"]
    assert sandbox.tickets() == []


@pytest.mark.parametrize(
    ("body", "content_type", "shown"),
    [
        (
            "<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1><hr>nginx</body></html>",
            "text/html",
            "HTML page: 502 Bad Gateway",
        ),
        (
            "<html><body><p>upstream   connect error</p></body></html>",
            "text/html",
            "HTML page: upstream connect error",
        ),
        ("upstream request timeout", "text/plain", "upstream request timeout"),
        ("", "text/plain", "(empty body)"),
        ('{"statusCode": 502, "message": ["a", "b"]}', None, "a; b"),
        (
            '{"statusCode": 502, "message": "Bad Gateway"',
            None,
            '{"statusCode": 502, "message": "Bad Gateway"',
        ),
    ],
    ids=["html title", "html without title", "plain text", "empty", "json list", "truncated json"],
)
def test_error_answers_in_any_format_give_a_readable_message(
    body: str, content_type: str | None, shown: str, make_hook, sandbox: PrimoSandbox
) -> None:
    hook = make_hook(max_retries=0)
    sandbox.add_fault(
        "GET /tickets",
        "status",
        status=502,
        body=body,
        **({"content_type": content_type} if content_type else {}),
    )
    with pytest.raises(PrimoServerError) as raised:
        list(hook.list_tickets())
    assert str(raised.value) == f"Primo API error 502 on GET /tickets: {shown}"
    assert raised.value.status_code == 502
