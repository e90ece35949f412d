"""Internal HTTP to the services: one pooled client per service, carrying the
verified identity (signed for that service, common.internal_identity) and the correlation id, and relaying the
service's answer as is."""

import itertools
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx
from litestar import Response
from litestar.exceptions import NotFoundException, ServiceUnavailableException
from litestar.response import Stream

from common import logs, tracing
from common import internal_identity
from common.http import CORRELATION_HEADER, Identity, is_safe_id
from gateway.settings import Settings

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# A raw query string passes the caller's filters on as sent (repeats, order).
QueryParams = Mapping[str, str] | str


def path_segment(value: str) -> str:
    """An id put into a downstream path: a safe id has no "/", no dot-segment
    (it starts with a letter or digit) and nothing to escape."""
    if not is_safe_id(value):
        raise NotFoundException("no such resource")
    return value


# Answer headers that mean something to the caller. Not the rest: server, date,
# the length of a body we may re-frame, or a Location in the internal API's paths.
# The content type goes as a header, as is: as a media type Litestar would add a
# second "; charset=" to a text/* one that already has it.
PASSED_HEADERS = ("content-type", "content-disposition", "retry-after")


def _passed_headers(upstream: httpx.Response) -> dict[str, str]:
    return {name: upstream.headers[name] for name in PASSED_HEADERS if name in upstream.headers}


async def _chunks(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_bytes():
            yield chunk
    finally:  # also when the caller hangs up mid-download
        await upstream.aclose()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ServiceClient:
    """Calls one service, spread over its instances: `base_urls` is a comma-separated list
    (CALLASTAR_GATEWAY_<SERVICE>_URL). Round robin, because every instance can answer any
    call (they share the database) and a sticky first-healthy choice would leave the
    others idle; a refused connection (an instance down: nothing was sent, so trying
    another is safe even for a POST) moves on to the next instance."""

    def __init__(self, name: str, base_urls: str, signing_key: str, timeout_s: float) -> None:
        self.name = name
        self._signing_key = signing_key
        self._instances = [httpx.AsyncClient(base_url=url.strip(), timeout=timeout_s)
                           for url in base_urls.split(",") if url.strip()]
        self._turn = itertools.count()

    def _in_turn(self) -> list[httpx.AsyncClient]:
        """Every instance once, starting with the next one in the rotation."""
        first = next(self._turn) % len(self._instances)
        return self._instances[first:] + self._instances[:first]

    async def _send(self, request_for: Callable[[httpx.AsyncClient], httpx.Request]) -> httpx.Response:
        candidates = self._in_turn()
        for instance in candidates[:-1]:
            try:
                return await instance.send(request_for(instance), stream=True)
            except httpx.ConnectError as exc:
                log.warning("%s instance %s refused the connection (%r); trying the next", self.name,
                            instance.base_url, exc)
        return await candidates[-1].send(request_for(candidates[-1]), stream=True)

    async def forward(
        self,
        method: str,
        path: str,
        who: Identity,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        accept: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """`headers`: the caller's headers the service must see too (e.g. Idempotency-Key);
        the identity (signed for this service alone) and correlation headers are always ours."""
        headers = {**(headers or {}),
                   internal_identity.HEADER: internal_identity.sign(who, self.name, self._signing_key)}
        if correlation_id := logs.correlation_id.get():
            headers[CORRELATION_HEADER] = correlation_id
        headers.update(tracing.carrier() or {})  # the service's request span joins this trace
        if accept:
            headers["Accept"] = accept
        try:
            upstream = await self._send(
                lambda instance: instance.build_request(method, path, params=params, json=json, headers=headers))
            content_type = upstream.headers.get("content-type", "")
            if upstream.is_error or not content_type or "json" in content_type:
                try:
                    await upstream.aread()
                finally:
                    await upstream.aclose()
                return self._relay(upstream)
        except httpx.TransportError as exc:  # refused, reset, timed out
            log.warning("%s service unreachable: %r", self.name, exc)
            raise ServiceUnavailableException(f"the {self.name} service is unavailable") from exc
        # An export (CSV) can be long: relayed chunk by chunk, never held whole here.
        return Stream(_chunks(upstream), status_code=upstream.status_code, headers=_passed_headers(upstream))

    def _relay(self, upstream: httpx.Response) -> Response:
        content_type = upstream.headers.get("content-type", "")
        if upstream.is_error and "json" not in content_type:
            # A crash page or a proxy's HTML: keep the status, never leak the body.
            status = upstream.status_code
            problem = {"status": status, "title": _phrase(status),
                       "detail": f"the {self.name} service answered {status}"}
            return Response(problem, status_code=status, media_type=PROBLEM_JSON)
        return Response(upstream.content, status_code=upstream.status_code, headers=_passed_headers(upstream))

    async def healthy(self) -> bool:
        """Some instance answers."""
        for instance in self._instances:
            try:
                if (await instance.get("/health")).status_code == 200:
                    return True
            except httpx.TransportError:
                continue
        return False

    async def aclose(self) -> None:
        for instance in self._instances:
            await instance.aclose()


@dataclass(frozen=True)
class Services:
    payments: ServiceClient
    ledger: ServiceClient
    payouts: ServiceClient
    notifications: ServiceClient

    @classmethod
    def from_settings(cls, settings: Settings) -> "Services":
        def client(name: str, url: str) -> ServiceClient:
            return ServiceClient(name, url, settings.internal_signing_key, settings.downstream_timeout_s)

        return cls(
            payments=client("payments", settings.payments_url),
            ledger=client("ledger", settings.ledger_url),
            payouts=client("payouts", settings.payouts_url),
            notifications=client("notifications", settings.notifications_url),
        )

    def all(self) -> tuple[ServiceClient, ...]:
        return (self.payments, self.ledger, self.payouts, self.notifications)

    async def aclose(self) -> None:
        for service in self.all():
            await service.aclose()
