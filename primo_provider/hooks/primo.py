"""Hooks for Primo's public REST API: :class:`PrimoHook` (requests) and :class:`PrimoAsyncHook` (httpx)."""

from __future__ import annotations

import asyncio
import math
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseHook

from primo_provider import __version__, api
from primo_provider.exceptions import PrimoConnectionConfigError, PrimoError
from primo_provider.retries import Call, RetryPolicy, TransportError, perform
from primo_provider.validation import required_text

if TYPE_CHECKING:
    import httpx
    import requests

    from primo_provider.typing.primo import Employee, Ticket, TicketComment, TicketSummary

USER_AGENT = f"airflow-provider-primo/{__version__}"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 3
EXTRA_FIELDS = ("company_id", "timeout", "max_retries", "verify")
#: A host name (letters, digits, ``_.-``, IDN letters) or an IPv6 address; spaces and the like are refused.
_HOSTNAME = re.compile(r"[\w.-]+|[0-9a-f:.]+(%[\w.-]+)?")


@dataclass(frozen=True)
class ConnectionParams:
    """Everything a client needs to talk to Primo, read once from the Airflow connection."""

    conn_id: str
    base_url: str
    api_key: str = field(repr=False)
    company_id: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    verify: bool | str = True

    @property
    def headers(self) -> dict[str, str]:
        """Headers sent with every request, the same for the sync and the async client."""
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if self.company_id:
            headers["x-company-id"] = self.company_id
        return headers


def connection_params(
    conn: Any, *, timeout: float | None = None, max_retries: int | None = None
) -> ConnectionParams:
    """Check an Airflow connection and turn it into :class:`ConnectionParams`.

    Every problem raises :class:`~primo_provider.exceptions.PrimoConnectionConfigError` naming the
    connection id. The API key is registered with Airflow's secrets masker.
    """
    conn_id = conn.conn_id

    def bad(problem: str) -> PrimoConnectionConfigError:
        return PrimoConnectionConfigError(f"Primo connection {conn_id!r}: {problem}")

    api_key = (conn.password or "").strip()
    if not api_key:
        raise bad("no API key; put the key in the connection's password field")
    from airflow.providers.common.compat.sdk import mask_secret

    mask_secret(api_key)

    host = (conn.host or "").strip() or api.DEFAULT_BASE_URL
    if "://" not in host:
        host = f"https://{host}"
    try:
        parts = urlsplit(host)
    except ValueError as error:  # e.g. an unclosed IPv6 bracket
        raise bad(f"host {conn.host!r} is not a valid URL ({error})") from None
    try:
        port = parts.port
    except ValueError:
        raise bad(f"host {conn.host!r} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise bad(f"host {conn.host!r} is not an http(s) URL such as https://api.getprimo.com")
    if parts.username is not None or parts.password is not None:  # never echo the host: it holds a secret
        raise bad("the host must not hold credentials; put the API key in the connection's password field")
    if not _HOSTNAME.fullmatch(parts.hostname):
        raise bad(f"host {conn.host!r} has a malformed host name {parts.hostname!r}")
    netloc = parts.netloc
    if conn.port and port is None:
        netloc = f"{netloc}:{conn.port}"
    base_url = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"

    extras = {key.removeprefix("extra__primo__"): value for key, value in conn.extra_dejson.items()}
    unknown = sorted(set(extras) - set(EXTRA_FIELDS))
    if unknown:
        raise bad(f"unknown extra field(s) {', '.join(unknown)}; expected some of {', '.join(EXTRA_FIELDS)}")
    extras = {key: value for key, value in extras.items() if value not in (None, "")}

    def number(name: str, value: Any, kind: Callable[[Any], float | int], minimum: float) -> Any:
        try:
            result = kind(value)
        except (TypeError, ValueError):
            result = None
        if (
            result is None
            or isinstance(value, bool)
            or not math.isfinite(result)
            or result < minimum
            or result != float(value)
        ):
            raise bad(f"extra {name}={value!r} must be a number >= {minimum:g}")
        return result

    verify: bool | str = extras.get("verify", True)
    if isinstance(verify, str) and verify.strip().lower() in ("true", "false"):
        verify = verify.strip().lower() == "true"
    if not isinstance(verify, bool | str):
        raise bad(f"extra verify must be true, false or the path of a CA bundle, got {verify!r}")
    if isinstance(verify, str) and parts.scheme == "https" and not os.path.exists(verify):
        raise bad(
            f"extra verify={verify!r} is neither true, false nor an existing CA bundle file or directory"
        )
    company_id = extras.get("company_id")
    if company_id is not None and not isinstance(company_id, str):
        raise bad(f"extra company_id must be a string, got {type(company_id).__name__}")
    return ConnectionParams(
        conn_id=conn_id,
        base_url=base_url,
        api_key=api_key,
        company_id=company_id.strip() if company_id else None,
        timeout=number(
            "timeout",
            timeout if timeout is not None else extras.get("timeout", DEFAULT_TIMEOUT),
            float,
            0.001,
        ),
        max_retries=number(
            "max_retries",
            max_retries if max_retries is not None else extras.get("max_retries", DEFAULT_MAX_RETRIES),
            int,
            0,
        ),
        verify=verify,
    )


class PrimoHook(BaseHook):
    """Talk to Primo's REST API with requests: tickets, comments and employees.

    The connection is read on first use, never in ``__init__``. One ``requests.Session`` per hook keeps
    connections alive; every request has a timeout; failures are retried without ever duplicating a ticket
    or a comment (see :mod:`primo_provider.retries`).

    :param primo_conn_id: the Airflow connection: password = API key; host optional (default
        ``https://api.getprimo.com``); extras ``company_id`` (sent as ``x-company-id``), ``timeout``
        (seconds, default 30), ``max_retries`` (default 3) and ``verify`` (TLS verification, default true,
        or a CA bundle path).
    :param timeout: overrides the connection's ``timeout`` extra.
    :param max_retries: overrides the connection's ``max_retries`` extra.
    """

    conn_name_attr = "primo_conn_id"
    default_conn_name = "primo_default"
    conn_type = "primo"
    hook_name = "Primo"

    def __init__(
        self,
        *,
        primo_conn_id: str = default_conn_name,
        timeout: float | None = None,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> None:
        for secret in ("api_key", "password", "token"):
            if secret in kwargs:
                raise ValueError(
                    f"{secret}: never pass the Primo API key as an argument; store it as the password of "
                    "the Airflow connection named by primo_conn_id"
                )
        super().__init__(**kwargs)
        self.primo_conn_id = primo_conn_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._sleep: Callable[[float], None] = time.sleep
        self._employees_by_email: dict[str, Employee] | None = None

    # --- connection and client -------------------------------------------------------------------

    @cached_property
    def connection_params(self) -> ConnectionParams:
        """The checked connection, read on first use."""
        return connection_params(
            self.get_connection(self.primo_conn_id), timeout=self._timeout, max_retries=self._max_retries
        )

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """Retry policy from the connection's ``max_retries``."""
        return RetryPolicy(max_retries=self.connection_params.max_retries)

    @cached_property
    def session(self) -> requests.Session:
        """The hook's ``requests.Session``, created on first use and reused (keep-alive)."""
        import requests

        session = requests.Session()
        session.headers.update(self.connection_params.headers)
        session.verify = self.connection_params.verify
        return session

    def get_conn(self) -> requests.Session:
        """Return the hook's ``requests.Session``."""
        return self.session

    def close(self) -> None:
        """Close the session's connections; the hook opens new ones if used again."""
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()

    def _send(self, request: api.ApiRequest) -> api.RawResponse | TransportError:
        import requests

        params = self.connection_params
        try:
            response = self.session.request(
                request.method,
                params.base_url + request.path,
                params=request.params,
                json=request.json,
                timeout=params.timeout,
                verify=params.verify,  # per request: the session's setting loses to REQUESTS_CA_BUNDLE
            )
        except requests.ConnectTimeout:
            return TransportError(f"connection timed out after {params.timeout:g}s", sent=False)
        except requests.Timeout:
            return TransportError(f"no answer within {params.timeout:g}s", sent=True)
        except requests.ConnectionError as error:
            return TransportError(_connection_error_reason(error), sent=not _never_connected(error))
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as error:
            # the answer was cut or garbled mid-body: the request had reached Primo
            return TransportError(
                f"connection lost while reading the answer: {type(error).__name__}", sent=True
            )
        return api.RawResponse(response.status_code, response.content, response.headers)

    def perform(self, request: api.ApiRequest) -> Call:
        """The retrying call of ``request`` as a sans-IO generator (see :mod:`primo_provider.retries`).

        Compose several into one with ``yield from`` and drive the result with :meth:`run` (or
        :meth:`PrimoAsyncHook.arun`): the notifier does this, so its logic is written once for both.
        """
        return (yield from perform(request, self.retry_policy, self.log))

    def run(self, call: Call) -> Any:
        """Drive a call built from :meth:`perform` with requests and ``time.sleep``; return its result."""
        try:
            step = next(call)
            while True:
                if isinstance(step, api.ApiRequest):
                    step = call.send(self._send(step))
                else:
                    self._sleep(step)
                    step = call.send(None)
        except StopIteration as done:
            return done.value

    def request(self, request: api.ApiRequest) -> Any:
        """Send a request built by :mod:`primo_provider.api`, with retries; return the decoded answer."""
        return self.run(self.perform(request))

    def _pages(self, build: Callable[[int], api.ApiRequest]) -> Iterator[Any]:
        page = 1
        while True:
            body = self.request(build(page))
            yield from body["data"]
            if api.is_last_page(page, body):
                return
            page += 1

    # --- tickets ---------------------------------------------------------------------------------

    def create_ticket(
        self,
        title: str,
        *,
        description: str | None = None,
        assignee_employee_id: str | None = None,
        priority: str | None = None,
        due_date: Any = None,
    ) -> Ticket:
        """Create a ticket and return Primo's ticket object unchanged.

        :param title: the ticket's title; must not be empty or whitespace only (it is stripped).
        :param description: the ticket's body text.
        :param assignee_employee_id: the Primo employee to assign; omitted when ``None``.
        :param priority: ``LOW``, ``MEDIUM`` or ``HIGH`` in any case, or a
            :class:`~primo_provider.validation.Priority`.
        :param due_date: an aware ``datetime`` or pendulum ``DateTime``, a naive ``datetime`` (taken as
            UTC), a ``date`` (midnight UTC) or an ISO-8601 string with any offset; sent as UTC
            ``YYYY-MM-DDTHH:MM:SSZ``.
        :raises TypeError, ValueError: on a bad argument, naming it, before any request is sent.
        :raises PrimoAPIError: when Primo refuses the request.
        """
        return self.request(
            api.create_ticket(
                title,
                description=description,
                assignee_employee_id=assignee_employee_id,
                priority=priority,
                due_date=due_date,
            )
        )

    def get_ticket(self, ticket_id: str) -> Ticket:
        """Return one ticket, with its description and comments."""
        return self.request(api.get_ticket(ticket_id))

    def list_tickets(
        self,
        *,
        status: str | None = None,
        priority: str | None = None,
        search_term: str | None = None,
        assignee_employee_id: str | None = None,
        sort_by: str | None = None,
        sort_direction: str | None = None,
    ) -> Iterator[TicketSummary]:
        """Yield every ticket matching the filters, reading 100 a page until the last page.

        Arguments are checked now, before the first request; the pages are read as the result is consumed.
        List items carry no description and no comments (use :meth:`get_ticket`).
        """
        filters = dict(
            status=status,
            priority=priority,
            search_term=search_term,
            assignee_employee_id=assignee_employee_id,
            sort_by=sort_by,
            sort_direction=sort_direction,
        )
        api.list_tickets(**filters)  # check the arguments before anything is sent
        return self._pages(lambda page: api.list_tickets(page=page, **filters))

    def update_ticket_status(self, ticket_id: str, status: str) -> Ticket:
        """Set a ticket's status (``PENDING``, ``IN_PROGRESS``, ``COMPLETED``, ``CANCELLED``)."""
        return self.request(api.update_ticket_status(ticket_id, status))

    def update_ticket_priority(self, ticket_id: str, priority: str | None) -> Ticket:
        """Set a ticket's priority; ``None`` clears it."""
        return self.request(api.update_ticket_priority(ticket_id, priority))

    def update_ticket_assignee(self, ticket_id: str, assignee_employee_id: str) -> Ticket:
        """Assign a ticket to an employee."""
        return self.request(api.update_ticket_assignee(ticket_id, assignee_employee_id))

    def add_comment(self, ticket_id: str, text: str) -> TicketComment:
        """Add a comment to a ticket and return the comment."""
        return self.request(api.add_comment(ticket_id, text))

    # --- employees -------------------------------------------------------------------------------

    def list_employees(self) -> Iterator[Employee]:
        """Yield every employee, reading 100 a page."""
        return self._pages(lambda page: api.list_employees(page=page))

    def get_employee(self, employee_id: str) -> Employee:
        """Return one employee."""
        return self.request(api.get_employee(employee_id))

    def find_employee_by_email(self, email: str) -> Employee | None:
        """Return the employee with this e-mail address (any case), or ``None``.

        Primo's API has no e-mail filter, so the first call reads every employee and the hook keeps them.
        """
        wanted = required_text("email", email).casefold()
        if self._employees_by_email is None:
            self._employees_by_email = {
                str(employee.get("email", "")).casefold(): employee for employee in self.list_employees()
            }
        return self._employees_by_email.get(wanted)

    # --- Airflow UI ------------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and host with one read (``GET /tickets?perPage=1``); never creates anything."""
        try:
            params = self.connection_params
            body = self.run(perform(api.list_tickets(per_page=1), RetryPolicy(max_retries=0), self.log))
        except PrimoError as error:
            return False, str(error)
        total = body["pagination"].get("totalElements")
        return True, f"Connected to Primo at {params.base_url} ({total} tickets visible)"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form on Airflow 2.11 to 3.1 (3.2+ reads ``ui-field-behaviour`` instead)."""
        from primo_provider.get_provider_info import UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form on Airflow 2.11 to 3.1 (3.2+ reads ``conn-fields``)."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, IntegerField, StringField
        from wtforms.validators import NumberRange, Optional

        return {
            "company_id": StringField(lazy_gettext("Company ID"), widget=BS3TextFieldWidget()),
            "timeout": IntegerField(
                lazy_gettext("Timeout (seconds)"),
                validators=[Optional(), NumberRange(min=1)],
                widget=BS3TextFieldWidget(),
            ),
            "max_retries": IntegerField(
                lazy_gettext("Max retries"),
                validators=[Optional(), NumberRange(min=0)],
                widget=BS3TextFieldWidget(),
            ),
            "verify": BooleanField(lazy_gettext("Verify TLS certificates"), default=True),
        }


class PrimoAsyncHook(PrimoHook):
    """The async counterpart of :class:`PrimoHook`, for triggers and ``async_notify``, on httpx.

    It builds the same requests (:mod:`primo_provider.api`) and follows the same retry rules
    (:mod:`primo_provider.retries`); only the transport differs.
    """

    @cached_property
    def async_client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` with the connection's headers, timeout and TLS setting."""
        import httpx

        params = self.connection_params
        verify: Any = params.verify
        if isinstance(verify, str) and not params.base_url.startswith("https:"):
            verify = True  # plain http: there is no certificate to check, nor a bundle to load
        elif isinstance(verify, str):  # a CA bundle path, which httpx deprecates: give it an SSL context
            import ssl

            directory = os.path.isdir(verify)
            verify = ssl.create_default_context(
                cafile=None if directory else verify, capath=verify if directory else None
            )
        return httpx.AsyncClient(
            base_url=params.base_url, headers=params.headers, timeout=params.timeout, verify=verify
        )

    async def aget_connection_params(self) -> ConnectionParams:
        """Read the connection without blocking the event loop, then cache it like the sync path does."""
        if "connection_params" not in self.__dict__:
            params = await asyncio.to_thread(lambda: self.connection_params)
            self.__dict__["connection_params"] = params
        return self.connection_params

    async def _asend(self, request: api.ApiRequest) -> api.RawResponse | TransportError:
        import httpx

        await self.aget_connection_params()
        try:
            response = await self.async_client.request(
                request.method, request.path, params=request.params, json=request.json
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            if (tls := _certificate_error(error)) is not None:
                return TransportError(f"TLS certificate verification failed: {tls}"[:300], sent=False)
            return TransportError(f"could not connect: {type(error).__name__}", sent=False)
        except httpx.TimeoutException:
            return TransportError(f"no answer within {self.connection_params.timeout:g}s", sent=True)
        except httpx.TransportError as error:
            return TransportError(f"connection failed: {type(error).__name__}", sent=True)
        return api.RawResponse(response.status_code, response.content, response.headers)

    async def arun(self, call: Call) -> Any:
        """Drive a call built from :meth:`perform` with httpx and ``asyncio.sleep``; return its result."""
        await self.aget_connection_params()
        try:
            step = next(call)
            while True:
                if isinstance(step, api.ApiRequest):
                    step = call.send(await self._asend(step))
                else:
                    await asyncio.sleep(step)
                    step = call.send(None)
        except StopIteration as done:
            return done.value

    async def arequest(self, request: api.ApiRequest) -> Any:
        """Async :meth:`PrimoHook.request`."""
        return await self.arun(self.perform(request))

    async def aget_ticket(self, ticket_id: str) -> Ticket:
        """Async :meth:`PrimoHook.get_ticket`."""
        return await self.arequest(api.get_ticket(ticket_id))

    async def acreate_ticket(self, title: str, **fields: Any) -> Ticket:
        """Async :meth:`PrimoHook.create_ticket`."""
        return await self.arequest(api.create_ticket(title, **fields))

    async def aadd_comment(self, ticket_id: str, text: str) -> TicketComment:
        """Async :meth:`PrimoHook.add_comment`."""
        return await self.arequest(api.add_comment(ticket_id, text))

    async def aupdate_ticket_status(self, ticket_id: str, status: str) -> Ticket:
        """Async :meth:`PrimoHook.update_ticket_status`."""
        return await self.arequest(api.update_ticket_status(ticket_id, status))

    async def alist_tickets(self, **filters: Any) -> AsyncIterator[TicketSummary]:
        """Async :meth:`PrimoHook.list_tickets`."""
        api.list_tickets(**filters)
        page = 1
        while True:
            body = await self.arequest(api.list_tickets(page=page, **filters))
            for item in body["data"]:
                yield cast("TicketSummary", item)
            if api.is_last_page(page, body):
                return
            page += 1

    async def aclose(self) -> None:
        """Close the async client."""
        if "async_client" in self.__dict__:
            await self.__dict__.pop("async_client").aclose()


def _never_connected(error: Exception) -> bool:
    """True when requests failed before the request could reach the server."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    reason: Any = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)
    # A failed certificate check ends the TLS handshake, before any byte of the request is sent.
    return (
        isinstance(reason, (NewConnectionError, ConnectTimeoutError)) or _certificate_error(error) is not None
    )


def _connection_error_reason(error: Exception) -> str:
    reason: Any = error.args[0] if error.args else error
    reason = getattr(reason, "reason", reason)
    if (tls := _certificate_error(error)) is not None:
        return f"TLS certificate verification failed: {tls}"[:300]
    if _never_connected(error):
        return "could not connect (connection refused or host unreachable)"
    return f"connection lost: {type(reason).__name__}: {reason}"[:300]


def _certificate_error(error: BaseException) -> str | None:
    """The message of the ``ssl.SSLCertVerificationError`` behind a requests or httpx error, if any."""
    import ssl

    seen: set[int] = set()
    pending: list[Any] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return str(current.verify_message or current)
        pending += [*current.args, getattr(current, "reason", None), current.__cause__, current.__context__]
    return None
