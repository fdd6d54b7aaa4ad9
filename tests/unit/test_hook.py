"""PrimoHook: the exact requests it sends (requests-mock) and how it reads its Airflow connection."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pendulum
import pytest
import requests
import requests_mock

from primo_provider import __version__
from primo_provider.exceptions import PrimoConnectionConfigError, PrimoServerError
from primo_provider.hooks.primo import PrimoHook
from primo_provider.validation import Priority, SortBy, TicketStatus

from .helpers import (
    BASE_URL,
    SENTINEL_KEY,
    comment,
    employee,
    page,
    summary,
    ticket,
    url,
)

USER_AGENT = f"airflow-provider-primo/{__version__}"


def query(request: Any) -> dict[str, list[str]]:
    """The query string as sent (requests-mock's ``qs`` lower-cases values)."""
    return parse_qs(urlsplit(request.url).query, keep_blank_values=True)


def sent_json(request: Any) -> Any:
    """The body exactly as it went on the wire, parsed (``null`` stays ``None``)."""
    return json.loads(request.body)


# --- headers ----------------------------------------------------------------------------------------


def test_every_request_carries_bearer_key_user_agent_and_accept(hook, http):
    http.get(url("/tickets/tkt-1"), json=ticket())

    hook.get_ticket("tkt-1")

    [request] = http.request_history
    assert request.headers["Authorization"] == f"Bearer {SENTINEL_KEY}"
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Accept"] == "application/json"
    assert "x-company-id" not in {key.lower() for key in request.headers}
    assert request.timeout == 30.0
    assert hook.session.verify is True
    assert request.verify is not False  # True, or the CA bundle requests takes from the environment


def test_company_id_extra_is_sent_as_x_company_id(make_hook, http):
    hook = make_hook(extra={"company_id": " cmp-42 "})
    http.post(url("/tickets"), json=ticket())

    hook.create_ticket("Printer jammed")

    assert http.last_request.headers["x-company-id"] == "cmp-42"
    assert http.last_request.headers["Authorization"] == f"Bearer {SENTINEL_KEY}"


def test_post_sends_json_content_type(hook, http):
    http.post(url("/tickets"), json=ticket())

    hook.create_ticket("Printer jammed")

    assert http.last_request.headers["Content-Type"] == "application/json"


# --- create_ticket: every argument form -------------------------------------------------------------


def test_create_ticket_minimal_sends_only_the_title_and_returns_primo_answer(hook, http):
    answer = ticket(title="Printer jammed")
    http.post(url("/tickets"), json=answer, status_code=201)

    result = hook.create_ticket("  Printer jammed ")

    [request] = http.request_history
    assert (request.method, request.url) == ("POST", f"{BASE_URL}/tickets")
    assert sent_json(request) == {"title": "Printer jammed"}
    assert result == answer


def test_create_ticket_all_fields(hook, http):
    http.post(url("/tickets"), json=ticket())

    hook.create_ticket(
        "Laptop for Ada",
        description="## Needs\n\n* 32 GB RAM",
        assignee_employee_id="emp-7",
        priority="HIGH",
        due_date=dt.datetime(2024, 5, 1, 17, 0, tzinfo=dt.UTC),
    )

    assert sent_json(http.last_request) == {
        "title": "Laptop for Ada",
        "description": "## Needs\n\n* 32 GB RAM",
        "assigneeEmployeeId": "emp-7",
        "priority": "HIGH",
        "dueDate": "2024-05-01T17:00:00Z",
    }


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("low", "LOW"),
        ("Medium", "MEDIUM"),
        (" high ", "HIGH"),
        (Priority.LOW, "LOW"),
        (Priority.HIGH, "HIGH"),
    ],
)
def test_create_ticket_priority_any_case_or_enum(hook, http, given, sent):
    http.post(url("/tickets"), json=ticket())

    hook.create_ticket("t", priority=given)

    assert sent_json(http.last_request) == {"title": "t", "priority": sent}


@pytest.mark.parametrize(
    ("due", "sent"),
    [
        pytest.param(
            dt.datetime(2024, 5, 1, 17, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-05-01T15:00:00Z",
            id="aware-datetime",
        ),
        pytest.param(
            pendulum.datetime(2024, 5, 1, 9, 30, tz="America/New_York"), "2024-05-01T13:30:00Z", id="pendulum"
        ),
        pytest.param(
            pendulum.datetime(2024, 1, 1, 0, 30, tz="Asia/Kolkata"), "2023-12-31T19:00:00Z", id="pendulum-ist"
        ),
        pytest.param(dt.datetime(2024, 5, 1, 17, 0), "2024-05-01T17:00:00Z", id="naive-is-utc"),
        pytest.param(dt.datetime(2024, 5, 1, 17, 0, 0, 250000), "2024-05-01T17:00:00.25Z", id="fraction"),
        pytest.param(dt.date(2024, 5, 1), "2024-05-01T00:00:00Z", id="date"),
        pytest.param(pendulum.date(2024, 2, 29), "2024-02-29T00:00:00Z", id="pendulum-date"),
        pytest.param("2024-05-01T17:00:00Z", "2024-05-01T17:00:00Z", id="iso-z"),
        pytest.param("2024-05-01T17:00:00+02:00", "2024-05-01T15:00:00Z", id="iso-offset"),
        pytest.param("2024-05-01T01:00:00-05:30", "2024-05-01T06:30:00Z", id="iso-negative-offset"),
        pytest.param("2024-05-01T17:00:00", "2024-05-01T17:00:00Z", id="iso-no-offset"),
        pytest.param("2024-05-01", "2024-05-01T00:00:00Z", id="iso-date"),
        pytest.param(" 2024-05-01T17:00 ", "2024-05-01T17:00:00Z", id="iso-no-seconds"),
        pytest.param("2024W01T12", "2024-01-01T12:00:00Z", id="iso-week-with-hour"),
    ],
)
def test_create_ticket_due_date_forms_are_sent_as_utc(hook, http, due, sent):
    http.post(url("/tickets"), json=ticket())

    hook.create_ticket("t", due_date=due)

    assert sent_json(http.last_request) == {"title": "t", "dueDate": sent}


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_create_ticket_assignee_and_due_date_omitted_when_not_given(hook, http, empty):
    http.post(url("/tickets"), json=ticket())

    hook.create_ticket("t", assignee_employee_id=empty, priority=empty, due_date=empty)

    body = sent_json(http.last_request)
    assert body == {"title": "t"}
    assert b"null" not in http.last_request.body


def test_create_ticket_keeps_description_null_free(hook, http):
    http.post(url("/tickets"), json=ticket())

    hook.create_ticket("t", description=None, assignee_employee_id=None)

    assert "description" not in sent_json(http.last_request)
    assert "assigneeEmployeeId" not in sent_json(http.last_request)


# --- other ticket calls -----------------------------------------------------------------------------


def test_get_ticket_quotes_the_id_in_the_path(hook, http):
    answer = ticket("a/b c")
    http.get(url("/tickets/a%2Fb%20c"), json=answer)

    assert hook.get_ticket(" a/b c ") == answer
    assert http.last_request.url == f"{BASE_URL}/tickets/a%2Fb%20c"
    assert http.last_request.method == "GET"
    assert http.last_request.body is None


def test_list_tickets_reads_every_page_then_stops(hook, http):
    pages = [
        page([summary("t1"), summary("t2")], 1, 3),
        page([summary("t3"), summary("t4")], 2, 3),
        page([summary("t5")], 3, 3),
    ]
    http.get(url("/tickets"), [{"json": body} for body in pages])

    ids = [item["id"] for item in hook.list_tickets()]

    assert ids == ["t1", "t2", "t3", "t4", "t5"]
    assert http.call_count == 3
    assert [query(r) for r in http.request_history] == [
        {"page": [str(n)], "perPage": ["100"]} for n in (1, 2, 3)
    ]


def test_list_tickets_is_read_lazily_page_by_page(hook, http):
    http.get(url("/tickets"), [{"json": page([summary("t1")], 1, 2)}, {"json": page([summary("t2")], 2, 2)}])

    items = hook.list_tickets()
    assert http.call_count == 0
    assert next(items)["id"] == "t1"
    assert http.call_count == 1
    assert [item["id"] for item in items] == ["t2"]
    assert http.call_count == 2


def test_list_tickets_stops_on_an_empty_page(hook, http):
    http.get(url("/tickets"), json=page([], 1, 5))

    assert list(hook.list_tickets()) == []
    assert http.call_count == 1


def test_list_tickets_maps_filters_to_the_spec_names(hook, http):
    http.get(url("/tickets"), json=page([summary()]))

    list(
        hook.list_tickets(
            status="in_progress",
            priority=Priority.HIGH,
            search_term=" disk full ",
            assignee_employee_id="emp-7",
            sort_by="TITLE",
            sort_direction="desc",
        )
    )

    assert query(http.last_request) == {
        "page": ["1"],
        "perPage": ["100"],
        "status": ["IN_PROGRESS"],
        "priority": ["HIGH"],
        "searchTerm": ["disk full"],
        "assigneeEmployeeId": ["emp-7"],
        "sortBy": ["title"],
        "sortDirection": ["DESC"],
    }


def test_list_tickets_accepts_enums_for_filters(hook, http):
    http.get(url("/tickets"), json=page([]))

    list(hook.list_tickets(status=TicketStatus.CANCELLED, sort_by=SortBy.TASKS_COUNT))

    assert query(http.last_request) == {
        "page": ["1"],
        "perPage": ["100"],
        "status": ["CANCELLED"],
        "sortBy": ["tasksCount"],
    }


@pytest.mark.parametrize(
    ("call", "path", "body"),
    [
        (
            lambda h: h.update_ticket_status("tkt-1", "completed"),
            "/tickets/tkt-1/status",
            {"status": "COMPLETED"},
        ),
        (
            lambda h: h.update_ticket_status("tkt-1", TicketStatus.IN_PROGRESS),
            "/tickets/tkt-1/status",
            {"status": "IN_PROGRESS"},
        ),
        (lambda h: h.update_ticket_priority("tkt-1", "low"), "/tickets/tkt-1/priority", {"priority": "LOW"}),
        (lambda h: h.update_ticket_priority("tkt-1", None), "/tickets/tkt-1/priority", {"priority": None}),
        (
            lambda h: h.update_ticket_assignee("tkt-1", " emp-9 "),
            "/tickets/tkt-1/assignee",
            {"assigneeEmployeeId": "emp-9"},
        ),
    ],
    ids=["status", "status-enum", "priority", "priority-cleared", "assignee"],
)
def test_updates_post_the_exact_body_and_return_the_ticket(hook, http, call, path, body):
    answer = ticket(status="COMPLETED")
    http.post(url(path), json=answer)

    assert call(hook) == answer
    [request] = http.request_history
    assert (request.method, request.url) == ("POST", BASE_URL + path)
    assert sent_json(request) == body


def test_clearing_the_priority_sends_an_explicit_null(hook, http):
    http.post(url("/tickets/tkt-1/priority"), json=ticket())

    hook.update_ticket_priority("tkt-1", None)

    assert http.last_request.body == b'{"priority": null}'


def test_add_comment(hook, http):
    answer = comment(text="Rebooted the printer")
    http.post(url("/tickets/tkt-1/comments"), json=answer, status_code=201)

    assert hook.add_comment("tkt-1", "  Rebooted the printer\n") == answer
    assert sent_json(http.last_request) == {"text": "Rebooted the printer"}


# --- employees --------------------------------------------------------------------------------------


def test_list_employees_pages(hook, http):
    http.get(
        url("/employees"),
        [
            {"json": page([employee("e1", "a@x.io")], 1, 2)},
            {"json": page([employee("e2", "b@x.io")], 2, 2)},
        ],
    )

    assert [e["id"] for e in hook.list_employees()] == ["e1", "e2"]
    assert [query(r) for r in http.request_history] == [
        {"page": ["1"], "perPage": ["100"]},
        {"page": ["2"], "perPage": ["100"]},
    ]


def test_get_employee(hook, http):
    answer = employee("emp-7", "ada.lovelace@example.com")
    http.get(url("/employees/emp-7"), json=answer)

    assert hook.get_employee("emp-7") == answer
    assert http.last_request.method == "GET"


def test_find_employee_by_email_reads_pages_once_then_caches(hook, http):
    http.get(
        url("/employees"),
        [
            {"json": page([employee("e1", "grace.hopper@example.com")], 1, 2)},
            {"json": page([employee("e2", "Ada.Lovelace@Example.com")], 2, 2)},
        ],
    )

    assert hook.find_employee_by_email("ada.lovelace@EXAMPLE.com")["id"] == "e2"
    assert hook.find_employee_by_email(" GRACE.HOPPER@example.com ")["id"] == "e1"
    assert hook.find_employee_by_email("nobody@example.com") is None
    assert http.call_count == 2


# --- test_connection --------------------------------------------------------------------------------


def test_test_connection_success_makes_one_get(hook, http):
    body = page([summary()])
    body["pagination"]["totalElements"] = 12
    http.get(url("/tickets"), json=body)

    ok, message = hook.test_connection()

    assert ok is True
    assert BASE_URL in message and "12" in message
    [request] = http.request_history
    assert request.method == "GET"
    assert query(request) == {"page": ["1"], "perPage": ["1"]}


@pytest.mark.parametrize("status", [401, 403, 500])
def test_test_connection_failure_is_reported_not_raised_and_not_retried(hook, http, sleeps, status):
    http.get(url("/tickets"), status_code=status, json={"message": "Invalid API key"})
    http.post(url("/tickets"), json=ticket())

    ok, message = hook.test_connection()

    assert ok is False
    assert str(status) in message and "Invalid API key" in message
    assert [r.method for r in http.request_history] == ["GET"]
    assert sleeps == []


def test_test_connection_reports_a_bad_connection(primo_conn, http):
    hook = PrimoHook(primo_conn_id=primo_conn(password=None))

    ok, message = hook.test_connection()

    assert ok is False
    assert "primo_unit" in message and "API key" in message
    assert http.call_count == 0


# --- connection handling ----------------------------------------------------------------------------


def test_host_defaults_to_primo_public_api(primo_conn, http):
    hook = PrimoHook(primo_conn_id=primo_conn(host=None))
    http.get("https://api.getprimo.com/tickets/tkt-1", json=ticket())

    hook.get_ticket("tkt-1")

    assert hook.connection_params.base_url == "https://api.getprimo.com"
    assert http.last_request.url == "https://api.getprimo.com/tickets/tkt-1"


@pytest.mark.parametrize(
    ("fields", "base_url"),
    [
        ({"host": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"),
        ({"host": "http://127.0.0.1", "port": 8080}, "http://127.0.0.1:8080"),
        ({"host": "sandbox.primo.test"}, "https://sandbox.primo.test"),
        ({"host": "https://proxy.test/primo/v1/"}, "https://proxy.test/primo/v1"),
        ({"host": "  https://api.getprimo.com  "}, "https://api.getprimo.com"),
    ],
)
def test_host_forms(primo_conn, http, fields, base_url):
    hook = PrimoHook(primo_conn_id=primo_conn(**fields))
    http.get(base_url + "/tickets/tkt-1", json=ticket())

    hook.get_ticket("tkt-1")

    assert hook.connection_params.base_url == base_url
    assert http.last_request.url == f"{base_url}/tickets/tkt-1"


def test_uri_form_with_encoded_http_host(monkeypatch, http):
    monkeypatch.setenv(
        "AIRFLOW_CONN_PRIMO_URI", f"primo://:{SENTINEL_KEY}@http%3A%2F%2F127.0.0.1%3A8080/?company_id=cmp-1"
    )
    hook = PrimoHook(primo_conn_id="primo_uri")
    http.get("http://127.0.0.1:8080/tickets/tkt-1", json=ticket())

    hook.get_ticket("tkt-1")

    assert http.last_request.headers["Authorization"] == f"Bearer {SENTINEL_KEY}"
    assert http.last_request.headers["x-company-id"] == "cmp-1"


def test_json_form_with_all_extras_as_ui_strings(make_hook, http):
    hook = make_hook(
        max_retries=None,
        extra={"extra__primo__company_id": "cmp-1", "timeout": "12.5", "max_retries": "0", "verify": "false"},
    )
    http.get(url("/tickets/tkt-1"), status_code=503)

    params = hook.connection_params
    assert (params.company_id, params.timeout, params.max_retries, params.verify) == ("cmp-1", 12.5, 0, False)
    with pytest.raises(PrimoServerError, match="503"):
        hook.get_ticket("tkt-1")
    [request] = http.request_history  # max_retries "0": a single attempt
    assert request.timeout == 12.5
    assert request.verify is False
    assert request.headers["x-company-id"] == "cmp-1"


def test_verify_may_be_a_ca_bundle_path(make_hook, http):
    hook = make_hook(extra={"verify": "/etc/ssl/private-ca.pem"})
    http.get(url("/tickets/tkt-1"), json=ticket())

    hook.get_ticket("tkt-1")

    assert http.last_request.verify == "/etc/ssl/private-ca.pem"


def test_hook_arguments_override_connection_extras(primo_conn, http):
    hook = PrimoHook(
        primo_conn_id=primo_conn(extra={"timeout": 30, "max_retries": 5}), timeout=3, max_retries=0
    )
    http.get(url("/tickets/tkt-1"), status_code=500)

    with pytest.raises(PrimoServerError, match="500"):
        hook.get_ticket("tkt-1")
    assert http.call_count == 1
    assert http.last_request.timeout == 3.0


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"password": None}, "no API key"),
        ({"password": "   "}, "no API key"),
        ({"host": "ftp://x"}, "not an http(s) URL"),
        ({"host": "http://"}, "not an http(s) URL"),
        ({"host": "https://api.getprimo.com/?x=1"}, "not an http(s) URL"),
        ({"host": "http://127.0.0.1:99999"}, "invalid port"),
        ({"extra": {"company": "cmp-1"}}, "unknown extra field(s) company"),
        ({"extra": {"api_key": "x"}}, "unknown extra field(s) api_key"),
        ({"extra": {"timeout": "soon"}}, "extra timeout='soon'"),
        ({"extra": {"timeout": 0}}, "extra timeout=0"),
        ({"extra": {"timeout": -1}}, "extra timeout=-1"),
        ({"extra": {"timeout": True}}, "extra timeout=True"),
        ({"extra": {"max_retries": "2.5"}}, "extra max_retries='2.5'"),
        ({"extra": {"max_retries": -1}}, "extra max_retries=-1"),
        ({"extra": {"company_id": 42}}, "company_id must be a string"),
    ],
)
def test_bad_connections_fail_naming_the_connection_before_any_request(primo_conn, http, fields, problem):
    hook = PrimoHook(primo_conn_id=primo_conn("primo_broken", **fields))

    with pytest.raises(PrimoConnectionConfigError) as raised:
        hook.get_ticket("tkt-1")

    assert str(raised.value).startswith("Primo connection 'primo_broken': ")
    assert problem in str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert http.call_count == 0


def test_init_does_no_io(http, monkeypatch):
    def no_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the connection was read in __init__")

    monkeypatch.setattr(PrimoHook, "get_connection", classmethod(no_lookup))

    hook = PrimoHook(primo_conn_id="does_not_exist")

    assert hook.primo_conn_id == "does_not_exist"
    assert http.call_count == 0


def test_missing_connection_fails_on_first_use_naming_it(http):
    from airflow.providers.common.compat.sdk import AirflowNotFoundException

    hook = PrimoHook(primo_conn_id="does_not_exist")

    with pytest.raises(AirflowNotFoundException, match="does_not_exist"):
        hook.get_ticket("tkt-1")
    assert http.call_count == 0


@pytest.mark.parametrize("secret", ["api_key", "password", "token"])
def test_passing_the_key_to_the_hook_is_refused(secret):
    with pytest.raises(ValueError, match=rf"^{secret}: never pass the Primo API key"):
        PrimoHook(primo_conn_id="primo_unit", **{secret: SENTINEL_KEY})


def test_connection_is_read_once_and_session_reused(hook, http, monkeypatch):
    reads = []
    original = PrimoHook.get_connection.__func__

    def counting(cls: type, conn_id: str) -> Any:
        reads.append(conn_id)
        return original(cls, conn_id)

    monkeypatch.setattr(PrimoHook, "get_connection", classmethod(counting))
    http.get(url("/tickets/tkt-1"), json=ticket())

    hook.get_ticket("tkt-1")
    hook.get_ticket("tkt-1")

    assert reads == ["primo_unit"]
    assert hook.get_conn() is hook.session
    assert isinstance(hook.session, requests.Session)


def test_close_drops_the_session_and_a_new_one_is_made_on_use(hook, http):
    http.get(url("/tickets/tkt-1"), json=ticket())
    first = hook.session

    hook.close()
    hook.get_ticket("tkt-1")

    assert hook.session is not first
    assert http.call_count == 1


def test_unregistered_requests_are_not_silently_answered():
    """Guards the other tests: with requests-mock active, nothing reaches a network."""
    with requests_mock.Mocker(real_http=False) as mocker, pytest.raises(requests_mock.NoMockAddress):
        requests.get("https://api.getprimo.com/tickets", timeout=1)
    assert mocker.call_count == 1
