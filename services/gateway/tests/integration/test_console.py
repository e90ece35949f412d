"""The console at /console (its built files, the app for every deep link, a
strict CSP) and the development sign-in route, absent in production."""

from pathlib import Path

import pytest

from gateway.auth import verify_token
from gateway.console import CONTENT_SECURITY_POLICY
from gateway.settings import Settings

from .conftest import serving

PRODUCTION_SECRETS = {
    "jwt_secret": "production-jwt-secret-0123456789abcdef",
    "internal_signing_key": "production-signing-key-0123456789abcdef",
    "stripe_webhook_secret": "whsec_production_0123456789abcdef0123",
    "stripe_connect_webhook_secret": "whsec_production_connect_0123456789abcd",
    "kafka_password": "production-kafka-password-0123456789ab",
    "kafka_username": "gateway",
}


@pytest.fixture
def console_dir(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "assets" / "app.js").write_text("console.log('app')")
    return tmp_path


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/payouts/6f1c", "/console/admin/payouts/x/y"])
async def test_every_console_path_is_the_app_with_a_strict_policy(gateway_settings: Settings, console_dir: Path,
                                                                   path: str) -> None:
    async with serving(gateway_settings.model_copy(update={"console_dir": str(console_dir)})) as client:
        response = await client.get(path)
    assert response.status_code == 200
    assert response.text == "<!doctype html><title>console</title>"
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY


async def test_the_console_assets_are_served_and_a_missing_one_is_a_404(gateway_settings: Settings,
                                                                         console_dir: Path) -> None:
    async with serving(gateway_settings.model_copy(update={"console_dir": str(console_dir)})) as client:
        found = await client.get("/console/assets/app.js")
        missing = await client.get("/console/assets/nothing.js")
        outside = await client.get("/console/assets/../index.html")
    assert found.status_code == 200 and found.text == "console.log('app')"
    assert missing.status_code == 404
    assert outside.status_code in (200, 404) and "console.log" not in outside.text


async def test_an_unbuilt_console_is_a_problem_saying_so(gateway_settings: Settings, tmp_path: Path) -> None:
    async with serving(gateway_settings.model_copy(update={"console_dir": str(tmp_path / "none")})) as client:
        response = await client.get("/console/dashboard")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "not built" in response.json()["detail"]


async def test_development_sign_in_mints_a_token_the_gateway_accepts(gateway_settings: Settings) -> None:
    async with serving(gateway_settings) as client:
        response = await client.post("/dev/token", json={"user_id": "creator-7", "role": "creator"})
    assert response.status_code == 201, response.text
    who = verify_token(response.json()["token"], gateway_settings.jwt_secret)
    assert (who.user_id, who.role) == ("creator-7", "creator")


@pytest.mark.parametrize("body", [{"user_id": "bad id", "role": "creator"}, {"user_id": "a", "role": "root"},
                                  {"user_id": "a"}, {"user_id": "a", "role": "fan", "extra": 1}])
async def test_development_sign_in_refuses_what_no_token_may_carry(gateway_settings: Settings, body: dict) -> None:
    async with serving(gateway_settings) as client:
        response = await client.post("/dev/token", json=body)
    assert response.status_code == 400, response.text


async def test_there_is_no_development_sign_in_in_production(gateway_settings: Settings) -> None:
    production = Settings(**{**gateway_settings.model_dump(), "environment": "production", **PRODUCTION_SECRETS})
    assert production.environment == "production"
    async with serving(production) as client:
        response = await client.post("/dev/token", json={"user_id": "admin-1", "role": "admin"})
    assert response.status_code == 404
