"""The carried JSON schemas: loadable, valid, faithful to the spec's constraints."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from primo_provider.schemas import DATE_TIME_PATTERN, SCHEMA_NAMES, load_schema

BODY_SCHEMAS = [name for name in SCHEMA_NAMES if name.endswith("_body")]


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if "pattern" in node else []
        return found + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert load_schema(f"{name}.json") == schema


def test_load_schema_returns_independent_copies() -> None:
    first = load_schema("ticket")
    first["required"].clear()
    assert "id" in load_schema("ticket")["required"]


def test_unknown_schema_name_raises() -> None:
    with pytest.raises(KeyError):
        load_schema("tickets")


@pytest.mark.parametrize("name", BODY_SCHEMAS)
def test_request_bodies_reject_unknown_keys(name: str) -> None:
    assert load_schema(name)["additionalProperties"] is False


def test_date_time_pattern_is_the_one_in_every_schema() -> None:
    found = {p for name in SCHEMA_NAMES for p in _patterns(load_schema(name))}
    assert found == {DATE_TIME_PATTERN}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-01-31T17:00:00Z", True),
        ("2026-01-31T17:00:00.123Z", True),
        ("2026-01-31T17:00Z", True),
        ("2028-02-29T00:00:00Z", True),
        ("2000-02-29T00:00:00Z", True),
        ("2027-02-29T00:00:00Z", False),
        ("1900-02-29T00:00:00Z", False),
        ("2026-04-31T00:00:00Z", False),
        ("2026-01-31T17:00:00+00:00", False),
        ("2026-01-31 17:00:00Z", False),
        ("2026-01-31", False),
    ],
)
def test_date_time_pattern(value: str, ok: bool) -> None:
    assert bool(re.search(DATE_TIME_PATTERN, value)) is ok


def test_ticket_schema_matches_the_spec_shape() -> None:
    ticket = load_schema("ticket")
    assert ticket["required"] == [
        "id",
        "reference",
        "title",
        "status",
        "priority",
        "assignee",
        "dueDate",
        "createdAt",
        "updatedAt",
        "description",
        "comments",
    ]
    assert ticket["additionalProperties"] is False
    assert ticket["properties"]["status"]["enum"] == ["PENDING", "IN_PROGRESS", "COMPLETED", "CANCELLED"]
    listed = load_schema("ticket_list")["properties"]["data"]["items"]
    assert set(ticket["required"]) - set(listed["required"]) == {"description", "comments"}
    create = load_schema("create_ticket_body")
    assert create["required"] == ["title"]
    assert create["properties"]["title"]["minLength"] == 1
