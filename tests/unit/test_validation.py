"""Every public argument of the hook methods and the operators rejects bad values before any request.

Each case raises ``TypeError`` or ``ValueError`` whose message starts with the argument's name, while
requests-mock, active with no URL registered, records zero requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import requests_mock

from primo_provider import api
from primo_provider.validation import Priority, TicketStatus, due_date, enum_value

Call = Callable[[Any], Any]


def case(arg: str, call: Call, error: type[Exception], id: str) -> Any:
    return pytest.param(arg, call, error, id=id)


HOOK_CASES = [
    # create_ticket
    case("title", lambda h: h.create_ticket(""), ValueError, "title-empty"),
    case("title", lambda h: h.create_ticket(" \t\n"), ValueError, "title-whitespace"),
    case("title", lambda h: h.create_ticket(None), TypeError, "title-none"),
    case("title", lambda h: h.create_ticket(42), TypeError, "title-int"),
    case("title", lambda h: h.create_ticket(b"Disk full"), TypeError, "title-bytes"),
    case("description", lambda h: h.create_ticket("t", description=7), TypeError, "description-int"),
    case("description", lambda h: h.create_ticket("t", description=["x"]), TypeError, "description-list"),
    case(
        "assignee_employee_id",
        lambda h: h.create_ticket("t", assignee_employee_id=7),
        TypeError,
        "assignee-int",
    ),
    case("priority", lambda h: h.create_ticket("t", priority="urgent"), ValueError, "priority-unknown"),
    case("priority", lambda h: h.create_ticket("t", priority="HIGHEST"), ValueError, "priority-prefix"),
    case("priority", lambda h: h.create_ticket("t", priority=2), TypeError, "priority-int"),
    case(
        "priority",
        lambda h: h.create_ticket("t", priority=TicketStatus.PENDING),
        ValueError,
        "priority-status",
    ),
    case("due_date", lambda h: h.create_ticket("t", due_date="2023-02-29"), ValueError, "due-not-leap"),
    case("due_date", lambda h: h.create_ticket("t", due_date="2023-13-01"), ValueError, "due-month-13"),
    case("due_date", lambda h: h.create_ticket("t", due_date="2023-04-31"), ValueError, "due-april-31"),
    case("due_date", lambda h: h.create_ticket("t", due_date="2024-05-01T24:30"), ValueError, "due-hour-24"),
    case(
        "due_date",
        lambda h: h.create_ticket("t", due_date="2024-05-01T10:00+25:00"),
        ValueError,
        "due-offset",
    ),
    case("due_date", lambda h: h.create_ticket("t", due_date="next friday"), ValueError, "due-words"),
    case("due_date", lambda h: h.create_ticket("t", due_date="01/05/2024"), ValueError, "due-us-format"),
    case("due_date", lambda h: h.create_ticket("t", due_date=1714582800), TypeError, "due-epoch"),
    case("due_date", lambda h: h.create_ticket("t", due_date=True), TypeError, "due-bool"),
    case("due_date", lambda h: h.create_ticket("t", due_date=dt.time(17)), TypeError, "due-time"),
    case(
        "due_date",
        lambda h: h.create_ticket(
            "t", due_date=dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        ),
        ValueError,
        "due-before-year-1-in-utc",
    ),
    case(
        "due_date",
        lambda h: h.create_ticket("t", due_date="9999-12-31T23:00:00-02:00"),
        ValueError,
        "due-after-9999-in-utc",
    ),
    # get_ticket
    case("ticket_id", lambda h: h.get_ticket(""), ValueError, "get-empty"),
    case("ticket_id", lambda h: h.get_ticket("   "), ValueError, "get-whitespace"),
    case("ticket_id", lambda h: h.get_ticket(None), TypeError, "get-none"),
    case("ticket_id", lambda h: h.get_ticket(12), TypeError, "get-int"),
    # list_tickets: checked when called, not when the first page is read
    case("status", lambda h: h.list_tickets(status="DONE"), ValueError, "list-status"),
    case("status", lambda h: h.list_tickets(status=1), TypeError, "list-status-int"),
    case("priority", lambda h: h.list_tickets(priority="urgent"), ValueError, "list-priority"),
    case("search_term", lambda h: h.list_tickets(search_term=5), TypeError, "list-search-int"),
    case(
        "assignee_employee_id", lambda h: h.list_tickets(assignee_employee_id=5), TypeError, "list-assignee"
    ),
    case("sort_by", lambda h: h.list_tickets(sort_by="createdAt"), ValueError, "list-sort-by"),
    case("sort_by", lambda h: h.list_tickets(sort_by=["title"]), TypeError, "list-sort-by-list"),
    case("sort_direction", lambda h: h.list_tickets(sort_direction="up"), ValueError, "list-sort-dir"),
    case(
        "sort_direction",
        lambda h: h.list_tickets(sort_direction="ascending"),
        ValueError,
        "list-sort-dir-word",
    ),
    case("per_page", lambda h: h.request(api.list_tickets(per_page=101)), ValueError, "list-per-page-101"),
    case("per_page", lambda h: h.request(api.list_tickets(per_page=0)), ValueError, "list-per-page-0"),
    case("per_page", lambda h: h.request(api.list_tickets(per_page="50")), ValueError, "list-per-page-str"),
    case("page", lambda h: h.request(api.list_tickets(page=0)), ValueError, "list-page-0"),
    case("page", lambda h: h.request(api.list_tickets(page=True)), ValueError, "list-page-bool"),
    case(
        "per_page", lambda h: h.request(api.list_employees(per_page=1000)), ValueError, "employees-per-page"
    ),
    case("page", lambda h: h.request(api.list_employees(page=-1)), ValueError, "employees-page"),
    # updates
    case("ticket_id", lambda h: h.update_ticket_status("", "COMPLETED"), ValueError, "status-ticket-empty"),
    case("status", lambda h: h.update_ticket_status("t1", "DONE"), ValueError, "status-unknown"),
    case("status", lambda h: h.update_ticket_status("t1", ""), ValueError, "status-empty"),
    case("status", lambda h: h.update_ticket_status("t1", None), TypeError, "status-none"),
    case("status", lambda h: h.update_ticket_status("t1", Priority.HIGH), ValueError, "status-priority"),
    case("ticket_id", lambda h: h.update_ticket_priority(" ", "LOW"), ValueError, "priority-ticket-blank"),
    case(
        "priority", lambda h: h.update_ticket_priority("t1", "urgent"), ValueError, "priority-update-unknown"
    ),
    case("priority", lambda h: h.update_ticket_priority("t1", ""), ValueError, "priority-update-empty"),
    case("priority", lambda h: h.update_ticket_priority("t1", 3), TypeError, "priority-update-int"),
    case("ticket_id", lambda h: h.update_ticket_assignee(None, "e1"), TypeError, "assignee-ticket-none"),
    case("assignee_employee_id", lambda h: h.update_ticket_assignee("t1", ""), ValueError, "assignee-empty"),
    case("assignee_employee_id", lambda h: h.update_ticket_assignee("t1", None), TypeError, "assignee-none"),
    # comments
    case("ticket_id", lambda h: h.add_comment("", "hello"), ValueError, "comment-ticket-empty"),
    case("ticket_id", lambda h: h.add_comment(5, "hello"), TypeError, "comment-ticket-int"),
    case("text", lambda h: h.add_comment("t1", ""), ValueError, "comment-empty"),
    case("text", lambda h: h.add_comment("t1", "  \n "), ValueError, "comment-whitespace"),
    case("text", lambda h: h.add_comment("t1", None), TypeError, "comment-none"),
    case("text", lambda h: h.add_comment("t1", {"text": "x"}), TypeError, "comment-dict"),
    # employees
    case("employee_id", lambda h: h.get_employee(""), ValueError, "employee-empty"),
    case("employee_id", lambda h: h.get_employee(7), TypeError, "employee-int"),
    case("email", lambda h: h.find_employee_by_email(""), ValueError, "email-empty"),
    case("email", lambda h: h.find_employee_by_email(None), TypeError, "email-none"),
]


@pytest.mark.parametrize(("arg", "call", "error"), HOOK_CASES)
def test_hook_rejects_bad_arguments_before_any_request(hook, arg, call, error):
    with requests_mock.Mocker(real_http=False) as m:
        with pytest.raises(error) as raised:
            call(hook)
        assert m.call_count == 0
    assert str(raised.value).startswith(f"{arg}: "), str(raised.value)


def _create(**kwargs: Any) -> Any:
    from primo_provider.operators.tickets import CreateTicketOperator

    kwargs.setdefault("title", "Disk full")
    return CreateTicketOperator(task_id="create", primo_conn_id="primo_unit", **kwargs)


def _update(**kwargs: Any) -> Any:
    from primo_provider.operators.tickets import UpdateTicketOperator

    kwargs.setdefault("ticket_id", "tkt-1")
    return UpdateTicketOperator(task_id="update", primo_conn_id="primo_unit", **kwargs)


OPERATOR_CASES = [
    case("title", lambda: _create(title=""), ValueError, "create-title-empty"),
    case("title", lambda: _create(title="   "), ValueError, "create-title-blank"),
    case("title", lambda: _create(title=None), TypeError, "create-title-none"),
    case("description", lambda: _create(description=3), TypeError, "create-description"),
    case("assignee_employee_id", lambda: _create(assignee_employee_id=9), TypeError, "create-assignee"),
    case("assignee_email", lambda: _create(assignee_email=9), TypeError, "create-email-int"),
    case(
        "assignee_email",
        lambda: _create(assignee_employee_id="e1", assignee_email="a@x.io"),
        ValueError,
        "create-both-assignees",
    ),
    case("priority", lambda: _create(priority="P1"), ValueError, "create-priority"),
    case("due_date", lambda: _create(due_date="2023-02-29"), ValueError, "create-due-not-leap"),
    case("due_date", lambda: _create(due_date="2023-13-01T10:00:00Z"), ValueError, "create-due-month"),
    case("due_date", lambda: _create(due_date=3.5), TypeError, "create-due-float"),
    case("ticket_id", lambda: _update(ticket_id=""), ValueError, "update-ticket-empty"),
    case("ticket_id", lambda: _update(ticket_id="  "), ValueError, "update-ticket-blank"),
    case("ticket_id", lambda: _update(ticket_id=None), TypeError, "update-ticket-none"),
    case("status", lambda: _update(status="DONE"), ValueError, "update-status"),
    case("status", lambda: _update(status=5), TypeError, "update-status-int"),
    case("priority", lambda: _update(priority="urgent"), ValueError, "update-priority"),
    case("assignee_employee_id", lambda: _update(assignee_employee_id=5), TypeError, "update-assignee"),
    case("assignee_email", lambda: _update(assignee_email=5), TypeError, "update-email-int"),
    case(
        "assignee_email",
        lambda: _update(assignee_employee_id="e1", assignee_email="a@x.io"),
        ValueError,
        "update-both-assignees",
    ),
    case("comment", lambda: _update(comment="   "), ValueError, "update-comment-blank"),
    case("comment", lambda: _update(comment=5), TypeError, "update-comment-int"),
    # a bad status must stop the run before the (valid) comment or assignee is sent
    case(
        "status",
        lambda: _update(status="DONE", comment="ok", assignee_employee_id="e1"),
        ValueError,
        "upd-order",
    ),
]


@pytest.mark.parametrize(("arg", "call", "error"), OPERATOR_CASES)
def test_operators_reject_bad_arguments_before_any_request(primo_conn, arg, call, error):
    primo_conn()
    operator = call()  # constructing never checks: values may be templates until rendered
    with requests_mock.Mocker(real_http=False) as m:
        with pytest.raises(error) as raised:
            operator.execute({})
        assert m.call_count == 0
    assert str(raised.value).startswith(f"{arg}: "), str(raised.value)


# --- the validation helpers themselves --------------------------------------------------------------


def test_enum_value_case_sensitive_mode():
    assert enum_value("status", "IN_PROGRESS", TicketStatus, case_sensitive=True) == "IN_PROGRESS"
    with pytest.raises(ValueError, match=r"^status: 'in_progress' is not one of PENDING, IN_PROGRESS"):
        enum_value("status", "in_progress", TicketStatus, case_sensitive=True)


@pytest.mark.parametrize("empty", [None, "", "  "])
def test_due_date_empty_means_none(empty):
    assert due_date("due_date", empty) is None


def test_due_date_error_message_shows_an_example():
    with pytest.raises(ValueError) as raised:
        due_date("due_date", "2023-02-29")
    assert "'2023-02-29' is not a valid ISO-8601 date or datetime" in str(raised.value)
    assert "2024-05-01T17:00:00+02:00" in str(raised.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-02-29", "2024-02-29T00:00:00Z"),
        ("2000-02-29T23:59:59.999999+00:00", "2000-02-29T23:59:59.999999Z"),
        (dt.datetime(999, 1, 1, tzinfo=dt.UTC), "0999-01-01T00:00:00Z"),
        (dt.date(1, 1, 1), "0001-01-01T00:00:00Z"),
        (dt.datetime(9999, 12, 31, 23, 59, 59), "9999-12-31T23:59:59Z"),
        ("2024-03-31T01:30:00+14:00", "2024-03-30T11:30:00Z"),
        ("2024-03-31T01:30:00-12:00", "2024-03-31T13:30:00Z"),
    ],
)
def test_due_date_edges(value, expected):
    assert due_date("due_date", value) == expected
