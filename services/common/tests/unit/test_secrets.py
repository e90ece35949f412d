"""Secrets outside development: refused when missing, short or public; each
service refuses to start over them with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from common.secrets import DEV_SECRETS, MIN_SECRET_BYTES, database_password_problem, secret_problem
from gateway.settings import Settings as GatewaySettings
from notifications.settings import Settings as NotificationsSettings

STRONG = "k" * MIN_SECRET_BYTES
PRODUCTION_GATEWAY = {
    "environment": "production",
    "internal_signing_key": STRONG,
    "jwt_secret": STRONG,
    "stripe_webhook_secret": STRONG,
    "stripe_connect_webhook_secret": STRONG,
    "kafka_username": "gateway",
    "kafka_password": STRONG,
}


@pytest.mark.parametrize(("value", "problem"), [
    ("", "CALLASTAR_JWT_SECRET is missing or empty"),
    ("k" * (MIN_SECRET_BYTES - 1), f"CALLASTAR_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes"),
    (DEV_SECRETS["CALLASTAR_JWT_SECRET"], "CALLASTAR_JWT_SECRET is a public development value"),
    (DEV_SECRETS["CALLASTAR_INTERNAL_SIGNING_KEY"], "CALLASTAR_JWT_SECRET is a public development value"),
    (STRONG, None),
])
def test_a_production_secret_must_be_long_and_not_public(value, problem):
    assert secret_problem("CALLASTAR_JWT_SECRET", value) == problem


@pytest.mark.parametrize(("url", "refused"), [
    ("postgresql+asyncpg://payments@db/payments", True),
    ("postgresql+asyncpg://payments:payments@db/payments", True),
    ("postgresql+asyncpg://payments:dev-internal-signing-key-0123456789abcdef@db/payments", True),
    ("postgresql+asyncpg://payments:s3cret-from-the-vault@db/payments", False),
])
def test_a_production_database_password_is_not_the_role_name(url, refused):
    assert (database_password_problem("CALLASTAR_PAYMENTS_DATABASE_URL", url) is not None) is refused


def test_production_settings_with_real_secrets_load():
    settings = GatewaySettings(**PRODUCTION_GATEWAY)

    assert settings.jwt_secret == STRONG


def test_production_refuses_a_public_jwt_secret_naming_the_variable():
    with pytest.raises(ValidationError, match="CALLASTAR_JWT_SECRET is a public development value"):
        GatewaySettings(**{**PRODUCTION_GATEWAY, "jwt_secret": DEV_SECRETS["CALLASTAR_JWT_SECRET"]})


def test_production_refuses_an_unauthenticated_kafka():
    with pytest.raises(ValidationError, match="CALLASTAR_KAFKA_SECURITY_PROTOCOL=PLAINTEXT would leave Kafka"):
        GatewaySettings(**{**PRODUCTION_GATEWAY, "kafka_security_protocol": "PLAINTEXT"})
    with pytest.raises(ValidationError, match="CALLASTAR_KAFKA_USERNAME is missing"):
        GatewaySettings(**{**PRODUCTION_GATEWAY, "kafka_username": ""})


def test_a_deployment_that_does_not_say_its_environment_is_production(monkeypatch):
    monkeypatch.delenv("CALLASTAR_ENV", raising=False)
    monkeypatch.delenv("CALLASTAR_JWT_SECRET", raising=False)

    with pytest.raises(ValidationError, match="CALLASTAR_ENV=production: .*CALLASTAR_JWT_SECRET is missing"):
        GatewaySettings()


def test_development_fills_unset_secrets_with_the_public_values():
    settings = NotificationsSettings(environment="dev")

    assert settings.unsubscribe_secret == DEV_SECRETS["CALLASTAR_NOTIFICATIONS_UNSUBSCRIBE_SECRET"]
    assert settings.internal_signing_key == DEV_SECRETS["CALLASTAR_INTERNAL_SIGNING_KEY"]


def test_production_refuses_the_database_password_of_the_dev_stack():
    with pytest.raises(ValidationError, match="CALLASTAR_NOTIFICATIONS_DATABASE_URL uses a public"):
        NotificationsSettings(environment="production", internal_signing_key=STRONG, unsubscribe_secret=STRONG,
                              database_url="postgresql+asyncpg://notifications:notifications@db/notifications")


@pytest.mark.parametrize("service", ["gateway", "payments", "ledger", "payouts", "notifications"])
def test_every_service_refuses_to_start_in_production_with_the_dev_secrets(service):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLASTAR_")}
    env |= {**DEV_SECRETS, "CALLASTAR_ENV": "production"}

    done = subprocess.run([sys.executable, "-m", service, "serve"], env=env, capture_output=True, text=True,
                          timeout=60)

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"python -m {service} cannot start: CALLASTAR_ENV=production: ")
    assert "CALLASTAR_INTERNAL_SIGNING_KEY is a public development value" in lines[0]
