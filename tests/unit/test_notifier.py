"""PrimoNotifier: contexts from real DAG runs (``dag.test()`` in-process), Primo mocked with requests-mock.

Runs on Airflow 2.11 and 3.x. The DAG run that supplies the contexts takes a few seconds and happens once
per module.
"""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import importlib.util
import json
import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests_mock as rm
from airflow import __version__ as AIRFLOW_VERSION

from primo_provider.notifications import incidents
from primo_provider.notifications.primo import (
    MAX_FINGERPRINT,
    TRACEBACK_CHARS,
    TRACEBACK_LINES,
    Event,
    PrimoNotifier,
    marker,
    send_primo_notification,
)

AIRFLOW_3 = int(AIRFLOW_VERSION.split(".")[0]) >= 3
BASE = "https://primo.test"
DAG_ID = "notifier_unit"
MARK = f"[airflow:{DAG_ID}.boom]"


# --- real callback contexts --------------------------------------------------------------------------


DAG_FILE = f"""
from __future__ import annotations

import datetime as dt

from airflow.providers.common.compat.sdk import DAG, task

from primo_provider.notifications.primo import Event

CAPTURED = {{}}


def capture(label):
    def callback(context):
        CAPTURED[label] = context
        CAPTURED[label + ":event"] = Event.from_context(context)

    return callback


with DAG(
    "{DAG_ID}",
    schedule=None,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    on_failure_callback=capture("dag_failure"),
) as dag:

    @task(
        retries=1,
        retry_delay=dt.timedelta(0),
        on_retry_callback=capture("task_retry"),
        on_failure_callback=capture("task_failure"),
    )
    def boom():
        raise ValueError("the input file is empty\\nsecond line of the message")

    @task(on_success_callback=capture("task_success"))
    def ok():
        return 1

    boom()
    ok()
"""


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Contexts Airflow passed to real task and DAG callbacks in one ``dag.test()`` run.

    ``boom`` fails on its first try (retry callback), then for good (failure callback); ``ok`` succeeds;
    the run fails (DAG failure callback, which on Airflow 3.3 carries a ``SerializedDAG``). Airflow 3
    finds the DAG by parsing its DAGs folder, so the DAG lives in a file there.
    """
    from airflow import settings

    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True, capture_output=True
    )
    folder = tmp_path_factory.mktemp("dags")
    (folder / f"{DAG_ID}.py").write_text(DAG_FILE)
    spec = importlib.util.spec_from_file_location(DAG_ID, folder / f"{DAG_ID}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "DAGS_FOLDER", str(folder))
        module.dag.test()
    missing = {"task_retry", "task_failure", "task_success", "dag_failure"} - set(module.CAPTURED)
    assert not missing, f"callbacks not called: {missing}"
    return module.CAPTURED


@pytest.fixture(autouse=True)
def primo_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PRIMO_DEFAULT",
        json.dumps(
            {"conn_type": "primo", "host": BASE, "password": "unit-test-key", "extra": {"max_retries": 0}}
        ),
    )


# --- a small scripted Primo --------------------------------------------------------------------------


def ticket(number: int, title: str = f"{MARK} boom failed", *, status: str = "PENDING") -> dict[str, Any]:
    """A ticket as Primo returns it; a higher number is a newer ticket."""
    return {
        "id": f"tkt_{number}",
        "reference": f"T-{number:05d}",
        "title": title,
        "status": status,
        "priority": None,
        "assignee": None,
        "dueDate": None,
        "createdAt": f"2020-01-01T00:00:{number:02d}.000Z",
        "updatedAt": f"2020-01-01T00:00:{number:02d}.000Z",
        "description": None,
        "comments": [],
    }


class Primo:
    """Answers ``GET /tickets`` from scripted listings (one per lookup) and records every write."""

    def __init__(
        self, mock: rm.Mocker, *listings: list[dict[str, Any]], created: dict[str, Any] | None = None
    ):
        self.listings = list(listings)
        self.lookups = 0
        self.created = created or ticket(9)
        self.writes: list[tuple[str, Any]] = []
        mock.post(rm.ANY, json=self._write, status_code=201)  # later registrations take precedence
        mock.post(f"{BASE}/tickets", json=self._create, status_code=201)
        mock.get(f"{BASE}/tickets", json=self._list)

    def _list(self, request: Any, context: Any) -> dict[str, Any]:
        query = {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}
        listing = self.listings[min(self.lookups, len(self.listings) - 1)] if self.listings else []
        assert "status" not in query  # one search; the notifier checks the status itself
        self.lookups += 1
        return {"data": listing, "pagination": {"totalPages": 1, "totalElements": len(listing)}}

    def _create(self, request: Any, context: Any) -> dict[str, Any]:
        self.writes.append(("create", request.json()))
        return {
            **self.created,
            "title": request.json()["title"],
            "description": request.json().get("description"),
        }

    def _write(self, request: Any, context: Any) -> dict[str, Any]:
        ticket_id, what = urlsplit(request.url).path.split("/")[2:4]
        body = request.json()
        self.writes.append((f"{what} {ticket_id}", body.get("text") or body.get("status")))
        if what == "comments":
            return {"id": "cmt_1", "text": body["text"], "createdAt": "2026-01-01T00:01:00.000Z"}
        return {**ticket(int(ticket_id[4:])), "status": body["status"]}

    def actions(self) -> list[str]:
        return [what for what, _ in self.writes]


def notify(notifier: PrimoNotifier, context: Any) -> None:
    """Call the notifier the way Airflow does (render, then notify)."""
    notifier(context)


# --- construction ------------------------------------------------------------------------------------


def test_alias() -> None:
    assert send_primo_notification is PrimoNotifier


def test_construction_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network used at construction")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.delenv("AIRFLOW_CONN_PRIMO_DEFAULT")  # reading the connection would fail
    notifier = PrimoNotifier(title="{{ dag.dag_id }} broke", priority="high", primo_conn_id="nowhere")
    assert "hook" not in notifier.__dict__
    assert "async_hook" not in notifier.__dict__


def test_module_imports_no_http_client_nor_hook() -> None:
    source = Path(sys.modules[PrimoNotifier.__module__].__file__).read_text()
    top_level = [node for node in ast.parse(source).body if isinstance(node, ast.Import | ast.ImportFrom)]
    names = [alias.name for node in top_level for alias in node.names] + [
        node.module for node in top_level if isinstance(node, ast.ImportFrom)
    ]
    assert not [name for name in names if name and name.split(".")[0] in ("requests", "httpx")]
    assert not [name for name in names if name and "hooks" in name]
    # Airflow itself may import an HTTP client; the module must add none, nor the hook.
    code = (
        "import sys; from airflow.providers.common.compat.sdk import BaseNotifier; before = set(sys.modules)\n"
        "import primo_provider.notifications.primo\n"
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in ('requests', 'httpx')"
        " or m.startswith('primo_provider.hooks')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"


def test_hooks_are_cached_properties() -> None:
    from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook

    notifier = PrimoNotifier(primo_conn_id="my_primo")
    assert isinstance(notifier.hook, PrimoHook) and notifier.hook is notifier.hook
    assert isinstance(notifier.async_hook, PrimoAsyncHook) and notifier.async_hook is notifier.async_hook
    assert notifier.hook.primo_conn_id == "my_primo"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"action": "close"}, "action"),
        ({"priority": "urgent"}, "priority"),
        ({"due_date": "next tuesday"}, "due_date"),
        ({"fingerprint": "[ ]"}, "fingerprint"),
        ({"assignee_employee_id": 42}, "assignee_employee_id"),
        ({"title": 3}, "title"),
        ({"primo_conn_id": ""}, "primo_conn_id"),
    ],
)
def test_bad_literal_arguments_fail_at_construction(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises((TypeError, ValueError), match=f"^{name}:"):
        PrimoNotifier(**kwargs)


def test_templates_are_checked_after_rendering_not_at_construction() -> None:
    PrimoNotifier(priority="{{ params.priority }}", due_date="{{ ds }}", fingerprint="{{ dag.dag_id }}")


# --- markers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fingerprint", "expected"),
    [
        ("sales.load", "[airflow:sales.load]"),
        ("group.task-1:v2", "[airflow:group.task-1:v2]"),
        ("my dag]/load [x]", "[airflow:my_dag_load_x]"),
        ("  weird\n\tname  ", "[airflow:weird_name]"),
        ("é-accent", "[airflow:-accent]"),
        ("x" * 500, f"[airflow:{'x' * MAX_FINGERPRINT}]"),
    ],
)
def test_marker_sanitises_the_fingerprint(fingerprint: str, expected: str) -> None:
    assert marker(fingerprint) == expected


def test_marker_check_is_exact() -> None:
    mark = marker("d.t")
    assert incidents.carries({"title": "[airflow:d.t] broke"}, mark)
    assert not incidents.carries({"title": "[airflow:d.t2] broke"}, mark)
    assert not incidents.carries({"title": "[AIRFLOW:D.T] broke"}, mark)


def test_survivor_order_is_created_at_then_reference_then_id() -> None:
    same = "2026-01-01T00:00:00.000Z"
    tickets = [
        {"id": "b", "reference": "T-00010", "createdAt": same},
        {"id": "a", "reference": "T-00010", "createdAt": same},
        {"id": "c", "reference": "T-00009", "createdAt": same},
        {"id": "d", "reference": "T-00100", "createdAt": "2025-12-31T23:59:59.999Z"},
        {"id": "e", "reference": "T-00001", "createdAt": "not a date"},
    ]
    assert [t["id"] for t in sorted(tickets, key=incidents.age_key)] == ["d", "c", "a", "b", "e"]


# --- default title and description from real contexts ----------------------------------------------


def test_default_title_and_description_of_a_task_failure(contexts: dict[str, Any]) -> None:
    event: Event = contexts["task_failure:event"]
    assert event.title() == f"Airflow task boom in DAG {DAG_ID} failed"
    assert event.default_fingerprint() == f"{DAG_ID}.boom"
    text = event.description()
    run_id = contexts["task_failure"]["run_id"]
    for expected in (
        f"**Airflow task boom in DAG {DAG_ID} failed.**",
        f"- **DAG:** `{DAG_ID}`",
        "- **Task:** `boom`",
        f"- **Run:** `{run_id}`",
        "- **Logical date:** ",
        "- **Try:** 2 of 2",
        "- **Host:** `",
        "- **Log:** http",
        "**Error:** `ValueError: the input file is empty`",
        "second line of the message",
        "raise ValueError(",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert "^^^" not in text


def test_default_title_of_a_retry_and_a_success(contexts: dict[str, Any]) -> None:
    assert (
        contexts["task_retry:event"].title()
        == f"Airflow task boom in DAG {DAG_ID} failed and will be retried"
    )
    assert "- **Try:** 1 of 2" in contexts["task_retry:event"].description()
    success: Event = contexts["task_success:event"]
    assert success.default_fingerprint() == f"{DAG_ID}.ok"
    assert success.recovery_note().startswith(
        f"**Recovered:** Airflow task ok in DAG {DAG_ID} succeeded in run `"
    )


def test_default_title_and_description_of_a_dag_failure(contexts: dict[str, Any]) -> None:
    event: Event = contexts["dag_failure:event"]
    assert event.dag_level
    assert event.title() == f"Airflow DAG {DAG_ID} failed"
    assert event.default_fingerprint() == DAG_ID
    text = event.description()
    assert "- **Last task:** `" in text  # the task Airflow reports with the run: 3.x the failed one
    assert "- **Reason:** `task_failure`" in text


def test_logical_date_may_be_missing() -> None:
    event = Event.from_context(
        {"dag": SimpleNamespace(dag_id="d"), "run_id": "manual__1", "logical_date": None}
    )
    assert "- **Logical date:** none (manual run)" in event.description()


def test_sla_context() -> None:
    """Airflow 2's sla_miss_callback calls notifier(dag, task_list, blocking_task_list, slas, blocking_tis)."""
    dag = SimpleNamespace(dag_id="sales", render_template_as_native_obj=False)
    event = Event.from_context(
        {"dag": dag, "task_list": "load on 2024-01-01", "slas": [], "blocking_tis": []}
    )
    assert event.title() == "Airflow DAG sales missed its SLA"
    assert event.default_fingerprint() == "sales"
    assert "Logical date" not in event.description()


def test_deadline_context() -> None:
    """Airflow 3.1+ deadline callbacks get a small context: a dag_run dict and the deadline."""
    context = {
        "dag_run": {
            "dag_id": "sales",
            "dag_run_id": "scheduled__2026",
            "logical_date": "2026-01-01T00:00:00Z",
        },
        "deadline": {"id": "1", "deadline_time": "2026-01-01T01:00:00Z"},
    }
    event = Event.from_context(context)
    assert event.title() == "Airflow DAG sales missed its deadline"
    assert event.default_fingerprint() == "sales"
    assert "- **Run:** `scheduled__2026`" in event.description()
    assert "- **Deadline:** 2026-01-01T01:00:00Z" in event.description()


def test_traceback_is_bounded() -> None:
    def recurse(depth: int) -> None:
        if depth == 0:
            raise RuntimeError("disk full; " * 500)
        recurse(depth - 1)

    try:
        recurse(60)
    except RuntimeError as error:
        text = Event(dag_id="d", dag_level=False, happened="failed", task_id="t", error=error).description()
    block = text.split("```text\n", 1)[1].rsplit("\n```", 1)[0]
    assert len(block) <= TRACEBACK_CHARS + 1
    assert len(block.splitlines()) <= TRACEBACK_LINES
    assert (
        "**Error:** `RuntimeError: disk full; disk full" in text
        and len(text.split("**Error:**")[1].splitlines()[0]) < 400
    )


# --- open: create, comment, converge --------------------------------------------------------------


def test_first_failure_creates_a_ticket_with_the_marker(contexts: dict[str, Any]) -> None:
    with rm.Mocker() as mock:
        primo = Primo(mock, [], [])
        notify(PrimoNotifier(priority="high"), contexts["task_failure"])
    assert primo.actions() == ["create"]
    body = primo.writes[0][1]
    assert body["title"] == f"{MARK} Airflow task boom in DAG {DAG_ID} failed"
    assert body["priority"] == "HIGH"
    assert "ValueError: the input file is empty" in body["description"]
    lookups = [parse_qs(urlsplit(r.url).query) for r in mock.request_history if r.method == "GET"]
    assert lookups == [{"searchTerm": [MARK], "page": ["1"], "perPage": ["100"]}] * 2


def test_a_failure_joins_the_open_ticket(contexts: dict[str, Any]) -> None:
    other = ticket(3, f"[airflow:{DAG_ID}.boom2] other task")  # search hits that do not carry the marker
    with rm.Mocker() as mock:
        primo = Primo(mock, [other, ticket(7, status="IN_PROGRESS")])
        notify(PrimoNotifier(), contexts["task_failure"])
    assert primo.actions() == ["comments tkt_7"]
    comment = primo.writes[0][1]
    assert comment.startswith("**New occurrence**")
    assert contexts["task_failure"]["run_id"] in comment


def test_templated_fields_are_rendered(contexts: dict[str, Any]) -> None:
    notifier = PrimoNotifier(
        title="{{ ti.task_id }} broke in {{ dag.dag_id }}",
        description="see {{ run_id }}",
        priority="{{ 'low' }}",
        due_date="{{ ds }}",
        fingerprint="{{ dag.dag_id }}/custom",
    )
    with rm.Mocker() as mock:
        primo = Primo(mock, [])
        notify(notifier, contexts["task_failure"])
    body = primo.writes[0][1]
    assert body["title"] == f"[airflow:{DAG_ID}_custom] boom broke in {DAG_ID}"
    assert body["description"] == f"see {contexts['task_failure']['run_id']}"
    assert body["priority"] == "LOW"
    assert body["dueDate"].endswith("T00:00:00Z")


def test_a_shared_instance_renders_each_context_afresh(contexts: dict[str, Any]) -> None:
    notifier = PrimoNotifier(fingerprint="{{ ti.task_id }}")
    with rm.Mocker() as mock:
        primo = Primo(mock, [])
        notify(notifier, contexts["task_failure"])
        notify(notifier, contexts["task_success"])
    titles = [body["title"] for what, body in primo.writes if what == "create"]
    assert [title.split("]")[0] for title in titles] == ["[airflow:boom", "[airflow:ok"]


def test_concurrent_creation_converges_on_the_oldest(contexts: dict[str, Any]) -> None:
    """We created T-00009, but T-00008 was created first by a concurrent notifier: ours is cancelled."""
    with rm.Mocker() as mock:
        primo = Primo(mock, [], [ticket(8), ticket(9)], created=ticket(9))
        notify(PrimoNotifier(), contexts["task_failure"])
    assert primo.actions() == ["create", "comments tkt_8", "comments tkt_9", "status tkt_9"]
    assert primo.writes[1][1].startswith("**New occurrence**")
    assert "First filed as T-00009, cancelled as a duplicate" in primo.writes[1][1]
    assert primo.writes[2:] == [("comments tkt_9", "Duplicate of T-00008"), ("status tkt_9", "CANCELLED")]


def test_the_survivor_leaves_newer_duplicates_to_their_creators(contexts: dict[str, Any]) -> None:
    """Ours (T-00009) is the oldest: T-00010 and T-00011 are cancelled by whoever created them."""
    with rm.Mocker() as mock:
        primo = Primo(mock, [], [ticket(10), ticket(11, status="IN_PROGRESS")], created=ticket(9))
        notify(PrimoNotifier(), contexts["task_failure"])
    assert primo.actions() == ["create"]


def test_abandoned_duplicates_found_open_are_cancelled(contexts: dict[str, Any]) -> None:
    """Old duplicates still open were left by a notifier that failed half-way."""
    with rm.Mocker() as mock:
        primo = Primo(mock, [ticket(5), ticket(4)])
        notify(PrimoNotifier(), contexts["task_failure"])
    assert primo.actions() == ["comments tkt_4", "comments tkt_5", "status tkt_5"]
    assert primo.writes[1][1] == "Duplicate of T-00004"


def test_recent_duplicates_found_open_are_left_to_their_creators(contexts: dict[str, Any]) -> None:
    recent = {**ticket(5), "createdAt": dt.datetime.now(dt.UTC).isoformat()}
    with rm.Mocker() as mock:
        primo = Primo(mock, [recent, ticket(4)])
        notify(PrimoNotifier(), contexts["task_failure"])
    assert primo.actions() == ["comments tkt_4"]


# --- resolve -----------------------------------------------------------------------------------------


def test_resolve_completes_every_open_ticket(contexts: dict[str, Any]) -> None:
    with rm.Mocker() as mock:
        primo = Primo(mock, [ticket(2), ticket(3, status="IN_PROGRESS")])
        notify(PrimoNotifier(action="resolve", fingerprint=f"{DAG_ID}.boom"), contexts["task_success"])
    assert primo.actions() == ["comments tkt_2", "status tkt_2", "comments tkt_3", "status tkt_3"]
    run_id = contexts["task_success"]["run_id"]
    assert primo.writes[0][1].startswith("**Recovered:**") and run_id in primo.writes[0][1]
    assert primo.writes[1][1] == "COMPLETED"


def test_resolve_with_nothing_open_does_nothing(contexts: dict[str, Any]) -> None:
    with rm.Mocker() as mock:
        primo = Primo(mock, [])
        notify(PrimoNotifier(action="resolve"), contexts["task_success"])
    assert primo.writes == []
    assert [r.method for r in mock.request_history] == ["GET"]  # one search for the marker


# --- failures never escape ----------------------------------------------------------------------------


def _errors(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    """What was logged at error level (stdlib logging on 2.x, structlog's output on 3.x)."""
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    captured = capsys.readouterr()
    return "\n".join(logged) + captured.out + captured.err


def test_failing_primo_is_logged_not_raised(
    contexts: dict[str, Any], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with rm.Mocker() as mock:
        mock.get(f"{BASE}/tickets", status_code=503, json={"message": "Primo is down"})
        notify(PrimoNotifier(), contexts["task_failure"])
    assert mock.call_count == 1
    errors = _errors(caplog, capsys)
    assert "could not notify Primo" in errors and "503" in errors


def test_bad_rendered_value_is_logged_before_any_request(
    contexts: dict[str, Any], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with rm.Mocker() as mock:
        notify(PrimoNotifier(priority="{{ 'urgent' }}"), contexts["task_failure"])
        notify(PrimoNotifier(title="{{ no_such_variable.attribute }}"), contexts["task_failure"])
    assert mock.call_count == 0
    errors = _errors(caplog, capsys)
    assert "priority: 'urgent' is not one of LOW, MEDIUM, HIGH" in errors
    assert "title: could not render" in errors


def test_missing_connection_is_logged(
    contexts: dict[str, Any], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    notify(PrimoNotifier(primo_conn_id="no_such_connection"), contexts["task_failure"])
    assert "no_such_connection" in _errors(caplog, capsys)


# --- the SerializedDAG of Airflow 3.3's `dags test` (apache/airflow#64649) ------------------------------


def test_dag_callback_renders_without_the_dags_template_env(contexts: dict[str, Any]) -> None:
    context = contexts["dag_failure"]
    if AIRFLOW_3:
        dag = context["dag"]
        assert not hasattr(dag, "get_template_env"), "expected the SerializedDAG of apache/airflow#64649"
    else:  # Airflow 2.11 always passes the DAG; stand in an object without a template env
        dag = SimpleNamespace(dag_id=DAG_ID, render_template_as_native_obj=False)
        context = {"dag": dag, "ti": context["ti"], "run_id": context["run_id"], "reason": context["reason"]}
    with rm.Mocker() as mock:
        primo = Primo(mock, [])
        notify(PrimoNotifier(title="{{ dag.dag_id }} failed: {{ reason }}"), context)
    assert primo.writes[0][1]["title"] == f"[airflow:{DAG_ID}] {DAG_ID} failed: task_failure"


# --- async -----------------------------------------------------------------------------------------------


class AsyncPrimo:
    """httpx.MockTransport handler: nothing open, so a ticket is created."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"data": [], "pagination": {"totalPages": 0}})
        return httpx.Response(201, json={**ticket(1), "title": json.loads(request.content)["title"]})


def _with_transport(notifier: PrimoNotifier, handler: AsyncPrimo) -> PrimoNotifier:
    notifier.async_hook.__dict__["async_client"] = httpx.AsyncClient(
        base_url=BASE, transport=httpx.MockTransport(handler)
    )
    return notifier


def test_async_notify(contexts: dict[str, Any]) -> None:
    handler = AsyncPrimo()
    notifier = _with_transport(PrimoNotifier(), handler)
    notifier.render_template_fields(contexts["task_failure"])
    asyncio.run(notifier.async_notify(contexts["task_failure"]))
    assert [(r.method, r.url.path) for r in handler.requests] == [
        ("GET", "/tickets"),
        ("POST", "/tickets"),
        ("GET", "/tickets"),
    ]
    assert json.loads(handler.requests[1].content)["title"].startswith(MARK)
    assert "async_client" not in notifier.async_hook.__dict__  # closed after use


@pytest.mark.skipif(not AIRFLOW_3, reason="deadline callbacks (awaiting a notifier) are Airflow 3.1+")
def test_awaited_like_a_deadline_callback() -> None:
    """The triggerer builds ``PrimoNotifier(**kwargs, context=...)`` and awaits it."""
    handler = AsyncPrimo()
    context = {
        "dag_run": {"dag_id": "sales", "dag_run_id": "scheduled__1"},
        "deadline": {"id": "1", "deadline_time": "2026-01-01T01:00:00Z"},
    }
    notifier = _with_transport(
        PrimoNotifier(description="late: {{ dag_run.dag_run_id }}", context=context), handler
    )

    async def run() -> None:
        await notifier

    asyncio.run(run())
    body = json.loads(handler.requests[1].content)
    assert body["title"] == "[airflow:sales] Airflow DAG sales missed its deadline"
    assert body["description"] == "late: scheduled__1"


def test_async_failure_is_logged_not_raised(
    contexts: dict[str, Any], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    notifier = PrimoNotifier()
    notifier.async_hook.__dict__["async_client"] = httpx.AsyncClient(
        base_url=BASE,
        transport=httpx.MockTransport(lambda request: httpx.Response(401, json={"message": "bad key"})),
    )
    asyncio.run(notifier.async_notify(contexts["task_failure"]))
    assert "bad key" in _errors(caplog, capsys)
