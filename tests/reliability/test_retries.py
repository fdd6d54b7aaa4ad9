"""The retry policy over real HTTP: Retry-After, backoff with full jitter, attempts, budget, refusals.

Sleeps are recorded by the hook (``hook._sleep``) instead of waited, so the waits the policy chose are
checked exactly without slowing the suite down.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import socket
import statistics
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from primo_provider import retries
from primo_provider.exceptions import PrimoRateLimitError, PrimoRequestError, PrimoServerError
from primo_provider.hooks.primo import PrimoHook
from primo_provider.retries import RetryPolicy
from primo_provider.sandbox import PrimoSandbox

from .conftest import API_KEY, LOGGER


def _endpoints(sandbox: PrimoSandbox) -> list[str | None]:
    return [r.endpoint for r in sandbox.requests]


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


# --- Retry-After ---------------------------------------------------------------------------------


def test_retry_after_as_an_http_date_is_honoured(hook: PrimoHook, sandbox: PrimoSandbox, sleeps) -> None:
    when = email.utils.formatdate(time.time() + 3, usegmt=True)  # whole seconds: 2 to 3 s from now
    sandbox.add_fault("GET /tickets", "status", status=503, retry_after=when)

    assert list(hook.list_tickets()) == []

    assert _endpoints(sandbox) == ["GET /tickets", "GET /tickets"]
    [wait] = sleeps
    assert 1.5 < wait <= 3.0


def test_retry_after_in_the_past_means_now(hook: PrimoHook, sandbox: PrimoSandbox, sleeps) -> None:
    sandbox.add_fault("GET /tickets", "status", status=429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    list(hook.list_tickets())
    assert sleeps == [0.0]


def test_retry_after_is_capped(hook: PrimoHook, sandbox: PrimoSandbox, sleeps, caplog) -> None:
    sandbox.add_fault("POST /tickets", "status", status=429, retry_after=3600)

    hook.create_ticket("Capped wait")

    assert sleeps == [RetryPolicy().retry_after_max] == [60.0]
    assert any("HTTP 429, Retry-After 3600s); retry 1 of 3 in 60.00s" in m for m in _messages(caplog))


def test_a_429_on_a_create_is_retried_without_reconciliation(
    hook: PrimoHook, sandbox: PrimoSandbox, sleeps, caplog
) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    sandbox.add_fault("POST /tickets", "status", status=429, retry_after=when)

    hook.create_ticket("Rate limited")

    assert _endpoints(sandbox) == ["POST /tickets", "POST /tickets"]
    assert len(sandbox.tickets()) == 1
    assert not any("checking whether it landed" in m for m in _messages(caplog))


# --- backoff -------------------------------------------------------------------------------------


def test_backoff_is_exponential_with_full_jitter(
    make_hook: Callable[..., PrimoHook], sandbox: PrimoSandbox, sleeps, monkeypatch, caplog
) -> None:
    """Each wait is drawn uniformly from [0, ceiling]; the ceiling doubles from 0.5 s up to 30 s."""
    draws: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return high  # the worst case of each draw

    monkeypatch.setattr(retries.random, "uniform", uniform)
    hook = make_hook(max_retries=7)
    sandbox.add_fault("GET /tickets", "status", status=500, times=None)

    with pytest.raises(PrimoServerError):
        list(hook.list_tickets())

    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert draws == [(0, c) for c in ceilings]
    assert sleeps == ceilings
    assert len(sandbox.requests) == 8
    logged = [m for m in _messages(caplog) if "retry" in m and "HTTP 500" in m]
    assert [m.rsplit(" in ", 1)[1] for m in logged] == [f"{c:.2f}s" for c in ceilings]


def test_jitter_spreads_waits_over_the_whole_interval() -> None:
    policy = RetryPolicy()
    waits = [policy.wait(3, None) for _ in range(2000)]  # ceiling 0.5 * 2**3 = 4 s
    assert all(0 <= w <= 4.0 for w in waits)
    assert min(waits) < 0.2 and max(waits) > 3.8
    assert 1.7 < statistics.mean(waits) < 2.3


# --- attempts and budget ---------------------------------------------------------------------------


@pytest.mark.parametrize(("max_retries", "requests"), [(None, 4), (0, 1), (1, 2), ("2", 3), (5, 6)])
def test_attempts_come_from_the_connection(
    make_hook: Callable[..., PrimoHook], sandbox: PrimoSandbox, sleeps, max_retries, requests
) -> None:
    hook = make_hook() if max_retries is None else make_hook(max_retries=max_retries)
    sandbox.add_fault("GET /tickets", "status", status=503, retry_after=0, times=None)

    with pytest.raises(PrimoServerError, match="503"):
        list(hook.list_tickets())

    assert len(sandbox.requests) == requests
    assert sleeps == [0.0] * (requests - 1)


def test_the_hook_argument_overrides_the_connection(primo_conn, sandbox: PrimoSandbox, test_logger) -> None:
    hook = PrimoHook(primo_conn_id=primo_conn(max_retries=5), max_retries=1)
    hook._sleep = lambda seconds: None
    sandbox.add_fault("GET /tickets", "status", status=502, times=None)
    with pytest.raises(PrimoServerError):
        list(hook.list_tickets())
    assert len(sandbox.requests) == 2


def test_no_retry_starts_past_the_total_budget(hook: PrimoHook, sandbox: PrimoSandbox, sleeps) -> None:
    hook.retry_policy = RetryPolicy(total_timeout=5)  # type: ignore[misc]
    sandbox.add_fault("GET /tickets", "status", status=429, retry_after=10)

    with pytest.raises(PrimoRequestError, match=r"giving up after 1 attempts.*10\.0s.*5s budget"):
        list(hook.list_tickets())

    assert len(sandbox.requests) == 1 and sleeps == []


def test_reconciliation_shares_the_budget_of_the_call(
    hook: PrimoHook, sandbox: PrimoSandbox, monkeypatch
) -> None:
    """The reads that check whether an attempt landed cannot extend the call past its budget."""
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(retries, "time", SimpleNamespace(monotonic=lambda: clock.now))
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    hook._sleep = sleep
    hook.retry_policy = RetryPolicy(total_timeout=10)  # type: ignore[misc]
    sandbox.add_fault("POST /tickets", "status", status=503, retry_after=4, times=2)  # t = 0, 4
    sandbox.add_fault("POST /tickets", "status", status=500)  # t = 8: ambiguous, so check
    sandbox.add_fault("GET /tickets", "status", status=429, retry_after=4, times=None)  # 8 + 4 > 10

    with pytest.raises(PrimoRequestError, match="not sending it again"):
        hook.create_ticket("Budgeted")

    assert _endpoints(sandbox) == ["POST /tickets"] * 3 + ["GET /tickets"]
    assert sum(slept) <= 10
    assert sandbox.tickets() == []


# --- connection refused: certainly not sent ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_create_is_retried_without_reconciliation(primo_conn, caplog, test_logger) -> None:
    """Primo comes up during the backoff: the ticket is created once, with no search before it."""
    port = _free_port()
    started: list[PrimoSandbox] = []
    sleeps: list[float] = []

    def sleep_then_start(seconds: float) -> None:
        sleeps.append(seconds)
        if not started:
            started.append(PrimoSandbox(port=port, api_key=API_KEY).start())

    hook = PrimoHook(primo_conn_id=primo_conn(host=f"http://127.0.0.1:{port}"))
    hook._sleep = sleep_then_start
    hook._log = test_logger
    try:
        ticket = hook.create_ticket("Created after a refusal")
        [server] = started
        assert [r.endpoint for r in server.requests] == ["POST /tickets"]
        assert [t["id"] for t in server.tickets()] == [ticket["id"]]
    finally:
        hook.close()
        for server in started:
            server.stop()
    assert len(sleeps) == 1
    messages = _messages(caplog)
    assert not any("checking whether it landed" in m for m in messages)
    assert any("could not connect" in m and "retry 1 of 3" in m for m in messages)


def test_a_create_refused_every_time_fails_clearly(primo_conn, caplog, test_logger) -> None:
    hook = PrimoHook(primo_conn_id=primo_conn(host=f"http://127.0.0.1:{_free_port()}"))
    sleeps: list[float] = []
    hook._sleep = sleeps.append
    hook._log = test_logger

    with pytest.raises(PrimoRequestError, match=r"POST /tickets: could not connect .*\(after 3 retries\)"):
        hook.create_ticket("Never sent")

    assert len(sleeps) == 3
    assert not any("checking whether it landed" in m for m in _messages(caplog))


# --- idempotent updates are retried freely ----------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "update", "field", "value"),
    [
        ("POST /tickets/{ticketId}/priority", "update_ticket_priority", "priority", "HIGH"),
        ("POST /tickets/{ticketId}/assignee", "update_ticket_assignee", "assignee", "employee"),
        ("POST /tickets/{ticketId}/status", "update_ticket_status", "status", "IN_PROGRESS"),
    ],
)
@pytest.mark.parametrize("kind", ["status_after", "drop_after"])
def test_updates_are_retried_without_reconciliation(
    hook: PrimoHook, sandbox: PrimoSandbox, caplog, endpoint, update, field, value, kind
) -> None:
    ticket = hook.create_ticket("To update")
    employee = sandbox.employees()[0]["id"]
    argument = employee if value == "employee" else value
    since = len(sandbox.requests)
    sandbox.add_fault(endpoint, kind, **({"status": 502} if kind == "status_after" else {}))

    updated = getattr(hook, update)(ticket["id"], argument)

    assert [r.endpoint for r in sandbox.requests[since:]] == [endpoint, endpoint]
    stored = sandbox.ticket(ticket["id"])[field]
    expected = {"type": "EMPLOYEE", "employeeId": employee} if value == "employee" else value
    assert stored == expected == updated[field]
    assert not any("checking whether it landed" in m for m in _messages(caplog))


def test_rate_limit_error_carries_the_hint(make_hook, sandbox: PrimoSandbox) -> None:
    hook = make_hook(max_retries=0)
    sandbox.add_fault("GET /tickets/{ticketId}", "status", status=429, retry_after=7)
    with pytest.raises(PrimoRateLimitError) as raised:
        hook.get_ticket("tkt_000000000000000000000000")
    assert raised.value.retry_after == 7 and raised.value.status_code == 429


# --- the limits of reconciliation (documented in docs/reliability.md) --------------------------------


def test_known_limit_a_same_title_ticket_made_meanwhile_is_taken_for_ours(
    hook: PrimoHook, sandbox: PrimoSandbox, caplog
) -> None:
    """Primo has no idempotency key: reconciliation matches by exact title and creation time."""
    theirs = hook.create_ticket("VPN down")  # someone else, moments before our attempt
    sandbox.add_fault("POST /tickets", "status", status=500)  # ours is refused, ambiguously

    found = hook.create_ticket("VPN down")

    assert found["id"] == theirs["id"]
    assert len(sandbox.tickets()) == 1
    assert any("the attempt had landed" in m for m in _messages(caplog))


def test_reconciliation_matches_the_exact_title_only(hook: PrimoHook, sandbox: PrimoSandbox) -> None:
    hook.create_ticket("VPN down in Paris")  # the search is a substring match; the check is not
    hook.create_ticket("vpn down")
    sandbox.add_fault("POST /tickets", "status", status=500)

    ours = hook.create_ticket("VPN down")

    assert [t["title"] for t in sandbox.tickets()] == ["VPN down in Paris", "vpn down", "VPN down"]
    assert ours["id"] == sandbox.tickets()[-1]["id"]


@pytest.mark.parametrize(
    ("created", "counts"),
    [
        (dt.timedelta(0), True),
        (dt.timedelta(seconds=-4.9), True),  # within the clock-skew allowance
        (dt.timedelta(seconds=-5.1), False),  # older than the attempt: someone else's
        (dt.timedelta(hours=1), True),
    ],
)
def test_clock_skew_allowance(created: dt.timedelta, counts: bool) -> None:
    began = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    stamp = (began + created).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert dt.timedelta(seconds=5) == retries.CLOCK_SKEW
    assert retries._landed_since({"createdAt": stamp}, began) is counts
    assert retries._landed_since({"createdAt": "yesterday"}, began) is False
