"""The state file: written atomically after each mutation, loaded at start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from primo_provider.sandbox import PrimoSandbox

from .helpers import Client, assert_valid


def test_state_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state" / "primo.json"
    with PrimoSandbox(state_file=path, employees=3) as sandbox:
        assert json.loads(path.read_text())["tickets"] == []  # written at start
        client = Client(sandbox)
        first = client.create(title="first", priority="LOW")
        client.post(f"/tickets/{first['id']}/comments", {"text": "noted"})
        second = client.create(title="second")
        client.post(f"/tickets/{second['id']}/status", {"status": "COMPLETED"})
        client.close()
        saved = json.loads(path.read_text())
        assert saved == sandbox.state()
        assert saved["ticketSequence"] == 2
        assert [t["id"] for t in saved["tickets"]] == [first["id"], second["id"]]
        assert saved["tickets"][0]["comments"][0]["text"] == "noted"
        assert saved["tickets"][1]["status"] == "COMPLETED"
        for ticket in saved["tickets"]:
            assert_valid("ticket", ticket)
        employees = sandbox.employees()
    assert sorted(p.name for p in path.parent.iterdir()) == ["primo.json"]  # no temp files left behind

    # A new sandbox (with other employee settings) resumes from the file, references continue.
    with PrimoSandbox(state_file=path, employees=20) as resumed:
        assert resumed.employees() == employees
        assert [t["id"] for t in resumed.tickets()] == [first["id"], second["id"]]
        client = Client(resumed)
        assert client.get(f"/tickets/{first['id']}").json()["comments"][0]["text"] == "noted"
        assert client.create(title="third")["reference"] == "T-00003"
        client.close()
        resumed.reset()
    assert json.loads(path.read_text())["tickets"] == []


def test_invalid_state_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "primo.json"
    path.write_text(
        json.dumps({"version": 1, "ticketSequence": 1, "tickets": [{"id": "x"}], "employees": []})
    )
    with pytest.raises(ValueError, match="invalid state"):
        PrimoSandbox(state_file=path).start()
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match="unsupported state file version"):
        PrimoSandbox(state_file=path).start()
