"""Due dates end to end: whatever the hook accepts, the sandbox (which enforces the spec's pattern) stores
as the same instant.

The pure property tests of :func:`primo_provider.validation.due_date` against the spec's regex live in
``tests/unit/test_due_date_properties.py``; this adds the round trip through real HTTP, pendulum included
(what Airflow's ``data_interval_end`` and friends are).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from primo_provider.hooks.primo import PrimoHook
from primo_provider.sandbox import PrimoSandbox

offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: dt.timezone(dt.timedelta(minutes=minutes)))
moments = st.datetimes(
    min_value=dt.datetime(1000, 1, 2),
    max_value=dt.datetime(9998, 12, 30),
    timezones=offsets | st.just(dt.UTC),
)
zones = st.sampled_from(["Europe/Paris", "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham", "UTC"])
ROUND_TRIP = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def _stored_instant(sandbox: PrimoSandbox, ticket_id: str) -> dt.datetime:
    stored = sandbox.ticket(ticket_id)["dueDate"]
    assert stored.endswith("Z"), stored
    return dt.datetime.fromisoformat(stored)


@ROUND_TRIP
@given(moment=moments, as_text=st.booleans())
def test_any_accepted_due_date_is_stored_as_the_same_instant(
    hook: PrimoHook, sandbox: PrimoSandbox, moment: dt.datetime, as_text: bool
) -> None:
    value = moment.isoformat() if as_text else moment
    ticket = hook.create_ticket("Due", due_date=value)
    assert _stored_instant(sandbox, ticket["id"]) == moment


@ROUND_TRIP
@given(moment=moments, zone=zones)
def test_pendulum_datetimes_in_any_zone(
    hook: PrimoHook, sandbox: PrimoSandbox, moment: dt.datetime, zone
) -> None:
    local = pendulum.instance(moment).in_timezone(zone)
    ticket = hook.create_ticket("Due", due_date=local)
    assert _stored_instant(sandbox, ticket["id"]) == moment
