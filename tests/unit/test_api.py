"""How answers are read: error statuses become typed errors with the server's message; malformed
successes become PrimoResponseError. Exercised through the hook with requests-mock (no retries)."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time

import pytest

from primo_provider import api
from primo_provider.exceptions import (
    PrimoAPIError,
    PrimoAuthenticationError,
    PrimoError,
    PrimoNotFoundError,
    PrimoRateLimitError,
    PrimoResponseError,
    PrimoServerError,
    PrimoValidationError,
)

from .helpers import page, summary, ticket, url


@pytest.fixture
def hook(make_hook):
    """No retries, so one answer is one outcome."""
    return make_hook(max_retries=0)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, PrimoValidationError),
        (422, PrimoValidationError),
        (401, PrimoAuthenticationError),
        (403, PrimoAuthenticationError),
        (404, PrimoNotFoundError),
        (429, PrimoRateLimitError),
        (500, PrimoServerError),
        (502, PrimoServerError),
        (503, PrimoServerError),
        (504, PrimoServerError),
        (409, PrimoAPIError),
        (418, PrimoAPIError),
    ],
)
def test_status_codes_map_to_error_classes(hook, http, status, error_class):
    http.get(url("/tickets/tkt-1"), status_code=status, json={"message": f"nope {status}"})

    with pytest.raises(error_class) as raised:
        hook.get_ticket("tkt-1")

    error = raised.value
    assert type(error) is error_class
    assert (error.status_code, error.method, error.path, error.message) == (
        status,
        "GET",
        "/tickets/tkt-1",
        f"nope {status}",
    )
    assert str(error) == f"Primo API error {status} on GET /tickets/tkt-1: nope {status}"
    assert http.call_count == 1


def test_error_on_post_names_method_and_path(hook, http):
    http.post(url("/tickets/tkt-1/status"), status_code=422, json={"message": "status: invalid transition"})

    with pytest.raises(PrimoValidationError) as raised:
        hook.update_ticket_status("tkt-1", "COMPLETED")

    assert (raised.value.method, raised.value.path) == ("POST", "/tickets/tkt-1/status")
    assert raised.value.message == "status: invalid transition"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"json": {"message": "Ticket not found"}}, "Ticket not found", id="json-message"),
        pytest.param(
            {"json": {"message": ["title must not be empty", "priority must be one of LOW, MEDIUM, HIGH"]}},
            "title must not be empty; priority must be one of LOW, MEDIUM, HIGH",
            id="json-list-message",
        ),
        pytest.param({"json": {"error": "Not Found"}}, "Not Found", id="json-error"),
        pytest.param({"json": {"detail": "No such ticket"}}, "No such ticket", id="json-detail"),
        pytest.param({"json": {"statusCode": 404}}, '{"statusCode": 404}', id="json-without-message"),
        pytest.param({"json": ["gone"]}, '["gone"]', id="json-list"),
        pytest.param(
            {
                "text": "<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
                "<body><h1>Not Found</h1><p>nginx</p></body></html>",
                "headers": {"Content-Type": "text/html"},
            },
            "HTML page: 404 Not Found",
            id="html-title",
        ),
        pytest.param(
            {"text": "<html><body><h1>Gateway\n  error</h1></body></html>"},
            "HTML page: Gateway error",
            id="html-without-title",
        ),
        pytest.param({"text": "upstream connect error"}, "upstream connect error", id="plain-text"),
        pytest.param({"text": "  many   spaces\n\nand lines  "}, "many spaces and lines", id="plain-spaces"),
        pytest.param({"text": ""}, "(empty body)", id="empty"),
        pytest.param({"text": " \n "}, "(empty body)", id="blank"),
        pytest.param({"content": b"\xff\xfe\x00bad"}, "\ufffd\ufffd\x00bad", id="not-utf8"),
    ],
)
def test_error_message_from_any_body(hook, http, kwargs, message):
    http.get(url("/tickets/tkt-1"), status_code=404, **kwargs)

    with pytest.raises(PrimoNotFoundError) as raised:
        hook.get_ticket("tkt-1")

    assert raised.value.message == message
    assert raised.value.status_code == 404


def test_long_error_bodies_are_cut(hook, http):
    http.get(url("/tickets/tkt-1"), status_code=500, text="x" * 5000)

    with pytest.raises(PrimoServerError) as raised:
        hook.get_ticket("tkt-1")

    assert raised.value.message == "x" * 300 + "…"


def test_rate_limit_carries_retry_after_seconds(hook, http):
    http.get(
        url("/tickets/tkt-1"), status_code=429, headers={"Retry-After": "7"}, json={"message": "slow down"}
    )

    with pytest.raises(PrimoRateLimitError) as raised:
        hook.get_ticket("tkt-1")

    assert raised.value.retry_after == 7.0
    assert raised.value.message == "slow down"


def test_rate_limit_carries_retry_after_from_an_http_date(hook, http):
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    http.get(url("/tickets/tkt-1"), status_code=429, headers={"Retry-After": when})

    with pytest.raises(PrimoRateLimitError) as raised:
        hook.get_ticket("tkt-1")

    assert 115 <= raised.value.retry_after <= 120


def test_rate_limit_without_retry_after(hook, http):
    http.get(url("/tickets/tkt-1"), status_code=429)

    with pytest.raises(PrimoRateLimitError) as raised:
        hook.get_ticket("tkt-1")

    assert raised.value.retry_after is None
    assert raised.value.message == "(empty body)"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("12", 12.0),
        (" 3.5 ", 3.5),
        ("-4", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_seconds(header, seconds):
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()

    assert api.retry_after_seconds({"retry-after": header}, now=now) == seconds
    assert api.retry_after_seconds({"Retry-After": header}, now=now) == seconds


def test_retry_after_absent():
    assert api.retry_after_seconds({"Content-Type": "application/json"}) is None


# --- successes that are not what the API documents -------------------------------------------------

BAD_SUCCESSES = [
    pytest.param({"text": "OK"}, "a body that is not JSON: 'OK'", id="not-json"),
    pytest.param({"text": '{"id": "tkt-1", "reference": "REF'}, "a body that is not JSON", id="truncated"),
    pytest.param({"json": [ticket()]}, "a JSON list where an object was expected", id="json-list"),
    pytest.param({"json": "tkt-1"}, "a JSON str where an object was expected", id="json-string"),
    pytest.param({"text": "null"}, "a JSON NoneType where an object was expected", id="json-null"),
    pytest.param(
        {"json": {"id": "tkt-1", "title": "x"}},
        "a ticket object that lacks 'reference', 'status'",
        id="missing-fields",
    ),
    pytest.param(
        {"text": "<html><head><title>Login</title></head></html>", "headers": {"Content-Type": "text/html"}},
        "a body that is not JSON: '<html><head><title>Login</title></head></html>'",
        id="html",
    ),
    pytest.param({"text": ""}, "an empty body where JSON was expected", id="empty"),
    pytest.param({"content": b"\x89PNG\r\n"}, "a body that is not JSON", id="binary"),
]


@pytest.mark.parametrize(("kwargs", "problem"), BAD_SUCCESSES)
def test_bad_success_answers_raise_response_error(hook, http, sleeps, kwargs, problem):
    http.get(url("/tickets/tkt-1"), status_code=200, **kwargs)

    with pytest.raises(PrimoResponseError) as raised:
        hook.get_ticket("tkt-1")

    error = raised.value
    assert str(error).startswith("GET /tickets/tkt-1 answered 200 with ")
    assert problem in str(error)
    assert (error.method, error.path, error.status_code) == ("GET", "/tickets/tkt-1", 200)
    assert not isinstance(error, (KeyError, ValueError))
    assert http.call_count == 1 and sleeps == []


@pytest.mark.parametrize("kwargs", [p.values[0] for p in BAD_SUCCESSES])
def test_bad_answer_to_a_create_is_reconciled_never_resent(make_hook, http, sleeps, kwargs):
    """Primo said yes: the ticket may exist, so the hook looks for it instead of failing or resending."""
    hook = make_hook(max_retries=3)
    http.post(url("/tickets"), status_code=201, **kwargs)
    http.get(url("/tickets"), json=page([]))

    with pytest.raises(PrimoResponseError, match=r"^POST /tickets answered 201 with "):
        hook.create_ticket("Disk full")

    assert [r.method for r in http.request_history] == ["POST", "GET"]
    assert http.request_history[1].qs["searchterm"] == ["disk full"]
    assert sleeps == []


def test_bad_answer_to_a_create_returns_the_ticket_that_landed(make_hook, http, sleeps):
    hook = make_hook(max_retries=3)
    landed = ticket("tkt-9", title="Disk full", createdAt=dt.datetime.now(dt.UTC).isoformat())
    http.post(url("/tickets"), status_code=201, text="<html>gateway</html>")
    http.get(url("/tickets"), json=page([summary("tkt-9", title="Disk full", createdAt=landed["createdAt"])]))
    http.get(url("/tickets/tkt-9"), json=landed)

    assert hook.create_ticket("Disk full") == landed
    assert [r.method for r in http.request_history] == ["POST", "GET", "GET"]
    assert sleeps == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"data": [summary()]}, "a page object that lacks 'pagination'"),
        ({"pagination": {"totalPages": 1}}, "a page object that lacks 'data'"),
        ({"data": {"id": "x"}, "pagination": {"totalPages": 1}}, "malformed"),
        ({"data": [], "pagination": []}, "malformed"),
        ({"data": [], "pagination": {"page": 1}}, "malformed"),
        ({"data": [], "pagination": {"totalPages": "2"}}, "malformed"),
    ],
)
def test_malformed_pages_raise_response_error(hook, http, body, problem):
    http.get(url("/tickets"), json=body)

    with pytest.raises(PrimoResponseError) as raised:
        list(hook.list_tickets())

    assert problem in str(raised.value)


def test_comment_and_employee_answers_are_checked_too(hook, http):
    http.post(url("/tickets/tkt-1/comments"), json={"id": "c1", "text": "hi"})
    http.get(url("/tickets/tkt-1"), json=ticket("tkt-1", comments=[]))  # the check: it did not land
    http.get(url("/employees/e1"), json={"id": "e1", "firstName": "Ada"})

    with pytest.raises(PrimoResponseError, match="a comment object that lacks 'createdAt'"):
        hook.add_comment("tkt-1", "hi")
    with pytest.raises(PrimoResponseError, match="an employee object that lacks 'email'"):
        hook.get_employee("e1")


def test_every_error_is_a_primo_error_and_an_airflow_exception():
    from airflow.providers.common.compat.sdk import AirflowException

    for error_class in (PrimoAPIError, PrimoResponseError, PrimoServerError, PrimoRateLimitError):
        assert issubclass(error_class, PrimoError)
        assert issubclass(error_class, AirflowException)


# --- the request builders, beside the hook ---------------------------------------------------------


def test_builders_mark_what_creates_something():
    create = api.create_ticket("t")
    comment = api.add_comment(" tkt-1 ", "hi")

    assert (create.creates, create.is_safe) == (True, False)
    assert (comment.creates, comment.ticket_id, comment.path) == (True, "tkt-1", "/tickets/tkt-1/comments")
    for safe in (
        api.get_ticket("t"),
        api.list_tickets(),
        api.update_ticket_status("t", "PENDING"),
        api.update_ticket_priority("t", None),
        api.update_ticket_assignee("t", "e"),
        api.list_employees(),
        api.get_employee("e"),
    ):
        assert safe.is_safe, safe


def test_decode_returns_the_body_unchanged():
    body = page([summary("a"), summary("b")], 1, 1)

    decoded = api.decode(api.list_tickets(), api.RawResponse(200, json.dumps(body).encode()))

    assert decoded == body
