"""Settings every service shares. Each service subclasses with its own env prefix.

Shared variables (no service prefix):
  CALLASTAR_KAFKA_BOOTSTRAP_SERVERS   host:port list          (127.0.0.1:59092)
  CALLASTAR_INTERNAL_TOKEN            gateway -> service token (dev-internal-token)
  CALLASTAR_CONSUMER_MAX_RETRIES      attempts after the first before the DLQ (3)
  CALLASTAR_CONSUMER_RETRY_BACKOFF_MS first retry delay, doubled each time (100)
  CALLASTAR_CONSUMER_FETCH_MAX_WAIT_MS how long Kafka may hold a fetch to fill it (100)
  CALLASTAR_LOG_LEVEL                 (INFO)
Per service (prefix CALLASTAR_<SERVICE>_): DATABASE_URL, HOST, PORT.
"""

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def shared(env: str, default: object) -> object:
    """A field read from an unprefixed CALLASTAR_* variable, whatever the service prefix."""
    return Field(default, validation_alias=AliasChoices(env, env.removeprefix("CALLASTAR_").lower()))


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = shared("CALLASTAR_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
    internal_token: str = shared("CALLASTAR_INTERNAL_TOKEN", "dev-internal-token")
    consumer_max_retries: int = shared("CALLASTAR_CONSUMER_MAX_RETRIES", 3)
    consumer_retry_backoff_ms: int = shared("CALLASTAR_CONSUMER_RETRY_BACKOFF_MS", 100)
    consumer_fetch_max_wait_ms: int = shared("CALLASTAR_CONSUMER_FETCH_MAX_WAIT_MS", 100)
    log_level: str = shared("CALLASTAR_LOG_LEVEL", "INFO")

    host: str = "127.0.0.1"
    port: int
    database_url: str
    db_pool_size: int = 10
