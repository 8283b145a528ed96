"""Validated request parameters: identifiers by pattern, tiers by name, dates as dates, time ranges in order.

Anything that fails is a 422 whose detail says which parameter and why. Patterns keep identifiers to
the characters real ids use, so quotes and query fragments stop here; stores still get every value as
a bound parameter (the second line of defence, never string-built queries).

Dates are exactly what the OpenAPI document says: a day is an RFC 3339 full-date (2025-01-02), an instant an
RFC 3339 date-time with its offset (2025-01-02T10:00:00Z) or a full-date (midnight UTC). Pydantic alone would
also take numbers (``to=0.5`` as 0.5 s after the epoch), which no client means as a date.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, NoReturn

from fastapi import HTTPException, Path, Query, status
from pydantic import BaseModel, BeforeValidator, WithJsonSchema

from ddss_platform.stores.documents import CITIZENS, load_schema

NATIONAL_ID_PATTERN = load_schema(CITIZENS)["properties"]["nationalID"]["pattern"]  # the documents' own rule
EVENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
REGION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$"

MAX_RANGE = timedelta(days=366)

_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)$")


def _full_date(value: Any) -> date:
    if isinstance(value, str) and _FULL_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}")


def _instant(value: Any) -> datetime:
    if isinstance(value, str) and _FULL_DATE.match(value):
        return datetime.combine(_full_date(value), datetime.min.time(), UTC)
    if isinstance(value, str) and _DATE_TIME.match(value):
        try:
            return datetime.fromisoformat(value.upper())
        except ValueError:
            pass
    raise ValueError(f"expected a date YYYY-MM-DD or a date-time with its offset (RFC 3339), got {value!r}")


Day = Annotated[date, BeforeValidator(_full_date)]
Instant = Annotated[
    datetime,
    BeforeValidator(_instant),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]}),
]


class FieldRefusal(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Unprocessable(BaseModel):
    """A 422's body, FastAPI's own validation errors and ``unprocessable`` alike."""

    detail: list[FieldRefusal]


def refused(description: str) -> dict:
    """The documented 422 of an operation whose rules go beyond its parameters' schemas."""
    return {422: {"model": Unprocessable, "description": description}}


RANGE_REFUSED = refused(
    f"A parameter is malformed, `from` is not before `to`, or the range is longer than {MAX_RANGE.days} days "
    "(the detail names the parameter)."
)


class TierName(StrEnum):
    EXEMPLARY = "Exemplary"
    STANDARD = "Standard"
    CAUTION = "Caution"
    HIGH_RISK = "HighRisk"


NationalID = Annotated[
    str, Path(alias="nationalID", pattern=NATIONAL_ID_PATTERN, description="The citizen's national ID.")
]
EventID = Annotated[str, Path(alias="eventId", pattern=EVENT_ID_PATTERN, description="The event's id.")]
Region = Annotated[str, Path(pattern=REGION_PATTERN, description="Region name, e.g. North.")]


def unprocessable(parameter: str, message: str, where: str = "query") -> NoReturn:
    """A 422 shaped like FastAPI's own validation errors."""
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": [where, parameter], "msg": message, "type": "value_error"}],
    )


def as_utc(moment: datetime) -> datetime:
    """Naive times are read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def epoch_ms(moment: datetime) -> int:
    return int(as_utc(moment).timestamp() * 1000)


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date  # inclusive


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime  # exclusive

    @property
    def start_ms(self) -> int:
        return epoch_ms(self.start)

    @property
    def end_ms(self) -> int:
        return epoch_ms(self.end)


def date_range(
    start: Annotated[
        Day | None, Query(alias="from", description="First day (YYYY-MM-DD); default 30 days before `to`.")
    ] = None,
    end: Annotated[
        Day | None, Query(alias="to", description="Last day, inclusive (YYYY-MM-DD); default today (UTC).")
    ] = None,
) -> DateRange:
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=30)
    if start > end:
        unprocessable("from", f"'from' ({start}) is after 'to' ({end})")
    if end - start > MAX_RANGE:
        unprocessable("to", f"the range is longer than {MAX_RANGE.days} days")
    return DateRange(start, end)


def time_range(default_span: timedelta):
    """A dependency reading ``from``/``to`` as instants; ``from`` defaults to ``default_span`` before ``to``."""

    def dependency(
        start: Annotated[
            Instant | None,
            Query(
                alias="from",
                description="Start: a date-time with its offset (2025-01-02T10:00:00Z) or a date (midnight UTC). "
                f"Default: {default_span} before `to`.",
            ),
        ] = None,
        end: Annotated[
            Instant | None, Query(alias="to", description="End, exclusive (like `from`). Default: now.")
        ] = None,
    ) -> TimeRange:
        end = as_utc(end) if end else datetime.now(UTC)
        start = as_utc(start) if start else end - default_span
        if start >= end:
            unprocessable("from", f"'from' ({start.isoformat()}) is not before 'to' ({end.isoformat()})")
        if end - start > MAX_RANGE:
            unprocessable("to", f"the range is longer than {MAX_RANGE.days} days")
        return TimeRange(start, end)

    return dependency
