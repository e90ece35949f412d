"""Which deployment this is, and what a secret must be outside development.

`CALLASTAR_ENV` is `dev`, `test` or `production`; a service started without it is
`production`. Only the local runner says `dev` (or `test` for the test stack): there,
a secret left unset takes the public development value below. Anywhere else a
secret that is missing, empty, shorter than MIN_SECRET_BYTES or equal to one of the
public values stops the service before it serves anything: with a public JWT secret
anyone mints an admin token, with a public webhook secret anyone marks their own
payment paid.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

Environment = Literal["dev", "test", "production"]
DEVELOPMENT: tuple[Environment, ...] = ("dev", "test")
MIN_SECRET_BYTES = 32

# The values the local runner hands its services: public, in this repository.
DEV_SECRETS: dict[str, str] = {
    "CALLASTAR_JWT_SECRET": "dev-jwt-secret-change-me-0123456789abcdef",
    "CALLASTAR_STRIPE_WEBHOOK_SECRET": "whsec_dev_platform",
    "CALLASTAR_STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_dev_connect",
    "CALLASTAR_INTERNAL_SIGNING_KEY": "dev-internal-signing-key-0123456789abcdef",
    "CALLASTAR_NOTIFICATIONS_UNSUBSCRIBE_SECRET": "dev-unsubscribe-secret-change-me",
    "CALLASTAR_STRIPE_API_KEY": "sk_test_123",  # stripe-mock accepts any test key
    "CALLASTAR_KAFKA_PASSWORD": "dev-kafka-password",  # every principal's, in the local stacks
    "CALLASTAR_KAFKA_ADMIN_PASSWORD": "dev-kafka-admin-password",  # the broker's super user (provisioning, tests)
}


def secret_problem(variable: str, value: str) -> str | None:
    """Why `value` cannot be the production value of `variable`, or None."""
    if not value:
        return f"{variable} is missing or empty"
    if value in DEV_SECRETS.values():
        return f"{variable} is a public development value"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"{variable} is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def database_password_problem(variable: str, url: str) -> str | None:
    """Why the password in a database URL cannot be a production one, or None."""
    parts = urlsplit(url)
    password = parts.password or ""
    if not password:
        return f"{variable} has no password"
    if password == parts.username or password in DEV_SECRETS.values():
        return f"{variable} uses a public development password (the role's name)"
    return None
