"""Errors as the public API answers them: RFC 9457 problem details."""

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, Literal

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"

# The problem types the API answers. Only "about:blank" so far: the status says
# what went wrong, `detail` says why, and `reason` or `code` name a cause a client
# may act on. A new type URI is added here first (the contract test refuses others).
PROBLEM_TYPES = ("about:blank",)


class FieldIssue(BaseModel):
    """One offending value of a 400: where it was and what is wrong with it."""

    model_config = ConfigDict(example={"key": "price_minor", "source": "body",
                                       "message": "Value error, must be an integer number of minor units"})

    key: str | None = Field(default=None, description="The field, as `a.b[0].c`, or the parameter's name")
    source: str | None = Field(default=None, description="body, query, header or path")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem detail (`application/problem+json`)."""

    model_config = ConfigDict(example={"type": "about:blank", "status": 400, "title": "Bad Request", "detail": "Validation failed for POST /api/offers",
         "extra": [{"key": "price_minor", "source": "body", "message": "Input should be a valid integer"}]})

    type: Literal[PROBLEM_TYPES] = Field(  # type: ignore[valid-type]
        default="about:blank", description="The problem type; absent means about:blank")
    status: int = Field(description="The HTTP status code")
    title: str = Field(description="A short summary of the problem type")
    detail: str | None = Field(default=None, description="What went wrong this time, for people")
    instance: str | None = None
    extra: list[FieldIssue] | None = Field(default=None, description="400: each offending field")
    reason: str | None = Field(default=None, description="Payouts: a machine-readable cause, e.g. debt_above_threshold")
    code: str | None = Field(default=None, description="502: the error code Stripe answered")
    retryable: bool | None = Field(default=None, description="502 of a refund: whether asking again may succeed")
    refund: dict[str, Any] | None = Field(default=None, description="502 of a refund: the refund as recorded")


# What each status means on this API, when a route does not say more.
_MEANINGS = {
    400: "A malformed body or parameter, or a value no database can hold; `extra` names each field",
    401: "No bearer token, or one that is expired, badly signed or for another audience",
    403: "The caller's role may not do this (or it is the caller's own offer)",
    404: "No such object, or not one the caller may see",
    409: "The object's state forbids it (already decided, disabled, Idempotency-Key reused)",
    413: "The body is larger than the gateway accepts",
    415: "The body is not sent as Content-Type: application/json",
    422: "Well-formed, but refused by the rules (amounts, currencies, debt, separation of duties)",
    429: "Too many requests: see Retry-After",
    502: "Stripe refused or failed the call",
    503: "A service behind the gateway (or Kafka) is unavailable; retry later",
}


def _example(status: int, detail: str) -> Example:
    phrase = HTTPStatus(status).phrase
    return Example(summary=phrase, value={"type": "about:blank", "status": status, "title": phrase, "detail": detail})


def problems(*statuses: int, meanings: dict[int, str] | None = None) -> dict[int, ResponseSpec]:
    """The `responses=` of a route: each status answered as a Problem."""
    meanings = {**_MEANINGS, **(meanings or {})}
    return {status: ResponseSpec(Problem, description=meanings[status], media_type=PROBLEM_JSON,
                                 generate_examples=False, examples=[_example(status, meanings[status])])
            for status in statuses}


def api_problems(*statuses: int, body: bool = False, meanings: dict[int, str] | None = None,
                 public: bool = False) -> dict[int, ResponseSpec]:
    """What any /api route may answer besides its own statuses: validation (400),
    authentication (401, unless public), rate limits (429), a service away (503),
    and for routes that take a body 413 and 415."""
    common: Iterable[int] = (400, *(() if public else (401,)), 429, 503, *((413, 415) if body else ()))
    return problems(*sorted({*common, *statuses}), meanings=meanings)
