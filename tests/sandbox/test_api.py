"""The sandbox's API: auth, shapes (validated against the carried schemas), validation, listing, updates."""

from __future__ import annotations

import http.client
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests

from primo_provider.sandbox import PrimoSandbox

from .helpers import Client, assert_valid

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# --------------------------------------------------------------------------- auth and plumbing


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "sandbox-api-key"},
        {"Authorization": "Basic x"},
    ],
)
def test_requests_without_the_api_key_get_401(sandbox: PrimoSandbox, headers: dict[str, str]) -> None:
    for method, path in [("GET", "/tickets"), ("POST", "/tickets"), ("GET", "/employees")]:
        response = requests.request(
            method, sandbox.url + path, headers=headers, json={"title": "x"}, timeout=5
        )
        assert response.status_code == 401
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json() == {"statusCode": 401, "message": "Unauthorized"}
    assert sandbox.tickets() == []


def test_bearer_scheme_is_case_insensitive(sandbox: PrimoSandbox) -> None:
    response = requests.get(
        sandbox.url + "/tickets", headers={"Authorization": f"bearer {sandbox.api_key}"}, timeout=5
    )
    assert response.status_code == 200


def test_headers_and_keep_alive(sandbox: PrimoSandbox) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    conn.request("GET", "/employees", headers=headers)
    first = conn.getresponse()
    body = first.read()
    sock = conn.sock
    assert first.version == 11
    assert first.getheader("Server", "").startswith("primo-sandbox/")
    assert first.getheader("Content-Type") == "application/json; charset=utf-8"
    assert int(first.getheader("Content-Length", "-1")) == len(body)
    for _ in range(3):
        conn.request("GET", "/tickets", headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        assert conn.sock is sock  # the same TCP connection served every request
    conn.close()


def test_unknown_path_is_404_and_wrong_method_405(client: Client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "Not Found"
    assert client.get("//tickets").status_code == 404
    response = client.session.delete(client.base + "/tickets")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert response.json() == {
        "statusCode": 405,
        "message": "Cannot DELETE /tickets; allowed: GET, POST",
        "error": "Method Not Allowed",
    }
    assert client.get("/tickets/").status_code == 200  # one trailing slash is tolerated, like Express


# --------------------------------------------------------------------------- create, get, list


def test_create_get_and_list_shapes(sandbox: PrimoSandbox, client: Client) -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    assignee = sandbox.employees()[1]["id"]
    created = client.create(
        title="Nightly load failed",
        description="dag=etl run=1",
        priority="HIGH",
        dueDate="2028-02-29T12:00:00Z",
        assigneeEmployeeId=assignee,
    )
    assert_valid("ticket", created)
    assert re.fullmatch(r"tkt_[0-9a-f]{24}", created["id"])
    assert created["reference"] == "T-00001"
    assert created["status"] == "PENDING"
    assert created["assignee"] == {"type": "EMPLOYEE", "employeeId": assignee}
    assert (created["priority"], created["dueDate"], created["description"]) == (
        "HIGH",
        "2028-02-29T12:00:00Z",
        "dag=etl run=1",
    )
    assert created["comments"] == []
    assert TIMESTAMP.match(created["createdAt"])
    assert created["createdAt"] == created["updatedAt"]
    assert before <= _parse(created["createdAt"]) <= datetime.now(UTC)

    minimal = client.create(title="Only a title")
    assert_valid("ticket", minimal)
    assert minimal["reference"] == "T-00002"
    assert (minimal["priority"], minimal["assignee"], minimal["dueDate"], minimal["description"]) == (
        None,
        None,
        None,
        None,
    )

    fetched = client.get(f"/tickets/{created['id']}")
    assert fetched.status_code == 200
    assert_valid("ticket", fetched.json())
    assert fetched.json() == created == sandbox.ticket(created["id"])

    listed = client.get("/tickets")
    assert listed.status_code == 200
    assert_valid("ticket_list", listed.json())
    assert [t["id"] for t in listed.json()["data"]] == [created["id"], minimal["id"]]
    assert "description" not in listed.json()["data"][0]
    assert listed.json()["pagination"] == {"totalElements": 2, "totalPages": 1, "page": 1, "perPage": 50}
    assert [t["id"] for t in sandbox.tickets()] == [created["id"], minimal["id"]]


def test_null_optionals_are_accepted(client: Client) -> None:
    ticket = client.create(title="t", description=None, priority=None, dueDate=None)
    assert_valid("ticket", ticket)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "t", "assignee_employee_id": "emp_x"}, "body has unknown property 'assignee_employee_id'"),
        ({"title": "t", "priority": "URGENT"}, "body/priority must be one of LOW, MEDIUM, HIGH or null"),
        ({"title": "t", "dueDate": "2026-01-31"}, "body/dueDate must be a UTC date-time"),
        ({"title": "t", "dueDate": "2027-02-29T00:00:00Z"}, "body/dueDate must be a UTC date-time"),
        ({"title": "t", "dueDate": "2026-01-31T12:00:00+01:00"}, "body/dueDate must be a UTC date-time"),
        ({"title": ""}, "body/title must not be empty"),
        ({"title": 3}, "body/title must be a string"),
        ({"description": "no title"}, "body/title is required"),
        ({"title": "t", "description": 5}, "body/description must be a string or null"),
        ({"title": "t", "assigneeEmployeeId": "emp_nobody"}, "body/assigneeEmployeeId must be the id of an"),
        (["not", "an", "object"], "body must be an object"),
    ],
)
def test_create_rejects_invalid_bodies_naming_the_field(
    sandbox: PrimoSandbox, client: Client, body: object, message: str
) -> None:
    response = client.post("/tickets", body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["statusCode"] == 400
    assert payload["error"] == "Bad Request"
    assert message in payload["message"]
    assert sandbox.tickets() == []


def test_all_violations_are_reported_at_once(client: Client) -> None:
    message = client.post("/tickets", {"title": "", "priority": "low", "extra": 1}).json()["message"]
    assert "body/title" in message
    assert "body/priority" in message
    assert "'extra'" in message


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b"{not json", "application/json", "body is not valid JSON"),
        (b'{"title": "t"', "application/json", "body is not valid JSON"),
        (b'{"title": NaN}', "application/json", "body is not valid JSON"),
        (b"", "application/json", "body is empty"),
        (b'{"title": "t"}', "text/plain", "Content-Type must be application/json"),
        (b"\xff\xfe", "application/json", "body is not valid JSON"),
    ],
)
def test_non_json_bodies_are_400(client: Client, data: bytes, content_type: str, message: str) -> None:
    response = client.session.post(
        client.base + "/tickets", data=data, headers={"Content-Type": content_type}, timeout=5
    )
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_unknown_ticket_and_employee_are_404(client: Client) -> None:
    for response in [
        client.get("/tickets/tkt_000000000000000000000000"),
        client.post("/tickets/tkt_000000000000000000000000/status", {"status": "COMPLETED"}),
        client.post("/tickets/tkt_000000000000000000000000/comments", {"text": "x"}),
        client.get("/employees/emp_000000000000000000000000"),
    ]:
        assert response.status_code == 404
        assert response.json()["error"] == "Not Found"
        assert "not found" in response.json()["message"]


# --------------------------------------------------------------------------- pagination, filters, sort


def test_employee_pagination_with_250_employees() -> None:
    with PrimoSandbox(employees=250) as sandbox:
        client = Client(sandbox)
        seen: list[str] = []
        for page in (1, 2, 3):
            response = client.get("/employees", params={"page": page, "perPage": 100})
            assert response.status_code == 200
            body = response.json()
            assert_valid("employee_list", body)
            assert body["pagination"] == {"totalElements": 250, "totalPages": 3, "page": page, "perPage": 100}
            assert len(body["data"]) == (50 if page == 3 else 100)
            seen += [e["id"] for e in body["data"]]
        assert seen == [e["id"] for e in sandbox.employees()]
        assert len(set(seen)) == 250
        assert len({e["email"] for e in sandbox.employees()}) == 250
        past_end = client.get("/employees", params={"page": 4, "perPage": 100}).json()
        assert past_end["data"] == []
        assert past_end["pagination"]["totalPages"] == 3
        default = client.get("/employees").json()
        assert len(default["data"]) == 50
        assert default["pagination"]["perPage"] == 50
        client.close()


def test_employee_endpoints(sandbox: PrimoSandbox, client: Client) -> None:
    employees = sandbox.employees()
    assert len(employees) == 5
    listed = client.get("/employees").json()
    assert_valid("employee_list", listed)
    assert listed["data"] == employees
    one = client.get(f"/employees/{employees[1]['id']}")
    assert one.status_code == 200
    assert_valid("employee", one.json())
    assert one.json()["email"] == "ada.lovelace@example.com"


def test_ticket_pagination(client: Client) -> None:
    ids = [client.create(title=f"t{i}")["id"] for i in range(7)]
    pages = [client.get("/tickets", params={"perPage": 3, "page": p}).json() for p in (1, 2, 3)]
    for body in pages:
        assert_valid("ticket_list", body)
        assert body["pagination"]["totalPages"] == 3
        assert body["pagination"]["totalElements"] == 7
    assert [t["id"] for body in pages for t in body["data"]] == ids


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"perPage": 101}, "query/perPage must be an integer from 1 to 100"),
        ({"perPage": 0}, "query/perPage"),
        ({"page": 0}, "query/page must be an integer from 1"),
        ({"page": "two"}, "query/page"),
        ({"page": "1.5"}, "query/page"),
        ({"status": "DONE"}, "query/status must be one of PENDING, IN_PROGRESS, COMPLETED, CANCELLED"),
        ({"priority": "low"}, "query/priority must be one of LOW, MEDIUM, HIGH"),
        (
            {"sortBy": "createdAt"},
            "query/sortBy must be one of status, priority, reference, title, tasksCount",
        ),
        ({"sortDirection": "asc"}, "query/sortDirection must be one of ASC, DESC"),
        ({"searchTerm": ""}, "query/searchTerm must not be empty"),
        ({"per_page": 10}, "query has unknown parameter 'per_page'"),
        ({"status": ["PENDING", "COMPLETED"]}, "query/status must be given once"),
    ],
)
def test_invalid_query_values_are_400_naming_the_parameter(client: Client, query: dict, message: str) -> None:
    response = client.get("/tickets", params=query)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_filters_search_and_sort(sandbox: PrimoSandbox, client: Client) -> None:
    ada, alan = sandbox.employees()[1]["id"], sandbox.employees()[2]["id"]
    t1 = client.create(title="Disk full on etl-1", priority="HIGH", assigneeEmployeeId=ada)
    t2 = client.create(title="Nightly LOAD failed", priority="LOW", assigneeEmployeeId=alan)
    t3 = client.create(title="load slow", assigneeEmployeeId=ada)
    t4 = client.create(title="Badge reader broken", priority="MEDIUM")
    client.post(f"/tickets/{t3['id']}/status", {"status": "IN_PROGRESS"})

    def ids(**query: object) -> list[str]:
        response = client.get("/tickets", params=query)
        assert response.status_code == 200, response.text
        assert_valid("ticket_list", response.json())
        return [t["id"] for t in response.json()["data"]]

    assert ids(status="IN_PROGRESS") == [t3["id"]]
    assert ids(status="PENDING") == [t1["id"], t2["id"], t4["id"]]
    assert ids(priority="HIGH") == [t1["id"]]
    assert ids(assigneeEmployeeId=ada) == [t1["id"], t3["id"]]
    assert ids(searchTerm="load") == [t2["id"], t3["id"]]  # case-insensitive substring of the title
    assert ids(searchTerm="t-0000") == [t1["id"], t2["id"], t3["id"], t4["id"]]  # ... or of the reference
    assert ids(searchTerm="T-00004") == [t4["id"]]
    assert ids(searchTerm="load", assigneeEmployeeId=ada) == [t3["id"]]  # filters combine with AND
    assert ids(searchTerm="load", status="COMPLETED") == []
    assert ids(sortBy="priority") == [t3["id"], t2["id"], t4["id"], t1["id"]]  # null < LOW < MEDIUM < HIGH
    assert ids(sortBy="priority", sortDirection="DESC") == [t1["id"], t4["id"], t2["id"], t3["id"]]
    assert ids(sortBy="title") == [t4["id"], t1["id"], t3["id"], t2["id"]]
    assert ids(sortBy="status") == [t1["id"], t2["id"], t4["id"], t3["id"]]
    assert ids(sortBy="reference", sortDirection="DESC") == [t4["id"], t3["id"], t2["id"], t1["id"]]
    assert ids(sortBy="tasksCount") == [t1["id"], t2["id"], t3["id"], t4["id"]]
    assert ids(sortDirection="DESC") == [t4["id"], t3["id"], t2["id"], t1["id"]]


# --------------------------------------------------------------------------- updates and comments


def test_status_assignee_priority_updates(sandbox: PrimoSandbox, client: Client) -> None:
    ticket = client.create(title="t")
    path = f"/tickets/{ticket['id']}"
    previous = ticket["updatedAt"]
    grace = sandbox.employees()[0]["id"]
    for suffix, body, key, expected in [
        ("/status", {"status": "IN_PROGRESS"}, "status", "IN_PROGRESS"),
        ("/status", {"status": "IN_PROGRESS"}, "status", "IN_PROGRESS"),
        ("/assignee", {"assigneeEmployeeId": grace}, "assignee", {"type": "EMPLOYEE", "employeeId": grace}),
        ("/priority", {"priority": "MEDIUM"}, "priority", "MEDIUM"),
        ("/priority", {"priority": None}, "priority", None),
        ("/status", {"status": "COMPLETED"}, "status", "COMPLETED"),
    ]:
        response = client.post(path + suffix, body)
        assert response.status_code == 201, response.text
        updated = response.json()
        assert_valid("ticket", updated)
        assert updated[key] == expected
        assert updated["updatedAt"] > previous  # changes on every update, even within one millisecond
        assert updated["createdAt"] == ticket["createdAt"]
        previous = updated["updatedAt"]
    assert sandbox.ticket(ticket["id"])["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("suffix", "body", "message"),
    [
        (
            "/status",
            {"status": "DONE"},
            "body/status must be one of PENDING, IN_PROGRESS, COMPLETED, CANCELLED",
        ),
        ("/status", {}, "body/status is required"),
        ("/status", {"status": "COMPLETED", "comment": "x"}, "body has unknown property 'comment'"),
        ("/assignee", {"assigneeEmployeeId": ""}, "body/assigneeEmployeeId must not be empty"),
        ("/assignee", {"assigneeEmployeeId": "emp_nobody"}, "body/assigneeEmployeeId must be the id of an"),
        ("/assignee", {"employeeId": "emp_x"}, "body/assigneeEmployeeId is required"),
        ("/priority", {}, "body/priority is required"),
        ("/priority", {"priority": "urgent"}, "body/priority must be one of LOW, MEDIUM, HIGH or null"),
        ("/comments", {"text": ""}, "body/text must not be empty"),
        ("/comments", {"body": "x"}, "body/text is required"),
    ],
)
def test_update_validation(
    sandbox: PrimoSandbox, client: Client, suffix: str, body: dict, message: str
) -> None:
    ticket = client.create(title="t")
    response = client.post(f"/tickets/{ticket['id']}{suffix}", body)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert sandbox.ticket(ticket["id"]) == ticket


def test_comments(sandbox: PrimoSandbox, client: Client) -> None:
    ticket = client.create(title="t")
    response = client.post(f"/tickets/{ticket['id']}/comments", {"text": "retry 2 of 3 failed"})
    assert response.status_code == 201
    comment = response.json()
    assert_valid("ticket_comment", comment)
    assert re.fullmatch(r"cmt_[0-9a-f]{24}", comment["id"])
    assert comment["creator"] == {"type": "API"}
    assert comment["text"] == "retry 2 of 3 failed"
    assert TIMESTAMP.match(comment["createdAt"])
    second = client.post(f"/tickets/{ticket['id']}/comments", {"text": "second"}).json()
    fetched = client.get(f"/tickets/{ticket['id']}").json()
    assert_valid("ticket", fetched)
    assert fetched["comments"] == [comment, second]
    assert fetched["updatedAt"] > ticket["updatedAt"]
    assert "comments" not in client.get("/tickets").json()["data"][0]


# --------------------------------------------------------------------------- Python API, concurrency


def test_python_state_access_request_log_and_reset(sandbox: PrimoSandbox, client: Client) -> None:
    ticket = client.create(title="t")
    client.get("/tickets", params={"status": "PENDING"})
    requests.get(sandbox.url + "/tickets", timeout=5)
    log = sandbox.requests
    assert [(r.method, r.path, r.status, r.fault) for r in log] == [
        ("POST", "/tickets", 201, None),
        ("GET", "/tickets", 200, None),
        ("GET", "/tickets", 401, None),
    ]
    assert log[0].body == {"title": "t"}
    assert log[0].endpoint == "POST /tickets"
    assert log[1].query == {"status": "PENDING"}
    assert all(isinstance(r.timestamp, float) for r in log)
    assert log[0].to_dict()["status"] == 201
    with pytest.raises(KeyError):
        sandbox.ticket("tkt_missing")
    sandbox.add_fault("POST /tickets", "status", status=503)
    sandbox.reset()
    assert sandbox.tickets() == []
    assert sandbox.requests == []
    assert sandbox.faults() == []
    assert len(sandbox.employees()) == 5
    assert client.create(title="after reset")["reference"] == "T-00001"
    assert ticket["id"] not in {t["id"] for t in sandbox.tickets()}


def test_fifty_concurrent_clients_neither_lose_nor_duplicate(sandbox: PrimoSandbox) -> None:
    errors: list[BaseException] = []
    created: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        client = Client(sandbox)
        try:
            for i in range(4):
                ticket = client.create(title=f"worker {n} ticket {i}")
                client.post(f"/tickets/{ticket['id']}/comments", {"text": "hello"}).raise_for_status()
                with lock:
                    created.append(ticket["id"])
            client.get("/tickets", params={"perPage": 100}).raise_for_status()
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    tickets = sandbox.tickets()
    assert len(tickets) == 200 == len(set(created))
    assert sorted(t["reference"] for t in tickets) == [f"T-{i:05d}" for i in range(1, 201)]
    assert all(len(t["comments"]) == 1 for t in tickets)


def test_custom_employees() -> None:
    with PrimoSandbox(
        employees=[
            {"email": "jane.doe@example.com", "firstName": "Jane", "lastName": "Doe", "teams": ["Ops"]}
        ]
    ) as sandbox:
        (jane,) = sandbox.employees()
        assert_valid("employee", jane)
        assert jane["teams"] == ["Ops"]
        assert re.fullmatch(r"emp_[0-9a-f]{24}", jane["id"])
    with PrimoSandbox(seed_employees=False) as sandbox:
        assert sandbox.employees() == []
    with pytest.raises(ValueError, match="lacks email"):
        PrimoSandbox(employees=[{"firstName": "No", "lastName": "Email"}])
    with pytest.raises(ValueError, match="unknown property 'nickname'"):
        PrimoSandbox(
            employees=[{"email": "a@example.com", "firstName": "A", "lastName": "B", "nickname": "x"}]
        )


def test_connection_forms(sandbox: PrimoSandbox) -> None:
    assert sandbox.url == f"http://127.0.0.1:{sandbox.port}"
    assert sandbox.connection_uri == f"primo://:sandbox-api-key@http%3A%2F%2F127.0.0.1%3A{sandbox.port}"
    assert sandbox.connection_json == (
        f'{{"conn_type": "primo", "host": "http://127.0.0.1:{sandbox.port}", "password": "sandbox-api-key"}}'
    )
    with PrimoSandbox(api_key="k/+ @:%") as other:
        assert other.connection_uri.startswith("primo://:k%2F%2B%20%40%3A%25@http%3A%2F%2F")
