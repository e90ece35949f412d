"""Who is calling: HS256 JWT bearer tokens, verified on every /api request, and
the role guards route handlers declare."""

import re
import time
from collections.abc import Callable
from email.errors import HeaderParseError
from email.headerregistry import Address

import jwt
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from common.http import ROLES, Identity, Role, is_safe_id

ISSUER = "callastar"
AUDIENCE = "callastar-api"
ALGORITHM = "HS256"
LEEWAY_S = 10  # clock skew tolerated on exp/iat between the issuer and us
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="callastar-api"'}
DEFAULT_MAX_LIFETIME_S = 24 * 3600
# The subject goes on in a header and into the services' text columns: printable
# ASCII only (a non-ASCII or control character cannot go in an HTTP header).
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]{3,254}")


class InvalidToken(Exception):
    """The bearer token cannot be trusted; the message says why (safe to show)."""


def issue_token(subject: str, role: Role, secret: str, *, ttl_s: int = 3600) -> str:
    now = int(time.time())
    claims = {"sub": subject, "role": role, "iss": ISSUER, "aud": AUDIENCE, "iat": now,
              "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verified_email(claim: object) -> str | None:
    """The `email` claim as an address the services can store and mail to, or
    None when the token carries none. Anything `Address` cannot parse is refused."""
    if claim is None:
        return None
    if not isinstance(claim, str) or not _PRINTABLE_ASCII.fullmatch(claim):
        raise InvalidToken("invalid token: the email claim is not a printable ASCII address")
    try:
        address = Address(addr_spec=claim)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise InvalidToken("invalid token: the email claim is not an address") from exc
    if not address.username or not address.domain:
        raise InvalidToken("invalid token: the email claim is not an address")
    return address.addr_spec


def verify_token(token: str, secret: str, *, max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S) -> Identity:
    """The caller a token vouches for, its verified email included."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # never let the token choose (alg=none, RS/HS confusion)
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"invalid token: {exc}") from exc
    subject, role = claims.get("sub"), claims.get("role")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("invalid token: empty subject")
    if not is_safe_id(subject):
        # The subject becomes a creator or fan id in CSV exports, emails and logs.
        raise InvalidToken("invalid token: the subject must be 1-128 letters, digits or _.:- "
                           "(starting with a letter or digit)")
    if role not in ROLES:
        raise InvalidToken("invalid token: unknown role")
    issued, expires = claims["iat"], claims["exp"]
    # PyJWT compares int(claim), so it lets "123" through: only numbers here.
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in (issued, expires)):
        raise InvalidToken("invalid token: iat and exp must be numbers")
    # A stolen long-lived token is a long-lived breach: whatever the issuer wrote,
    # no token lives longer than this.
    if expires - issued > max_lifetime_s:
        raise InvalidToken(f"invalid token: it lives longer than {max_lifetime_s} s")
    email = verified_email(claims.get("email"))
    return Identity(user_id=subject, role=role, email=email)


class JWTAuthMiddleware(AbstractAuthenticationMiddleware):
    """Puts the verified Identity in `request.user`; anything else is a 401."""

    def __init__(self, app: ASGIApp, secret: str, max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S) -> None:
        super().__init__(app)
        self._secret = secret
        self._max_lifetime_s = max_lifetime_s

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        scheme, _, token = connection.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("missing bearer token", headers=CHALLENGE)
        try:
            who = verify_token(token.strip(), self._secret, max_lifetime_s=self._max_lifetime_s)
        except InvalidToken as exc:
            raise NotAuthorizedException(str(exc), headers=CHALLENGE) from exc
        return AuthenticationResult(user=who, auth=token)


def requires(*roles: Role) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
    """A guard: the authenticated caller must hold one of `roles`."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if connection.user.role not in roles:
            raise PermissionDeniedException(f"this action needs the role {' or '.join(roles)}")

    return guard


def provide_who(request: Request) -> Identity:
    return request.user
