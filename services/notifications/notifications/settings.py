from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings


class Settings(ServiceSettings):
    """CALLASTAR_NOTIFICATIONS_DATABASE_URL, CALLASTAR_NOTIFICATIONS_HOST, CALLASTAR_NOTIFICATIONS_PORT."""

    model_config = SettingsConfigDict(
        env_prefix="CALLASTAR_NOTIFICATIONS_", extra="ignore", populate_by_name=True
    )

    port: int = 8104
    database_url: str = "postgresql+asyncpg://notifications:notifications@127.0.0.1:55432/notifications"
