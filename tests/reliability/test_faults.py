"""Fault injection over real HTTP: every fault against every kind of call, sync and async.

For each (fault, call) the test asserts the outcome in the sandbox's state (exactly one ticket or comment,
or nothing at all next to a clear error) and the exact requests the sandbox received, in order. The rows
are printed as a table at the end of the pytest run (see ``conftest.pytest_terminal_summary``).

The rules under test (``primo_provider.retries``): safe calls (reads, status updates) are retried on any
transport error, 429 and 5xx. A create (ticket, comment) is retried at once only when it certainly did not
reach Primo (429, 503 with Retry-After); after an ambiguous failure the hook first reads Primo to see
whether it landed, returns what it finds, and sends again only when nothing landed.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from primo_provider.exceptions import (
    PrimoAuthenticationError,
    PrimoError,
    PrimoRateLimitError,
    PrimoRequestError,
    PrimoServerError,
    PrimoValidationError,
)
from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook
from primo_provider.retries import RetryPolicy
from primo_provider.sandbox import PrimoSandbox, RequestRecord

from .conftest import LOGGER, TIMEOUT

SEARCH = "GET /tickets"
FETCH = "GET /tickets/{ticketId}"
SLOW = TIMEOUT + 0.4  # a slow answer: the sandbox processes, then waits this long before answering
HTML_502 = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)

# --- the calls -----------------------------------------------------------------------------------


@dataclass
class CallCase:
    """One kind of call: how to set it up, make it, and check what the sandbox holds afterwards."""

    name: str
    endpoint: str  # the endpoint a fault is injected on
    creates: bool
    check: tuple[str, ...] = ()  # what reconciliation reads when nothing landed
    found: tuple[str, ...] = ()  # what it reads when the attempt had landed
    prepare: Callable[[PrimoHook], dict[str, Any]] = lambda hook: {}
    call: Callable[[PrimoHook, dict[str, Any]], Any] = lambda hook, ctx: None
    outcome: Callable[[PrimoSandbox, dict[str, Any], Any], str] = lambda sandbox, ctx, result: ""
    nothing: Callable[[PrimoSandbox, dict[str, Any]], str] = lambda sandbox, ctx: ""


TITLE = "Printer on floor 3 is jammed"
COMMENT = "Toner replaced, printing again"


def _one_ticket(sandbox: PrimoSandbox, ctx: dict[str, Any], result: Any) -> str:
    ours = [t for t in sandbox.tickets() if t["title"] == TITLE]
    assert len(ours) == 1, f"expected exactly one ticket, the sandbox holds {len(ours)}"
    assert result["id"] == ours[0]["id"] and result["reference"] == ours[0]["reference"]
    return "1 ticket"


def _no_ticket(sandbox: PrimoSandbox, ctx: dict[str, Any]) -> str:
    assert sandbox.tickets() == [], "a failed create must leave no ticket behind"
    return "0 tickets"


def _base_ticket(hook: PrimoHook) -> dict[str, Any]:
    return {"ticket": hook.create_ticket("Base ticket")}


def _one_comment(sandbox: PrimoSandbox, ctx: dict[str, Any], result: Any) -> str:
    comments = sandbox.ticket(ctx["ticket"]["id"])["comments"]
    assert [c["text"] for c in comments] == [COMMENT], "expected exactly one comment"
    assert result["id"] == comments[0]["id"]
    return "1 comment"


def _no_comment(sandbox: PrimoSandbox, ctx: dict[str, Any]) -> str:
    assert sandbox.ticket(ctx["ticket"]["id"])["comments"] == []
    return "0 comments"


def _three_tickets(hook: PrimoHook) -> dict[str, Any]:
    return {"ids": [hook.create_ticket(f"Listed {n}")["id"] for n in range(3)]}


def _listed(sandbox: PrimoSandbox, ctx: dict[str, Any], result: Any) -> str:
    assert [t["id"] for t in result] == ctx["ids"]
    assert len(sandbox.tickets()) == 3
    return "3 listed"


def _completed(sandbox: PrimoSandbox, ctx: dict[str, Any], result: Any) -> str:
    assert result["status"] == "COMPLETED" == sandbox.ticket(ctx["ticket"]["id"])["status"]
    assert len(sandbox.tickets()) == 1
    return "COMPLETED"


def _status_now(sandbox: PrimoSandbox, ctx: dict[str, Any]) -> str:
    assert len(sandbox.tickets()) == 1
    return "status " + sandbox.ticket(ctx["ticket"]["id"])["status"]


CREATE = CallCase(
    "create ticket",
    "POST /tickets",
    creates=True,
    check=(SEARCH,),
    found=(SEARCH, FETCH),
    call=lambda hook, ctx: hook.create_ticket(TITLE, priority="high"),
    outcome=_one_ticket,
    nothing=_no_ticket,
)
COMMENT_CALL = CallCase(
    "add comment",
    "POST /tickets/{ticketId}/comments",
    creates=True,
    check=(FETCH,),
    found=(FETCH,),
    prepare=_base_ticket,
    call=lambda hook, ctx: hook.add_comment(ctx["ticket"]["id"], COMMENT),
    outcome=_one_comment,
    nothing=_no_comment,
)
LIST = CallCase(
    "list tickets",
    "GET /tickets",
    creates=False,
    prepare=_three_tickets,
    call=lambda hook, ctx: list(hook.list_tickets()),
    outcome=_listed,
    nothing=lambda sandbox, ctx: "",
)
STATUS = CallCase(
    "status update",
    "POST /tickets/{ticketId}/status",
    creates=False,
    prepare=_base_ticket,
    call=lambda hook, ctx: hook.update_ticket_status(ctx["ticket"]["id"], "completed"),
    outcome=_completed,
    nothing=_status_now,
)
CALLS = (CREATE, COMMENT_CALL, LIST, STATUS)

# --- the faults ----------------------------------------------------------------------------------


@dataclass
class FaultCase:
    """A fault and what it means to the client.

    ``certain``: the client can tell the request was not processed (429, 503 with Retry-After).
    ``landed``: the sandbox processed the request although the client saw a failure.
    """

    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    certain: bool = False
    landed: bool = False
    retry_after: float | None = None

    def expected(self, case: CallCase) -> list[str]:
        own = case.endpoint
        if self.certain or not case.creates:
            return [own, own]
        if self.landed:
            return [own, *case.found]
        return [own, *case.check, own]


ONE_SHOT = (
    FaultCase(
        "429, Retry-After: 0", "status", {"status": 429, "retry_after": 0}, certain=True, retry_after=0
    ),
    FaultCase(
        "503, Retry-After: 0", "status", {"status": 503, "retry_after": 0}, certain=True, retry_after=0
    ),
    FaultCase("503, no Retry-After", "status", {"status": 503}),
    FaultCase("500, not processed", "status", {"status": 500}),
    FaultCase("500, processed", "status_after", {"status": 500}, landed=True),
    FaultCase("502 HTML page", "status", {"status": 502, "body": HTML_502, "content_type": "text/html"}),
    FaultCase("504, processed", "status_after", {"status": 504}, landed=True),
    FaultCase("reset before processing", "drop_before"),
    FaultCase("reset after processing", "drop_after", landed=True),
    FaultCase(f"answer after {SLOW:g}s > timeout", "delay", {"seconds": SLOW, "after": True}, landed=True),
)

# --- helpers -------------------------------------------------------------------------------------


def _records(sandbox: PrimoSandbox, since: int, expected: int) -> list[RequestRecord]:
    """The requests since index ``since``, in arrival order, once ``expected`` of them are recorded.

    A slow answer is recorded when it is sent, after the client gave up on it, so wait for it (and for
    anything unexpected) rather than let it land in the next test's log.
    """
    deadline = time.monotonic() + 3 * SLOW + 2
    while len(sandbox.requests) - since < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    return sorted(sandbox.requests[since:], key=lambda record: record.timestamp)


def _short(endpoint: str | None) -> str:
    return (endpoint or "?").replace("{ticketId}", "{id}")


def _describe(records: list[RequestRecord]) -> str:
    """``3: POST /tickets 500, GET /tickets 200, POST /tickets 201``; a repeated cycle as ``(...) x4``."""
    items = [f"{_short(r.endpoint)} {_status(r)}" for r in records]
    for period in range(1, len(items) // 2 + 1):
        if len(items) % period == 0 and items == items[:period] * (len(items) // period):
            cycle = ", ".join(items[:period])
            return f"{len(items)}: ({cycle}) x{len(items) // period}"
    runs: list[list[Any]] = []
    for item in items:
        if runs and runs[-1][0] == item:
            runs[-1][1] += 1
        else:
            runs.append([item, 1])
    return f"{len(items)}: " + ", ".join(item + (f" x{n}" if n > 1 else "") for item, n in runs)


def _status(record: RequestRecord) -> str:
    if record.status is None:
        return "reset"
    if record.fault and ":delay:" in record.fault:
        return f"{record.status} too late"  # processed, answered after the client gave up
    return str(record.status)


RETRY_LOG = re.compile(r"failed \((?P<reason>.+)\); retry (?P<n>\d+) of (?P<of>\d+) in (?P<wait>[\d.]+)s$")


def _retry_logs(caplog: pytest.LogCaptureFixture) -> list[re.Match[str]]:
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    return [m for m in map(RETRY_LOG.search, messages) if m]


def _assert_retries_logged(caplog: pytest.LogCaptureFixture, sleeps: list[float]) -> None:
    """Every wait was logged, with its reason and its length, and nothing else was waited."""
    logged = _retry_logs(caplog)
    assert [float(m["wait"]) for m in logged] == pytest.approx([round(s, 2) for s in sleeps], abs=0.006)
    assert all(m["reason"].strip() for m in logged)


# --- one failure, then recovery --------------------------------------------------------------------


@pytest.mark.parametrize("case", CALLS, ids=lambda c: c.name)
@pytest.mark.parametrize("fault", ONE_SHOT, ids=lambda f: f.name)
def test_one_fault_is_survived_without_duplicates(
    fault: FaultCase,
    case: CallCase,
    hook: PrimoHook,
    sandbox: PrimoSandbox,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
    fault_table: list[tuple[str, str, str, str]],
) -> None:
    ctx = case.prepare(hook)
    since = len(sandbox.requests)
    sandbox.add_fault(case.endpoint, fault.kind, **fault.params)

    result = case.call(hook, ctx)

    expected = fault.expected(case)
    records = _records(sandbox, since, len(expected))
    assert [r.endpoint for r in records] == expected, _describe(records)
    assert records[0].fault is not None and all(r.fault is None for r in records[1:])
    summary = case.outcome(sandbox, ctx, result)
    fault_table.append((fault.name, case.name, f"ok: {summary}", _describe(records)))

    own_attempts = sum(r.endpoint == case.endpoint for r in records)
    assert len(sleeps) == own_attempts - 1
    if fault.retry_after is not None:
        assert sleeps == [fault.retry_after]
    else:
        assert all(0 <= s <= RetryPolicy().backoff_base for s in sleeps)  # full jitter, first ceiling
    _assert_retries_logged(caplog, sleeps)
    reconciled = [r for r in caplog.records if "checking whether it landed" in r.getMessage()]
    assert len(reconciled) == (case.creates and not fault.certain)
    used_landed = [r for r in caplog.records if "the attempt had landed" in r.getMessage()]
    assert len(used_landed) == (case.creates and fault.landed)


# --- failures that do not go away: a clear error, and nothing duplicated ---------------------------


@dataclass
class PersistentCase:
    name: str
    faults: Callable[[CallCase], list[tuple[str, str, dict[str, Any]]]]
    error: type[PrimoError]
    expected: Callable[[CallCase], list[str]]
    calls: tuple[CallCase, ...] = CALLS
    message: str = ""


def _every(kind: str, **params: Any) -> Callable[[CallCase], list[tuple[str, str, dict[str, Any]]]]:
    return lambda case: [(case.endpoint, kind, {**params, "times": None})]


def _attempts(n: int, reconciling: bool = True) -> Callable[[CallCase], list[str]]:
    return lambda case: [case.endpoint, *(case.check if case.creates and reconciling else ())] * n


PERSISTENT = (
    PersistentCase("500 on every attempt", _every("status", status=500), PrimoServerError, _attempts(4)),
    PersistentCase(
        "429 on every attempt",
        _every("status", status=429, retry_after=0),
        PrimoRateLimitError,
        _attempts(4, reconciling=False),
    ),
    PersistentCase(
        "reset before processing, every attempt",
        _every("drop_before"),
        PrimoRequestError,
        _attempts(4),
        message="connection lost",
    ),
    PersistentCase(
        "no answer within the timeout, every attempt",
        _every("delay", seconds=SLOW, after=True),
        PrimoRequestError,
        _attempts(4),
        calls=(LIST, STATUS),  # a create lands on the first attempt and is found (see above)
        message=f"no answer within {TIMEOUT:g}s (after 3 retries)",
    ),
    PersistentCase(
        "400 Bad Request", _every("status", status=400), PrimoValidationError, _attempts(1, reconciling=False)
    ),
    PersistentCase(
        "401 Unauthorized",
        _every("status", status=401),
        PrimoAuthenticationError,
        _attempts(1, reconciling=False),
    ),
    PersistentCase(
        "500, then the landing check fails",
        lambda case: [
            (case.endpoint, "status", {"status": 500}),
            (case.check[0], "status", {"status": 500, "times": None}),
        ],
        PrimoRequestError,
        lambda case: [case.endpoint, *case.check * 4],
        calls=(CREATE, COMMENT_CALL),
        message="not sending it again, to avoid a duplicate",
    ),
)


@pytest.mark.parametrize(
    ("persistent", "case"),
    [pytest.param(p, c, id=f"{p.name}-{c.name}") for p in PERSISTENT for c in p.calls],
)
def test_lasting_failure_gives_a_clear_error_and_no_duplicate(
    persistent: PersistentCase,
    case: CallCase,
    hook: PrimoHook,
    sandbox: PrimoSandbox,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
    fault_table: list[tuple[str, str, str, str]],
) -> None:
    ctx = case.prepare(hook)
    since = len(sandbox.requests)
    for endpoint, kind, params in persistent.faults(case):
        sandbox.add_fault(endpoint, kind, **params)

    with pytest.raises(persistent.error) as raised:
        case.call(hook, ctx)

    expected = persistent.expected(case)
    records = _records(sandbox, since, len(expected))
    assert [r.endpoint for r in records] == expected, _describe(records)
    state = case.nothing(sandbox, ctx)
    if case is STATUS and "delay" in repr(persistent.faults(case)):
        assert state == "status COMPLETED"  # each slow attempt was processed; the update is idempotent
    elif case is STATUS:
        assert state == "status PENDING"
    message = str(raised.value)
    assert persistent.message in message
    assert case.endpoint.split()[0] in message  # names the method and path
    assert "Traceback" not in message
    fault_table.append(
        (
            persistent.name,
            case.name,
            f"{type(raised.value).__name__}{', ' + state if state else ''}",
            _describe(records),
        )
    )
    _assert_retries_logged(caplog, sleeps)
    assert len(sleeps) <= 3  # max_retries defaults to 3


# --- the async hook (httpx) follows the same rules ------------------------------------------------


ASYNC_FAULTS = (
    (ONE_SHOT[3], None),  # 500, not processed
    (ONE_SHOT[8], None),  # reset after processing
    (ONE_SHOT[0], None),  # 429
    (ONE_SHOT[9], None),  # slow answer
    (FaultCase("500 on every attempt", "status", {"status": 500, "times": None}), PrimoServerError),
)


@pytest.mark.parametrize(("fault", "error"), ASYNC_FAULTS, ids=[f.name for f, _ in ASYNC_FAULTS])
def test_async_hook_creates_exactly_one_ticket(
    fault: FaultCase,
    error: type[PrimoError] | None,
    async_hook: PrimoAsyncHook,
    sandbox: PrimoSandbox,
    caplog: pytest.LogCaptureFixture,
    fault_table: list[tuple[str, str, str, str]],
) -> None:
    async_hook.retry_policy = RetryPolicy(backoff_base=0.01)  # type: ignore[misc]
    sandbox.add_fault(CREATE.endpoint, fault.kind, **fault.params)

    async def create() -> Any:
        try:
            return await async_hook.acreate_ticket(TITLE, priority="high")
        finally:
            await async_hook.aclose()

    if error is None:
        result = asyncio.run(create())
        expected = fault.expected(CREATE)
        summary = "ok: " + CREATE.outcome(sandbox, {}, result)
    else:
        with pytest.raises(error):
            asyncio.run(create())
        expected = _attempts(4)(CREATE)
        summary = f"{error.__name__}, {CREATE.nothing(sandbox, {})}"
    records = _records(sandbox, 0, len(expected))
    assert [r.endpoint for r in records] == expected, _describe(records)
    fault_table.append((fault.name, "create ticket (async, httpx)", summary, _describe(records)))
    own_attempts = sum(r.endpoint == CREATE.endpoint for r in records)
    assert len(_retry_logs(caplog)) == own_attempts - 1, "every retry is logged"
