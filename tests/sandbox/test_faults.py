"""Fault injection, in Python and over the HTTP control API."""

from __future__ import annotations

import time

import pytest
import requests

from primo_provider.sandbox import Fault, PrimoSandbox

from .helpers import Client, assert_valid

TITLE = {"title": "Nightly load failed"}


def test_status_fault_answers_without_processing(sandbox: PrimoSandbox, client: Client) -> None:
    sandbox.add_fault("POST /tickets", "status", status=429, retry_after=1, times=2)
    for _ in range(2):
        response = client.post("/tickets", TITLE)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"
        assert response.json()["statusCode"] == 429
        assert response.json()["error"] == "Too Many Requests"
    assert sandbox.tickets() == []
    assert client.post("/tickets", TITLE).status_code == 201
    assert len(sandbox.tickets()) == 1
    assert [(r.status, r.fault) for r in sandbox.requests] == [
        (429, "POST /tickets:status:times=2,status=429,retry_after=1"),
        (429, "POST /tickets:status:times=2,status=429,retry_after=1"),
        (201, None),
    ]
    assert sandbox.faults() == []


def test_status_fault_with_an_html_body(sandbox: PrimoSandbox, client: Client) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    sandbox.add_fault(Fault("GET /tickets", "status", status=502, body=page, content_type="text/html"))
    response = client.get("/tickets")
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert response.text == page


def test_status_after_processes_then_fails(sandbox: PrimoSandbox, client: Client) -> None:
    sandbox.add_fault("POST /tickets", "status_after", status=500)
    response = client.post("/tickets", TITLE)
    assert response.status_code == 500
    assert response.json()["statusCode"] == 500
    (ticket,) = sandbox.tickets()  # the ambiguous case: the ticket exists although the client saw a 500
    assert ticket["title"] == TITLE["title"]


def test_drop_before_closes_without_processing(sandbox: PrimoSandbox, client: Client) -> None:
    sandbox.add_fault("POST /tickets", "drop_before")
    with pytest.raises(requests.ConnectionError):
        client.post("/tickets", TITLE)
    assert sandbox.tickets() == []
    assert [(r.status, r.fault) for r in sandbox.requests] == [(None, "POST /tickets:drop_before:times=1")]
    assert client.post("/tickets", TITLE).status_code == 201  # the session recovers with a new connection


def test_drop_after_processes_then_closes(sandbox: PrimoSandbox, client: Client) -> None:
    sandbox.add_fault("POST /tickets", "drop_after")
    with pytest.raises(requests.ConnectionError):
        client.post("/tickets", TITLE)
    assert len(sandbox.tickets()) == 1  # created, though the client got a ConnectionError
    assert sandbox.requests[0].status is None


def test_delay_before_processing(sandbox: PrimoSandbox, client: Client) -> None:
    sandbox.add_fault("GET /tickets", "delay", seconds=0.3)
    started = time.monotonic()
    assert client.get("/tickets").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_delay_before_processing_outlasting_the_client_timeout_still_creates(
    sandbox: PrimoSandbox, client: Client
) -> None:
    sandbox.add_fault("POST /tickets", "delay", seconds=0.3)
    with pytest.raises(requests.ReadTimeout):
        client.post("/tickets", TITLE, timeout=0.1)
    time.sleep(0.35)
    assert len(sandbox.tickets()) == 1  # processed after the delay even though the client gave up


def test_delay_after_processing_outlasts_the_client_timeout(sandbox: PrimoSandbox, client: Client) -> None:
    sandbox.add_fault("POST /tickets", "delay", seconds=0.3, after=True)
    with pytest.raises(requests.ReadTimeout):
        client.post("/tickets", TITLE, timeout=0.15)
    assert len(sandbox.tickets()) == 1  # processed before the slow answer


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"id": "tkt_', "application/json"),
        ("", "application/json"),
        ("<html>maintenance</html>", "text/html"),
    ],
)
def test_body_fault_processes_then_answers_200_with_raw_body(
    sandbox: PrimoSandbox, client: Client, body: str, content_type: str
) -> None:
    sandbox.add_fault("POST /tickets", "body", body=body, content_type=content_type)
    response = client.post("/tickets", TITLE)
    assert response.status_code == 200
    assert response.text == body
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Length"] == str(len(body))
    assert len(sandbox.tickets()) == 1


def test_endpoint_matching(sandbox: PrimoSandbox, client: Client) -> None:
    one, two = client.create(title="one"), client.create(title="two")
    sandbox.add_fault("POST /tickets/{ticketId}/comments", "status", status=503, times=None)
    sandbox.add_fault(f"POST /tickets/{two['id']}/status", "status", status=504)
    assert client.post(f"/tickets/{one['id']}/comments", {"text": "x"}).status_code == 503
    assert client.post(f"/tickets/{two['id']}/comments", {"text": "x"}).status_code == 503  # forever
    assert client.post(f"/tickets/{one['id']}/status", {"status": "COMPLETED"}).status_code == 201
    assert client.post(f"/tickets/{two['id']}/status", {"status": "COMPLETED"}).status_code == 504
    assert client.get(f"/tickets/{one['id']}").status_code == 200
    assert sandbox.faults() == [
        {
            "endpoint": "POST /tickets/{ticketId}/comments",
            "kind": "status",
            "times": None,
            "status": 503,
            "remaining": None,
        }
    ]
    assert sandbox.clear_faults() == 1
    sandbox.add_fault("GET *", "status", status=500, times=2)
    sandbox.add_fault("*", "status", status=418)
    assert client.get("/employees").status_code == 500
    assert client.get("/nope").status_code == 500
    assert client.post("/tickets", TITLE).status_code == 418
    assert client.get("/employees").status_code == 200


def test_faults_apply_in_order_added(sandbox: PrimoSandbox, client: Client) -> None:
    sandbox.add_fault("POST /tickets", "status", status=502)
    sandbox.add_fault("*", "status", status=503)
    assert client.post("/tickets", TITLE).status_code == 502
    assert client.post("/tickets", TITLE).status_code == 503
    assert client.post("/tickets", TITLE).status_code == 201


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("POST /tickets", "explode")
    with pytest.raises(ValueError, match="not an API endpoint"):
        Fault("POST /ticket", "drop_before")
    with pytest.raises(ValueError, match="not an API endpoint"):
        Fault("GET /tickets/{ticketId}/status", "drop_before")
    with pytest.raises(ValueError, match="needs status"):
        Fault("POST /tickets", "status")
    with pytest.raises(ValueError, match="needs seconds"):
        Fault("POST /tickets", "delay")
    with pytest.raises(ValueError, match="do not apply"):
        Fault("POST /tickets", "drop_after", seconds=1)
    with pytest.raises(ValueError, match="unknown fault parameter"):
        Fault.from_dict({"endpoint": "*", "kind": "status", "status": 500, "retries": 2})
    assert Fault("post  /tickets", "drop_before").endpoint == "POST /tickets"


def test_fault_cli_form() -> None:
    fault = Fault.parse("POST /tickets:status:status=429,retry_after=1,times=2")
    assert fault == Fault("POST /tickets", "status", times=2, status=429, retry_after=1)
    assert Fault.parse("GET /tickets:delay:seconds=0.5,after=true,times=forever") == Fault(
        "GET /tickets", "delay", times=None, seconds=0.5, after=True
    )
    assert Fault.parse("*:drop_after") == Fault("*", "drop_after")
    body = Fault.parse("POST /tickets:body:content_type=text/html,body=<p>a, b: c</p>")
    assert (body.body, body.content_type, body.status) == ("<p>a, b: c</p>", "text/html", 200)
    assert Fault.parse(fault.describe()) == fault
    with pytest.raises(ValueError):
        Fault.parse("POST /tickets")
    with pytest.raises(ValueError):
        Fault.parse("POST /tickets:status:status")


def test_control_api(sandbox: PrimoSandbox, client: Client) -> None:
    control = sandbox.url + "/_sandbox"
    assert requests.get(control + "/health", timeout=5).json() == {"status": "ok"}
    response = requests.post(
        control + "/faults",
        json={"endpoint": "POST /tickets", "kind": "status", "status": 503, "retry_after": "2", "times": 1},
        timeout=5,
    )
    assert response.status_code == 201
    assert response.json()["faults"][0]["status"] == 503
    response = requests.post(control + "/faults", json=["POST /tickets:status_after:status=502"], timeout=5)
    assert response.status_code == 201
    assert [f["remaining"] for f in requests.get(control + "/faults", timeout=5).json()] == [1, 1]

    first = client.post("/tickets", TITLE)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "2")
    assert client.post("/tickets", TITLE).status_code == 502
    assert client.post("/tickets", TITLE).status_code == 201

    state = requests.get(control + "/state", timeout=5).json()
    assert len(state["tickets"]) == 2
    assert len(state["employees"]) == 5
    for ticket in state["tickets"]:
        assert_valid("ticket", ticket)
    log = requests.get(control + "/requests", timeout=5).json()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/tickets", s) for s in (503, 502, 201)
    ]
    assert log[0]["fault"].startswith("POST /tickets:status:")
    assert all(not r["path"].startswith("/_sandbox") for r in log)  # control requests are not logged

    bad = requests.post(control + "/faults", json={"endpoint": "POST /nope", "kind": "status"}, timeout=5)
    assert bad.status_code == 400
    assert "invalid fault" in bad.json()["message"]
    requests.post(
        control + "/faults", json={"endpoint": "*", "kind": "drop_before", "times": None}, timeout=5
    )
    assert requests.delete(control + "/faults", timeout=5).json() == {"cleared": 1}
    assert requests.post(control + "/reset", timeout=5).json() == {"status": "reset"}
    assert sandbox.tickets() == []
    assert sandbox.requests == []
    assert requests.get(control + "/nope", timeout=5).status_code == 404
    assert requests.get(control + "/reset", timeout=5).status_code == 405
