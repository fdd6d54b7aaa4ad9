"""The retry engine through the sync hook: what is retried, how long it waits, and how a create whose
outcome is unknown is reconciled instead of sent twice."""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from primo_provider import api, retries
from primo_provider.exceptions import (
    PrimoAuthenticationError,
    PrimoNotFoundError,
    PrimoRateLimitError,
    PrimoRequestError,
    PrimoServerError,
    PrimoValidationError,
)
from primo_provider.retries import RetryPolicy, TransportError

from .helpers import comment, iso, page, summary, ticket, url

TITLE = "Disk full on db-1 (nightly & weekly)"


def calls(http: Any) -> list[str]:
    """``METHOD /path`` of every request, in order."""
    return [f"{r.method} {urlsplit(r.url).path}" for r in http.request_history]


def query(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def now_json(body: Any) -> Any:
    """A requests-mock body callback that stamps ``createdAt`` with the time the request arrives."""

    def respond(request: Any, context: Any) -> Any:
        stamped = {**body, "createdAt": iso()} if isinstance(body, dict) and "data" not in body else body
        if isinstance(body, dict) and "data" in body:
            stamped = {**body, "data": [{**item, "createdAt": iso()} for item in body["data"]]}
        return stamped

    return respond


def refused() -> requests.ConnectionError:
    """What requests raises when nothing listens: the request certainly never left."""
    return requests.ConnectionError(MaxRetryError(None, "/tickets", NewConnectionError(None, "refused")))


# --- safe calls -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"status_code": 429}, id="429"),
        pytest.param({"status_code": 500}, id="500"),
        pytest.param({"status_code": 502, "text": "<html><title>Bad Gateway</title></html>"}, id="502"),
        pytest.param({"status_code": 503}, id="503"),
        pytest.param({"status_code": 504}, id="504"),
        pytest.param({"exc": requests.exceptions.ConnectTimeout}, id="connect-timeout"),
        pytest.param({"exc": requests.exceptions.ReadTimeout}, id="read-timeout"),
        pytest.param({"exc": requests.exceptions.ConnectionError}, id="connection-reset"),
        pytest.param({"exc": requests.exceptions.ChunkedEncodingError}, id="cut-mid-body"),
    ],
)
def test_get_is_retried_on_transient_failures(hook, http, sleeps, failure):
    answer = ticket()
    http.get(url("/tickets/tkt-1"), [failure, failure, {"json": answer}])

    assert hook.get_ticket("tkt-1") == answer
    assert calls(http) == ["GET /tickets/tkt-1"] * 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0  # full jitter under 0.5s, then 1s


def test_idempotent_updates_are_retried_like_reads(hook, http, sleeps):
    http.post(
        url("/tickets/tkt-1/status"),
        [{"status_code": 500}, {"exc": requests.ReadTimeout}, {"json": ticket()}],
    )

    hook.update_ticket_status("tkt-1", "COMPLETED")

    assert calls(http) == ["POST /tickets/tkt-1/status"] * 3
    assert len(sleeps) == 2


def test_retry_after_is_honoured_in_seconds_and_as_http_date(hook, http, sleeps):
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    http.get(
        url("/tickets/tkt-1"),
        [
            {"status_code": 429, "headers": {"Retry-After": "3"}},
            {"status_code": 503, "headers": {"Retry-After": "1.5"}},
            {"status_code": 429, "headers": {"Retry-After": soon}},
            {"json": ticket()},
        ],
    )

    hook.get_ticket("tkt-1")

    assert http.call_count == 4
    assert sleeps[:2] == [3.0, 1.5]
    assert 25 <= sleeps[2] <= 30


def test_retry_after_is_capped(hook, http, sleeps):
    http.get(
        url("/tickets/tkt-1"), [{"status_code": 429, "headers": {"Retry-After": "86400"}}, {"json": ticket()}]
    )

    hook.get_ticket("tkt-1")

    assert sleeps == [RetryPolicy().retry_after_max]


def test_backoff_ceilings_double(make_hook, http, sleeps, monkeypatch):
    ceilings = []
    monkeypatch.setattr(retries.random, "uniform", lambda low, high: ceilings.append((low, high)) or high)
    hook = make_hook(max_retries=8)
    http.get(url("/tickets/tkt-1"), [{"status_code": 500}] * 8 + [{"json": ticket()}])

    hook.get_ticket("tkt-1")

    assert ceilings == [(0, 0.5), (0, 1.0), (0, 2.0), (0, 4.0), (0, 8.0), (0, 16.0), (0, 30.0), (0, 30.0)]
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


@pytest.mark.parametrize("max_retries", [0, 1, 2, 5])
def test_max_retries_is_respected_exactly(make_hook, http, sleeps, max_retries):
    hook = make_hook(max_retries=max_retries)
    http.get(url("/tickets/tkt-1"), status_code=502)

    with pytest.raises(PrimoServerError) as raised:
        hook.get_ticket("tkt-1")

    assert raised.value.status_code == 502
    assert http.call_count == max_retries + 1
    assert len(sleeps) == max_retries


def test_transport_failure_after_the_last_retry_is_a_request_error(make_hook, http, sleeps):
    hook = make_hook(max_retries=2)
    http.get(url("/tickets/tkt-1"), exc=requests.exceptions.ConnectTimeout)

    with pytest.raises(PrimoRequestError) as raised:
        hook.get_ticket("tkt-1")

    assert str(raised.value) == "GET /tickets/tkt-1: connection timed out after 30s (after 2 retries)"
    assert (raised.value.method, raised.value.path) == ("GET", "/tickets/tkt-1")
    assert http.call_count == 3


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, PrimoValidationError),
        (401, PrimoAuthenticationError),
        (404, PrimoNotFoundError),
        (422, PrimoValidationError),
    ],
)
def test_client_errors_are_never_retried(hook, http, sleeps, status, error_class):
    http.get(url("/tickets/tkt-1"), status_code=status)
    http.post(url("/tickets"), status_code=status)

    with pytest.raises(error_class):
        hook.get_ticket("tkt-1")
    with pytest.raises(error_class):
        hook.create_ticket(TITLE)

    assert calls(http) == ["GET /tickets/tkt-1", "POST /tickets"]
    assert sleeps == []


def test_rate_limited_until_the_end_raises_rate_limit_error(make_hook, http, sleeps):
    hook = make_hook(max_retries=1)
    http.get(url("/tickets/tkt-1"), status_code=429, headers={"Retry-After": "2"})

    with pytest.raises(PrimoRateLimitError) as raised:
        hook.get_ticket("tkt-1")

    assert raised.value.retry_after == 2.0
    assert sleeps == [2.0]


# --- creates: reconciliation instead of duplicates --------------------------------------------------


@pytest.mark.parametrize(
    "ambiguous",
    [
        pytest.param({"status_code": 500}, id="500"),
        pytest.param({"status_code": 502}, id="502"),
        pytest.param({"status_code": 503}, id="503-without-retry-after"),
        pytest.param({"status_code": 504}, id="504"),
        pytest.param({"exc": requests.exceptions.ReadTimeout}, id="read-timeout"),
        pytest.param({"exc": requests.exceptions.ConnectionError}, id="connection-reset"),
    ],
)
def test_create_after_an_ambiguous_failure_finds_the_landed_ticket(hook, http, sleeps, ambiguous):
    landed = ticket("tkt-9", title=TITLE, description="full ticket")
    http.post(url("/tickets"), [ambiguous, {"json": ticket("tkt-dup")}])
    http.get(url("/tickets"), json=now_json(page([summary("tkt-other"), summary("tkt-9", title=TITLE)])))
    http.get(url("/tickets/tkt-9"), json=landed)

    result = hook.create_ticket(f"  {TITLE} ")

    assert result == landed
    assert calls(http) == ["POST /tickets", "GET /tickets", "GET /tickets/tkt-9"]
    assert query(http.request_history[1]) == {"searchTerm": [TITLE], "page": ["1"], "perPage": ["100"]}
    assert sleeps == []


def test_create_re_posts_when_nothing_landed(hook, http, sleeps):
    created = ticket("tkt-2", title=TITLE)
    http.post(url("/tickets"), [{"status_code": 500}, {"json": created, "status_code": 201}])
    http.get(url("/tickets"), json=page([]))

    assert hook.create_ticket(TITLE, priority="high") == created

    assert calls(http) == ["POST /tickets", "GET /tickets", "POST /tickets"]
    assert (
        http.request_history[0].json()
        == http.request_history[2].json()
        == {"title": TITLE, "priority": "HIGH"}
    )
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    "listed",
    [
        pytest.param(summary("old", title=TITLE, createdAt="2020-01-01T00:00:00Z"), id="created-long-before"),
        pytest.param(summary("near", title=TITLE + " (2)"), id="other-title"),
        pytest.param(summary("nodate", title=TITLE, createdAt=None), id="no-created-at"),
        pytest.param(summary("bad", title=TITLE, createdAt="yesterday"), id="bad-created-at"),
    ],
)
def test_create_ignores_tickets_that_are_not_this_attempt(hook, http, listed):
    body = page([listed])
    if listed["id"] == "near":
        body = now_json(body)
    http.post(url("/tickets"), [{"status_code": 504}, {"json": ticket("tkt-new", title=TITLE)}])
    http.get(url("/tickets"), json=body)

    assert hook.create_ticket(TITLE)["id"] == "tkt-new"
    assert calls(http) == ["POST /tickets", "GET /tickets", "POST /tickets"]


def test_create_allows_for_a_little_clock_skew(hook, http):
    skewed = iso(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=3))
    http.post(url("/tickets"), status_code=500)
    http.get(url("/tickets"), json=page([summary("tkt-9", title=TITLE, createdAt=skewed)]))
    http.get(url("/tickets/tkt-9"), json=ticket("tkt-9", title=TITLE))

    assert hook.create_ticket(TITLE)["id"] == "tkt-9"
    assert calls(http) == ["POST /tickets", "GET /tickets", "GET /tickets/tkt-9"]


def test_reconciliation_reads_further_pages(hook, http):
    http.post(url("/tickets"), status_code=502)
    http.get(
        url("/tickets"),
        [
            {"json": now_json(page([summary(f"x{n}", title=f"{TITLE} #{n}") for n in range(3)], 1, 2))},
            {"json": now_json(page([summary("tkt-9", title=TITLE)], 2, 2))},
        ],
    )
    http.get(url("/tickets/tkt-9"), json=ticket("tkt-9", title=TITLE))

    assert hook.create_ticket(TITLE)["id"] == "tkt-9"
    assert calls(http) == ["POST /tickets", "GET /tickets", "GET /tickets", "GET /tickets/tkt-9"]
    assert [query(r)["page"] for r in http.request_history[1:3]] == [["1"], ["2"]]


@pytest.mark.parametrize(
    "certain",
    [
        pytest.param({"status_code": 429}, id="429"),
        pytest.param({"status_code": 429, "headers": {"Retry-After": "4"}}, id="429-retry-after"),
        pytest.param({"status_code": 503, "headers": {"Retry-After": "4"}}, id="503-retry-after"),
        pytest.param({"exc": requests.exceptions.ConnectTimeout}, id="connect-timeout"),
        pytest.param({"exc": refused()}, id="connection-refused"),
    ],
)
def test_create_is_retried_without_reconciliation_when_it_certainly_did_not_land(hook, http, sleeps, certain):
    created = ticket("tkt-2", title=TITLE)
    http.post(url("/tickets"), [certain, {"json": created}])

    assert hook.create_ticket(TITLE) == created
    assert calls(http) == ["POST /tickets", "POST /tickets"]
    if "headers" in certain:
        assert sleeps == [4.0]


def test_create_max_retries_counts_every_post(make_hook, http, sleeps):
    hook = make_hook(max_retries=2)
    http.post(url("/tickets"), status_code=500, json={"message": "boom"})
    http.get(url("/tickets"), json=page([]))

    with pytest.raises(PrimoServerError, match="boom"):
        hook.create_ticket(TITLE)

    assert calls(http) == ["POST /tickets", "GET /tickets"] * 3
    assert len(sleeps) == 2


def test_create_without_retries_still_reconciles_once(make_hook, http, sleeps):
    hook = make_hook(max_retries=0)
    http.post(url("/tickets"), exc=requests.exceptions.ReadTimeout)
    http.get(url("/tickets"), json=page([]))

    with pytest.raises(PrimoRequestError, match="no answer within 30s"):
        hook.create_ticket(TITLE)

    assert calls(http) == ["POST /tickets", "GET /tickets"]
    assert sleeps == []


def test_create_fails_rather_than_risk_a_duplicate_when_primo_cannot_be_asked(hook, http, sleeps):
    http.post(url("/tickets"), status_code=500)
    http.get(url("/tickets"), status_code=401, json={"message": "key revoked"})

    with pytest.raises(PrimoRequestError) as raised:
        hook.create_ticket(TITLE)

    message = str(raised.value)
    assert message.startswith("POST /tickets: HTTP 500, and checking whether the attempt landed failed too")
    assert "key revoked" in message and "not sending it again" in message
    assert isinstance(raised.value.__cause__, PrimoAuthenticationError)
    assert calls(http) == ["POST /tickets", "GET /tickets"]


def test_reconciliation_reads_are_retried_themselves(hook, http, sleeps):
    http.post(url("/tickets"), status_code=500)
    http.get(
        url("/tickets"), [{"status_code": 503}, {"json": now_json(page([summary("tkt-9", title=TITLE)]))}]
    )
    http.get(url("/tickets/tkt-9"), json=ticket("tkt-9", title=TITLE))

    assert hook.create_ticket(TITLE)["id"] == "tkt-9"
    assert calls(http) == ["POST /tickets", "GET /tickets", "GET /tickets", "GET /tickets/tkt-9"]
    assert len(sleeps) == 1


# --- comments ---------------------------------------------------------------------------------------


def test_comment_after_an_ambiguous_failure_is_found_on_the_ticket(hook, http, sleeps):
    def with_comments(request: Any, context: Any) -> dict[str, Any]:
        return ticket(
            comments=[
                comment("c-mine", "Rebooted", createdAt=iso()),
                comment("c-old", "Rebooted", createdAt="2020-01-01T00:00:00Z"),
                comment("c-other", "Something else", createdAt=iso()),
            ]
        )

    http.post(url("/tickets/tkt-1/comments"), [{"status_code": 502}, {"json": comment("c-dup", "Rebooted")}])
    http.get(url("/tickets/tkt-1"), json=with_comments)

    result = hook.add_comment("tkt-1", "Rebooted")

    assert result["id"] == "c-mine"
    assert calls(http) == ["POST /tickets/tkt-1/comments", "GET /tickets/tkt-1"]
    assert sleeps == []


def test_comment_is_re_posted_when_it_did_not_land(hook, http, sleeps):
    http.post(
        url("/tickets/tkt-1/comments"), [{"exc": requests.ReadTimeout}, {"json": comment("c-2", "Rebooted")}]
    )
    http.get(
        url("/tickets/tkt-1"),
        json=ticket(comments=[comment("c-old", "Rebooted", createdAt="2020-01-01T00:00:00Z")]),
    )

    assert hook.add_comment("tkt-1", "Rebooted")["id"] == "c-2"
    assert calls(http) == [
        "POST /tickets/tkt-1/comments",
        "GET /tickets/tkt-1",
        "POST /tickets/tkt-1/comments",
    ]
    assert len(sleeps) == 1


def test_comment_rate_limited_is_retried_without_reconciliation(hook, http, sleeps):
    http.post(
        url("/tickets/tkt-1/comments"),
        [{"status_code": 429, "headers": {"Retry-After": "1"}}, {"json": comment("c-2", "Rebooted")}],
    )

    assert hook.add_comment("tkt-1", "Rebooted")["id"] == "c-2"
    assert calls(http) == ["POST /tickets/tkt-1/comments"] * 2
    assert sleeps == [1.0]


# --- the total budget -------------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that only moves when the hook sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(retries, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


def test_total_timeout_stops_retrying_before_the_budget_is_passed(make_hook, http, clock, sleeps):
    hook = make_hook(max_retries=10)
    hook.__dict__["retry_policy"] = RetryPolicy(max_retries=10, total_timeout=5)
    hook._sleep = lambda seconds: (sleeps.append(seconds), clock.sleep(seconds))
    http.get(url("/tickets/tkt-1"), status_code=503, headers={"Retry-After": "2"})

    with pytest.raises(PrimoRequestError) as raised:
        hook.get_ticket("tkt-1")

    assert http.call_count == 3  # at t=0, 2, 4; waiting 2s more would end past t=5
    assert sleeps == [2.0, 2.0]
    assert "giving up after 3 attempts" in str(raised.value)
    assert "the 5s budget" in str(raised.value)


def test_a_wait_longer_than_the_budget_is_not_started(make_hook, http, clock, sleeps):
    hook = make_hook()
    hook.__dict__["retry_policy"] = RetryPolicy(total_timeout=10)
    http.get(url("/tickets/tkt-1"), status_code=429, headers={"Retry-After": "30"})

    with pytest.raises(PrimoRequestError, match=r"HTTP 429, Retry-After 30s; giving up after 1 attempts"):
        hook.get_ticket("tkt-1")

    assert http.call_count == 1
    assert sleeps == []


def test_reconciliation_shares_the_budget_of_the_call(make_hook, http, clock, sleeps):
    hook = make_hook(max_retries=10)
    hook.__dict__["retry_policy"] = RetryPolicy(max_retries=10, total_timeout=5)
    hook._sleep = lambda seconds: (sleeps.append(seconds), clock.sleep(seconds))
    http.post(url("/tickets"), [{"status_code": 503, "headers": {"Retry-After": "2"}}, {"status_code": 500}])
    http.get(url("/tickets"), status_code=503, headers={"Retry-After": "2"})

    with pytest.raises(PrimoRequestError, match="not sending it again"):
        hook.create_ticket(TITLE)

    # POST at t=0, POST at t=2 (500), reconciling reads at t=2 and t=4; another would end past t=5
    assert calls(http) == ["POST /tickets", "POST /tickets", "GET /tickets", "GET /tickets"]
    assert sleeps == [2.0, 2.0]
    assert clock.now - 1000.0 <= 5


# --- logging ----------------------------------------------------------------------------------------


def test_every_retry_logs_a_warning_with_reason_and_wait(hook, http, sleeps, logs):
    http.get(
        url("/tickets/tkt-1"),
        [
            {"status_code": 503, "headers": {"Retry-After": "2"}},
            {"exc": requests.exceptions.ConnectTimeout},
            {"json": ticket()},
        ],
    )

    hook.get_ticket("tkt-1")

    warnings = [m for m in logs.messages("warning") if "retry" in m]
    assert warnings[0] == "Primo GET /tickets/tkt-1 failed (HTTP 503, Retry-After 2s); retry 1 of 3 in 2.00s"
    assert warnings[1].startswith(
        "Primo GET /tickets/tkt-1 failed (connection timed out after 30s); retry 2 of 3 in "
    )
    assert warnings[1].endswith(f"{sleeps[1]:.2f}s")
    assert len(warnings) == 2


def test_reconciliation_is_logged(hook, http, logs):
    http.post(url("/tickets"), status_code=500)
    http.get(url("/tickets"), json=now_json(page([summary("tkt-9", title=TITLE)])))
    http.get(url("/tickets/tkt-9"), json=ticket("tkt-9", title=TITLE))

    hook.create_ticket(TITLE)

    warnings = logs.messages("warning")
    assert (
        "Primo POST /tickets failed ambiguously (HTTP 500); checking whether it landed before sending it again"
        in warnings
    )
    assert (
        "Primo POST /tickets failed (HTTP 500) but the attempt had landed: using it instead of sending again"
        in warnings
    )


# --- the engine without any transport ---------------------------------------------------------------


def test_perform_is_sans_io():
    """Driving the generator by hand: it yields requests and waits, and never sends anything itself."""
    import logging

    call = retries.perform(api.get_ticket("tkt-1"), RetryPolicy(max_retries=1), logging.getLogger("test"))

    first = next(call)
    assert first == api.get_ticket("tkt-1")
    wait = call.send(TransportError("reset", sent=True))
    assert isinstance(wait, float) and 0 <= wait <= 0.5
    assert call.send(None) == first
    with pytest.raises(StopIteration) as done:
        call.send(
            api.RawResponse(200, b'{"id": "tkt-1", "reference": "R", "title": "t", "status": "PENDING"}')
        )
    assert done.value.value["id"] == "tkt-1"
