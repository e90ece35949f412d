from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings


class Settings(ServiceSettings):
    """CALLASTAR_PAYOUTS_DATABASE_URL, CALLASTAR_PAYOUTS_HOST, CALLASTAR_PAYOUTS_PORT."""

    model_config = SettingsConfigDict(env_prefix="CALLASTAR_PAYOUTS_", extra="ignore", populate_by_name=True)

    port: int = 8103
    database_url: str = "postgresql+asyncpg://payouts:payouts@127.0.0.1:55432/payouts"
