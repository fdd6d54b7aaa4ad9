"""One open Primo ticket per incident: the notifier's find, open, converge and resolve logic.

Pure and written once: every function here is a generator composed from ``perform(request)`` (a hook's
:meth:`~primo_provider.hooks.primo.PrimoHook.perform`) with ``yield from``. The sync hook drives it with
:meth:`~primo_provider.hooks.primo.PrimoHook.run`, the async hook with
:meth:`~primo_provider.hooks.primo.PrimoAsyncHook.arun`.

An incident is identified by a *marker* in the ticket title, such as ``[airflow:my_dag.load]`` (see
:func:`primo_provider.notifications.primo.marker`). Primo has no unique constraint to lean on, so duplicates created by concurrent
notifiers are not prevented but repaired: after creating, a notifier looks again; every notifier picks the
same survivor (the oldest open ticket: by ``createdAt``, then reference, then id), and the creator of each
other ticket adds its failure to the survivor and cancels its own. A notifier that finds open tickets
comments on the survivor, and cancels the others if they are old enough to have been abandoned by a
notifier that failed half-way (:data:`ABANDONED_AFTER`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from primo_provider import api
from primo_provider.exceptions import PrimoError
from primo_provider.retries import Call

#: Statuses of a ticket that still needs work.
OPEN_STATUSES = ("PENDING", "IN_PROGRESS")
#: How many pages of 100 search results are read at most.
MAX_PAGES = 50
#: A duplicate still open this long after it was created was left by a notifier that failed half-way (a
#: live one converges within seconds, or within its retry budget): the next notifier cancels it.
ABANDONED_AFTER = dt.timedelta(minutes=10)

Perform = Callable[[api.ApiRequest], Call]

_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)


def carries(ticket: dict[str, Any], mark: str) -> bool:
    """True when the ticket's title holds exactly this marker (the search itself may be fuzzier)."""
    return mark in str(ticket.get("title", ""))


def age_key(ticket: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key putting the survivor first: ``createdAt``, then reference (numerically), then id."""
    try:
        created = dt.datetime.fromisoformat(str(ticket.get("createdAt")))
        created = created if created.tzinfo else created.replace(tzinfo=dt.UTC)
    except ValueError:
        created = _NEVER
    reference = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", ticket["reference"])]
    return created, reference, ticket["id"]


@dataclass(frozen=True)
class Incident:
    """What a call did.

    :param mark: the incident's marker.
    :param outcome: ``created`` (a new ticket), ``commented`` (the failure was added to an open ticket),
        ``resolved`` (open tickets were completed) or ``nothing`` (resolve found no open ticket).
    :param ticket: the open ticket the failure went to (or the last one completed); ``None`` for nothing.
    :param cancelled: references of the duplicates this call cancelled.
    :param completed: references of the tickets this call completed.
    """

    mark: str
    outcome: str
    ticket: dict[str, Any] | None = None
    cancelled: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)


def find_open(perform: Perform, mark: str) -> Call:
    """Every open ticket whose title carries ``mark``, oldest (the survivor) first.

    One search for the marker, with the status checked here rather than by a filter (the API filters one
    status at a time): with fewer than 100 tickets ever filed under a fingerprint, this is one request.
    """
    found: dict[str, dict[str, Any]] = {}
    for page in range(1, MAX_PAGES + 1):
        listing = yield from perform(api.list_tickets(page=page, search_term=mark))
        found.update(
            (item["id"], item)
            for item in listing["data"]
            if item.get("status") in OPEN_STATUSES and carries(item, mark)
        )
        if api.is_last_page(page, listing):
            return sorted(found.values(), key=age_key)
    raise PrimoError(
        f"more than {MAX_PAGES * api.MAX_PER_PAGE} tickets match {mark}; refusing to guess which are open"
    )


def open_incident(perform: Perform, *, mark: str, create: api.ApiRequest, comment: str) -> Call:
    """Record a failure: comment on the open ticket of ``mark``, or create one, then converge.

    :param create: the ``POST /tickets`` request to send when no ticket is open; its title carries ``mark``.
    :param comment: the failure as a comment, for when it joins an open ticket.
    """
    existing = yield from find_open(perform, mark)
    if existing:
        survivor, *others = existing
        yield from perform(api.add_comment(survivor["id"], comment))
        # Recent duplicates are being cancelled by their creators; old ones were abandoned.
        abandoned_before = dt.datetime.now(dt.UTC) - ABANDONED_AFTER
        leftovers = [ticket for ticket in others if age_key(ticket)[0] < abandoned_before]
        cancelled = yield from _cancel(perform, leftovers, survivor)
        return Incident(mark, "commented", survivor, cancelled)

    ours = yield from perform(create)
    # Others may have created one too since we looked. Everyone agrees on the oldest open ticket, because
    # whoever created it did so before anyone else looked again; each creator cancels its own if it lost.
    candidates = {ticket["id"]: ticket for ticket in (yield from find_open(perform, mark))}
    candidates.setdefault(ours["id"], ours)  # a search index may not list it yet
    survivor = min(candidates.values(), key=age_key)
    if survivor["id"] == ours["id"]:
        return Incident(mark, "created", ours)
    note = f"_(First filed as {ours['reference']}, cancelled as a duplicate of this ticket.)_"
    yield from perform(api.add_comment(survivor["id"], f"{comment}\n\n{note}"))
    cancelled = yield from _cancel(perform, [ours], survivor)
    return Incident(mark, "commented", survivor, cancelled)


def resolve_incident(perform: Perform, *, mark: str, comment: str) -> Call:
    """Comment ``comment`` on every open ticket of ``mark`` and set it COMPLETED; nothing if none is open."""
    existing = yield from find_open(perform, mark)
    completed = []
    for ticket in existing:
        yield from perform(api.add_comment(ticket["id"], comment))
        yield from perform(api.update_ticket_status(ticket["id"], "COMPLETED"))
        completed.append(ticket["reference"])
    if not existing:
        return Incident(mark, "nothing")
    return Incident(mark, "resolved", existing[0], completed=completed)


def _cancel(perform: Perform, duplicates: Iterable[dict[str, Any]], survivor: dict[str, Any]) -> Call:
    cancelled = []
    for ticket in duplicates:
        yield from perform(api.add_comment(ticket["id"], f"Duplicate of {survivor['reference']}"))
        yield from perform(api.update_ticket_status(ticket["id"], "CANCELLED"))
        cancelled.append(ticket["reference"])
    return cancelled
