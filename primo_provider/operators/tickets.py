"""Operators that create and update Primo tickets.

Importing this module and constructing the operators does no I/O and imports no HTTP client: the hook
is imported in ``execute``, so DAG files that use these operators stay cheap to parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from primo_provider.hooks.primo import PrimoHook
    from primo_provider.typing.primo import Ticket


class _PrimoTicketOperator(BaseOperator):
    ui_color = "#e8f0fe"

    def __init__(self, *, primo_conn_id: str = "primo_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.primo_conn_id = primo_conn_id

    def make_hook(self) -> PrimoHook:
        from primo_provider.hooks.primo import PrimoHook

        return PrimoHook(primo_conn_id=self.primo_conn_id)

    def resolve_assignee(self, hook: PrimoHook, employee_id: Any, email: Any) -> str | None:
        """The employee id to assign: ``employee_id`` as given, or looked up from ``email``."""
        from primo_provider.validation import optional_id

        employee_id = optional_id("assignee_employee_id", employee_id)
        email = optional_id("assignee_email", email)
        if employee_id and email:
            raise ValueError("assignee_email: give either assignee_employee_id or assignee_email, not both")
        if email is None:
            return employee_id
        employee = hook.find_employee_by_email(email)
        if employee is None:
            raise ValueError(f"assignee_email: no Primo employee has the e-mail address {email!r}")
        return employee["id"]


class CreateTicketOperator(_PrimoTicketOperator):
    """Create a Primo ticket and push it to XCom (``return_value``).

    Downstream tasks read it with ``ti.xcom_pull(task_ids="...")["reference"]`` (or ``["id"]``).

    :param title: the ticket's title, not empty. (templated)
    :param description: the ticket's body, shown as markdown in the rendered-template view. (templated)
    :param assignee_employee_id: the Primo employee to assign. (templated)
    :param assignee_email: the e-mail of the employee to assign, looked up in Primo (case-insensitive);
        an unknown address fails the task. Give this or ``assignee_employee_id``. (templated)
    :param priority: ``LOW``, ``MEDIUM`` or ``HIGH``, any case. (templated)
    :param due_date: a datetime (aware, or naive taken as UTC), a date, or an ISO-8601 string such as
        ``"{{ data_interval_end }}"``; sent in UTC. (templated)
    :param primo_conn_id: the Airflow connection to Primo. (templated)
    """

    template_fields: Sequence[str] = (
        "title",
        "description",
        "assignee_employee_id",
        "assignee_email",
        "priority",
        "due_date",
        "primo_conn_id",
    )
    template_fields_renderers = {"description": "md"}

    def __init__(
        self,
        *,
        title: str,
        description: str | None = None,
        assignee_employee_id: str | None = None,
        assignee_email: str | None = None,
        priority: str | None = None,
        due_date: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.description = description
        self.assignee_employee_id = assignee_employee_id
        self.assignee_email = assignee_email
        self.priority = priority
        self.due_date = due_date

    def execute(self, context: Context) -> Ticket:
        from primo_provider import api

        hook = self.make_hook()
        api.create_ticket(  # check every field before any request, the e-mail lookup included
            self.title,
            description=self.description,
            assignee_employee_id=self.assignee_employee_id,
            priority=self.priority,
            due_date=self.due_date,
        )
        ticket = hook.create_ticket(
            self.title,
            description=self.description,
            assignee_employee_id=self.resolve_assignee(hook, self.assignee_employee_id, self.assignee_email),
            priority=self.priority,
            due_date=self.due_date,
        )
        self.log.info(
            "Created Primo ticket %s (id %s): %s", ticket["reference"], ticket["id"], ticket["title"]
        )
        return ticket


class UpdateTicketOperator(_PrimoTicketOperator):
    """Apply changes to a Primo ticket and push the updated ticket to XCom.

    Only the changes given are sent: status, then priority, then assignee, then a comment.

    :param ticket_id: the ticket's id, usually pulled from XCom:
        ``"{{ ti.xcom_pull(task_ids='create')['id'] }}"``. (templated)
    :param status: ``PENDING``, ``IN_PROGRESS``, ``COMPLETED`` or ``CANCELLED``, any case. (templated)
    :param priority: ``LOW``, ``MEDIUM`` or ``HIGH``, any case. (templated)
    :param assignee_employee_id: the employee to assign. (templated)
    :param assignee_email: the e-mail of the employee to assign, looked up in Primo. (templated)
    :param comment: a comment to add. (templated)
    :param primo_conn_id: the Airflow connection to Primo. (templated)
    """

    template_fields: Sequence[str] = (
        "ticket_id",
        "status",
        "priority",
        "assignee_employee_id",
        "assignee_email",
        "comment",
        "primo_conn_id",
    )
    template_fields_renderers = {"comment": "md"}

    def __init__(
        self,
        *,
        ticket_id: str,
        status: str | None = None,
        priority: str | None = None,
        assignee_employee_id: str | None = None,
        assignee_email: str | None = None,
        comment: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ticket_id = ticket_id
        self.status = status
        self.priority = priority
        self.assignee_employee_id = assignee_employee_id
        self.assignee_email = assignee_email
        self.comment = comment

    def execute(self, context: Context) -> Ticket:
        from primo_provider import api
        from primo_provider.validation import optional_id, required_text

        ticket_id = required_text("ticket_id", self.ticket_id)
        # Build every request first, so a bad value fails before anything changes in Primo.
        changes = []
        if optional_id("status", self.status):
            changes.append(api.update_ticket_status(ticket_id, self.status))
        if optional_id("priority", self.priority):
            changes.append(api.update_ticket_priority(ticket_id, self.priority))
        comment = (
            None
            if self.comment is None
            else api.add_comment(ticket_id, required_text("comment", self.comment))
        )
        hook = self.make_hook()
        if assignee := self.resolve_assignee(hook, self.assignee_employee_id, self.assignee_email):
            changes.append(api.update_ticket_assignee(ticket_id, assignee))
        ticket = None
        for change in changes:
            ticket = hook.request(change)
        if comment is not None:
            hook.request(comment)
            ticket = None  # the comment is newer than the last ticket Primo returned
        if ticket is None:
            ticket = hook.get_ticket(ticket_id)
        self.log.info("Updated Primo ticket %s; status %s", ticket["reference"], ticket["status"])
        return ticket
