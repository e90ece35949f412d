"""Calling a service's internal API from a test as the gateway would: with an
identity signed for that service (common.internal_identity)."""

from __future__ import annotations

import os

from common import internal_identity
from common.http import Identity
from common.secrets import DEV_SECRETS


def signing_key() -> str:
    """The key the test stack's services were given."""
    return os.environ.get("CALLASTAR_INTERNAL_SIGNING_KEY") or DEV_SECRETS["CALLASTAR_INTERNAL_SIGNING_KEY"]


class CallerHeaders(dict[str, str]):
    """The headers of an internal call, knowing on whose behalf it is made."""

    def __init__(self, headers: dict[str, str], who: Identity) -> None:
        super().__init__(headers)
        self.user_id = who.user_id
        self.role = who.role


def as_caller(service: str, user_id: str, role: str, *, email: str | None = None,
              key: str | None = None) -> CallerHeaders:
    """Headers of a call to `service` on behalf of `user_id` in `role`."""
    who = Identity(user_id=user_id, role=role, email=email)  # type: ignore[arg-type]
    return CallerHeaders({internal_identity.HEADER: internal_identity.sign(who, service, key or signing_key())}, who)
