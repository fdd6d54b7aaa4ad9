"""example_primo_create_ticket through real Airflow against the sandbox."""

from __future__ import annotations

import datetime as dt
import re

import pytest

pytestmark = pytest.mark.integration


def test_ticket_fields_are_rendered_from_the_run_and_pushed_to_xcom(run_dag, sandbox, xcom) -> None:
    done = run_dag("example_primo_create_ticket")

    (ticket,) = sandbox.tickets()
    ds = re.fullmatch(
        r"Laptop for the data team \(example_primo_create_ticket, (\d{4}-\d\d-\d\d)\)", ticket["title"]
    )
    assert ds, ticket["title"]
    assert ticket["priority"] == "MEDIUM"
    assert ticket["status"] == "PENDING"
    assert ticket["assignee"] is None
    # "{{ macros.ds_add(ds, 7) }}T17:00:00+01:00" is sent in UTC
    year, month, day = map(int, ds.group(1).split("-"))
    expected_due = dt.date(year, month, day) + dt.timedelta(days=7)
    assert ticket["dueDate"] == f"{expected_due.isoformat()}T16:00:00Z"
    assert "* Device: MacBook Pro 14" in ticket["description"]
    assert re.search(r"Opened by Airflow run `manual__[^`]+`", ticket["description"])

    pushed = xcom("example_primo_create_ticket", "create_ticket")
    assert pushed == sandbox.ticket(ticket["id"])
    assert xcom("example_primo_create_ticket", "announce") == ticket["reference"]
    assert f"Primo ticket {ticket['reference']} is open" in done.stdout
    [post] = [r for r in sandbox.requests if r.method == "POST"]
    assert post.path == "/tickets"
