"""Retries that never lose nor duplicate what Primo is asked to create.

:func:`perform` holds the whole policy for one call as a generator that does no I/O itself: it yields an
:class:`~primo_provider.api.ApiRequest` when something must be sent (and receives the
:class:`~primo_provider.api.RawResponse` or :class:`TransportError`) and a ``float`` when it must wait.
The sync hook drives it with requests and ``time.sleep``, the async hook with httpx and ``asyncio.sleep``,
so both follow exactly the same rules:

* Safe calls (reads, and status, priority and assignee updates, which are idempotent) are retried on
  connection errors, timeouts, 429 and 5xx.
* Calls that create something (a ticket, a comment) are retried only when the earlier attempt certainly
  did not reach Primo: the connection was never made, 429, or 503 with ``Retry-After``. After an ambiguous
  failure (read timeout, connection reset after sending, 500, 502, 503 without ``Retry-After``, 504) Primo
  is asked first whether the attempt landed, and what it made is returned instead of sending it again.
* Waits are exponential with full jitter, or what ``Retry-After`` says (capped), within a total budget.

Primo offers no idempotency key, so reconciliation is by content, with two known limits: a ticket with the
exact same title created by someone else since the first attempt began (less a small allowance for clock
skew) would be taken for ours; and if Primo cannot be asked, the call fails rather than risk a duplicate.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal

from primo_provider import api
from primo_provider.exceptions import PrimoError, PrimoRequestError, PrimoResponseError

#: How much earlier than our own clock Primo's ``createdAt`` may read for an attempt of ours.
CLOCK_SKEW = dt.timedelta(seconds=5)
#: How many pages of search results reconciliation reads at most.
RECONCILE_MAX_PAGES = 10


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how long, to retry.

    :param max_retries: retries after the first attempt (0 disables retrying).
    :param backoff_base: the first backoff ceiling in seconds; it doubles with each retry.
    :param backoff_max: the largest backoff ceiling in seconds.
    :param retry_after_max: the longest ``Retry-After`` honoured, in seconds.
    :param total_timeout: no retry is started that would wait past this many seconds since the call began.
    """

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    total_timeout: float = 300.0

    def wait(self, retry: int, retry_after: float | None) -> float:
        """Seconds to sleep before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**retry))


@dataclass(frozen=True)
class TransportError:
    """A request that got no HTTP answer. ``sent`` is False when it certainly never reached the server."""

    reason: str
    sent: bool


Outcome = api.RawResponse | TransportError
Step = api.ApiRequest | float
Call = Generator[Step, Any, Any]


def perform(
    request: api.ApiRequest, policy: RetryPolicy, log: logging.Logger, *, deadline: float | None = None
) -> Call:
    """Send ``request`` with retries and reconciliation; return the decoded answer.

    ``deadline`` (a ``time.monotonic()`` value) is the budget of an enclosing call, which the reads made
    while reconciling share; by default the budget is ``policy.total_timeout`` from now.
    """
    began_at = dt.datetime.now(dt.UTC)
    if deadline is None:
        deadline = time.monotonic() + policy.total_timeout
    retry = 0
    while True:
        outcome: Outcome = yield request
        if isinstance(outcome, api.RawResponse) and outcome.status_code < 400:
            try:
                return api.decode(request, outcome)
            except PrimoResponseError as garbled:
                if not request.creates:
                    raise
                # Primo said yes but the answer is unreadable: find what it made rather than make it twice.
                found = yield from _reconcile(request, began_at, policy, log, str(garbled), deadline)
                if found is None:
                    raise
                return found
        verdict = _verdict(request, outcome)
        reason = _describe(outcome)
        if verdict == "reconcile":
            found = yield from _reconcile(request, began_at, policy, log, reason, deadline)
            if found is not None:
                log.warning(
                    "Primo %s %s failed (%s) but the attempt had landed: using it instead of sending again",
                    request.method,
                    request.path,
                    reason,
                )
                return found
        if verdict == "fail" or retry >= policy.max_retries:
            raise _final_error(request, outcome, retry)
        retry_after = (
            api.retry_after_seconds(outcome.headers) if isinstance(outcome, api.RawResponse) else None
        )
        wait = policy.wait(retry, retry_after)
        if time.monotonic() + wait > deadline:
            raise PrimoRequestError(
                f"{reason}; giving up after {retry + 1} attempts: the next wait ({wait:.1f}s) would pass "
                f"the {policy.total_timeout:.0f}s budget",
                method=request.method,
                path=request.path,
            )
        retry += 1
        log.warning(
            "Primo %s %s failed (%s); retry %d of %d in %.2fs",
            request.method,
            request.path,
            reason,
            retry,
            policy.max_retries,
            wait,
        )
        yield wait


def _verdict(request: api.ApiRequest, outcome: Outcome) -> Literal["retry", "reconcile", "fail"]:
    if isinstance(outcome, TransportError):
        return "retry" if request.is_safe or not outcome.sent else "reconcile"
    status = outcome.status_code
    if status == 429 or (status == 503 and api.retry_after_seconds(outcome.headers) is not None):
        return "retry"
    if status >= 500:
        return "retry" if request.is_safe else "reconcile"
    return "fail"


def _describe(outcome: Outcome) -> str:
    if isinstance(outcome, TransportError):
        return outcome.reason
    hint = api.retry_after_seconds(outcome.headers)
    return f"HTTP {outcome.status_code}" + (f", Retry-After {hint:g}s" if hint is not None else "")


def _final_error(request: api.ApiRequest, outcome: Outcome, retries: int) -> PrimoError:
    if isinstance(outcome, TransportError):
        suffix = f" (after {retries} retries)" if retries else ""
        return PrimoRequestError(outcome.reason + suffix, method=request.method, path=request.path)
    try:
        api.decode(request, outcome)
    except PrimoError as error:
        return error
    raise AssertionError("unreachable: an error outcome decoded")  # pragma: no cover


def _landed_since(item: dict[str, Any], since: dt.datetime) -> bool:
    try:
        created = dt.datetime.fromisoformat(str(item.get("createdAt")))
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return created >= since - CLOCK_SKEW


class _Unsure(Exception):
    """Reconciliation could not tell whether the attempt landed."""


def _reconcile(
    request: api.ApiRequest,
    began_at: dt.datetime,
    policy: RetryPolicy,
    log: logging.Logger,
    reason: str,
    deadline: float,
) -> Call:
    """Look for what an ambiguous attempt of ``request`` may have created; ``None`` if nothing landed."""
    log.warning(
        "Primo %s %s failed ambiguously (%s); checking whether it landed before sending it again",
        request.method,
        request.path,
        reason,
    )
    assert request.json is not None
    try:
        if request.expect == "comment":
            assert request.ticket_id is not None
            ticket = yield from perform(api.get_ticket(request.ticket_id), policy, log, deadline=deadline)
            for comment in reversed(ticket.get("comments") or []):
                if comment.get("text") == request.json["text"] and _landed_since(comment, began_at):
                    if missing := [key for key in ("id", "text", "createdAt") if key not in comment]:
                        raise _Unsure(f"the matching comment lacks {', '.join(missing)}")
                    return comment
            return None
        title = request.json["title"]
        for page in range(1, RECONCILE_MAX_PAGES + 1):
            listing = yield from perform(
                api.list_tickets(search_term=title, page=page), policy, log, deadline=deadline
            )
            for item in listing["data"]:
                if item.get("title") == title and _landed_since(item, began_at):
                    return (yield from perform(api.get_ticket(item["id"]), policy, log, deadline=deadline))
            if api.is_last_page(page, listing):
                return None
        raise _Unsure(
            f"more than {RECONCILE_MAX_PAGES} pages of tickets match the title; ours may be further on"
        )
    except (PrimoError, _Unsure, LookupError, TypeError, AttributeError) as error:
        # A malformed answer cannot prove that nothing landed, so it fails the call like an unreachable Primo.
        problem = error if isinstance(error, PrimoError | _Unsure) else f"a malformed answer: {error!r}"
        raise PrimoRequestError(
            f"{reason}, and checking whether the attempt landed failed too ({problem}); not sending it again, "
            "to avoid a duplicate",
            method=request.method,
            path=request.path,
        ) from error
