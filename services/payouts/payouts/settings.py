from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings, secret, shared


class Settings(ServiceSettings):
    """CALLASTAR_PAYOUTS_DATABASE_URL, _HOST, _PORT, _CONNECT_RETURN_URL, _CONNECT_REFRESH_URL,
    _RESUME_STALLED_EVERY_SECONDS;
    unprefixed CALLASTAR_PAYOUT_MIN_MINOR, CALLASTAR_STRIPE_API_KEY, CALLASTAR_STRIPE_API_BASE."""

    model_config = SettingsConfigDict(env_prefix="CALLASTAR_PAYOUTS_", extra="ignore", populate_by_name=True)

    port: int = 8103
    database_url: str = "postgresql+asyncpg://payouts:payouts@127.0.0.1:55432/payouts"

    # Smallest gross payout a creator may ask for, minor units (1000 = 10.00 EUR).
    payout_min_minor: int = shared("CALLASTAR_PAYOUT_MIN_MINOR", 1000)

    stripe_api_key: str = secret("CALLASTAR_STRIPE_API_KEY")
    # stripe-mock by default; unset or empty means the real Stripe API.
    stripe_api_base: str | None = shared("CALLASTAR_STRIPE_API_BASE", "http://127.0.0.1:12111")

    # How often APPROVED payouts whose approver died mid-way are looked for and
    # resumed (seconds; 0 turns the loop off).
    resume_stalled_every_seconds: float = 60.0

    # Where Stripe's hosted onboarding sends the creator back (done) or when the link expired.
    connect_return_url: str = "http://127.0.0.1:8000/console/payouts/account?onboarding=done"
    connect_refresh_url: str = "http://127.0.0.1:8000/console/payouts/account?onboarding=refresh"

    @field_validator("stripe_api_base", mode="before")
    @classmethod
    def _empty_means_real_stripe(cls, value: object) -> object:
        return value or None

    @field_validator("payout_min_minor")
    @classmethod
    def _minimum_is_positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("payout_min_minor must be at least 1")
        return value
