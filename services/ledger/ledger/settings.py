from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings


class Settings(ServiceSettings):
    """CALLASTAR_LEDGER_DATABASE_URL, CALLASTAR_LEDGER_HOST, CALLASTAR_LEDGER_PORT."""

    model_config = SettingsConfigDict(env_prefix="CALLASTAR_LEDGER_", extra="ignore", populate_by_name=True)

    port: int = 8102
    database_url: str = "postgresql+asyncpg://ledger:ledger@127.0.0.1:55432/ledger"
