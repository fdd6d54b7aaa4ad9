"""Helpers for the sandbox tests: schema assertions and a small authenticated client."""

from __future__ import annotations

from typing import Any

import requests
from jsonschema import Draft202012Validator

from primo_provider.sandbox import PrimoSandbox
from primo_provider.schemas import load_schema


def assert_valid(schema: str, instance: Any) -> None:
    """Assert ``instance`` validates against the carried schema ``schema`` (all errors listed)."""
    errors = [e.message for e in Draft202012Validator(load_schema(schema)).iter_errors(instance)]
    assert not errors, f"{schema}: {errors}"


class Client:
    """A tiny authenticated client for the sandbox (keep-alive session, JSON helpers)."""

    def __init__(self, sandbox: PrimoSandbox, api_key: str | None = None) -> None:
        self.base = sandbox.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key or sandbox.api_key}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=kwargs.pop("timeout", 5), **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, json=json, timeout=kwargs.pop("timeout", 5), **kwargs)

    def create(self, **body: Any) -> dict[str, Any]:
        body.setdefault("title", "Nightly load failed")
        response = self.post("/tickets", body)
        assert response.status_code == 201, response.text
        return response.json()

    def close(self) -> None:
        self.session.close()
