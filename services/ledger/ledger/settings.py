from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings, shared


class Settings(ServiceSettings):
    """CALLASTAR_LEDGER_DATABASE_URL, CALLASTAR_LEDGER_HOST, CALLASTAR_LEDGER_PORT;
    shared: CALLASTAR_DEBT_BLOCK_THRESHOLD_MINOR (5000, per currency: payouts are
    blocked while a creator's debt is above it)."""

    model_config = SettingsConfigDict(env_prefix="CALLASTAR_LEDGER_", extra="ignore", populate_by_name=True)

    port: int = 8102
    database_url: str = "postgresql+asyncpg://ledger:ledger@127.0.0.1:55432/ledger"
    debt_block_threshold_minor: int = shared("CALLASTAR_DEBT_BLOCK_THRESHOLD_MINOR", 5000)
