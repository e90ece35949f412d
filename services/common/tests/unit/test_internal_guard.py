"""The internal APIs' guard: a service believes only an identity the gateway
signed for it, unexpired; no header a caller sets stands for who is calling."""

from __future__ import annotations

import time

import jwt
import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency, Provide
from litestar.testing import TestClient

from common import internal_identity
from common.http import Identity, problem_details
from common.internal_identity import gateway_only, identity, sign

KEY = "the-internal-signing-key-0123456789abcdef"
FAN = Identity(user_id="fan-1", role="fan", email="fan@example.test")


@get("/whoami", sync_to_thread=False)
def whoami(who: NamedDependency[Identity]) -> dict[str, str | None]:
    return {"user_id": who.user_id, "role": who.role, "email": who.email}


def app_for(service: str, key: str = KEY) -> Litestar:
    return Litestar([whoami], guards=[gateway_only(service, key)], plugins=[problem_details()],
                    dependencies={"who": Provide(identity, sync_to_thread=False)})


def call(headers: dict[str, str]):
    with TestClient(app_for("payments")) as client:
        return client.get("/whoami", headers=headers)


def test_an_empty_signing_key_is_refused_at_start():
    with pytest.raises(ValueError, match="signing key is empty"):
        app_for("payments", key="")


def test_the_identity_the_gateway_signed_for_this_service_is_the_caller():
    response = call({internal_identity.HEADER: sign(FAN, "payments", KEY)})

    assert response.status_code == 200
    assert response.json() == {"user_id": "fan-1", "role": "fan", "email": "fan@example.test"}


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="nothing"),
    pytest.param({"X-User-Id": "admin-1", "X-User-Role": "admin"}, id="unsigned identity headers"),
    pytest.param({internal_identity.HEADER: sign(FAN, "ledger", KEY)}, id="signed for another service"),
    pytest.param({internal_identity.HEADER: sign(FAN, "payments", "another-key-0123456789abcdef0123")},
                 id="signed with another key"),
    pytest.param({internal_identity.HEADER: sign(FAN, "payments", KEY, now=time.time() - 120)}, id="expired"),
    pytest.param({internal_identity.HEADER: jwt.encode(
        {"iss": "callastar-gateway", "aud": "payments", "sub": "admin-1", "role": "admin",
         "iat": int(time.time()), "exp": int(time.time()) + 30}, None, algorithm="none")}, id="alg none"),
    pytest.param({internal_identity.HEADER: "garbage"}, id="garbage"),
])
def test_anything_else_is_refused(headers):
    response = call(headers)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_identity_headers_beside_a_signed_identity_change_nothing():
    response = call({internal_identity.HEADER: sign(FAN, "payments", KEY), "X-User-Id": "admin-1",
                     "X-User-Role": "admin"})

    assert response.json()["user_id"] == "fan-1" and response.json()["role"] == "fan"
