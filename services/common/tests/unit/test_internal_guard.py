"""The internal APIs' guard: only the gateway's token gets through, and an empty
token never stands for one."""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from common.http import INTERNAL_TOKEN_HEADER, internal_only, problem_details


@get("/secret", sync_to_thread=False)
def secret_route() -> dict[str, str]:
    return {"ok": "yes"}


def app_guarded_by(token: str) -> Litestar:
    return Litestar([secret_route], guards=[internal_only(token)], plugins=[problem_details()])


def test_an_empty_internal_token_is_refused_at_start():
    with pytest.raises(ValueError, match="internal token is empty"):
        app_guarded_by("")


@pytest.mark.parametrize("sent", [None, "", "wrong-token"])
def test_a_call_without_the_token_is_refused(sent):
    headers = {} if sent is None else {INTERNAL_TOKEN_HEADER: sent}
    with TestClient(app_guarded_by("the-real-internal-token-0123456789")) as client:
        response = client.get("/secret", headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_gateway_token_gets_through():
    with TestClient(app_guarded_by("the-real-internal-token-0123456789")) as client:
        response = client.get("/secret", headers={INTERNAL_TOKEN_HEADER: "the-real-internal-token-0123456789"})

    assert response.status_code == 200
