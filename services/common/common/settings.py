"""Settings every service shares. Each service subclasses with its own env prefix.

Shared variables (no service prefix):
  CALLASTAR_ENV                       dev | test | production (production; see common.secrets)
  CALLASTAR_KAFKA_BOOTSTRAP_SERVERS   host:port list          (127.0.0.1:59092)
  CALLASTAR_INTERNAL_TOKEN            gateway -> service token (a secret)
  CALLASTAR_CONSUMER_MAX_RETRIES      attempts after the first before the DLQ (3)
  CALLASTAR_CONSUMER_RETRY_BACKOFF_MS first retry delay, doubled each time (100)
  CALLASTAR_CONSUMER_FETCH_MAX_WAIT_MS how long Kafka may hold a fetch to fill it (100)
  CALLASTAR_LOG_LEVEL                 (INFO)
Per service (prefix CALLASTAR_<SERVICE>_): DATABASE_URL (the runtime role),
MIGRATION_DATABASE_URL (the owner role, for `migrate`; default DATABASE_URL), HOST, PORT.
"""

from typing import Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.secrets import DEV_SECRETS, DEVELOPMENT, Environment, database_password_problem, secret_problem

_SECRET = "secret_variable"  # field metadata: the variable a secret is read from


def shared(env: str, default: object) -> object:
    """A field read from an unprefixed CALLASTAR_* variable, whatever the service prefix."""
    return Field(default, validation_alias=AliasChoices(env, env.removeprefix("CALLASTAR_").lower()))


def secret(env: str) -> str:
    """A secret read from `env`: no default outside development (see DeploymentSettings)."""
    return Field("", validation_alias=AliasChoices(env, env.removeprefix("CALLASTAR_").lower()),
                 json_schema_extra={_SECRET: env}, repr=False)


class DeploymentSettings(BaseSettings):
    """Settings that know their deployment: in dev and test an unset secret takes its
    public development value; anywhere else every secret (and the password of a
    database URL) must be a real one, or the settings do not load, naming the variable."""

    environment: Environment = shared("CALLASTAR_ENV", "production")

    @model_validator(mode="after")
    def _secrets_fit_the_environment(self) -> Self:
        problems = []
        for name, field in type(self).model_fields.items():
            variable = (field.json_schema_extra or {}).get(_SECRET)
            if variable is None:
                continue
            if self.environment in DEVELOPMENT:
                if not getattr(self, name):
                    setattr(self, name, DEV_SECRETS[variable])
            elif problem := secret_problem(variable, getattr(self, name)):
                problems.append(problem)
        if self.environment not in DEVELOPMENT:
            problems += filter(None, (database_password_problem(variable, url)
                                      for variable, url in self.database_urls().items()))
        if problems:
            raise ValueError(f"CALLASTAR_ENV={self.environment}: " + "; ".join(problems))
        return self

    def database_urls(self) -> dict[str, str]:
        """The database URLs in these settings, by the variable they are read from."""
        return {}


class ServiceSettings(DeploymentSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = shared("CALLASTAR_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
    internal_token: str = secret("CALLASTAR_INTERNAL_TOKEN")
    consumer_max_retries: int = shared("CALLASTAR_CONSUMER_MAX_RETRIES", 3)
    consumer_retry_backoff_ms: int = shared("CALLASTAR_CONSUMER_RETRY_BACKOFF_MS", 100)
    consumer_fetch_max_wait_ms: int = shared("CALLASTAR_CONSUMER_FETCH_MAX_WAIT_MS", 100)
    log_level: str = shared("CALLASTAR_LOG_LEVEL", "INFO")

    host: str = "127.0.0.1"
    port: int
    database_url: str  # as the runtime role: rows only
    # As the database's owner, for `migrate` only; unset: database_url.
    migration_database_url: str = ""
    db_pool_size: int = 10

    def database_urls(self) -> dict[str, str]:
        prefix = self.model_config.get("env_prefix", "")
        urls = {f"{prefix}DATABASE_URL": self.database_url}
        if self.migration_database_url:
            urls[f"{prefix}MIGRATION_DATABASE_URL"] = self.migration_database_url
        return urls
