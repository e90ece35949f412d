"""The gateway's settings. No database, so not a ServiceSettings: the shared
CALLASTAR_* variables it needs plus its own CALLASTAR_GATEWAY_* ones."""

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from common.settings import KafkaClientSettings, secret, shared
from gateway.proxies import TrustedProxies, parse_networks

# services/gateway/gateway/settings.py -> the checkout's root
CHECKOUT_CONSOLE_DIR = Path(__file__).resolve().parents[3] / "console" / "dist"


class Settings(KafkaClientSettings):
    """CALLASTAR_GATEWAY_HOST, _PORT, _<SERVICE>_URL, _RATE_LIMIT_PER_MINUTE, ..."""

    model_config = SettingsConfigDict(
        env_prefix="CALLASTAR_GATEWAY_", extra="ignore", populate_by_name=True
    )

    internal_signing_key: str = secret("CALLASTAR_INTERNAL_SIGNING_KEY")
    log_level: str = shared("CALLASTAR_LOG_LEVEL", "INFO")
    jwt_secret: str = secret("CALLASTAR_JWT_SECRET")
    stripe_webhook_secret: str = secret("CALLASTAR_STRIPE_WEBHOOK_SECRET")
    stripe_connect_webhook_secret: str = secret("CALLASTAR_STRIPE_CONNECT_WEBHOOK_SECRET")

    host: str = "127.0.0.1"
    port: int = 8000
    # /metrics is served on this port only, never on the public one: expose it to
    # the cluster's Prometheus, not to the internet (docs/operations.md).
    metrics_port: int = 8009
    # One URL per service, or a comma-separated list of its instances (gateway.clients).
    payments_url: str = "http://127.0.0.1:8101"
    ledger_url: str = "http://127.0.0.1:8102"
    payouts_url: str = "http://127.0.0.1:8103"
    notifications_url: str = "http://127.0.0.1:8104"

    downstream_timeout_s: float = 10.0  # one internal call, connect to last byte
    # Stripe's own default; 0 would switch the SDK's timestamp check off, so refused.
    webhook_tolerance_s: int = Field(300, gt=0)
    kafka_publish_timeout_s: float = 10.0  # past this a webhook answers 503 and Stripe retries
    max_body_bytes: int = 256 * 1024
    rate_limit_per_minute: int = 120  # per client address, on /api routes
    sensitive_rate_limit_per_minute: int = 10  # per user, on routes that move money (refunds)
    # Per client address on /webhooks: Stripe sends bursts (retries, backfills) from a few addresses.
    webhook_rate_limit_per_minute: int = 1200
    # Comma-separated addresses or CIDR blocks of the proxies in front of us: only
    # their X-Forwarded-For / X-Forwarded-Proto are believed. Empty: no proxy.
    trusted_proxies: str = ""
    hsts_max_age_s: int = Field(31_536_000, ge=0)  # 0: never send HSTS
    always_hsts: bool = False  # TLS ends before a proxy we do not see: send HSTS on every answer
    # Tokens whose exp - iat exceeds this (or without iat) are refused, whatever the issuer wrote.
    max_token_lifetime_s: int = Field(24 * 3600, gt=0)
    max_streams_per_user: int = Field(5, gt=0)  # open notification streams per user, per gateway process

    # The console's build output (console/dist of this checkout unless deployed elsewhere).
    console_dir: str = ""

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # a typo stops the start, naming the entry
        return value

    def console_path(self) -> Path:
        return Path(self.console_dir) if self.console_dir else CHECKOUT_CONSOLE_DIR

    def proxies(self) -> TrustedProxies:
        return TrustedProxies(parse_networks(self.trusted_proxies))
