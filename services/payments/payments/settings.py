from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings, secret, shared


class Settings(ServiceSettings):
    """CALLASTAR_PAYMENTS_DATABASE_URL, _HOST, _PORT, _CREATOR_SHARE_BPS, _REFUND_RECONCILE_EVERY_SECONDS,
    _REFUND_STUCK_AFTER_SECONDS, _REFUND_GIVE_UP_AFTER_HOURS; Stripe from the
    unprefixed CALLASTAR_STRIPE_API_KEY and CALLASTAR_STRIPE_API_BASE."""

    model_config = SettingsConfigDict(env_prefix="CALLASTAR_PAYMENTS_", extra="ignore", populate_by_name=True)

    port: int = 8101
    database_url: str = "postgresql+asyncpg://payments:payments@127.0.0.1:55432/payments"
    creator_share_bps: int = 8500  # basis points of the price the creator keeps (8500 = 85 %)

    # Refunds stuck PENDING without a Stripe id (payments.refunds_reconciler): how
    # often they are looked at (seconds, 0 = never), after how long a refund
    # counts as stuck (its API call is over), and when one Stripe never made is
    # given up on and FAILED (hours after its creation).
    refund_reconcile_every_seconds: float = 60.0
    refund_stuck_after_seconds: int = 300
    refund_give_up_after_hours: int = 24

    stripe_api_key: str = secret("CALLASTAR_STRIPE_API_KEY")
    # stripe-mock by default; unset or empty means the real Stripe API.
    stripe_api_base: str | None = shared("CALLASTAR_STRIPE_API_BASE", "http://127.0.0.1:12111")

    @field_validator("stripe_api_base", mode="before")
    @classmethod
    def _empty_means_real_stripe(cls, value: object) -> object:
        return value or None

    @field_validator("creator_share_bps")
    @classmethod
    def _share_is_a_fraction(cls, value: int) -> int:
        if not 0 <= value <= 10_000:
            raise ValueError("creator_share_bps must be between 0 and 10000")
        return value
