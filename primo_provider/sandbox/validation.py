"""Validation against the carried JSON schemas, with messages that name the offending field."""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance

from primo_provider.schemas import DATE_TIME_PATTERN, load_schema

__all__ = ["schema_errors", "validator_for"]

_TYPE_NAMES = {
    "string": "a string",
    "object": "an object",
    "array": "an array",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


@functools.cache
def validator_for(name: str) -> Draft202012Validator:
    """A (cached, thread-safe) validator for the carried schema ``name``."""
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(name: str, instance: Any, root: str = "body") -> list[str]:
    """Messages for every violation of schema ``name`` by ``instance``; empty when valid.

    Messages start with the field's path below ``root``, e.g. ``"body/priority must be one of LOW,
    MEDIUM, HIGH"``, ``"body has unknown property 'assignee_employee_id'"``, ``"body/title is required"``.
    """
    errors = sorted(
        validator_for(name).iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]
    )
    messages: list[str] = []
    for error in errors:
        for message in _describe(error, root):
            if message not in messages:
                messages.append(message)
    return messages


def _path(error: ValidationError, root: str) -> str:
    return "/".join([root, *(str(p) for p in error.absolute_path)])


def _describe(error: ValidationError, root: str) -> list[str]:
    """Human messages for one jsonschema error (``required``/``additionalProperties`` may give several)."""
    where = _path(error, root)
    kind = error.validator
    value = error.validator_value
    if kind == "required":
        return [f"{where}/{prop} is required" for prop in value if prop not in error.instance]
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        extra = [key for key in error.instance if key not in known]
        return [f"{where} has unknown property {key!r}" for key in extra]
    return [f"{where} {_requirement(error)}"]


def _requirement(error: ValidationError) -> str:
    """What the value at the error's path must be, e.g. ``"must be one of LOW, MEDIUM, HIGH"``."""
    kind = error.validator
    value = error.validator_value
    if kind == "anyOf":
        alternatives = [alt for alt in value if alt.get("type") != "null"]
        nullable = len(alternatives) < len(value)
        specific = [e for e in error.context or () if e.validator != "type"]
        if specific:
            text = _requirement(min(specific, key=relevance))
        else:
            names = [_TYPE_NAMES.get(str(alt.get("type")), str(alt.get("type"))) for alt in alternatives]
            text = "must be " + " or ".join(names)
        return f"{text} or null" if nullable else text
    if kind == "type":
        return f"must be {_TYPE_NAMES.get(str(value), str(value))}"
    if kind == "enum":
        return "must be one of " + ", ".join(str(v) for v in value)
    if kind == "const":
        return f"must be {value!r}"
    if kind == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters long"
    if kind == "maxLength":
        return f"must be at most {value} characters long"
    if kind == "pattern":
        if value == DATE_TIME_PATTERN:
            return "must be a UTC date-time like 2026-01-31T17:00:00.000Z (ending in Z)"
        return f"must match the pattern {value}"
    if kind == "minimum":
        return f"must be >= {value}"
    if kind == "maximum":
        return f"must be <= {value}"
    return error.message
