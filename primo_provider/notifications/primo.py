"""Turn Airflow failures into Primo tickets: :class:`PrimoNotifier` (alias ``send_primo_notification``).

Importing this module and constructing the notifier do no I/O and import no HTTP client: the hooks, and
the request builders and incident logic they run, are imported on first use, in ``notify`` or
``async_notify``, so DAG files stay cheap to parse.
"""

from __future__ import annotations

import re
import socket
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseNotifier

from primo_provider import validation as v

if TYPE_CHECKING:
    import jinja2
    from airflow.providers.common.compat.sdk import Context

    from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook
    from primo_provider.notifications.incidents import Incident, Perform
    from primo_provider.retries import Call

ACTIONS = ("open", "resolve")
#: The longest fingerprint kept in a marker.
MAX_FINGERPRINT = 120
#: How much of a traceback goes into a ticket: its last lines, and at most this many characters.
TRACEBACK_LINES = 20
TRACEBACK_CHARS = 2000
_MESSAGE_CHARS = 300
_CARETS = re.compile(r"^[ \t]*[\^~]+[ \t]*\n", re.MULTILINE)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")

_DAG_REASONS = {
    "success": "succeeded",
    "task_failure": "failed",
    "timed_out": "timed out",
    "all_tasks_deadlocked": "failed: its tasks are deadlocked",
}
_TASK_STATES = {
    "failed": "failed",
    "upstream_failed": "failed upstream",
    "up_for_retry": "failed and will be retried",
    "success": "succeeded",
    "skipped": "was skipped",
}


class PrimoNotifier(BaseNotifier):
    """Open a Primo ticket when a DAG or task fails, once per incident, and close it when it recovers.

    Use it as ``on_failure_callback``, ``on_retry_callback`` or ``on_success_callback`` of a task or a
    DAG (and as an SLA or deadline callback where the Airflow version has them). See ``docs/notifier.md``.

    With ``action="open"`` (the default) the ticket title carries a marker ``[airflow:<fingerprint>]``.
    When an open ticket (PENDING or IN_PROGRESS) already carries it, the failure is added to it as a
    comment instead of opening another; tickets opened at the same moment by concurrent notifiers converge
    on the oldest, and the others are cancelled as duplicates. With ``action="resolve"`` every open ticket
    of the fingerprint gets a comment saying the pipeline recovered and is set COMPLETED.

    A notifier that cannot reach Primo, or is given a bad value, logs the error and returns: it never
    raises into Airflow, so the task's own outcome is never hidden. Values that are not templates are
    checked at construction.

    :param action: ``"open"`` (record a failure) or ``"resolve"`` (close the incident).
    :param title: the ticket's title; default: names the DAG and task and says what happened. The marker
        is put in front of it. (templated)
    :param description: the ticket's body in markdown; default: DAG, task, run, logical date, try, the
        error with the end of its traceback, the log URL and the host. With ``action="resolve"``, the
        comment to add instead of the default recovery note. (templated)
    :param priority: ``LOW``, ``MEDIUM`` or ``HIGH``, any case. (templated)
    :param assignee_employee_id: the Primo employee to assign new tickets to. (templated)
    :param due_date: due date of new tickets: a datetime, a date or an ISO-8601 string. (templated)
    :param fingerprint: what identifies the incident; default ``<dag_id>.<task_id>`` in task callbacks and
        ``<dag_id>`` in DAG callbacks. Characters other than letters, digits and ``_.:-`` become ``_``.
        (templated)
    :param primo_conn_id: the Airflow connection to Primo.
    :param context: the callback context, when Airflow passes it at construction (deadline callbacks).
    """

    template_fields: Sequence[str] = (
        "title",
        "description",
        "priority",
        "assignee_employee_id",
        "due_date",
        "fingerprint",
    )

    def __init__(
        self,
        *,
        action: str = "open",
        title: str | None = None,
        description: str | None = None,
        priority: str | None = None,
        assignee_employee_id: str | None = None,
        due_date: Any = None,
        fingerprint: str | None = None,
        primo_conn_id: str = "primo_default",
        context: Context | None = None,
    ) -> None:
        super().__init__()
        if context is not None:
            self.context = context
        if not isinstance(action, str) or action.strip().lower() not in ACTIONS:
            raise ValueError(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
        self.action = action.strip().lower()
        self.primo_conn_id = v.required_text("primo_conn_id", primo_conn_id)
        self.title = title
        self.description = description
        self.priority = priority
        self.assignee_employee_id = assignee_employee_id
        self.due_date = due_date
        self.fingerprint = fingerprint
        self._render_error: Exception | None = None
        self._check_fields(only_literals=True)

    # --- hooks (created on first use) ------------------------------------------------------------

    @cached_property
    def hook(self) -> PrimoHook:
        """The sync hook, for :meth:`notify`."""
        from primo_provider.hooks.primo import PrimoHook

        return PrimoHook(primo_conn_id=self.primo_conn_id)

    @cached_property
    def async_hook(self) -> PrimoAsyncHook:
        """The async hook, for :meth:`async_notify`."""
        from primo_provider.hooks.primo import PrimoAsyncHook

        return PrimoAsyncHook(primo_conn_id=self.primo_conn_id)

    # --- templates -------------------------------------------------------------------------------

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        """Render the template fields from their original templates, whatever DAG object the context has.

        Airflow 3.3's ``airflow dags test`` hands DAG callbacks a ``SerializedDAG``, which has no
        ``get_template_env`` (apache/airflow#64649): the notifier's own environment is used then. Each call
        renders the templates given at construction, so an instance shared by several callbacks never
        reuses another callback's values. A rendering error is kept for :meth:`notify` to log.
        """
        templates = self.__dict__.setdefault(
            "_templates", {name: getattr(self, name) for name in self.template_fields}
        )
        dag = context.get("dag")
        if jinja_env is None:
            jinja_env = self.get_template_env(dag=dag if hasattr(dag, "get_template_env") else None)
        self._render_error = None
        for name, template in templates.items():
            try:
                rendered = None if template is None else self.render_template(template, context, jinja_env)
            except Exception as error:
                self._render_error = ValueError(f"{name}: could not render {template!r}: {error}")
                rendered = None
            setattr(self, name, rendered)

    # --- notify ----------------------------------------------------------------------------------

    def notify(self, context: Context) -> None:
        """Open, update or resolve the incident in Primo (sync); log, never raise, on failure."""
        try:
            call = self._call(context, self.hook.perform)
            self._report(self.hook.run(call))
        except Exception as error:
            self._log_failure(error)
        finally:
            if "hook" in self.__dict__:
                self.hook.close()

    async def async_notify(self, context: Context) -> None:
        """Open, update or resolve the incident in Primo (async, e.g. in the triggerer for deadlines)."""
        try:
            call = self._call(context, self.async_hook.perform)
            self._report(await self.async_hook.arun(call))
        except Exception as error:
            self._log_failure(error)
        finally:
            if "async_hook" in self.__dict__:
                await self.async_hook.aclose()

    def _call(self, context: Context, perform: Perform) -> Call:
        """Check every value and build the requests, then return the incident call (nothing sent yet)."""
        from primo_provider import api
        from primo_provider.notifications import incidents

        if self._render_error is not None:
            raise self._render_error
        self._check_fields(only_literals=False)
        event = Event.from_context(context)
        fingerprint = self.fingerprint or event.default_fingerprint()
        mark = marker(fingerprint)
        if self.action == "resolve":
            comment = self.description or event.recovery_note()
            v.required_text("description", comment)
            return incidents.resolve_incident(perform, mark=mark, comment=comment)
        title = self.title or event.title()
        description = self.description or event.description()
        create = api.create_ticket(
            title if mark in title else f"{mark} {title}",
            description=description,
            assignee_employee_id=self.assignee_employee_id,
            priority=self.priority,
            due_date=self.due_date,
        )
        comment = f"**New occurrence**\n\n{description}"
        return incidents.open_incident(perform, mark=mark, create=create, comment=comment)

    def _check_fields(self, *, only_literals: bool) -> None:
        """Check every field, or (at construction) only those that are not Jinja templates."""
        checks = {
            "title": lambda value: v.optional_id("title", value),
            "description": lambda value: v.optional_text("description", value),
            "priority": lambda value: v.optional_enum_value("priority", value, v.Priority),
            "assignee_employee_id": lambda value: v.optional_id("assignee_employee_id", value),
            "due_date": lambda value: v.due_date("due_date", value),
            "fingerprint": lambda value: v.optional_id("fingerprint", value) and marker(value),
        }
        for name, check in checks.items():
            value = getattr(self, name)
            if value is None or (only_literals and _is_template(value)):
                continue
            check(value)

    def _report(self, incident: Incident) -> None:
        ticket = incident.ticket or {}
        if incident.outcome == "created":
            self.log.info("Opened Primo ticket %s: %s", ticket.get("reference"), ticket.get("title"))
        elif incident.outcome == "commented":
            self.log.info("Added the failure to open Primo ticket %s", ticket.get("reference"))
        elif incident.outcome == "resolved":
            self.log.info("Completed Primo ticket(s) %s", ", ".join(incident.completed))
        else:
            self.log.info("No open Primo ticket carries %s: nothing to resolve", incident.mark)
        if incident.cancelled:
            self.log.info(
                "Cancelled duplicate Primo ticket(s) %s in favour of %s",
                ", ".join(incident.cancelled),
                ticket.get("reference"),
            )

    def _log_failure(self, error: Exception) -> None:
        self.log.exception(
            "PrimoNotifier (action=%s, connection %r) could not notify Primo: %s. The task's or DAG's own "
            "outcome is unchanged.",
            self.action,
            self.primo_conn_id,
            error,
        )


send_primo_notification = PrimoNotifier


def sanitise_fingerprint(fingerprint: Any) -> str:
    """``fingerprint`` with every run of characters outside ``A-Z a-z 0-9 _ . : -`` replaced by ``_``.

    Brackets, spaces and the like would break the marker or its search; the result is also capped at
    :data:`MAX_FINGERPRINT` characters.
    """
    if not isinstance(fingerprint, str):
        raise TypeError(f"fingerprint: expected a string, got {type(fingerprint).__name__}")
    cleaned = _UNSAFE.sub("_", fingerprint.strip()).strip("_")[:MAX_FINGERPRINT]
    if not cleaned:
        raise ValueError(f"fingerprint: {fingerprint!r} has no letters, digits or '_.:-' to make a marker of")
    return cleaned


def marker(fingerprint: str) -> str:
    """The searchable title marker of a fingerprint: ``[airflow:<sanitised fingerprint>]``."""
    return f"[airflow:{sanitise_fingerprint(fingerprint)}]"


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and any(mark in value for mark in ("{{", "{%", "{#"))


# --- what happened, read from the callback context --------------------------------------------------


def _get(obj: Any, *names: str) -> Any:
    """The first of ``names`` that ``obj`` has, as an attribute or a key; ``None`` if it has none."""
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _state(value: Any) -> str:
    return str(getattr(value, "value", value) or "").lower()


@dataclass(frozen=True)
class Event:
    """What a callback reports, read from its context the same way on Airflow 2.11 and 3.x.

    ``task_id`` is the callback's task, or in a DAG callback the task Airflow reports with it (the one that
    failed the run), if any.
    """

    dag_id: str | None
    dag_level: bool
    happened: str
    task_id: str | None = None
    map_index: int | None = None
    run_id: str | None = None
    logical_date: Any = None
    try_number: int | None = None
    max_tries: int | None = None
    reason: str | None = None
    deadline: Any = None
    log_url: str | None = None
    host: str | None = None
    error: BaseException | str | None = None

    @classmethod
    def from_context(cls, context: Any) -> Event:
        """Read a task, DAG, SLA or deadline callback context."""
        ti = context.get("task_instance") or context.get("ti")
        dag_run = context.get("dag_run")
        deadline = context.get("deadline")
        reason = context.get("reason")
        error = context.get("exception")
        dag_level = ti is None or "reason" in context or deadline is not None or "task_list" in context
        if deadline is not None:
            happened = "missed its deadline"
        elif "task_list" in context:
            happened = "missed its SLA"
        elif dag_level:
            happened = _DAG_REASONS.get(_state(reason), f"failed ({reason})" if reason else "failed")
        else:
            state = _state(getattr(ti, "state", None))
            happened = _TASK_STATES.get(state) or (
                "failed" if error else f"is {state or 'in an unknown state'}"
            )
        try:
            log_url = getattr(ti, "log_url", None)
        except Exception:  # built from the configuration (and on 2.x the database): never fail over it
            log_url = None
        map_index = _get(ti, "map_index")
        return cls(
            dag_id=_get(context.get("dag"), "dag_id") or _get(ti, "dag_id") or _get(dag_run, "dag_id"),
            dag_level=dag_level,
            happened=happened,
            task_id=_get(ti, "task_id"),
            map_index=map_index if isinstance(map_index, int) and map_index >= 0 else None,
            run_id=context.get("run_id") or _get(dag_run, "run_id", "dag_run_id"),
            logical_date=context.get("logical_date") or _get(dag_run, "logical_date"),
            try_number=_get(ti, "try_number"),
            max_tries=_get(ti, "max_tries"),
            reason=reason,
            deadline=_get(deadline, "deadline_time"),
            log_url=log_url,
            host=_get(ti, "hostname") or socket.gethostname(),
            error=error,
        )

    def default_fingerprint(self) -> str:
        """``<dag_id>.<task_id>`` for a task, ``<dag_id>`` for a DAG."""
        if not self.dag_id:
            raise ValueError("fingerprint: this callback context names no DAG; pass fingerprint= explicitly")
        return self.dag_id if self.dag_level or not self.task_id else f"{self.dag_id}.{self.task_id}"

    @property
    def subject(self) -> str:
        """``task load in DAG sales`` or ``DAG sales``."""
        if self.dag_level or not self.task_id:
            return f"DAG {self.dag_id or '(unknown)'}"
        task = self.task_id if self.map_index is None else f"{self.task_id}[{self.map_index}]"
        return f"task {task} in DAG {self.dag_id}"

    def title(self) -> str:
        """``Airflow task load in DAG sales failed``."""
        return f"Airflow {self.subject} {self.happened}"

    def description(self) -> str:
        """The ticket body, in markdown."""
        task = _code(self.task_id) + (f" (map index {self.map_index})" if self.map_index is not None else "")
        facts = [
            ("DAG", _code(self.dag_id)),
            ("Last task" if self.dag_level else "Task", task),
            ("Run", _code(self.run_id)),
            ("Logical date", str(self.logical_date or ("none (manual run)" if self.run_id else ""))),
            ("Try", _try(self.try_number, self.max_tries)),
            ("Reason", _code(self.reason)),
            ("Deadline", str(self.deadline) if self.deadline else ""),
            ("Host", _code(self.host)),
            ("Log", self.log_url or ""),
        ]
        lines = [f"**Airflow {self.subject} {self.happened}.**", ""]
        lines += [f"- **{name}:** {value}" for name, value in facts if value]
        return "\n".join(lines + _error_lines(self.error))

    def recovery_note(self) -> str:
        """The comment that closes a ticket."""
        note = f"**Recovered:** Airflow {self.subject} succeeded in run {_code(self.run_id) or '(unknown)'}."
        return note + (f"\n\nLog: {self.log_url}" if self.log_url and not self.dag_level else "")


def _code(value: Any) -> str:
    return "`" + str(value).replace("`", "'") + "`" if value else ""


def _try(number: Any, max_tries: Any) -> str:
    if not isinstance(number, int) or number < 1:
        return ""
    return f"{number} of {max_tries + 1}" if isinstance(max_tries, int) and max_tries > 0 else str(number)


def _error_lines(error: BaseException | str | None) -> list[str]:
    """The error's type and message, and the end of its traceback in a code block."""
    from airflow.providers.common.compat.sdk import redact

    if error is None or error == "":
        return []
    if isinstance(error, BaseException):
        message = f"{type(error).__name__}: {error}".strip()
        trace = "".join(traceback.format_exception(error)) if error.__traceback__ else ""
        trace = _CARETS.sub("", trace)  # Python 3.11+'s ^^^ markers: noise in a ticket
    else:
        message, trace = str(error), ""
    first = str(redact(message.splitlines()[0] if message else ""))[:_MESSAGE_CHARS]
    lines = ["", f"**Error:** {_code(first)}"]
    tail = _tail(str(redact(trace or (message if "\n" in message else ""))))  # bound what is sent
    if tail:
        fence = "`" * max(3, _longest_backtick_run(tail) + 1)
        label = "Traceback (last lines)" if trace else "Error message"
        lines += ["", f"{label}:", "", f"{fence}text", tail, fence]
    return lines


def _tail(text: str) -> str:
    lines = text.rstrip().splitlines()[-TRACEBACK_LINES:]
    tail = "\n".join(lines)
    if len(tail) > TRACEBACK_CHARS:
        tail = tail[-TRACEBACK_CHARS:]
        tail = "…" + tail[tail.find("\n") :] if "\n" in tail else "…" + tail
    return tail


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest
