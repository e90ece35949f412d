"""The identity the gateway vouches for, signed per forwarded request.

For every call it forwards, the gateway signs a short-lived token (HS256 with
CALLASTAR_INTERNAL_SIGNING_KEY) naming the one service it is for (`aud`), the
caller (`sub`, `role`, `email`) and an expiry a few seconds away. A service
accepts a call only with a token for itself, unexpired and correctly signed, and
takes who is calling from it alone: no header a caller could set stands for an
identity, and a token seen on its way to one service is worth nothing at another,
or a minute later.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

from common.http import ROLES, Identity

HEADER = "X-Callastar-Identity"
ISSUER = "callastar-gateway"
ALGORITHM = "HS256"
TTL_S = 30  # one forwarded call, with room for a slow downstream
LEEWAY_S = 5  # clock skew between the gateway's host and the service's
_STATE_KEY = "callastar_identity"


class UntrustedIdentity(Exception):
    """The identity token cannot be trusted; the message says why (safe to show)."""


def sign(who: Identity, audience: str, key: str, *, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {"iss": ISSUER, "aud": audience, "sub": who.user_id, "role": who.role, "iat": issued,
              "exp": issued + TTL_S}
    if who.email:
        claims["email"] = who.email
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(token: str, audience: str, key: str) -> Identity:
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=audience, issuer=ISSUER,
                            leeway=LEEWAY_S, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise UntrustedIdentity("identity expired") from exc
    except jwt.PyJWTError as exc:
        raise UntrustedIdentity(f"identity not trusted: {exc}") from exc
    role, email = claims.get("role"), claims.get("email")
    if not isinstance(claims["sub"], str) or not claims["sub"] or role not in ROLES:
        raise UntrustedIdentity("identity not trusted: no subject or an unknown role")
    return Identity(user_id=claims["sub"], role=role, email=email if isinstance(email, str) and email else None)


def gateway_only(audience: str, key: str) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
    """A guard for a service's internal routes: the call carries an identity the
    gateway signed for this service (`audience`) and it is kept for `identity`.
    An empty key is no key: anyone could sign with it."""
    if not key:
        raise ValueError("the internal signing key is empty: internal APIs would be open to anyone")

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        token = connection.headers.get(HEADER, "")
        if not token:
            raise NotAuthorizedException("internal API: no identity signed by the gateway")
        try:
            connection.state[_STATE_KEY] = verify(token, audience, key)
        except UntrustedIdentity as exc:
            raise NotAuthorizedException(f"internal API: {exc}") from exc

    return guard


def identity(request: Request) -> Identity:
    """The caller the gateway vouches for (a dependency for route handlers)."""
    who = request.state.get(_STATE_KEY)
    if who is None:
        raise NotAuthorizedException("no verified identity on this request")
    return who
