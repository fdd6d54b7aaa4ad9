"""Reading every page: the hooks' listings and the e-mail lookup against the sandbox, over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook
from primo_provider.sandbox import PrimoSandbox

pytestmark = pytest.mark.integration

TICKETS = 250
EMPLOYEES = 250


def _gets(sandbox: PrimoSandbox, path: str, since: int) -> list[dict[str, str]]:
    """The query strings of the ``GET path`` requests logged after the first ``since`` records."""
    return [r.query for r in sandbox.requests[since:] if r.method == "GET" and r.path == path]


@pytest.fixture(scope="module")
def company() -> Iterator[PrimoSandbox]:
    """A sandbox of 250 employees and 250 tickets ("Pagination 000 even", "Pagination 001 odd", ...).

    Tests only read from it, and tell their own requests apart in the log by where it stood before.
    """
    with PrimoSandbox(api_key="pagination-test-key", employees=EMPLOYEES) as server:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AIRFLOW_CONN_PRIMO_DEFAULT", server.connection_json)
            hook = PrimoHook()
            for i in range(TICKETS):
                hook.create_ticket(f"Pagination {i:03d} {'even' if i % 2 == 0 else 'odd'}")
            hook.close()
        yield server


@pytest.fixture
def hook(company: PrimoSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrimoHook]:
    monkeypatch.setenv("AIRFLOW_CONN_PRIMO_DEFAULT", company.connection_json)
    made = PrimoHook()
    yield made
    made.close()


def test_list_tickets_reads_every_page(hook: PrimoHook, company: PrimoSandbox) -> None:
    since = len(company.requests)
    listed = list(hook.list_tickets())

    assert [t["id"] for t in listed] == [t["id"] for t in company.tickets()]
    assert [t["reference"] for t in listed] == [f"T-{n:05d}" for n in range(1, TICKETS + 1)]
    assert _gets(company, "/tickets", since) == [{"page": str(p), "perPage": "100"} for p in (1, 2, 3)]


def test_list_tickets_keeps_the_filter_on_every_page(hook: PrimoHook, company: PrimoSandbox) -> None:
    since = len(company.requests)
    odd = list(hook.list_tickets(search_term="odd"))

    assert len(odd) == TICKETS // 2
    assert all(t["title"].endswith(" odd") for t in odd)
    assert _gets(company, "/tickets", since) == [
        {"page": str(p), "perPage": "100", "searchTerm": "odd"} for p in (1, 2)
    ]


def test_list_tickets_is_lazy(hook: PrimoHook, company: PrimoSandbox) -> None:
    since = len(company.requests)
    first_five = [t for _, t in zip(range(5), hook.list_tickets(), strict=False)]

    assert [t["reference"] for t in first_five] == [f"T-{n:05d}" for n in range(1, 6)]
    assert len(_gets(company, "/tickets", since)) == 1  # only the first page was read


def test_async_list_tickets_reads_every_page(company: PrimoSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PRIMO_DEFAULT", company.connection_json)
    since = len(company.requests)

    async def read_all() -> list[Any]:
        hook = PrimoAsyncHook()
        try:
            return [t async for t in hook.alist_tickets()]
        finally:
            await hook.aclose()

    listed = asyncio.run(read_all())
    assert [t["id"] for t in listed] == [t["id"] for t in company.tickets()]
    assert _gets(company, "/tickets", since) == [{"page": str(p), "perPage": "100"} for p in (1, 2, 3)]


def test_list_employees_reads_every_page(hook: PrimoHook, company: PrimoSandbox) -> None:
    since = len(company.requests)
    employees = list(hook.list_employees())

    assert len(employees) == EMPLOYEES
    assert len({e["id"] for e in employees}) == EMPLOYEES
    assert [e["id"] for e in employees] == [e["id"] for e in company.employees()]
    assert _gets(company, "/employees", since) == [{"page": str(p), "perPage": "100"} for p in (1, 2, 3)]


def test_find_employee_by_email_reads_every_page_once(hook: PrimoHook, company: PrimoSandbox) -> None:
    since = len(company.requests)
    everyone = company.employees()
    last = everyone[-1]  # on page 3
    assert everyone.index(last) >= 200

    found = hook.find_employee_by_email(f"  {last['email'].upper()} ")
    assert found is not None
    assert found["id"] == last["id"]
    assert len(_gets(company, "/employees", since)) == 3

    # Later look-ups use what the hook already read.
    assert hook.find_employee_by_email("ada.lovelace@example.com")["id"] == everyone[1]["id"]  # type: ignore[index]
    assert hook.find_employee_by_email("nobody@example.com") is None
    assert len(_gets(company, "/employees", since)) == 3


def test_create_ticket_assigns_an_employee_found_on_the_last_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from primo_provider.operators.tickets import CreateTicketOperator

    with PrimoSandbox(api_key="pagination-test-key", employees=EMPLOYEES) as fresh:
        monkeypatch.setenv("AIRFLOW_CONN_PRIMO_DEFAULT", fresh.connection_json)
        last = fresh.employees()[-1]
        operator = CreateTicketOperator(
            task_id="create", title="Badge for a new hire", assignee_email=last["email"]
        )
        ticket = operator.execute({})  # type: ignore[arg-type]

        assert ticket["assignee"] == {"type": "EMPLOYEE", "employeeId": last["id"]}
        assert fresh.ticket(ticket["id"])["assignee"] == ticket["assignee"]
        assert _gets(fresh, "/employees", 0) == [{"page": str(p), "perPage": "100"} for p in (1, 2, 3)]
