"""TicketStatusTrigger: serialization, rebuilding from kwargs, and the events its run yields."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

import httpx
import pytest
from airflow.triggers.base import TriggerEvent

from primo_provider.hooks.primo import PrimoAsyncHook
from primo_provider.triggers.tickets import TicketStatusTrigger, ticket_status_sets, ticket_verdict

BASE = "https://primo.test"
CLASSPATH = "primo_provider.triggers.tickets.TicketStatusTrigger"


def ticket(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "tkt_1", "reference": "T-00001", "title": "Access request", "status": status, **fields}


Reply = httpx.Response | Exception


class FakePrimo:
    """An httpx.MockTransport handler answering ``GET /tickets/tkt_1`` from a script of replies."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[httpx.Request] = []
        self.clients: list[httpx.AsyncClient] = []

    def script(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakePrimo:
    conn = {"conn_type": "primo", "host": BASE, "password": "unit-test-key", "extra": {"max_retries": 1}}
    monkeypatch.setenv("AIRFLOW_CONN_PRIMO_DEFAULT", json.dumps(conn))
    primo = FakePrimo()

    def client(hook: PrimoAsyncHook) -> httpx.AsyncClient:
        params = hook.connection_params
        made = httpx.AsyncClient(
            base_url=params.base_url, headers=params.headers, transport=httpx.MockTransport(primo.handler)
        )
        primo.clients.append(made)
        return made

    prop = cached_property(client)
    prop.__set_name__(PrimoAsyncHook, "async_client")
    monkeypatch.setattr(PrimoAsyncHook, "async_client", prop)
    return primo


def first_event(trigger: TicketStatusTrigger) -> TriggerEvent:
    return asyncio.run(trigger.run().__anext__())


def make(**kwargs: Any) -> TicketStatusTrigger:
    kwargs.setdefault("ticket_id", "tkt_1")
    kwargs.setdefault("target_statuses", ["COMPLETED"])
    kwargs.setdefault("failure_statuses", ["CANCELLED"])
    kwargs.setdefault("poke_interval", 0)
    return TicketStatusTrigger(**kwargs)


# --- serialization -------------------------------------------------------------------------------


def test_serialize_gives_the_classpath_and_plain_kwargs() -> None:
    trigger = TicketStatusTrigger(
        ticket_id=" tkt_1 ",
        target_statuses=("completed", "in_progress"),
        failure_statuses="Cancelled",
        poke_interval=5,
        primo_conn_id="primo_prod",
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "ticket_id": "tkt_1",
        "target_statuses": ["COMPLETED", "IN_PROGRESS"],
        "failure_statuses": ["CANCELLED"],
        "poke_interval": 5.0,
        "primo_conn_id": "primo_prod",
    }
    assert json.loads(json.dumps(kwargs)) == kwargs  # plain JSON, no tuples nor enums


def test_rebuilt_from_its_kwargs_it_is_the_same_trigger() -> None:
    classpath, kwargs = make(poke_interval=2.5).serialize()
    rebuilt = TicketStatusTrigger(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)


def test_round_trip_through_airflows_trigger_table() -> None:
    """What the triggerer does after a restart: read the row, import the class, call it with the kwargs."""
    from airflow.models.trigger import Trigger
    from airflow.serialization.serialized_objects import BaseSerialization

    original = make(failure_statuses=["cancelled", "pending"], poke_interval=3)
    row = Trigger.from_object(original)
    assert row.classpath == CLASSPATH
    module, _, name = row.classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**row.kwargs)
    assert isinstance(rebuilt, TicketStatusTrigger)
    assert rebuilt.serialize() == original.serialize()
    _, kwargs = original.serialize()
    assert BaseSerialization.deserialize(BaseSerialization.serialize(kwargs)) == kwargs


def test_round_trip_through_the_task_sdk_serde() -> None:
    """Airflow 3 sends trigger kwargs from the task to the triggerer through serde."""
    serde = pytest.importorskip("airflow.sdk.serde")
    classpath, kwargs = make().serialize()
    assert TicketStatusTrigger(**serde.deserialize(serde.serialize(kwargs))).serialize() == (
        classpath,
        kwargs,
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"ticket_id": ""}, ValueError, "ticket_id: must not be empty"),
        ({"ticket_id": None}, TypeError, "ticket_id: expected a non-empty string"),
        ({"target_statuses": []}, ValueError, "target_statuses: give at least one status"),
        ({"failure_statuses": ["COMPLETED"]}, ValueError, "failure_statuses: COMPLETED is also in"),
        ({"failure_statuses": ["nope"]}, ValueError, "failure_statuses: 'nope' is not one of"),
        ({"poke_interval": -1}, ValueError, "poke_interval"),
        ({"poke_interval": True}, ValueError, "poke_interval"),
        ({"poke_interval": "5"}, ValueError, "poke_interval"),
        ({"primo_conn_id": " "}, ValueError, "primo_conn_id"),
    ],
)
def test_bad_arguments_name_the_argument(
    kwargs: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        make(**kwargs)


# --- verdicts ------------------------------------------------------------------------------------


def test_status_sets_accept_one_status_enums_and_any_case() -> None:
    from primo_provider.validation import TicketStatus

    assert ticket_status_sets(TicketStatus.COMPLETED, None) == (("COMPLETED",), ())
    assert ticket_status_sets(["in_progress", "COMPLETED"], "cancelled") == (
        ("IN_PROGRESS", "COMPLETED"),
        ("CANCELLED",),
    )


@pytest.mark.parametrize(
    ("status", "verdict"),
    [("COMPLETED", "success"), ("CANCELLED", "failure"), ("PENDING", "waiting"), ("ON_HOLD", "waiting")],
)
def test_verdict(status: str, verdict: str) -> None:
    result, message = ticket_verdict(ticket(status), ["COMPLETED"], ["CANCELLED"])
    assert result == verdict
    assert "T-00001" in message
    assert status in message


# --- run -----------------------------------------------------------------------------------------


def test_run_polls_until_a_target_status_then_yields_success(fake: FakePrimo) -> None:
    fake.script(
        httpx.Response(200, json=ticket("PENDING")),
        httpx.Response(200, json=ticket("IN_PROGRESS")),
        httpx.Response(200, json=ticket("COMPLETED", priority="HIGH")),
    )
    event = first_event(make())
    assert event.payload == {
        "status": "success",
        "ticket": ticket("COMPLETED", priority="HIGH"),
        "message": "Primo ticket T-00001 (id tkt_1) reached status COMPLETED",
    }
    assert [str(r.url) for r in fake.requests] == [f"{BASE}/tickets/tkt_1"] * 3
    assert fake.requests[0].headers["Authorization"] == "Bearer unit-test-key"
    assert len(fake.clients) == 1
    assert fake.clients[0].is_closed


def test_run_yields_failure_on_a_failure_status(fake: FakePrimo) -> None:
    fake.script(httpx.Response(200, json=ticket("PENDING")), httpx.Response(200, json=ticket("CANCELLED")))
    event = first_event(make())
    assert event.payload["status"] == "failure"
    assert event.payload["ticket"]["status"] == "CANCELLED"
    assert "is CANCELLED, one of failure_statuses (CANCELLED)" in event.payload["message"]
    assert fake.clients[0].is_closed


def test_run_yields_error_when_the_ticket_does_not_exist(fake: FakePrimo) -> None:
    fake.script(httpx.Response(404, json={"statusCode": 404, "message": "Ticket tkt_1 not found"}))
    event = first_event(make())
    assert event.payload["status"] == "error"
    assert event.payload["ticket"] is None
    assert "Could not read Primo ticket tkt_1" in event.payload["message"]
    assert "Ticket tkt_1 not found" in event.payload["message"]
    assert len(fake.requests) == 1  # a 404 is not retried
    assert fake.clients[0].is_closed


def test_run_yields_error_when_primo_stays_unreachable(fake: FakePrimo) -> None:
    fake.script(httpx.ConnectError("connection refused"))
    event = first_event(make())
    assert event.payload["status"] == "error"
    assert "could not connect" in event.payload["message"]
    assert len(fake.requests) == 2  # the hook retried once (max_retries=1) before giving up


def test_transient_errors_are_retried_inside_the_hook(fake: FakePrimo) -> None:
    fake.script(
        httpx.Response(503, headers={"Retry-After": "0"}, json={"message": "busy"}),
        httpx.Response(200, json=ticket("COMPLETED")),
    )
    event = first_event(make())
    assert event.payload["status"] == "success"
    assert len(fake.requests) == 2


def test_run_yields_error_on_an_unknown_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_PRIMO_MISSING", raising=False)
    event = first_event(make(primo_conn_id="primo_missing"))
    assert event.payload["status"] == "error"
    assert "primo_missing" in event.payload["message"]


def test_cancelled_run_closes_the_client_and_a_rebuilt_trigger_polls_again(fake: FakePrimo) -> None:
    """A triggerer restart: the running trigger is cancelled, then rebuilt from its kwargs."""
    fake.script(httpx.Response(200, json=ticket("PENDING")))
    original = make(poke_interval=30)

    async def cancelled_while_waiting() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(original.run().__anext__(), timeout=0.5)

    asyncio.run(cancelled_while_waiting())
    assert len(fake.requests) == 1
    assert fake.clients[0].is_closed

    fake.script(httpx.Response(200, json=ticket("COMPLETED")))
    _, kwargs = original.serialize()
    event = first_event(TicketStatusTrigger(**kwargs))
    assert event.payload["status"] == "success"
    assert len(fake.requests) == 2
    assert fake.clients[1].is_closed


def test_run_sleeps_poke_interval_between_reads(fake: FakePrimo, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    real_sleep: Callable[[float], Any] = asyncio.sleep

    async def recording_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr("primo_provider.triggers.tickets.asyncio.sleep", recording_sleep)
    fake.script(httpx.Response(200, json=ticket("PENDING")), httpx.Response(200, json=ticket("COMPLETED")))
    assert first_event(make(poke_interval=7)).payload["status"] == "success"
    assert sleeps == [7.0]
