from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings, shared


class Settings(ServiceSettings):
    """CALLASTAR_LEDGER_DATABASE_URL, CALLASTAR_LEDGER_HOST, CALLASTAR_LEDGER_PORT;
    shared: CALLASTAR_DEBT_BLOCK_THRESHOLD_MINOR (5000, per currency: payouts are
    blocked while a creator's debt is above it), CALLASTAR_STRIPE_API_KEY and
    CALLASTAR_STRIPE_API_BASE (read by `python -m ledger reconcile` only)."""

    model_config = SettingsConfigDict(env_prefix="CALLASTAR_LEDGER_", extra="ignore", populate_by_name=True)

    port: int = 8102
    database_url: str = "postgresql+asyncpg://ledger:ledger@127.0.0.1:55432/ledger"
    debt_block_threshold_minor: int = shared("CALLASTAR_DEBT_BLOCK_THRESHOLD_MINOR", 5000)
    # The service runs `ledger check`'s audit this often and exports its result
    # (callastar_ledger_invariant_check_*); the first run is at start. 0: never.
    invariant_check_interval_s: float = Field(900.0, ge=0)

    stripe_api_key: str = shared("CALLASTAR_STRIPE_API_KEY", "sk_test_123")
    # stripe-mock by default; unset or empty means the real Stripe API.
    stripe_api_base: str | None = shared("CALLASTAR_STRIPE_API_BASE", "http://127.0.0.1:12111")

    @field_validator("stripe_api_base", mode="before")
    @classmethod
    def _empty_means_real_stripe(cls, value: object) -> object:
        return value or None
