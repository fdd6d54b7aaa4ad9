"""The API key never leaks: not in errors (message, repr, traceback), not in reprs, not in logs."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest
import requests

from primo_provider.exceptions import PrimoError
from primo_provider.hooks.primo import PrimoHook

from .helpers import SENTINEL_KEY, page, ticket, url

SCENARIOS: dict[str, Callable[[Any], None]] = {
    "success": lambda http: http.post(url("/tickets"), json=ticket(), status_code=201),
    "401": lambda http: http.post(url("/tickets"), status_code=401, json={"message": "Invalid API key"}),
    "500-with-retries": lambda http: (
        http.post(url("/tickets"), status_code=500, text="<html><title>Internal error</title></html>"),
        http.get(url("/tickets"), json=page([])),
    ),
    "connection-error": lambda http: (
        http.post(url("/tickets"), exc=requests.exceptions.ConnectionError("Connection reset by peer")),
        http.get(url("/tickets"), exc=requests.exceptions.ConnectTimeout("connect timeout")),
    ),
    "read-timeout": lambda http: (
        http.post(url("/tickets"), exc=requests.exceptions.ReadTimeout),
        http.get(url("/tickets"), json=page([])),
    ),
    "bad-success-body": lambda http: (
        http.post(url("/tickets"), text="<html>login page</html>"),
        http.get(url("/tickets"), json=page([])),
    ),
}


def assert_no_key(text: str) -> None:
    assert SENTINEL_KEY not in text
    assert SENTINEL_KEY.lower() not in text.lower()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_key_never_appears_in_errors_reprs_or_logs(hook, http, logs, capsys, scenario):
    SCENARIOS[scenario](http)

    try:
        hook.create_ticket("Disk full", description="free some space")
    except PrimoError as error:
        assert_no_key(str(error))
        assert_no_key(repr(error))
        assert_no_key("".join(traceback.format_exception(error)))
        assert_no_key(repr(vars(error)))
    else:
        assert scenario == "success"

    assert http.call_count >= 1
    assert http.request_history[0].headers["Authorization"] == f"Bearer {SENTINEL_KEY}"  # the key was used
    assert_no_key(repr(hook.connection_params))
    assert_no_key(str(hook.connection_params))
    assert_no_key(repr(hook))
    assert_no_key(logs.text)
    out, err = capsys.readouterr()
    assert_no_key(out + err)


def test_retries_log_without_the_key(hook, http, logs):
    SCENARIOS["500-with-retries"](http)

    with pytest.raises(PrimoError):
        hook.create_ticket("Disk full")

    assert len([m for m in logs.messages("warning") if "retry" in m]) == 3  # the test saw the retries
    assert_no_key(logs.text)


def test_connection_config_errors_do_not_echo_the_key(primo_conn, http):
    hook = PrimoHook(primo_conn_id=primo_conn(extra={"apikey": SENTINEL_KEY, "timeout": "x"}))

    with pytest.raises(PrimoError) as raised:
        hook.get_ticket("tkt-1")

    assert "apikey" in str(raised.value)
    assert_no_key(str(raised.value))
    assert http.call_count == 0
