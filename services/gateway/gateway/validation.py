"""What the gateway refuses before forwarding a request: a body that is not
JSON-typed, a header it passes on that no HTTP header can carry, and any value
the services' databases cannot hold, named by field.

The services validate meaning (amounts, currencies, ids); this is the floor
under every route at once: PostgreSQL's text cannot hold a NUL character, UTF-8
cannot encode a lone surrogate, and every integer column is a BIGINT. Such a
value would otherwise reach a service and fail there as a 500.
"""

import json
import math
import re
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, HTTPException, ValidationException

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 32  # no body of the API nests anywhere near this
_INTEGER = re.compile(r"[+-]?\d+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The caller's headers some routes pass on to a service (see the routes'
# `forward` calls): an outgoing header holds printable ASCII only.
FORWARDED_HEADERS = ("Accept", "Idempotency-Key")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")


class UnsupportedMediaType(HTTPException):
    status_code = 415


def _why_unstorable_text(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character, which cannot be stored"
    if _SURROGATE.search(value):
        return "contains a lone surrogate, which is not UTF-8"
    return None


def _why_unstorable(value: Any) -> str | None:
    if isinstance(value, str):
        return _why_unstorable_text(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return f"is out of range (a 64-bit integer: {INT64_MIN} to {INT64_MAX})"
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    return None


def _refuse(field: str, source: str, why: str) -> ValidationException:
    return ValidationException(f"{field} {why}", extra=[{"key": field, "source": source, "message": why}])


def check_json(value: Any) -> None:
    """Raise a 400 naming the first field (as `a.b[0].c`) whose value, or name,
    cannot be stored; walks iteratively, so depth cannot exhaust the stack."""
    pending: list[tuple[str, Any, int]] = [("", value, 0)]  # "": the body itself
    while pending:
        field, item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise _refuse(field, "body", f"nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                name = f"{field}.{key}" if field else key
                if why := _why_unstorable_text(key):
                    raise _refuse(name, "body", f"(the name) {why}")
                pending.append((name, child, depth + 1))
        elif isinstance(item, list):
            pending.extend((f"{field}[{i}]", child, depth + 1) for i, child in enumerate(item))
        elif why := _why_unstorable(item):
            raise _refuse(field or "body", "body", why)


def check_query(params: list[tuple[str, str]]) -> None:
    """Query parameters are forwarded as sent; the same floor applies to them."""
    for name, value in params:
        if why := _why_unstorable_text(name) or _why_unstorable_text(value):
            raise _refuse(name, "query", why)
        if _INTEGER.fullmatch(value) and not INT64_MIN <= int(value) <= INT64_MAX:
            raise _refuse(name, "query", f"is out of range (a 64-bit integer: {INT64_MIN} to {INT64_MAX})")


def check_headers(request: Request) -> None:
    for name in FORWARDED_HEADERS:
        for value in request.headers.getall(name, []):
            if not _HEADER_VALUE.fullmatch(value):
                raise _refuse(name, "header", "holds characters other than printable ASCII")


# Route option: the handler reads no body, so whatever a client sends with it is not checked.
READS_NO_BODY = "reads_no_body"


def is_json(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/")
                                                 and media_type.endswith("+json"))


async def check_request(request: Request) -> None:
    """A `before_request` hook for the API: runs before the handler decodes
    anything, and the body it reads is the one the handler gets."""
    check_query(list(request.query_params.multi_items()))
    check_headers(request)
    if request.route_handler.opt.get(READS_NO_BODY):
        return  # e.g. RFC 8058's one-click unsubscribe: a form body nobody reads
    if request.method not in _BODY_METHODS or not (raw := await request.body()):
        return
    if not is_json(request.headers.get("Content-Type", "")):
        raise UnsupportedMediaType("the body must be JSON, sent as Content-Type: application/json")
    try:
        # The standard parser, not the handler's: it reads a lone surrogate
        # (valid JSON text) and lets the check name its field.
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ClientException("the body is not valid JSON") from exc
    check_json(body)
