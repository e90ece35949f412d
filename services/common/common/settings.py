"""Settings every service shares. Each service subclasses with its own env prefix.

Shared variables (no service prefix):
  CALLASTAR_ENV                       dev | test | production (production; see common.secrets)
  CALLASTAR_KAFKA_BOOTSTRAP_SERVERS   host:port list          (127.0.0.1:59092)
  CALLASTAR_KAFKA_SECURITY_PROTOCOL   SASL_PLAINTEXT | SASL_SSL (| PLAINTEXT in development only)
  CALLASTAR_KAFKA_USERNAME, _PASSWORD this process's SCRAM-SHA-512 principal (the password a secret)
  CALLASTAR_KAFKA_CA_FILE             with SASL_SSL: the CA to trust (default: the system's)
  CALLASTAR_INTERNAL_SIGNING_KEY      signs the gateway's per-call identities (a secret)
  CALLASTAR_CONSUMER_MAX_RETRIES      attempts after the first before the DLQ (3)
  CALLASTAR_CONSUMER_RETRY_BACKOFF_MS first retry delay, doubled each time (100)
  CALLASTAR_CONSUMER_FETCH_MAX_WAIT_MS how long Kafka may hold a fetch to fill it (100)
  CALLASTAR_SHUTDOWN_TIMEOUT_S        on SIGTERM: how long the batch under way and the outbox may take (20)
  CALLASTAR_LOG_LEVEL                 (INFO)
Per service (prefix CALLASTAR_<SERVICE>_): DATABASE_URL (the runtime role),
MIGRATION_DATABASE_URL (the owner role, for `migrate`; default DATABASE_URL), HOST, PORT.
"""

from typing import Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.kafka import KafkaAccess, SecurityProtocol
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
    public development value; anywhere else every secret must be a real one and
    `production_problems` must find nothing, or the settings do not load, naming
    the variable."""

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
            problems += self.production_problems()
        if problems:
            raise ValueError(f"CALLASTAR_ENV={self.environment}: " + "; ".join(problems))
        return self

    def production_problems(self) -> list[str]:
        """What else these settings must not be outside development (beyond their secrets)."""
        return []


class KafkaClientSettings(DeploymentSettings):
    """How a process reaches Kafka (see the module docstring for the variables)."""

    kafka_bootstrap_servers: str = shared("CALLASTAR_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
    kafka_security_protocol: SecurityProtocol = shared("CALLASTAR_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    kafka_username: str = shared("CALLASTAR_KAFKA_USERNAME", "")
    kafka_password: str = secret("CALLASTAR_KAFKA_PASSWORD")
    kafka_ca_file: str | None = shared("CALLASTAR_KAFKA_CA_FILE", None)

    def kafka_access(self) -> KafkaAccess:
        return KafkaAccess(self.kafka_bootstrap_servers, self.kafka_username, self.kafka_password,
                           self.kafka_security_protocol, self.kafka_ca_file)

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.kafka_security_protocol == "PLAINTEXT":
            problems.append("CALLASTAR_KAFKA_SECURITY_PROTOCOL=PLAINTEXT would leave Kafka unauthenticated")
        if not self.kafka_username:
            problems.append("CALLASTAR_KAFKA_USERNAME is missing or empty")
        return problems


class ServiceSettings(KafkaClientSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    internal_signing_key: str = secret("CALLASTAR_INTERNAL_SIGNING_KEY")
    consumer_max_retries: int = shared("CALLASTAR_CONSUMER_MAX_RETRIES", 3)
    consumer_retry_backoff_ms: int = shared("CALLASTAR_CONSUMER_RETRY_BACKOFF_MS", 100)
    consumer_fetch_max_wait_ms: int = shared("CALLASTAR_CONSUMER_FETCH_MAX_WAIT_MS", 100)
    log_level: str = shared("CALLASTAR_LOG_LEVEL", "INFO")
    shutdown_timeout_s: float = shared("CALLASTAR_SHUTDOWN_TIMEOUT_S", 20.0)

    host: str = "127.0.0.1"
    port: int
    database_url: str  # as the runtime role: rows only
    # As the database's owner, for `migrate` only; unset: database_url.
    migration_database_url: str = ""
    db_pool_size: int = 10

    @property
    def owner_database_url(self) -> str:
        """What migrations run as: the owner role's URL, else the runtime one."""
        return self.migration_database_url or self.database_url

    def production_problems(self) -> list[str]:
        prefix = self.model_config.get("env_prefix", "")
        urls = {f"{prefix}DATABASE_URL": self.database_url}
        if self.migration_database_url:
            urls[f"{prefix}MIGRATION_DATABASE_URL"] = self.migration_database_url
        return super().production_problems() + [
            problem for variable, url in urls.items() if (problem := database_password_problem(variable, url))]
