"""Argument checks and normalisation, mirroring Primo's published API schema.

Pure functions with no I/O, shared by the hooks, operators, sensor and notifier. Each one raises
``TypeError`` or ``ValueError`` whose message starts with the name of the offending argument, so a bad
value fails before any request is sent and the message says which argument to fix.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum, StrEnum
from typing import Any, TypeVar


class Priority(StrEnum):
    """Ticket priorities accepted by Primo."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class TicketStatus(StrEnum):
    """Ticket statuses accepted by Primo."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class SortBy(StrEnum):
    """Fields ``GET /tickets`` can sort by."""

    STATUS = "status"
    PRIORITY = "priority"
    REFERENCE = "reference"
    TITLE = "title"
    TASKS_COUNT = "tasksCount"


class SortDirection(StrEnum):
    """Sort directions of ``GET /tickets``."""

    ASC = "ASC"
    DESC = "DESC"


E = TypeVar("E", bound=Enum)


def enum_value(name: str, value: Any, enum: type[E], *, case_sensitive: bool = False) -> str:
    """Return the API spelling of ``value``, a member of ``enum`` or its name in any case."""
    if isinstance(value, enum):
        return str(value.value)
    allowed = [str(member.value) for member in enum]
    if isinstance(value, str):
        wanted = value.strip()
        for option in allowed:
            if wanted == option or (not case_sensitive and wanted.casefold() == option.casefold()):
                return option
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    raise TypeError(f"{name}: expected one of {', '.join(allowed)} as a string, got {type(value).__name__}")


def optional_enum_value(name: str, value: Any, enum: type[E]) -> str | None:
    """Like :func:`enum_value`, but ``None`` (and an empty rendered template) stays ``None``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return enum_value(name, value, enum)


def required_text(name: str, value: Any) -> str:
    """Return ``value`` stripped; it must be a string with at least one non-space character."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a non-empty string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ValueError(f"{name}: must not be empty or whitespace only")
    return text


def optional_text(name: str, value: Any) -> str | None:
    """Return ``value`` unchanged if it is a string, ``None`` if it is ``None``."""
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{name}: expected a string or None, got {type(value).__name__}")


def optional_id(name: str, value: Any) -> str | None:
    """An optional identifier: ``None`` or an empty rendered template mean "not given"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return required_text(name, value)


def due_date(name: str, value: Any) -> str | None:
    """Normalise a due date to the UTC form Primo's schema requires (``YYYY-MM-DDTHH:MM:SSZ``).

    Accepted: an aware ``datetime`` (pendulum's included), converted to UTC; a naive ``datetime``, taken
    as UTC; a ``date``, taken as midnight UTC of that day; an ISO-8601 string with any UTC offset
    (``Z``, ``+02:00``), or without one (taken as UTC), or a bare date. Sub-second precision, when present,
    is kept as a decimal fraction (``...:SS.5Z``), which the schema's pattern allows, so the value always
    denotes the same instant. ``None`` or an empty string means no due date.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed: dt.date = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{name}: {value!r} is not a valid ISO-8601 date or datetime "
                "(for example 2024-05-01 or 2024-05-01T17:00:00+02:00)"
            ) from None
        value = parsed
    if isinstance(value, dt.datetime):
        moment = (
            value
            if value.tzinfo is not None and value.utcoffset() is not None
            else value.replace(tzinfo=dt.UTC)
        )
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    else:
        raise TypeError(
            f"{name}: expected a datetime, a date or an ISO-8601 string, got {type(value).__name__}"
        )
    try:
        utc = moment.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"{name}: {value!r} is out of the supported range of dates") from None
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if len(text) != 19:  # years before 1000 are not zero-padded on every platform
        text = f"{utc.year:04d}" + text[text.index("-") :]
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"
