"""Property tests of due-date normalisation against the pattern Primo's schema publishes."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from primo_provider.validation import due_date

# Copied literally from primo-openapi.json:
# components.schemas.CreateTicketBody.properties.dueDate.anyOf[0].pattern
SPEC_DATE_TIME = re.compile(
    r"^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z))$",
    re.ASCII,
)

FOURTEEN_HOURS = 14 * 3600

offsets = st.integers(-FOURTEEN_HOURS, FOURTEEN_HOURS).map(lambda s: dt.timezone(dt.timedelta(seconds=s)))
aware_datetimes = st.datetimes(
    min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999), timezones=offsets
)
dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def in_utc_range(moment: dt.datetime) -> bool:
    try:
        moment.astimezone(dt.UTC)
    except OverflowError:
        return False
    return True


def check(value: object, instant: dt.datetime) -> None:
    result = due_date("due_date", value)
    assert result is not None
    assert SPEC_DATE_TIME.match(result), result
    parsed = dt.datetime.fromisoformat(result)
    assert parsed.utcoffset() == dt.timedelta(0)
    assert parsed == instant


@PROPERTY
@given(aware_datetimes)
@example(dt.datetime(1, 1, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=14))))
@example(dt.datetime(9999, 12, 31, 9, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-14))))
@example(dt.datetime(2000, 2, 29, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-1))))
@example(dt.datetime(1900, 3, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))))
@example(dt.datetime(999, 12, 31, 23, 59, 59, 10, tzinfo=dt.UTC))
def test_any_aware_datetime_becomes_the_same_instant_in_the_spec_format(moment):
    if not in_utc_range(moment):
        with pytest.raises(ValueError, match=r"^due_date: .* is out of the supported range"):
            due_date("due_date", moment)
        return
    check(moment, moment)


@PROPERTY
@given(aware_datetimes)
def test_iso_strings_of_aware_datetimes_become_the_same_instant(moment):
    text = moment.isoformat()
    if not in_utc_range(moment):
        with pytest.raises(ValueError, match=r"^due_date: "):
            due_date("due_date", text)
        return
    check(text, moment)
    check(f"  {text}\n", moment)
    if moment.utcoffset() == dt.timedelta(0):
        check(text.replace("+00:00", "Z"), moment)


@PROPERTY
@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999)))
def test_naive_datetimes_and_their_strings_are_taken_as_utc(moment):
    check(moment, moment.replace(tzinfo=dt.UTC))
    check(moment.isoformat(), moment.replace(tzinfo=dt.UTC))


@PROPERTY
@given(dates)
@example(dt.date(2000, 2, 29))
@example(dt.date(1600, 2, 29))
@example(dt.date(4, 2, 29))
def test_dates_and_their_strings_become_midnight_utc(day):
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    check(day, midnight)
    check(day.isoformat(), midnight)


def test_the_pattern_is_the_spec_one():
    """The copied pattern still rejects what Primo's schema rejects (guards against a bad copy)."""
    assert SPEC_DATE_TIME.match("2024-02-29T10:00:00Z")
    assert SPEC_DATE_TIME.match("2024-05-01T10:00:00.5Z")
    for bad in ("2023-02-29T10:00:00Z", "2024-05-01T10:00:00+02:00", "2024-05-01", "2024-13-01T00:00:00Z"):
        assert not SPEC_DATE_TIME.match(bad), bad
