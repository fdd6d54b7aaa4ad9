"""Trigger that waits, in the triggerer, for a Primo ticket to reach a status.

Importing this module imports no HTTP client and no hook: :class:`TicketStatusTrigger` imports
:class:`~primo_provider.hooks.primo.PrimoAsyncHook` in :meth:`~TicketStatusTrigger.run`. The status checks
and the verdict on a ticket (:func:`ticket_status_sets`, :func:`ticket_verdict`) live here so that the
sensor's poke mode and the trigger decide in exactly the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Literal

from airflow.triggers.base import BaseTrigger, TriggerEvent

from primo_provider.validation import TicketStatus, enum_value, required_text

#: What became of a ticket: it reached a target status, a failure status, or neither yet.
Verdict = Literal["success", "failure", "waiting"]


def _statuses(name: str, value: Any) -> tuple[str, ...]:
    """``value`` (one status, or an iterable of them) as API spellings, deduplicated, in order."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value  # TicketStatus members are strings too
    if isinstance(items, Mapping) or not isinstance(items, Iterable):
        allowed = ", ".join(member.value for member in TicketStatus)
        raise TypeError(
            f"{name}: expected a status or a list of statuses ({allowed}), got {type(value).__name__}"
        )
    return tuple(dict.fromkeys(enum_value(name, item, TicketStatus) for item in items))


def ticket_status_sets(
    target_statuses: Any, failure_statuses: Any
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Check and normalise the statuses to wait for and to fail on.

    Each may be one status or a list of them, as :class:`~primo_provider.validation.TicketStatus` members
    or their names in any case.

    :return: ``(target_statuses, failure_statuses)`` in the API's spelling, without duplicates.
    :raises TypeError, ValueError: naming the argument: an unknown status, no target status at all, or a
        status that is both a target and a failure status.
    """
    targets = _statuses("target_statuses", target_statuses)
    if not targets:
        raise ValueError("target_statuses: give at least one status to wait for, such as COMPLETED")
    failures = _statuses("failure_statuses", failure_statuses)
    both = [status for status in failures if status in targets]
    if both:
        raise ValueError(
            f"failure_statuses: {', '.join(both)} is also in target_statuses; a status cannot both "
            "succeed and fail the wait"
        )
    return targets, failures


def ticket_verdict(
    ticket: Mapping[str, Any], target_statuses: Iterable[str], failure_statuses: Iterable[str]
) -> tuple[Verdict, str]:
    """Decide whether ``ticket`` is done, failed or still pending, with a message that says why.

    ``target_statuses`` and ``failure_statuses`` must already be normalised (:func:`ticket_status_sets`).
    A status Primo may add later, known to neither set, counts as still pending.
    """
    targets, failures = tuple(target_statuses), tuple(failure_statuses)
    status = ticket.get("status")
    name = f"Primo ticket {ticket.get('reference') or '?'} (id {ticket.get('id')})"
    wanted = " or ".join(targets)
    if status in targets:
        return "success", f"{name} reached status {status}"
    if status in failures:
        return "failure", (
            f"{name} is {status}, one of failure_statuses ({', '.join(failures)}): it will not reach "
            f"{wanted}, so the wait fails now, without retries"
        )
    return "waiting", f"{name} is {status}; waiting for {wanted}"


class TicketStatusTrigger(BaseTrigger):
    """Poll a Primo ticket until it reaches a target or a failure status; fire one event.

    The trigger keeps no state beyond its arguments: if the triggerer restarts, the trigger is rebuilt from
    :meth:`serialize` and simply polls again. Transient HTTP failures are retried inside the hook (see
    :mod:`primo_provider.retries`); an error left after those retries ends the wait with an ``"error"``
    event instead of crashing the trigger.

    The event's payload is ``{"status": "success" | "failure" | "error", "ticket": <ticket or None>,
    "message": <text>}``.

    :param ticket_id: the id of the ticket to watch.
    :param target_statuses: the status, or statuses, that end the wait successfully.
    :param failure_statuses: the status, or statuses, that end the wait with a failure.
    :param poke_interval: seconds between two reads of the ticket.
    :param primo_conn_id: the Airflow connection to Primo.
    """

    def __init__(
        self,
        ticket_id: str,
        target_statuses: Iterable[str] | str = ("COMPLETED",),
        failure_statuses: Iterable[str] | str | None = ("CANCELLED",),
        poke_interval: float = 60.0,
        primo_conn_id: str = "primo_default",
    ) -> None:
        super().__init__()
        self.ticket_id = required_text("ticket_id", ticket_id)
        self.target_statuses, self.failure_statuses = ticket_status_sets(target_statuses, failure_statuses)
        if isinstance(poke_interval, bool) or not isinstance(poke_interval, int | float) or poke_interval < 0:
            raise ValueError(f"poke_interval: expected a number of seconds >= 0, got {poke_interval!r}")
        self.poke_interval = float(poke_interval)
        self.primo_conn_id = required_text("primo_conn_id", primo_conn_id)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The classpath and the plain (JSON-able) keyword arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "ticket_id": self.ticket_id,
                "target_statuses": list(self.target_statuses),
                "failure_statuses": list(self.failure_statuses),
                "poke_interval": self.poke_interval,
                "primo_conn_id": self.primo_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the ticket reaches a target or failure status, or an error remains; yield one event.

        The hook's HTTP client is closed before the event is yielded, and also when the trigger is
        cancelled (a timeout, or the task being cleared).
        """
        from primo_provider.hooks.primo import PrimoAsyncHook

        hook = PrimoAsyncHook(primo_conn_id=self.primo_conn_id)
        try:
            payload = await self._wait(hook)
        finally:
            try:
                await hook.aclose()
            except Exception:  # closing must not hide the outcome
                self.log.warning("Could not close the Primo HTTP client", exc_info=True)
        yield TriggerEvent(payload)

    async def _wait(self, hook: Any) -> dict[str, Any]:
        while True:
            try:
                ticket = await hook.aget_ticket(self.ticket_id)
            except Exception as error:  # asyncio.CancelledError is a BaseException and passes through
                message = f"Could not read Primo ticket {self.ticket_id}: {error}"
                self.log.error("%s", message, exc_info=True)
                return {"status": "error", "ticket": None, "message": message}
            verdict, message = ticket_verdict(ticket, self.target_statuses, self.failure_statuses)
            if verdict != "waiting":
                self.log.info("%s", message)
                return {"status": verdict, "ticket": ticket, "message": message}
            self.log.info("%s; checking again in %gs", message, self.poke_interval)
            await asyncio.sleep(self.poke_interval)
