"""What every internal HTTP API shares: the caller's identity, roles, safe
identifiers, problem-details errors, and health routes (the gateway-only guard
is common.internal_identity)."""

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.params import HeaderParameter
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin

Role = Literal["fan", "creator", "admin"]
ROLES: tuple[Role, ...] = ("fan", "creator", "admin")

CORRELATION_HEADER = "X-Correlation-Id"

log = logging.getLogger(__name__)

# Identifiers that end up in CSV exports, emails, logs and URL paths (user ids,
# offer ids): a letter or digit first (no CSV formula: = + - @), then only
# characters that need no escaping anywhere (no spaces, quotes, markup, newlines).
SAFE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_SAFE_ID = re.compile(SAFE_ID_PATTERN)


def is_safe_id(value: str) -> bool:
    return _SAFE_ID.fullmatch(value) is not None


# A client's Idempotency-Key: the gateway and the services it reaches accept the
# same keys, so a key the gateway let through is never refused behind it.
IDEMPOTENCY_HEADER = "Idempotency-Key"
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name=IDEMPOTENCY_HEADER, max_length=200,
                    description="The same key (and body) from the same user gives the same result: "
                                "a retried or double-clicked request acts once"),
]


@dataclass(frozen=True)
class Identity:
    """Who is calling, as verified by the gateway (common.internal_identity carries
    it to the services); `email` is the token's email claim, if any."""

    user_id: str
    role: Role
    email: str | None = None


def require_role(who: Identity, *roles: Role) -> None:
    if who.role not in roles:
        raise PermissionDeniedException(f"this action needs the role {' or '.join(roles)}")


def _as_problem(exc: HTTPException) -> ProblemDetailsException:
    # RFC 9457: `title` is the short summary of the problem type (here the status
    # phrase), `detail` the explanation of this occurrence.
    return ProblemDetailsException(
        status_code=exc.status_code,
        title=HTTPStatus(exc.status_code).phrase,
        detail=exc.detail,
        extra=exc.extra,
        headers=exc.headers,
    )


def _unhandled(exc: Exception) -> ProblemDetailsException:
    # Runs inside the correlation middleware, so the log line carries the
    # correlation id; the body says nothing of what went wrong inside.
    log.error("unhandled %s", type(exc).__name__, exc_info=exc)
    return ProblemDetailsException(
        status_code=500, title=HTTPStatus.INTERNAL_SERVER_ERROR.phrase,
        detail="the request could not be completed; it has been logged",
    )


def problem(status: int, title: str, detail: str, **extra: object) -> ProblemDetailsException:
    """An RFC 9457 answer for a route to raise; `extra` adds members (e.g. `reason`)."""
    return ProblemDetailsException(status_code=status, title=title, detail=detail, extra=extra or None)


def answered_as(status: int, title: str) -> Callable[[Request, Exception], Response[dict[str, Any]]]:
    """An exception handler answering a domain error as `status`, its message as the detail."""

    def handle(request: Request, error: Exception) -> Response[dict[str, Any]]:
        return problem(status, title, str(error)).to_response(request)

    return handle


def problem_details() -> ProblemDetailsPlugin:
    """Every HTTP error answers with an RFC 9457 body; an unexpected exception is
    logged with its traceback and answered as a bare 500 problem."""
    return ProblemDetailsPlugin(ProblemDetailsConfig(
        exception_to_problem_detail_map={HTTPException: _as_problem, Exception: _unhandled},
    ))


def health_routes(checks: dict[str, Callable[[], Awaitable[bool]]]) -> list:
    """`/health`: the process is alive. `/ready`: every dependency answers."""

    @get("/health", sync_to_thread=False, include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", include_in_schema=False)
    async def ready() -> Response[dict[str, object]]:
        results = {}
        for name, check in checks.items():
            try:
                results[name] = await check()
            except Exception:  # noqa: BLE001 - a failing check means "not ready"
                results[name] = False
        ok = all(results.values())
        return Response({"status": "ready" if ok else "unavailable", "checks": results},
                        status_code=200 if ok else 503)

    return [health, ready]
