"""The API key stays out of reprs, errors and logs, in process (the DAG-level check is in
``tests/integration/test_secrets.py``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import redact

from primo_provider import api
from primo_provider.exceptions import PrimoError
from primo_provider.hooks.primo import PrimoAsyncHook, PrimoHook
from primo_provider.retries import RetryPolicy
from primo_provider.sandbox import PrimoSandbox

from .conftest import API_KEY, TIMEOUT


def test_the_key_is_registered_with_the_secrets_masker(hook: PrimoHook, sandbox: PrimoSandbox) -> None:
    hook.get_conn()  # reads the connection
    assert API_KEY not in str(redact(f"Authorization: Bearer {API_KEY}"))
    assert API_KEY not in str(redact({"headers": {"Authorization": f"Bearer {API_KEY}"}}))
    hook.create_ticket("Key in use")
    assert [r.status for r in sandbox.requests] == [201]  # positive control: the sandbox accepted the key


def test_reprs_hold_no_key(hook: PrimoHook, async_hook: PrimoAsyncHook) -> None:
    params = hook.connection_params
    assert params.api_key == API_KEY  # positive control: the key is there, just not shown
    shown = [repr(params), str(params), repr(hook), repr(async_hook), repr(api.create_ticket("t"))]
    assert all(API_KEY not in text for text in shown), shown


FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 401}),
    ("status", {"status": 403, "body": '{"message": "forbidden"}'}),
    ("status", {"status": 500, "times": None}),
    ("drop_before", {"times": None}),
    ("delay", {"seconds": TIMEOUT + 0.3, "after": True, "times": None}),
    ("body", {"body": "<html>oops</html>", "content_type": "text/html"}),
]


@pytest.mark.parametrize(("kind", "params"), FAULTS, ids=[f"{k}-{p.get('status', '')}" for k, p in FAULTS])
def test_errors_and_logs_hold_no_key(
    kind: str, params: dict[str, Any], make_hook, sandbox: PrimoSandbox, caplog
) -> None:
    hook = make_hook(max_retries=1)
    sandbox.add_fault("GET /tickets/{ticketId}", kind, **params)
    with pytest.raises(PrimoError) as raised:
        hook.get_ticket("tkt_0123456789abcdef01234567")
    texts = [str(raised.value), repr(raised.value), repr(raised.value.args), caplog.text]
    texts += [repr(vars(raised.value))]
    assert all(API_KEY not in text for text in texts)
    if kind == "delay":  # let the slow answers finish before the next test resets the sandbox
        while len(sandbox.requests) < 2:
            time.sleep(0.05)


def test_async_errors_hold_no_key(async_hook: PrimoAsyncHook, sandbox: PrimoSandbox, caplog) -> None:
    async_hook.retry_policy = RetryPolicy(max_retries=1, backoff_base=0.01)  # type: ignore[misc]
    sandbox.add_fault("GET /tickets/{ticketId}", "status", status=401)

    async def read() -> Any:
        try:
            return await async_hook.aget_ticket("tkt_0123456789abcdef01234567")
        finally:
            await async_hook.aclose()

    with pytest.raises(PrimoError) as raised:
        asyncio.run(read())
    assert API_KEY not in str(raised.value) + repr(raised.value) + caplog.text
