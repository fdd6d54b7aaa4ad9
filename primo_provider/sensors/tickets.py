"""Sensor that waits for a Primo ticket to reach a status: in poke or reschedule mode, or deferred.

Importing this module and constructing the sensor does no I/O and imports no HTTP client: the hook is
imported when the sensor first pokes, and the trigger imports its async hook when it runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from primo_provider.exceptions import PrimoError
from primo_provider.triggers.tickets import TicketStatusTrigger, ticket_status_sets, ticket_verdict
from primo_provider.validation import required_text

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from primo_provider.hooks.primo import PrimoHook
    from primo_provider.typing.primo import Ticket


class TicketStatusSensor(BaseSensorOperator):
    """Wait until a Primo ticket reaches a target status, and push the ticket to XCom (``return_value``).

    The sensor succeeds when the ticket's status is one of ``target_statuses``. It fails at once, without
    retries, when the status is one of ``failure_statuses`` (by default a ``CANCELLED`` ticket will never
    be ``COMPLETED``). Any other status means "not yet".

    With ``deferrable=True`` the sensor hands the wait to the triggerer straight away
    (:class:`~primo_provider.triggers.tickets.TicketStatusTrigger`), so no worker slot is held while the
    ticket is open; ``timeout`` still applies and fails the task with ``AirflowSensorTimeout``.

    :param ticket_id: the ticket's id, usually from the task that created it:
        ``"{{ ti.xcom_pull(task_ids='create_ticket')['id'] }}"``. (templated)
    :param target_statuses: the status, or statuses, to wait for: ``PENDING``, ``IN_PROGRESS``,
        ``COMPLETED`` or ``CANCELLED``, any case. Default ``("COMPLETED",)``.
    :param failure_statuses: the status, or statuses, that fail the task at once; must not overlap
        ``target_statuses``; ``None`` or ``()`` for none. Default ``("CANCELLED",)``.
    :param deferrable: wait in the triggerer rather than in a worker. Defaults to the
        ``[operators] default_deferrable`` setting (false unless set).
    :param poke_interval: seconds between two reads of the ticket, in every mode. Default 60.
    :param primo_conn_id: the Airflow connection to Primo. (templated)
    :param kwargs: the other arguments of ``BaseSensorOperator``: ``timeout``, ``mode``, ``soft_fail``...
    """

    template_fields: Sequence[str] = ("ticket_id", "primo_conn_id")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        ticket_id: str,
        target_statuses: Iterable[str] | str = ("COMPLETED",),
        failure_statuses: Iterable[str] | str | None = ("CANCELLED",),
        primo_conn_id: str = "primo_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        targets, failures = ticket_status_sets(target_statuses, failure_statuses)
        super().__init__(**kwargs)
        self.ticket_id = ticket_id
        self.target_statuses = targets
        self.failure_statuses = failures
        self.primo_conn_id = primo_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> PrimoHook:
        """The Primo hook, created on first use."""
        from primo_provider.hooks.primo import PrimoHook

        return PrimoHook(primo_conn_id=self.primo_conn_id)

    def execute(self, context: Context) -> Any:
        if self.deferrable:
            self._defer()
        try:
            return super().execute(context)
        finally:
            if "hook" in self.__dict__:
                self.hook.close()

    def poke(self, context: Context) -> PokeReturnValue:
        """Read the ticket once: done with the ticket as XCom, not yet, or fail on a failure status."""
        ticket = self.hook.get_ticket(required_text("ticket_id", self.ticket_id))
        verdict, message = ticket_verdict(ticket, self.target_statuses, self.failure_statuses)
        if verdict == "failure":
            raise AirflowFailException(message)
        self.log.info("%s", message)
        done = verdict == "success"
        return PokeReturnValue(is_done=done, xcom_value=ticket if done else None)

    def _defer(self) -> NoReturn:
        trigger = TicketStatusTrigger(
            ticket_id=required_text("ticket_id", self.ticket_id),
            target_statuses=self.target_statuses,
            failure_statuses=self.failure_statuses,
            poke_interval=self.poke_interval,
            primo_conn_id=self.primo_conn_id,
        )
        self.log.info(
            "Deferring: the triggerer waits for Primo ticket %s to be %s, checking every %gs",
            trigger.ticket_id,
            " or ".join(self.target_statuses),
            self.poke_interval,
        )
        self.defer(
            trigger=trigger, method_name="execute_complete", timeout=dt.timedelta(seconds=self.timeout)
        )

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> Ticket:
        """Resume after the trigger fired: return the ticket, or fail with the trigger's message.

        A failure status fails the task without retries; an error (Primo unreachable after the hook's
        retries, ticket not found...) fails it with the task's usual retries.
        """
        if not isinstance(event, Mapping):
            raise PrimoError(f"TicketStatusSensor resumed without an event from its trigger (got {event!r})")
        status = event.get("status")
        message = str(event.get("message") or f"the trigger reported {status!r} without a message")
        if status == "success":
            self.log.info("%s", message)
            return event["ticket"]
        if status == "failure":
            raise AirflowFailException(message)
        raise PrimoError(message)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Turn a trigger timeout into ``AirflowSensorTimeout`` (no retries) on Airflow 2 and 3 alike."""
        error = str((next_kwargs or {}).get("error", ""))
        if next_method == "__fail__" and "timeout" in error.lower():
            message = (
                f"Sensor has timed out: Primo ticket {self.ticket_id} did not reach "
                f"{' or '.join(self.target_statuses)} within {self.timeout:g}s ({error})"
            )
            if self.soft_fail or getattr(self, "never_fail", False):
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        return super().resume_execution(next_method, next_kwargs, context)
